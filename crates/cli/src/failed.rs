//! `batchwatch-cli failed`: a batch's failed calls, every page, grouped by reason — or only their
//! numbers, one a line and each once, or a CSV of them ready to upload as a retry campaign.

use std::collections::HashSet;

use batchwatch_core::failures::{FailedCalls, FailedCallsView};
use batchwatch_core::retry_list::retry_csv;
use batchwatch_core::{format, BatchId};

use batchwatch_core::monitor::TrilletApi;

use crate::exit::Failure;
use crate::patience::patiently;
use crate::resident::Leased;

/// What to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Groups with their calls, for people.
    Text,
    /// The failed numbers only, one a line.
    Numbers,
    /// The drill-down as the app's window receives it, on one line.
    Json,
    /// The retry list, as a CSV to upload (only one reason's calls, when given).
    Csv { reason: Option<String> },
}

pub async fn run(source: &Leased, id: &BatchId, output: Output) -> Result<(), Failure> {
    let failed = load(source, id).await?;
    let view = failed.view(id.as_str());
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string(&view).map_err(|e| Failure::Unreachable(e.to_string()))?
        ),
        Output::Numbers => {
            for number in numbers(&view) {
                println!("{number}");
            }
        }
        Output::Text => print!("{}", text(&view, &format::TimeZone::system())),
        Output::Csv { reason } => print!(
            "{}",
            retry_csv(
                failed.calls(),
                reason.as_deref(),
                &format::TimeZone::system()
            )
            .csv
        ),
    }
    Ok(())
}

/// Every page of `id`'s failed calls (within the bounds of [`FailedCalls`]), each asked within
/// the shared budget; a list cut short says so on stderr.
pub async fn load(source: &Leased, id: &BatchId) -> Result<FailedCalls, Failure> {
    let mut failed = FailedCalls::new();
    while let Some(query) = failed.next_query() {
        let what = format!("page {} of {id}'s failed calls", query.page);
        let page = patiently(&what, || {
            TrilletApi::calls(source, source.client.credentials(), id, query)
        })
        .await
        .map_err(Failure::from_api)?;
        failed.add_page(page);
    }
    if let Some(stop) = &failed.stopped_early {
        // Said on stderr too, so `--numbers > retry.txt` does not hide an incomplete list.
        eprintln!("batchwatch-cli: {id}: {}", stop.sentence());
    }
    Ok(failed)
}

/// Every failed number once, largest group first.
fn numbers(view: &FailedCallsView) -> Vec<&str> {
    let mut seen = HashSet::new();
    view.groups
        .iter()
        .flat_map(|g| g.numbers.lines())
        .filter(|n| seen.insert(*n))
        .collect()
}

/// "batch_x: All 3 failed calls", then each group and its calls, their times in `zone`.
fn text(view: &FailedCallsView, zone: &format::TimeZone) -> String {
    let mut out = format!("{}: {}\n", view.batch_id, view.summary);
    for group in &view.groups {
        out.push_str(&format!("\n{} × {}\n", group.reason, group.count));
        for call in &group.calls {
            let number = if call.phone_number.is_empty() {
                &call.job_id
            } else {
                &call.phone_number
            };
            let ended = call
                .ended_at_ms
                .map(|ms| format::clock_time_in(ms, zone))
                .unwrap_or_default();
            let duration = call.duration_text.as_deref().unwrap_or_default();
            let line = format!("  {number:<16} {ended:<12} {duration}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::failures::{FailedCall, FailureGroup};

    fn call(number: &str) -> FailedCall {
        FailedCall {
            job_id: format!("job_{number}"),
            phone_number: number.into(),
            ended_at_ms: Some(1_703_101_200_000),
            duration_text: Some("0 s".into()),
        }
    }

    fn view() -> FailedCallsView {
        let group = |reason: &str, numbers: &[&str]| FailureGroup {
            reason: reason.into(),
            count: numbers.len(),
            calls: numbers.iter().map(|n| call(n)).collect(),
            numbers: numbers.join("\n"),
        };
        FailedCallsView {
            batch_id: "batch_x".into(),
            groups: vec![
                group("Number busy", &["+15550001", "+15550002"]),
                group("No answer", &["+15550002"]),
            ],
            loaded: 3,
            total: 3,
            has_more: false,
            remaining: 0,
            summary: "All 3 failed calls".into(),
        }
    }

    #[test]
    fn numbers_come_once_each() {
        assert_eq!(numbers(&view()), ["+15550001", "+15550002"]);
    }

    #[test]
    fn text_reads_group_by_group() {
        // A zone with a half-hour offset: 19:40 UTC is 01:10 the next morning in Kolkata.
        let kolkata = format::TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(
            text(&view(), &kolkata),
            "batch_x: All 3 failed calls\n\
             \nNumber busy × 2\n  +15550001        01:10 IST    0 s\n  +15550002        01:10 IST    0 s\n\
             \nNo answer × 1\n  +15550002        01:10 IST    0 s\n"
        );
    }
}
