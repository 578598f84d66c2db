//! The check a campaign's CSV passes before anything is sent: the file is there, at most
//! 20 MB, UTF-8, with a `phone_number` column, and every row's number is international —
//! the rules Trillet documents, so a file it would refuse is refused here, with the lines at
//! fault named, before a request is spent. It also counts what a person wants to know before
//! calling: rows, distinct numbers, the numbers listed twice (each would be called twice) and
//! the first rows as a preview.
//!
//! One pass over the file, streamed: memory is the preview, the named problems and one
//! 16-byte entry per distinct number (a number is at most 15 digits, so it is kept as a
//! `u64`, exactly) — about 10 MB for 200,000 rows.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

/// The documented limit of a batch's file: 20 MB.
pub const MAX_CSV_BYTES: u64 = 20 * 1024 * 1024;
/// The column every row must fill.
pub const PHONE_COLUMN: &str = "phone_number";
/// Rows shown in the preview.
pub const PREVIEW_ROWS: usize = 5;
/// Bad rows and repeated numbers named one by one; past these they are counted.
pub const NAMED_PROBLEMS: usize = 20;
/// The longest value shown of a cell (preview, bad rows).
const SHOWN_CHARS: usize = 60;

/// What the check found in a file it could read. It can be started when `bad_rows` is 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsvReport {
    pub bytes: u64,
    /// The header, as written (a byte-order mark dropped).
    pub columns: Vec<String>,
    /// Rows below the header: the calls Trillet places.
    pub rows: u64,
    pub distinct_numbers: u64,
    /// Rows whose number appeared on an earlier row (each is a second call to that number).
    pub repeated_rows: u64,
    /// The first [`NAMED_PROBLEMS`] of them.
    pub repeats: Vec<Repeat>,
    pub bad_row_count: u64,
    /// The first [`NAMED_PROBLEMS`] rows Trillet would refuse.
    pub bad_rows: Vec<BadRow>,
    /// The first [`PREVIEW_ROWS`] rows, cell by cell under `columns`.
    pub preview: Vec<Vec<String>>,
    /// The file's content, as 16 hex digits (FNV-1a): the same file, whatever its name.
    pub fingerprint: String,
}

/// A number listed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repeat {
    pub number: String,
    pub line: u64,
    pub first_line: u64,
}

/// A row Trillet would refuse, by the line it starts on (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadRow {
    pub line: u64,
    pub value: String,
    pub why: String,
}

/// A file that cannot be checked at all, in words for the person who chose it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvProblem {
    #[error("Could not read {name}: {reason}")]
    Unreadable { name: String, reason: String },
    #[error("{name} is {} — Trillet takes files of at most 20 MB; split it into several batches", size_text(*bytes))]
    TooLarge { name: String, bytes: u64 },
    #[error("{name} is empty")]
    Empty { name: String },
    #[error("{name} is not UTF-8 text (line {line}); save it as CSV UTF-8 and choose it again")]
    NotUtf8 { name: String, line: u64 },
    #[error("{name} has no phone_number column (its columns: {columns}); Trillet needs the numbers in a column named exactly phone_number")]
    NoPhoneColumn { name: String, columns: String },
    #[error("{name} has a header but no rows to call")]
    NoRows { name: String },
    #[error("{name} is not a CSV Batchwatch can read (line {line}): {reason}")]
    Malformed {
        name: String,
        line: u64,
        reason: String,
    },
}

impl CsvProblem {
    /// A stable name for the window and `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "unreadable",
            Self::TooLarge { .. } => "too_large",
            Self::Empty { .. } => "empty",
            Self::NotUtf8 { .. } => "not_utf8",
            Self::NoPhoneColumn { .. } => "no_phone_column",
            Self::NoRows { .. } => "no_rows",
            Self::Malformed { .. } => "malformed",
        }
    }
}

fn size_text(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

impl CsvReport {
    /// Whether Trillet would take the file as it is.
    pub fn is_startable(&self) -> bool {
        self.bad_row_count == 0
    }

    /// "1,240 rows, 1,234 distinct numbers (6 listed twice: those are called twice)".
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} rows, {} distinct numbers",
            thousands(self.rows),
            thousands(self.distinct_numbers)
        );
        if self.repeated_rows > 0 {
            text.push_str(&format!(
                " ({} repeated: each is called again)",
                thousands(self.repeated_rows)
            ));
        }
        text
    }

    /// The bad rows in one sentence: "3 rows have a number Trillet refuses: line 4 "555 0100"
    /// (not in international format, e.g. +1234567890), …"; `None` when there are none.
    pub fn bad_rows_text(&self) -> Option<String> {
        if self.bad_row_count == 0 {
            return None;
        }
        let named: Vec<String> = self
            .bad_rows
            .iter()
            .map(|b| format!("line {} {:?} ({})", b.line, b.value, b.why))
            .collect();
        let more = self.bad_row_count - self.bad_rows.len() as u64;
        let rows = if self.bad_row_count == 1 {
            "1 row has".to_owned()
        } else {
            format!("{} rows have", thousands(self.bad_row_count))
        };
        let mut text = format!("{rows} a number Trillet refuses: {}", named.join("; "));
        if more > 0 {
            text.push_str(&format!("; and {} more", thousands(more)));
        }
        Some(text)
    }

    /// The repeated numbers in one sentence, `None` when there are none.
    pub fn repeats_text(&self) -> Option<String> {
        if self.repeated_rows == 0 {
            return None;
        }
        let named: Vec<String> = self
            .repeats
            .iter()
            .map(|r| {
                format!(
                    "{} on line {} (first on line {})",
                    r.number, r.line, r.first_line
                )
            })
            .collect();
        let more = self.repeated_rows - self.repeats.len() as u64;
        let mut text = format!("Listed again: {}", named.join("; "));
        if more > 0 {
            text.push_str(&format!("; and {} more", thousands(more)));
        }
        Some(text)
    }
}

/// "1,234".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks the file at `path` (shown to the person as its file name).
pub fn check_file(path: &Path) -> Result<CsvReport, CsvProblem> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let unreadable = |e: std::io::Error| CsvProblem::Unreadable {
        name: name.clone(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "there is no such file".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => e.to_string(),
        },
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(CsvProblem::Unreadable {
            name,
            reason: "it is a folder".to_owned(),
        });
    }
    if meta.len() > MAX_CSV_BYTES {
        return Err(CsvProblem::TooLarge {
            name,
            bytes: meta.len(),
        });
    }
    check_reader(&name, std::io::BufReader::with_capacity(64 * 1024, file))
}

/// Checks CSV text already in memory (a retry list) under the name it will be sent with.
pub fn check_bytes(name: &str, bytes: &[u8]) -> Result<CsvReport, CsvProblem> {
    if bytes.len() as u64 > MAX_CSV_BYTES {
        return Err(CsvProblem::TooLarge {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
        });
    }
    check_reader(name, bytes)
}

fn check_reader(name: &str, source: impl Read) -> Result<CsvReport, CsvProblem> {
    // A file that grows while it is read stops one byte past the limit.
    let mut hashed = Hashing::new(source.take(MAX_CSV_BYTES + 1));
    let record_lines = std::rc::Rc::clone(&hashed.starts);
    // The line the next record starts on (the header's is read first).
    let next_line = move || record_lines.borrow_mut().pop_front().unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(&mut hashed);
    let malformed = |e: csv::Error| {
        let line = e.position().map_or(0, csv::Position::line);
        match e.kind() {
            csv::ErrorKind::Io(io) => CsvProblem::Unreadable {
                name: name.to_owned(),
                reason: io.to_string(),
            },
            _ => CsvProblem::Malformed {
                name: name.to_owned(),
                line,
                reason: e.to_string(),
            },
        }
    };

    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(malformed)? {
        return Err(CsvProblem::Empty {
            name: name.to_owned(),
        });
    }
    let mut columns: Vec<String> = cells(&record, name, next_line())?
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(first) = columns.first_mut() {
        if let Some(rest) = first.strip_prefix('\u{feff}') {
            *first = rest.to_owned();
        }
    }
    let Some(phone) = columns.iter().position(|c| c.trim() == PHONE_COLUMN) else {
        return Err(CsvProblem::NoPhoneColumn {
            name: name.to_owned(),
            columns: columns
                .iter()
                .map(|c| format!("{:?}", shorten(c)))
                .collect::<Vec<_>>()
                .join(", "),
        });
    };

    let mut report = CsvReport {
        bytes: 0,
        columns,
        rows: 0,
        distinct_numbers: 0,
        repeated_rows: 0,
        repeats: Vec::new(),
        bad_row_count: 0,
        bad_rows: Vec::new(),
        preview: Vec::new(),
        fingerprint: String::new(),
    };
    // Each distinct number (as its digits) → the line it was first seen on.
    let mut first_seen: HashMap<u64, u64> = HashMap::new();
    while reader.read_byte_record(&mut record).map_err(malformed)? {
        let line = next_line();
        report.rows += 1;
        let row = cells(&record, name, line)?;
        if report.preview.len() < PREVIEW_ROWS {
            report
                .preview
                .push(row.iter().map(|c| shorten(c)).collect());
        }
        let value = row.get(phone).map_or("", |v| v.trim());
        match international_digits(value) {
            Ok(digits) => match first_seen.get(&digits) {
                Some(&first_line) => {
                    report.repeated_rows += 1;
                    if report.repeats.len() < NAMED_PROBLEMS {
                        report.repeats.push(Repeat {
                            number: value.to_owned(),
                            line,
                            first_line,
                        });
                    }
                }
                None => {
                    first_seen.insert(digits, line);
                }
            },
            Err(why) => {
                report.bad_row_count += 1;
                if report.bad_rows.len() < NAMED_PROBLEMS {
                    report.bad_rows.push(BadRow {
                        line,
                        value: shorten(value),
                        why: why.to_owned(),
                    });
                }
            }
        }
    }
    drop(reader);
    if hashed.bytes > MAX_CSV_BYTES {
        return Err(CsvProblem::TooLarge {
            name: name.to_owned(),
            bytes: hashed.bytes,
        });
    }
    if report.rows == 0 {
        return Err(CsvProblem::NoRows {
            name: name.to_owned(),
        });
    }
    report.distinct_numbers = first_seen.len() as u64;
    report.bytes = hashed.bytes;
    report.fingerprint = format!("{:016x}", hashed.hash);
    Ok(report)
}

/// A row's cells as text, borrowed from the record: each is checked, none copied (only the
/// preview's few rows are kept).
fn cells<'r>(
    record: &'r csv::ByteRecord,
    name: &str,
    line: u64,
) -> Result<Vec<&'r str>, CsvProblem> {
    record
        .iter()
        .map(|cell| {
            std::str::from_utf8(cell).map_err(|_| CsvProblem::NotUtf8 {
                name: name.to_owned(),
                line,
            })
        })
        .collect()
}

/// The digits of an international number (`+`, then 7 to 15 digits, the first not 0: E.164),
/// or why it is not one.
pub fn international_digits(number: &str) -> Result<u64, &'static str> {
    if number.is_empty() {
        return Err("no number");
    }
    let Some(digits) = number.strip_prefix('+') else {
        return Err("not in international format: it must start with +, e.g. +1234567890");
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
        return Err("only digits may follow the +, no spaces or dashes");
    }
    if digits.starts_with('0') {
        return Err("a country code never starts with 0");
    }
    if !(7..=15).contains(&digits.len()) {
        return Err("an international number has 7 to 15 digits");
    }
    digits.parse().map_err(|_| "not a number")
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(SHOWN_CHARS - 1).collect();
    short.push('…');
    short
}

/// The lines records start on, found ahead of the parser (a buffer's worth at most).
type RecordLines = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>;

/// A reader that counts and hashes (FNV-1a, 64 bits) what passes through it, and notes the
/// line each record starts on: the csv crate's own line count is off for `\r\n` files (those
/// saved on Windows), so lines are counted here, with just enough of CSV's quoting to know a
/// line break inside a quoted cell from one between records. Blank lines hold no record, as
/// for the csv crate.
struct Hashing<R> {
    inner: R,
    hash: u64,
    bytes: u64,
    line: u64,
    /// The last byte was a `\r` (whether a `\n` follows decides if it ended a line).
    after_cr: bool,
    state: Scan,
    starts: RecordLines,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    BetweenRecords,
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: the end of the quoting, or the first of `""`.
    QuoteInQuoted,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hash: 0xcbf2_9ce4_8422_2325,
            bytes: 0,
            line: 1,
            after_cr: false,
            state: Scan::BetweenRecords,
            starts: RecordLines::default(),
        }
    }

    fn scan(&mut self, b: u8) {
        // A `\r` alone (files of old Macs) ends a line as `\n` and `\r\n` do.
        if std::mem::take(&mut self.after_cr) && b != b'\n' {
            self.line += 1;
        }
        let end_of_line = b == b'\n' || b == b'\r';
        if self.state == Scan::BetweenRecords && !end_of_line {
            self.starts.borrow_mut().push_back(self.line);
            self.state = Scan::FieldStart;
        }
        self.state = match (self.state, b) {
            (Scan::BetweenRecords, _) => Scan::BetweenRecords,
            (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
            (Scan::Quoted, _) => Scan::Quoted,
            (Scan::QuoteInQuoted, b'"') => Scan::Quoted,
            (_, b'\n' | b'\r') => Scan::BetweenRecords,
            (_, b',') => Scan::FieldStart,
            (Scan::FieldStart, b'"') => Scan::Quoted,
            _ => Scan::Unquoted,
        };
        if b == b'\n' {
            self.line += 1;
        }
        self.after_cr = b == b'\r';
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            self.scan(b);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
