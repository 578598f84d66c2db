//! `POST /v1/api/batch-calls`: what an upload carries ([`Upload`], as the simulator received
//! it), and the checks Trillet documents for it — the file and the agent are required, the file
//! is at most 20 MB of UTF-8 CSV with a `phone_number` column, and every row's number is in
//! international format. Each refusal is the documented `{error}` with the status the docs give
//! (400, or 413 for size), naming the row at fault.

use std::time::Duration;

use crate::script::Row;

/// The documented limit of the `file` field: 20 MB.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The column every row must fill.
pub(crate) const PHONE_COLUMN: &str = "phone_number";

/// One start request as the simulator received it: its form fields as sent (absent ones
/// `None`), whether or not it was accepted. Tests read what a client uploaded from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The `agentId` field.
    pub agent_id: Option<String>,
    /// The file name the `file` part carried.
    pub file_name: Option<String>,
    /// The `file` part's bytes (cut at 20 MB + 1 byte: an oversized file is not kept whole).
    pub file: Option<Vec<u8>>,
    /// The `file` part's full size in bytes, as received.
    pub file_bytes: usize,
    pub scheduled_at: Option<String>,
    pub smart_callback_config: Option<String>,
    /// The batch it started; `None` when it was refused.
    pub batch_id: Option<String>,
}

impl Upload {
    /// The uploaded file as text (lossy), for assertions.
    pub fn csv_text(&self) -> String {
        String::from_utf8_lossy(self.file.as_deref().unwrap_or_default()).into_owned()
    }
}

/// Why an upload is refused: the status and the `{error}` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub error: String,
}

fn bad(error: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        error: error.into(),
    }
}

/// What a valid upload starts: its rows, and how long after now it starts.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub rows: Vec<Row>,
    pub start_in: Duration,
    pub scheduled: bool,
}

/// The documented checks, in the order a client meets them: the file, the agent, the size,
/// the schedule, the callbacks, then the CSV itself. `agent_known` says whether the workspace
/// has that agent; `now_wall_ms` is the sim's wall clock, for `scheduledAt`.
pub(crate) fn check(
    upload: &Upload,
    agent_known: impl Fn(&str) -> bool,
    now_wall_ms: i64,
) -> Result<Accepted, Refusal> {
    let Some(file) = &upload.file else {
        return Err(bad("No file uploaded. Send the CSV in the 'file' field."));
    };
    let Some(agent) = upload.agent_id.as_deref().filter(|a| !a.trim().is_empty()) else {
        return Err(bad("agentId is required"));
    };
    if upload.file_bytes > MAX_FILE_BYTES {
        return Err(Refusal {
            status: 413,
            error: "File too large. Maximum file size is 20MB.".to_owned(),
        });
    }
    if !agent_known(agent) {
        return Err(bad(format!("Agent not found: {agent}")));
    }
    let (start_in, scheduled) = match upload.scheduled_at.as_deref() {
        None | Some("") => (Duration::ZERO, false),
        Some(text) => (schedule(text, now_wall_ms)?, true),
    };
    if let Some(config) = upload.smart_callback_config.as_deref() {
        check_callbacks(config)?;
    }
    let rows = parse_csv(file)?;
    Ok(Accepted {
        rows,
        start_in,
        scheduled,
    })
}

/// How long until `scheduledAt` (`YYYY-MM-DDTHH:MM:SSZ`, UTC); a moment already past starts at
/// once, as no `scheduledAt` does.
fn schedule(text: &str, now_wall_ms: i64) -> Result<Duration, Refusal> {
    let refuse = || {
        bad(format!(
            "Invalid scheduledAt {text:?}: use a UTC time in ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)"
        ))
    };
    if !text.ends_with('Z') {
        return Err(refuse());
    }
    let at_ms = text
        .parse::<jiff::Timestamp>()
        .map_err(|_| refuse())?
        .as_millisecond();
    Ok(Duration::from_millis(
        u64::try_from(at_ms.saturating_sub(now_wall_ms)).unwrap_or(0),
    ))
}

/// `{"enabled": bool, "maxAttempts": number, "gaps": [{"days": number, "hours": number}]}`.
fn check_callbacks(text: &str) -> Result<(), Refusal> {
    let refuse = |why: &str| {
        bad(format!(
            "Invalid smartCallbackConfig: {why}. Expected a JSON string like {{\"enabled\": true, \"maxAttempts\": 2, \"gaps\": [{{\"days\": 0, \"hours\": 4}}]}}"
        ))
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| refuse("not valid JSON"))?;
    if !value["enabled"].is_boolean() {
        return Err(refuse("'enabled' must be true or false"));
    }
    if value.get("maxAttempts").is_some_and(|n| !n.is_u64()) {
        return Err(refuse("'maxAttempts' must be a whole number"));
    }
    if let Some(gaps) = value.get("gaps") {
        let fine = gaps.as_array().is_some_and(|gaps| {
            gaps.iter().all(|gap| {
                gap.is_object()
                    && ["days", "hours"]
                        .iter()
                        .all(|k| gap.get(*k).is_none_or(serde_json::Value::is_u64))
            })
        });
        if !fine {
            return Err(refuse("'gaps' must be a list of {days, hours}"));
        }
    }
    Ok(())
}

/// The rows of a CSV upload, or why Trillet refuses it. Rows are numbered from 1 below the
/// header, lines from 1 at the header (quoted line breaks make the two drift apart).
pub(crate) fn parse_csv(bytes: &[u8]) -> Result<Vec<Row>, Refusal> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| bad("CSV validation failed: the file is not UTF-8 text"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("CSV validation failed: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let Some(phone) = header.iter().position(|h| h == PHONE_COLUMN) else {
        return Err(bad(
            "CSV validation failed: missing required column 'phone_number'",
        ));
    };
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let row_number = n + 1;
        let record = record.map_err(|e| bad(format!("CSV validation failed: {e}")))?;
        let line = record.position().map_or(0, csv::Position::line);
        let number = record.get(phone).unwrap_or_default().trim();
        if !is_international(number) {
            return Err(bad(format!(
                "CSV validation failed: row {row_number} (line {line}): invalid phone number {number:?}; use international format, e.g. +1234567890"
            )));
        }
        rows.push(
            header
                .iter()
                .zip(record.iter())
                .map(|(column, value)| (column.clone(), value.to_owned()))
                .collect(),
        );
    }
    if rows.is_empty() {
        return Err(bad("CSV validation failed: the file has no rows to call"));
    }
    Ok(rows)
}

/// `+`, then 7 to 15 digits, the first not 0 (E.164).
pub(crate) fn is_international(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Now, as `scheduledAt` spells it (for tests and the demo).
pub fn scheduled_at_text(epoch_ms: i64) -> String {
    jiff::Timestamp::from_second(epoch_ms.div_euclid(1000))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(csv: &str) -> Upload {
        Upload {
            agent_id: Some("agent_sales".into()),
            file_name: Some("c.csv".into()),
            file: Some(csv.as_bytes().to_vec()),
            file_bytes: csv.len(),
            scheduled_at: None,
            smart_callback_config: None,
            batch_id: None,
        }
    }

    fn refusal(upload: &Upload) -> Refusal {
        check(upload, |a| a == "agent_sales", 0).unwrap_err()
    }

    #[test]
    fn rows_keep_the_files_columns_and_order() {
        let accepted = check(
            &upload("\u{feff}first_name,phone_number,note\r\nAda,+15550000001,\"a, b\"\r\nBo,+442071234567,\"say \"\"hi\"\"\"\r\n"),
            |a| a == "agent_sales",
            0,
        )
        .unwrap();
        assert_eq!(accepted.rows.len(), 2);
        assert_eq!(
            accepted.rows[0],
            [
                ("first_name".to_owned(), "Ada".to_owned()),
                ("phone_number".to_owned(), "+15550000001".to_owned()),
                ("note".to_owned(), "a, b".to_owned()),
            ]
        );
        assert_eq!(accepted.rows[1][2].1, "say \"hi\"");
        assert!(!accepted.scheduled);
    }

    #[test]
    fn each_documented_refusal() {
        let mut no_file = upload("");
        no_file.file = None;
        assert!(refusal(&no_file).error.contains("No file"));
        let mut no_agent = upload("phone_number\n+15550000001\n");
        no_agent.agent_id = None;
        assert_eq!(refusal(&no_agent).error, "agentId is required");
        let mut unknown = upload("phone_number\n+15550000001\n");
        unknown.agent_id = Some("agent_nobody".into());
        assert!(refusal(&unknown).error.contains("agent_nobody"));
        let mut huge = upload("phone_number\n+15550000001\n");
        huge.file_bytes = MAX_FILE_BYTES + 1;
        assert_eq!(refusal(&huge).status, 413);

        let no_column = refusal(&upload("phone,name\n+15550000001,A\n"));
        assert!(no_column.error.contains("phone_number"), "{no_column:?}");
        let bad_row = refusal(&upload("phone_number\n+15550000001\n5550000002\n"));
        assert!(bad_row.error.contains("row 2 (line 3)"), "{bad_row:?}");
        assert!(bad_row.error.contains("5550000002"), "{bad_row:?}");
        assert!(refusal(&upload("phone_number\n")).error.contains("no rows"));
        let not_utf8 = Upload {
            file: Some(vec![b'p', 0xff, b'\n']),
            ..upload("")
        };
        assert!(refusal(&not_utf8).error.contains("UTF-8"));
        for bad in [
            "tomorrow",
            "2026-12-05T10:00:00+01:00",
            "2026-13-05T10:00:00Z",
        ] {
            let mut later = upload("phone_number\n+15550000001\n");
            later.scheduled_at = Some(bad.into());
            assert!(refusal(&later).error.contains("scheduledAt"), "{bad}");
        }
        for bad in [
            "{",
            "{\"maxAttempts\":2}",
            "{\"enabled\":true,\"gaps\":[1]}",
        ] {
            let mut callbacks = upload("phone_number\n+15550000001\n");
            callbacks.smart_callback_config = Some(bad.into());
            assert!(
                refusal(&callbacks).error.contains("smartCallbackConfig"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_schedule_in_the_future_waits_and_one_in_the_past_starts_now() {
        let mut later = upload("phone_number\n+15550000001\n");
        later.scheduled_at = Some("1970-01-01T01:00:00Z".into());
        let at_zero = check(&later, |_| true, 0).unwrap();
        assert!(at_zero.scheduled);
        assert_eq!(at_zero.start_in, Duration::from_secs(3600));
        let after = check(&later, |_| true, 7_200_000).unwrap();
        assert_eq!(after.start_in, Duration::ZERO);
        assert_eq!(scheduled_at_text(3_600_999), "1970-01-01T01:00:00Z");
    }

    #[test]
    fn international_numbers() {
        for ok in [
            "+1234567",
            "+15550000001",
            "+442071234567",
            "+123456789012345",
        ] {
            assert!(is_international(ok), "{ok}");
        }
        for bad in [
            "",
            "+",
            "15550000001",
            "+0155500000",
            "+1 555 000",
            "+1234567890123456",
            "+12345a7",
        ] {
            assert!(!is_international(bad), "{bad}");
        }
    }
}
