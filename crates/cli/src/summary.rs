//! How one batch's snapshot reads: the one-line text for people and the JSON object for
//! scripts. Shared by `status` and `watch` so both say the same thing, in the words (counts,
//! percent, times) of the core that the window and the tray use.

use std::time::Duration;

use batchwatch_core::format;
use batchwatch_core::{BatchId, BatchProgress, Figures};
use serde::Serialize;

/// `processing  67%  95 completed · 5 failed · 5 active · 45 waiting of 150  ETA 30 min`,
/// after the ID padded to `id_width` so several batches line up. `f` are the snapshot's
/// [`batchwatch_core::figures`] (at the tray app's recent pace when it answered).
pub fn human_line(id: &BatchId, p: &BatchProgress, f: &Figures, id_width: usize) -> String {
    format!("{:<id_width$}  {}", id.as_str(), state_text(p, f))
}

/// Everything of [`human_line`] after the ID (the progress bar's message).
pub fn state_text(p: &BatchProgress, f: &Figures) -> String {
    format!(
        "{:<10}  {:>4}  {} of {}  {}",
        p.status.as_str(),
        format::percent(f.percent),
        format::counts(p),
        p.total,
        format::timing(p, f)
    )
}

/// [`state_text`] in at most `width` characters, for a progress bar on a narrow terminal:
/// the counts shorten first, then go; the status, percent and the time (ETA or "took") stay
/// as long as they fit, and only then is the end cut.
pub fn state_text_within(p: &BatchProgress, f: &Figures, width: usize) -> String {
    let timing = format::timing(p, f);
    let status = p.status.as_str();
    let percent = format::percent(f.percent);
    let candidates = [
        state_text(p, f),
        format!(
            "{status}  {percent}  ({}+{} of {})  {timing}",
            p.completed, p.failed, p.total
        ),
        format!("{status}  {percent}  {timing}"),
        format!("{percent}  {timing}"),
    ];
    let fits = |text: &str| text.chars().count() <= width;
    match candidates.iter().find(|c| fits(c)) {
        Some(text) => text.clone(),
        None => candidates[3].chars().take(width).collect(),
    }
}

/// A wait before the next request; tenths of a second under 10 s, where they make a difference.
pub fn wait_text(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format::duration(d)
    }
}

/// The `--json` object: the API's fields under their wire names, plus the derived figures.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonLine<'a> {
    pub batch_id: &'a BatchId,
    #[serde(flatten)]
    pub progress: &'a BatchProgress,
    /// 0–100, one decimal, as a number.
    pub percent: f64,
    /// Whole seconds; `null` while it cannot be known.
    pub eta_seconds: Option<u64>,
    /// Completed of the ended calls, 0–100, one decimal; `null` until a call has ended.
    pub success_percent: Option<f64>,
}

impl<'a> JsonLine<'a> {
    pub fn new(batch_id: &'a BatchId, progress: &'a BatchProgress, f: &Figures) -> Self {
        Self {
            batch_id,
            progress,
            percent: (f.percent * 10.0).round() / 10.0,
            eta_seconds: f.eta.map(|d| d.as_secs_f64().round() as u64),
            success_percent: f.success_percent.map(|p| (p * 10.0).round() / 10.0),
        }
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a progress snapshot always serializes")
    }
}

#[cfg(test)]
mod narrow_tests {
    use super::*;
    use batchwatch_core::figures;

    #[test]
    fn a_narrow_terminal_keeps_the_time_and_drops_the_counts_first() {
        let p: BatchProgress = serde_json::from_value(serde_json::json!({
            "status": "completed", "isComplete": true, "waiting": 0, "active": 0,
            "completed": 1450, "failed": 50, "total": 1500, "startTime": 1_000_000u64,
            "lastCompletedTime": 1_240_000u64, "completedTime": 1_240_000u64,
        }))
        .unwrap();
        let now = 1_300_000;
        let full = state_text(&p, &figures(&p, now));
        assert_eq!(state_text_within(&p, &figures(&p, now), 200), full);
        for width in [90, 60, 40, 20, 8, 0] {
            let text = state_text_within(&p, &figures(&p, now), width);
            assert!(text.chars().count() <= width, "{width}: {text:?}");
            if width >= 20 {
                assert!(text.ends_with("took 4 min"), "{width}: {text:?}");
            }
        }
        assert_eq!(
            state_text_within(&p, &figures(&p, now), 60),
            "completed  100%  (1450+50 of 1500)  took 4 min"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::figures;
    use batchwatch_core::BatchStatus;

    const START: u64 = 1_703_097_600_000;
    const MIN: u64 = 60_000;

    /// The reference page's example, as the core parses it.
    fn reference() -> BatchProgress {
        serde_json::from_value(serde_json::json!({
            "status": "processing", "isComplete": false, "waiting": 45, "active": 5,
            "completed": 95, "failed": 5, "total": 150, "startTime": START,
            "lastCompletedTime": START + 60 * MIN, "completedTime": null,
            "averageCallDuration": 45.2,
            "recent_calls": [{"jobId": "call_124", "status": "failed",
                "phone_number": "+1987654321", "failedAt": START, "error": "Number busy"}]
        }))
        .unwrap()
    }

    fn id(text: &str) -> BatchId {
        BatchId::parse(text).unwrap()
    }

    #[test]
    fn the_reference_example_reads_as_documented() {
        assert_eq!(
            human_line(
                &id("batch_123"),
                &reference(),
                &figures(&reference(), START + 60 * MIN),
                9
            ),
            "batch_123  processing   67%  95 completed · 5 failed · 5 active · 45 waiting of 150  ETA 30 min"
        );
    }

    #[test]
    fn timing_reads_right_in_every_phase() {
        let queued = BatchProgress {
            status: BatchStatus::Queued,
            start_time: None,
            last_completed_time: None,
            ..reference()
        };
        let started = BatchProgress {
            last_completed_time: None,
            ..reference()
        };
        let done = BatchProgress {
            status: BatchStatus::Completed,
            is_complete: true,
            completed_time: Some(START + 62 * MIN),
            ..reference()
        };
        let cancelled_never_started = BatchProgress {
            status: BatchStatus::Cancelled,
            start_time: None,
            ..reference()
        };
        let now = START + 60 * MIN;
        let cases = [
            (&queued, "not started yet"),
            (&started, "ETA unknown"),
            (&done, "took 1 h 2 min"),
            (&cancelled_never_started, "never started"),
        ];
        for (p, tail) in cases {
            let text = state_text(p, &figures(p, now));
            assert!(text.ends_with(tail), "{text:?} should end with {tail:?}");
        }
    }

    #[test]
    fn waits_show_tenths_only_when_short() {
        assert_eq!(wait_text(Duration::from_millis(400)), "0.4 s");
        assert_eq!(wait_text(Duration::from_millis(9_960)), "10.0 s");
        assert_eq!(wait_text(Duration::from_secs(30)), "30 s");
        assert_eq!(wait_text(Duration::from_secs(300)), "5 min");
    }

    #[test]
    fn json_keeps_wire_names_and_adds_figures() {
        let p = reference();
        let batch = id("batch_123");
        let value: serde_json::Value = serde_json::from_str(
            &JsonLine::new(&batch, &p, &figures(&p, START + 60 * MIN)).to_line(),
        )
        .unwrap();
        assert_eq!(value["batchId"], "batch_123");
        assert_eq!(value["isComplete"], false);
        assert_eq!(value["lastCompletedTime"], START + 60 * MIN);
        assert_eq!(value["recent_calls"][0]["phone_number"], "+1987654321");
        assert_eq!(value["percent"], 66.7);
        assert_eq!(value["etaSeconds"], 1800);

        let queued = BatchProgress {
            start_time: None,
            last_completed_time: None,
            ..p
        };
        let value: serde_json::Value = serde_json::from_str(
            &JsonLine::new(&batch, &queued, &figures(&queued, START)).to_line(),
        )
        .unwrap();
        assert!(value["etaSeconds"].is_null(), "{value}");
    }
}
