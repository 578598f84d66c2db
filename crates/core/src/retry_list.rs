//! The retry list: a batch's failed calls as a CSV a person can upload to Trillet as a new
//! batch. Each call's `metadata` is the row of the CSV the batch was created from, so the
//! columns are the person's own — the union of every call's keys, in the order first seen,
//! `phone_number` first — then `error` and `ended_at` (ISO-8601 in the person's zone).
//! Standard quoting (the `csv` crate). Each number is listed once, as "Copy numbers" does: a
//! number that failed twice is still one call to retry.

use std::collections::HashSet;
use std::path::Path;

use crate::failures::reason_of;
use crate::format::TimeZone;
use crate::model::CallRecord;

const PHONE: &str = "phone_number";
/// The columns added after the batch's own.
const OURS: [&str; 2] = ["error", "ended_at"];

/// A retry list, written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryList {
    pub csv: String,
    /// Calls listed (rows below the header).
    pub rows: usize,
}

/// The CSV for `calls` (failed calls, as the drill-down loads them), only those whose reason is
/// `reason` when one is given (the window's groups: the error text trimmed, or "No reason
/// given"), with why and when each failed in two columns of ours — the list a person saves.
pub fn retry_csv(calls: &[CallRecord], reason: Option<&str>, zone: &TimeZone) -> RetryList {
    build(calls, reason, Some(zone))
}

/// The same list as Batchwatch starts it as a new batch: the batch's own columns only, values
/// exactly as Trillet gave them (our two columns would become variables of the agent's script).
pub fn upload_csv(calls: &[CallRecord], reason: Option<&str>) -> RetryList {
    build(calls, reason, None)
}

/// The name a retry started from Batchwatch is uploaded under: `batch_x-retry.csv`, or for one
/// group `batch_x-retry-number-busy.csv`.
pub fn upload_file_name(id: &crate::BatchId, reason: Option<&str>) -> String {
    match reason {
        None => format!("{id}-retry.csv"),
        Some(reason) => suggested_file_name(id, Some(reason)).replacen(
            &format!("{id}-"),
            &format!("{id}-retry-"),
            1,
        ),
    }
}

/// The list, with our columns when `ours` gives the zone to write `ended_at` in.
fn build(calls: &[CallRecord], reason: Option<&str>, ours: Option<&TimeZone>) -> RetryList {
    let reason = reason.map(str::trim);
    let mut seen_numbers = HashSet::new();
    let rows: Vec<&CallRecord> = calls
        .iter()
        .filter(|c| reason.is_none_or(|r| reason_of(c) == r))
        .filter(|c| {
            let number = phone_of(c);
            number.is_empty() || seen_numbers.insert(number)
        })
        .collect();

    let mut columns: Vec<String> = vec![PHONE.to_owned()];
    for call in &rows {
        if let Some(serde_json::Value::Object(row)) = &call.metadata {
            for key in row.keys() {
                // Ours come last and say the same (the batch's own would name two columns alike).
                if OURS.contains(&key.as_str()) {
                    continue;
                }
                if !columns.iter().any(|c| c == key) {
                    columns.push(key.clone());
                }
            }
        }
    }

    let mut out = csv::Writer::from_writer(Vec::new());
    let our_columns = if ours.is_some() { &OURS[..] } else { &[] };
    let header = columns
        .iter()
        .map(String::as_str)
        .chain(our_columns.iter().copied());
    // Writing to memory cannot fail.
    out.write_record(header).expect("a CSV in memory");
    let listed = rows.len();
    for call in rows {
        let metadata = match &call.metadata {
            Some(serde_json::Value::Object(row)) => Some(row),
            _ => None,
        };
        let mut record: Vec<String> = columns
            .iter()
            .map(|column| match column.as_str() {
                PHONE => phone_of(call).to_owned(),
                key => metadata
                    .and_then(|row| row.get(key))
                    .map(cell)
                    .unwrap_or_default(),
            })
            .collect();
        if let Some(zone) = ours {
            record.push(reason_of(call).to_owned());
            record.push(call.end_time.map(|ms| moment(ms, zone)).unwrap_or_default());
        }
        out.write_record(&record).expect("a CSV in memory");
    }
    RetryList {
        csv: String::from_utf8(out.into_inner().expect("a CSV in memory"))
            .expect("CSV of UTF-8 text"),
        rows: listed,
    }
}

/// The name a save dialog suggests: `batch_x-failed-calls.csv`, or for one group
/// `batch_x-number-busy.csv` (the reason in lower case, anything but letters and digits a
/// single `-`, at most 40 characters of it).
pub fn suggested_file_name(id: &crate::BatchId, reason: Option<&str>) -> String {
    let mut slug = String::new();
    for c in reason.unwrap_or("failed calls").trim().chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.chars().count() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() {
        "failed-calls"
    } else {
        slug
    };
    format!("{id}-{slug}.csv")
}

/// Writes `csv` to `path` whole or not at all ([`crate::whole_file`]): a crash or a full disk
/// never leaves half a list where the person looks for one.
pub fn save(path: &Path, csv: &str) -> std::io::Result<()> {
    if !path.is_absolute() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the place to save is not a full path",
        ));
    }
    crate::whole_file::write(path, csv.as_bytes())
}

/// The number to call again: the CSV row's own, else the call's.
fn phone_of(call: &CallRecord) -> &str {
    match &call.metadata {
        Some(serde_json::Value::Object(row)) => row.get(PHONE).and_then(|v| v.as_str()),
        _ => None,
    }
    .or(call.phone_number.as_deref())
    .unwrap_or_default()
}

/// A metadata value as a cell: text as it is, numbers and booleans written out, null empty,
/// anything nested as its JSON.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `2026-12-01T17:02:09+05:30`.
fn moment(epoch_ms: u64, zone: &TimeZone) -> String {
    i64::try_from(epoch_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| {
            t.to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        job: &str,
        phone: &str,
        error: Option<&str>,
        metadata: serde_json::Value,
    ) -> CallRecord {
        serde_json::from_value(serde_json::json!({
            "jobId": job, "status": "failed", "phone_number": phone, "error": error,
            "endTime": 1_795_968_000_000u64, "metadata": metadata,
        }))
        .unwrap()
    }

    #[test]
    fn the_list_started_again_has_the_batchs_own_columns_only() {
        let calls = [
            call(
                "c1",
                "+15550001",
                Some("Number busy"),
                serde_json::json!({"name": "Ada, Jr.", "phone_number": "+15550001", "day": "Mon"}),
            ),
            call(
                "c2",
                "+15550001",
                Some("Number busy"),
                serde_json::json!({}),
            ),
            call(
                "c3",
                "+15550003",
                Some("No answer"),
                serde_json::json!({"phone_number": "+15550003", "name": "Cy"}),
            ),
        ];
        let all = upload_csv(&calls, None);
        assert_eq!(
            all.csv,
            "phone_number,name,day\n+15550001,\"Ada, Jr.\",Mon\n+15550003,Cy,\n"
        );
        assert_eq!(all.rows, 2);
        assert_eq!(upload_csv(&calls, Some("No answer")).rows, 1);
        let id = crate::BatchId::parse("batch_1").unwrap();
        assert_eq!(upload_file_name(&id, None), "batch_1-retry.csv");
        assert_eq!(
            upload_file_name(&id, Some("Number busy")),
            "batch_1-retry-number-busy.csv"
        );
    }

    #[test]
    fn columns_are_the_union_phone_first_then_error_and_local_end() {
        let calls = [
            call(
                "c1",
                "+15550001",
                Some("Number busy"),
                // A batch made from an earlier retry list carries an error column of its own.
                serde_json::json!({"name": "Ada, Jr.", "phone_number": "+15550001", "day": "Mon", "error": "old"}),
            ),
            call(
                "c2",
                "+15550002",
                Some("  No answer "),
                serde_json::json!({"name": "Bo \"B\" Li", "vip": true, "phone_number": "+15550002"}),
            ),
            // A second failure of the same number is still one retry.
            call(
                "c3",
                "+15550001",
                Some("Number busy"),
                serde_json::json!({"name": "Ada, Jr."}),
            ),
            call("c4", "+15550004", None, serde_json::Value::Null),
        ];
        let list = retry_csv(&calls, None, &TimeZone::UTC);
        assert_eq!(list.rows, 3);
        let csv = list.csv;
        assert_eq!(
            csv,
            "phone_number,name,day,vip,error,ended_at\n\
             +15550001,\"Ada, Jr.\",Mon,,Number busy,2026-11-29T16:00:00+00:00\n\
             +15550002,\"Bo \"\"B\"\" Li\",,true,No answer,2026-11-29T16:00:00+00:00\n\
             +15550004,,,,No reason given,2026-11-29T16:00:00+00:00\n"
        );
    }

    #[test]
    fn a_reason_keeps_its_group_only_and_times_are_in_the_persons_zone() {
        let calls = [
            call(
                "c1",
                "+15550001",
                Some("Number busy"),
                serde_json::json!({}),
            ),
            call("c2", "+15550002", Some("No answer"), serde_json::json!({})),
        ];
        let zone = TimeZone::get("Asia/Kolkata").unwrap();
        let csv = retry_csv(&calls, Some(" No answer"), &zone).csv;
        assert_eq!(
            csv,
            "phone_number,error,ended_at\n+15550002,No answer,2026-11-29T21:30:00+05:30\n"
        );
        assert_eq!(
            retry_csv(&calls, Some("Voicemail"), &zone).csv,
            "phone_number,error,ended_at\n"
        );
    }

    /// Read back by a CSV reader, every cell is the campaign's own: commas, quotes, a line
    /// break and non-ASCII text survive the quoting.
    #[test]
    fn a_csv_reader_reads_back_exactly_the_rows_and_columns() {
        let awkward = [
            ("Ada, \"the\" Countess", "line one\nline two"),
            ("Zoë Ørsted", "=1+1"),
            ("", "  spaced  "),
        ];
        let calls: Vec<CallRecord> = awkward
            .iter()
            .enumerate()
            .map(|(i, (name, note))| {
                call(
                    &format!("c{i}"),
                    &format!("+1555000{i}"),
                    Some("Number busy"),
                    serde_json::json!({"name": name, "note": note}),
                )
            })
            .collect();
        let list = retry_csv(&calls, None, &TimeZone::UTC);
        let mut reader = csv::Reader::from_reader(list.csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            ["phone_number", "name", "note", "error", "ended_at"]
        );
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), list.rows);
        for (i, (row, (name, note))) in rows.iter().zip(awkward).enumerate() {
            assert_eq!(row[0], format!("+1555000{i}"));
            assert_eq!((row[1].as_str(), row[2].as_str()), (name, note));
            assert_eq!(row[3], "Number busy");
        }
    }

    #[test]
    fn the_suggested_name_says_the_batch_and_the_group() {
        let id = crate::BatchId::parse("batch_x").unwrap();
        assert_eq!(suggested_file_name(&id, None), "batch_x-failed-calls.csv");
        assert_eq!(
            suggested_file_name(&id, Some(" Number busy")),
            "batch_x-number-busy.csv"
        );
        assert_eq!(
            suggested_file_name(&id, Some("../../etc/passwd: Übel!")),
            "batch_x-etc-passwd-übel.csv"
        );
        assert_eq!(
            suggested_file_name(&id, Some("???")),
            "batch_x-failed-calls.csv"
        );
        let long = suggested_file_name(&id, Some(&"a".repeat(500)));
        assert_eq!(long, format!("batch_x-{}.csv", "a".repeat(40)));
    }

    #[test]
    fn save_replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retry.csv");
        std::fs::write(&path, "an older list\n").unwrap();
        let before = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        save(&path, "phone_number\n+15550001\n").unwrap();
        // A new file took the old one's place (renamed over it): it was never written in
        // place, where a crash would leave half of each.
        let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        assert_ne!(before, after);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "phone_number\n+15550001\n"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["retry.csv"], "no partial file is left");
    }

    #[test]
    fn save_refuses_a_relative_path_and_a_missing_folder_keeps_nothing() {
        let error = save(Path::new("retry.csv"), "x").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone").join("retry.csv");
        assert_eq!(
            save(&missing, "x").unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        assert!(!missing.exists());
    }
}
