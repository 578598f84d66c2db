//! What the window and the tray show, computed from a [`MonitorView`] by pure functions —
//! formatted here, once, so the window, the tray and the terminal agree.
//!
//! Times are shown in the person's zone, passed in (`TimeZone::system()` in the programs, a
//! fixed zone in tests), so the views stay pure functions of their inputs.
//!
//! The tray view carries the same summary three ways because Linux trays (libayatana) have no
//! tooltip: an icon state with the aggregate percent, a short label, and one menu row per batch.

use std::borrow::Cow;

use serde::Serialize;

use crate::figures::{figures, Figures};
use crate::format::{self, TimeZone};
use crate::model::{BatchProgress, BatchStatus, CancelOutcome};
use crate::monitor::{BatchSnapshot, Connection, FetchStatus, MonitorView};
use crate::settings::{settings_view, SettingsView};

/// The menu shows at most this many batch rows, then "and N more".
pub const MAX_TRAY_ROWS: usize = 10;

/// How a batch is doing, for colours and icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BatchState {
    /// Not fetched yet.
    Pending,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// Trillet answered 404.
    NotFound,
    /// A status this build does not know, still running.
    Unknown,
}

impl BatchState {
    fn of(snapshot: &BatchSnapshot) -> Self {
        if matches!(snapshot.fetch, FetchStatus::NotFound { .. }) {
            return Self::NotFound;
        }
        let Some(p) = snapshot.progress.as_deref() else {
            return Self::Pending;
        };
        match &p.status {
            BatchStatus::Failed => Self::Failed,
            BatchStatus::Cancelled => Self::Cancelled,
            _ if p.is_complete => Self::Completed,
            BatchStatus::Completed => Self::Completed,
            BatchStatus::Queued => Self::Queued,
            BatchStatus::Processing => Self::Running,
            BatchStatus::Other(_) => Self::Unknown,
        }
    }

    fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Widths of the progress bar's parts, in percent of the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segments {
    pub completed: f64,
    pub failed: f64,
    pub active: f64,
    pub waiting: f64,
}

/// A problem shown on a card or across the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: String,
    pub message: String,
}

/// One row of a card's recent calls. Borrows from the snapshot: the view is built to be
/// serialized at once, and 1,000 batches × 10 calls of copied strings would dominate its cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentCallRow<'a> {
    pub job_id: &'a str,
    pub phone_number: &'a str,
    /// "completed", "failed", or what the API said.
    pub outcome: &'a str,
    /// "42 s" for a completed call, the error for a failed one.
    pub detail: Cow<'a, str>,
    pub ended_at_ms: Option<u64>,
}

/// One batch's card in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCard<'a> {
    pub id: &'a str,
    pub state: BatchState,
    /// The status as a person reads it: "processing", "completed", "not found", …
    pub status_text: &'a str,
    /// 0–100, one decimal.
    pub percent: f64,
    pub percent_text: String,
    pub segments: Segments,
    pub completed: u64,
    pub failed: u64,
    pub active: u64,
    pub waiting: u64,
    pub total: u64,
    /// "95 completed · 5 failed · 5 active · 45 waiting"
    pub counts_text: String,
    pub elapsed_text: Option<String>,
    pub eta_text: Option<String>,
    pub average_call_text: Option<String>,
    pub last_updated_ms: Option<u64>,
    pub recent_calls: Vec<RecentCallRow<'a>>,
    /// Why the figures may be out of date, or why the batch is not polled.
    pub problem: Option<Problem>,
    /// The figures are from an earlier fetch than the last attempt.
    pub stale: bool,
    /// Still running or queued at Trillet, so "Cancel batch…" is offered.
    pub can_cancel: bool,
    /// What Trillet answered when it was cancelled from Batchwatch.
    pub cancellation_text: Option<String>,
}

/// The whole window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowView<'a> {
    pub cards: Vec<BatchCard<'a>>,
    /// A problem that concerns every batch (credentials, rate limit, state file).
    pub banner: Option<Problem>,
    pub state_file_problem: Option<String>,
    pub settings: SettingsView,
}

/// The tray icon's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TrayState {
    /// Nothing tracked.
    Idle,
    Running,
    /// Something needs the user: rejected key, unknown batch, a failure, errors.
    Attention,
    /// Everything tracked has finished.
    AllDone,
}

/// The tray, for every platform.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrayView {
    pub state: TrayState,
    /// Aggregate percent of the running batches (of all, when none runs); `None` when idle.
    pub percent: Option<u8>,
    /// Beside the icon on Linux.
    pub label: String,
    /// On platforms with tooltips.
    pub tooltip: String,
    /// Disabled menu rows, one per batch, capped with "and N more".
    pub rows: Vec<String>,
}

struct Row<'a> {
    snapshot: &'a BatchSnapshot,
    state: BatchState,
    figures: Option<Figures>,
}

fn rows(view: &MonitorView) -> Vec<Row<'_>> {
    view.batches
        .iter()
        .map(|snapshot| Row {
            snapshot,
            state: BatchState::of(snapshot),
            figures: snapshot
                .progress
                .as_deref()
                .map(|p| figures(p, view.now_ms)),
        })
        .collect()
}

fn banner(view: &MonitorView, zone: &TimeZone) -> Option<Problem> {
    let problem = |code: &str, message: String| {
        Some(Problem {
            code: code.into(),
            message,
        })
    };
    match &view.connection {
        Connection::Ready => None,
        Connection::NoCredentials => problem(
            "no_credentials",
            "Enter your Trillet API key and workspace ID to start watching.".into(),
        ),
        Connection::CredentialsRejected { message, .. } => problem(
            "credentials_rejected",
            format!("Trillet rejected your credentials ({message}). Polling has stopped; enter a valid API key and workspace ID."),
        ),
        Connection::RateLimited { until_ms } => problem(
            "rate_limited",
            format!(
                "Trillet's rate limit was reached. Polling resumes at {}.",
                format::clock_seconds_in(*until_ms, zone)
            ),
        ),
    }
}

fn card_problem(row: &Row<'_>, connection: &Connection, zone: &TimeZone) -> Option<Problem> {
    match &row.snapshot.fetch {
        FetchStatus::NotFound { message } => Some(Problem {
            code: "not_found".into(),
            message: message.clone(),
        }),
        FetchStatus::Retrying {
            code,
            message,
            retry_at_ms,
        } if !row.state.is_finished() => {
            let what = match code.as_str() {
                "rate_limited" => "Rate-limited",
                "network" | "timeout" => "Offline",
                "server_error" => "Trillet is having trouble",
                _ => "Could not update",
            };
            Some(Problem {
                code: code.clone(),
                message: format!(
                    "{what}; retrying at {}. {message}",
                    format::clock_seconds_in(*retry_at_ms, zone)
                ),
            })
        }
        _ if !row.state.is_finished() => match connection {
            Connection::CredentialsRejected { .. } => Some(Problem {
                code: "credentials_rejected".into(),
                message: "Credentials rejected: not updating until you enter valid ones.".into(),
            }),
            _ => None,
        },
        _ => None,
    }
}

fn status_text<'a>(row: &Row<'a>) -> &'a str {
    match (row.state, row.snapshot.progress.as_deref()) {
        (BatchState::NotFound, _) => "not found",
        (BatchState::Pending, _) => "checking…",
        (_, Some(p)) => p.status.as_str(),
        (_, None) => "checking…",
    }
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn segments(p: &BatchProgress, f: &Figures) -> Segments {
    let part = |n: u64| {
        if f.size == 0 {
            0.0
        } else {
            one_decimal(n as f64 * 100.0 / f.size as f64)
        }
    };
    Segments {
        completed: part(p.completed),
        failed: part(p.failed),
        active: part(p.active),
        waiting: part(p.waiting),
    }
}

fn counts_text(p: &BatchProgress) -> String {
    format!(
        "{} completed · {} failed · {} active · {} waiting",
        p.completed, p.failed, p.active, p.waiting
    )
}

fn eta_text(state: BatchState, f: &Figures) -> Option<String> {
    match state {
        BatchState::Running | BatchState::Unknown => {
            f.eta.map(|d| format!("ETA {}", format::duration(d)))
        }
        _ => None,
    }
}

fn card<'a>(row: &Row<'a>, connection: &Connection, zone: &TimeZone) -> BatchCard<'a> {
    let problem = card_problem(row, connection, zone);
    let empty = Segments {
        completed: 0.0,
        failed: 0.0,
        active: 0.0,
        waiting: 0.0,
    };
    let p = row.snapshot.progress.as_deref();
    let f = row.figures.as_ref();
    let (percent, segs, counts) = match (p, f) {
        (Some(p), Some(f)) => (one_decimal(f.percent), segments(p, f), counts_text(p)),
        _ => (0.0, empty, String::new()),
    };
    BatchCard {
        id: row.snapshot.id.as_str(),
        state: row.state,
        status_text: status_text(row),
        percent,
        percent_text: if p.is_some() {
            format::percent(percent)
        } else {
            String::new()
        },
        segments: segs,
        completed: p.map_or(0, |p| p.completed),
        failed: p.map_or(0, |p| p.failed),
        active: p.map_or(0, |p| p.active),
        waiting: p.map_or(0, |p| p.waiting),
        total: p.map_or(0, |p| p.total),
        counts_text: counts,
        elapsed_text: f.and_then(|f| f.elapsed).map(|d| {
            if row.state.is_finished() {
                format!("took {}", format::duration(d))
            } else {
                format!("running {}", format::duration(d))
            }
        }),
        eta_text: f.and_then(|f| eta_text(row.state, f)),
        average_call_text: p
            .and_then(|p| p.average_call_duration)
            .filter(|s| *s > 0.0)
            .and_then(format::seconds)
            .map(|d| format!("{d} per call")),
        last_updated_ms: row.snapshot.last_updated_ms,
        recent_calls: p.map(recent_calls).unwrap_or_default(),
        stale: problem.is_some() && p.is_some() && !row.state.is_finished(),
        can_cancel: matches!(
            row.state,
            BatchState::Queued | BatchState::Running | BatchState::Unknown
        ) && row.snapshot.cancellation.is_none(),
        cancellation_text: row.snapshot.cancellation.as_deref().map(cancellation_text),
        problem,
    }
}

/// "Cancelled from Batchwatch: 6 waiting calls dropped; 3 completed and 1 failed before that
/// (of 10). Trillet: Batch call cancelled successfully"
fn cancellation_text(outcome: &CancelOutcome) -> String {
    let mut text = format!(
        "Cancelled from Batchwatch: {}",
        format::cancelled_counts(&outcome.details)
    );
    if let Some(message) = outcome
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        text.push_str(&format!(" Trillet: {message}"));
    }
    text
}

fn recent_calls(p: &BatchProgress) -> Vec<RecentCallRow<'_>> {
    p.recent_calls
        .iter()
        .map(|c| RecentCallRow {
            job_id: &c.job_id,
            phone_number: c.phone_number.as_deref().unwrap_or_default(),
            outcome: &c.status,
            detail: match (&c.error, c.duration) {
                (Some(error), _) => Cow::Borrowed(error.as_str()),
                (None, Some(secs)) => Cow::Owned(format::seconds(secs).unwrap_or_default()),
                (None, None) => Cow::Borrowed(""),
            },
            ended_at_ms: c.ended_at(),
        })
        .collect()
}

/// The window's view model, its times in `zone`.
pub fn window_view<'a>(view: &'a MonitorView, zone: &TimeZone) -> WindowView<'a> {
    WindowView {
        cards: rows(view)
            .iter()
            .map(|r| card(r, &view.connection, zone))
            .collect(),
        banner: banner(view, zone),
        state_file_problem: view.state_problem.clone(),
        settings: settings_view(&view.settings, view.now_ms, polled(view)),
    }
}

/// How many batches share the request budget now: those not finished (nor unknown to Trillet).
pub fn polled(view: &MonitorView) -> usize {
    view.batches
        .iter()
        .map(BatchState::of)
        .filter(|state| !state.is_finished() && *state != BatchState::NotFound)
        .count()
}

fn needs_attention(row: &Row<'_>) -> bool {
    matches!(row.state, BatchState::NotFound | BatchState::Failed)
        || (matches!(row.snapshot.fetch, FetchStatus::Retrying { .. }) && !row.state.is_finished())
}

fn tray_row(row: &Row<'_>) -> String {
    let id = &row.snapshot.id;
    let f = row.figures.as_ref();
    match row.state {
        BatchState::Completed => format!("✓ {id} done"),
        BatchState::Failed => format!("✗ {id} failed"),
        BatchState::Cancelled => format!("⊘ {id} cancelled"),
        BatchState::NotFound => format!("⚠ {id} not found"),
        BatchState::Pending => format!("{id} — checking…"),
        BatchState::Queued => format!("{id} — queued"),
        BatchState::Running | BatchState::Unknown => {
            let f = f.expect("a running batch has figures");
            let mut text = format!(
                "{id} — {} ({}/{})",
                format::percent(f.percent),
                f.finished,
                f.size
            );
            if let Some(eta) = f.eta {
                text.push_str(&format!(", ETA {}", format::duration(eta)));
            }
            if let FetchStatus::Retrying { .. } = row.snapshot.fetch {
                text = format!("⚠ {text}, retrying");
            }
            text
        }
    }
}

/// The tray's view: icon state, label, tooltip and menu rows, its times in `zone`.
pub fn tray_view(view: &MonitorView, zone: &TimeZone) -> TrayView {
    let rows = rows(view);
    if rows.is_empty() {
        return TrayView {
            state: TrayState::Idle,
            percent: None,
            label: String::new(),
            tooltip: "Batchwatch — no batches tracked".into(),
            rows: vec!["No batches tracked".into()],
        };
    }

    let running: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                BatchState::Running
                    | BatchState::Unknown
                    | BatchState::Queued
                    | BatchState::Pending
            )
        })
        .collect();
    let problems = rows.iter().filter(|r| needs_attention(r)).count();
    let key_problem = match view.connection {
        Connection::CredentialsRejected { .. } => Some("key rejected"),
        Connection::NoCredentials => Some("no API key"),
        _ => None,
    };

    let counted: Vec<&Row> = if running.is_empty() {
        rows.iter().collect()
    } else {
        running.clone()
    };
    let (finished, size) = counted
        .iter()
        .filter_map(|r| r.figures.as_ref())
        // Widened: 2,000 batches of u64::MAX calls each still add up.
        .fold((0u128, 0u128), |(a, b), f| {
            (a + u128::from(f.finished), b + u128::from(f.size))
        });
    let percent_f = if size == 0 {
        if running.is_empty() {
            100.0
        } else {
            0.0
        }
    } else {
        finished as f64 * 100.0 / size as f64
    };
    let percent = percent_f.round().clamp(0.0, 100.0) as u8;

    let state = if key_problem.is_some() || problems > 0 {
        TrayState::Attention
    } else if !running.is_empty() {
        TrayState::Running
    } else {
        TrayState::AllDone
    };

    let mut parts: Vec<String> = Vec::new();
    if let Some(what) = key_problem {
        parts.push(format!("⚠ {what}"));
    } else if problems > 0 {
        parts.push(format!(
            "⚠ {problems} {}",
            if problems == 1 { "problem" } else { "problems" }
        ));
    }
    if running.is_empty() {
        if key_problem.is_none() {
            parts.push(format!("✓ {} done", rows.len()));
        }
    } else {
        parts.push(format::percent(percent_f));
        if running.len() > 1 {
            parts.push(format!("{} running", running.len()));
        }
        // The batch that will take longest decides when everything is done.
        if let Some(eta) = running.iter().filter_map(|r| r.figures.as_ref()?.eta).max() {
            parts.push(format!("ETA {}", format::duration(eta)));
        }
    }
    if let Connection::RateLimited { until_ms } = view.connection {
        parts.push(format!(
            "paused until {}",
            format::clock_time_in(until_ms, zone)
        ));
    }
    let label = parts.join(" · ");

    // Problems first, then running, then finished; tracked order within each.
    let mut ordered: Vec<&Row> = rows.iter().collect();
    ordered.sort_by_key(|r| {
        if needs_attention(r) {
            0
        } else if r.state.is_finished() {
            2
        } else {
            1
        }
    });
    let mut menu: Vec<String> = ordered
        .iter()
        .take(MAX_TRAY_ROWS)
        .map(|r| tray_row(r))
        .collect();
    if ordered.len() > MAX_TRAY_ROWS {
        menu.push(format!("and {} more", ordered.len() - MAX_TRAY_ROWS));
    }
    let tooltip = format!("Batchwatch — {label}\n{}", menu.join("\n"));

    TrayView {
        state,
        percent: Some(percent),
        label,
        tooltip,
        rows: menu,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::batch_id::BatchId;
    use crate::state_file::Settings;

    const START: u64 = 1_795_968_000_000;
    const MIN: u64 = 60_000;

    fn progress(
        status: BatchStatus,
        completed: u64,
        failed: u64,
        active: u64,
        total: u64,
    ) -> BatchProgress {
        let complete = matches!(
            status,
            BatchStatus::Completed | BatchStatus::Failed | BatchStatus::Cancelled
        );
        BatchProgress {
            is_complete: complete,
            waiting: if complete {
                0
            } else {
                total - completed - failed - active
            },
            active,
            completed,
            failed,
            total,
            start_time: (status != BatchStatus::Queued).then_some(START),
            last_completed_time: (completed + failed > 0).then_some(START + 10 * MIN),
            completed_time: complete.then_some(START + 62 * MIN),
            average_call_duration: Some(45.2),
            recent_calls: vec![],
            status,
        }
    }

    /// A zone with a half-hour offset: 16:00 UTC is 21:30 there.
    fn zone() -> TimeZone {
        TimeZone::get("Asia/Kolkata").unwrap()
    }

    fn snap(id: &str, p: Option<BatchProgress>, fetch: FetchStatus) -> BatchSnapshot {
        BatchSnapshot {
            id: BatchId::parse(id).unwrap(),
            progress: p.map(Arc::new),
            last_updated_ms: Some(START + 10 * MIN),
            fetch,
            cancellation: None,
        }
    }

    fn view(batches: Vec<BatchSnapshot>, connection: Connection) -> MonitorView {
        MonitorView {
            now_ms: START + 10 * MIN,
            batches,
            connection,
            settings: Settings::default(),
            state_problem: None,
        }
    }

    fn running(id: &str, completed: u64, total: u64) -> BatchSnapshot {
        snap(
            id,
            Some(progress(BatchStatus::Processing, completed, 0, 5, total)),
            FetchStatus::Live,
        )
    }

    fn done(id: &str) -> BatchSnapshot {
        snap(
            id,
            Some(progress(BatchStatus::Completed, 145, 5, 0, 150)),
            FetchStatus::Live,
        )
    }

    #[test]
    fn tray_grid() {
        let retrying = FetchStatus::Retrying {
            code: "server_error".into(),
            message: "500".into(),
            retry_at_ms: START,
        };
        let not_found = FetchStatus::NotFound {
            message: "Batch not found".into(),
        };
        let rejected = Connection::CredentialsRejected {
            status: 401,
            message: "Invalid API key".into(),
        };
        // (batches, connection) → (state, percent, label, rows)
        let cases: Vec<(
            Vec<BatchSnapshot>,
            Connection,
            TrayState,
            Option<u8>,
            &str,
            Vec<&str>,
        )> = vec![
            (
                vec![],
                Connection::Ready,
                TrayState::Idle,
                None,
                "",
                vec!["No batches tracked"],
            ),
            // 93 of 150 in 10 min → 57 left ≈ 6 min.
            (
                vec![running("batch_123", 93, 150)],
                Connection::Ready,
                TrayState::Running,
                Some(62),
                "62% · ETA 6 min",
                vec!["batch_123 — 62% (93/150), ETA 6 min"],
            ),
            // A 429 pause until 17:02:03 UTC, said in the person's zone.
            (
                vec![running("batch_123", 93, 150)],
                Connection::RateLimited {
                    until_ms: START + 3_723_000,
                },
                TrayState::Running,
                Some(62),
                "62% · ETA 6 min · paused until 22:32 IST",
                vec!["batch_123 — 62% (93/150), ETA 6 min"],
            ),
            (
                vec![
                    running("batch_1", 50, 100),
                    running("batch_2", 10, 100),
                    done("batch_9"),
                ],
                Connection::Ready,
                TrayState::Running,
                Some(30),
                "30% · 2 running · ETA 1 h 30 min",
                vec![
                    "batch_1 — 50% (50/100), ETA 10 min",
                    "batch_2 — 10% (10/100), ETA 1 h 30 min",
                    "✓ batch_9 done",
                ],
            ),
            (
                vec![done("batch_8"), done("batch_9")],
                Connection::Ready,
                TrayState::AllDone,
                Some(100),
                "✓ 2 done",
                vec!["✓ batch_8 done", "✓ batch_9 done"],
            ),
            (
                vec![
                    running("batch_1", 50, 100),
                    snap("batch_7", None, not_found),
                ],
                Connection::Ready,
                TrayState::Attention,
                Some(50),
                "⚠ 1 problem · 50% · ETA 10 min",
                vec!["⚠ batch_7 not found", "batch_1 — 50% (50/100), ETA 10 min"],
            ),
            (
                vec![snap(
                    "batch_1",
                    Some(progress(BatchStatus::Processing, 50, 0, 5, 100)),
                    retrying,
                )],
                Connection::Ready,
                TrayState::Attention,
                Some(50),
                "⚠ 1 problem · 50% · ETA 10 min",
                vec!["⚠ batch_1 — 50% (50/100), ETA 10 min, retrying"],
            ),
            (
                vec![running("batch_1", 50, 100)],
                rejected,
                TrayState::Attention,
                Some(50),
                "⚠ key rejected · 50% · ETA 10 min",
                vec!["batch_1 — 50% (50/100), ETA 10 min"],
            ),
            (
                vec![
                    snap(
                        "batch_q",
                        Some(progress(BatchStatus::Queued, 0, 0, 0, 40)),
                        FetchStatus::Live,
                    ),
                    snap("batch_new", None, FetchStatus::Pending),
                ],
                Connection::Ready,
                TrayState::Running,
                Some(0),
                "0% · 2 running",
                vec!["batch_q — queued", "batch_new — checking…"],
            ),
            (
                vec![
                    snap(
                        "batch_f",
                        Some(progress(BatchStatus::Failed, 10, 90, 0, 100)),
                        FetchStatus::Live,
                    ),
                    done("batch_9"),
                ],
                Connection::Ready,
                TrayState::Attention,
                Some(100),
                "⚠ 1 problem · ✓ 2 done",
                vec!["✗ batch_f failed", "✓ batch_9 done"],
            ),
        ];
        for (i, (batches, connection, state, percent, label, menu)) in cases.into_iter().enumerate()
        {
            let t = tray_view(&view(batches, connection), &zone());
            assert_eq!(
                (t.state, t.percent, t.label.as_str()),
                (state, percent, label),
                "case {i}"
            );
            assert_eq!(t.rows, menu, "case {i}");
            assert!(t.tooltip.contains(label), "case {i}: {}", t.tooltip);
        }
    }

    #[test]
    fn two_hundred_batches_cap_the_menu() {
        let batches = (0..200)
            .map(|i| running(&format!("batch_{i}"), 10, 100))
            .collect();
        let t = tray_view(&view(batches, Connection::Ready), &zone());
        assert_eq!(t.rows.len(), MAX_TRAY_ROWS + 1);
        assert_eq!(t.rows.last().unwrap(), "and 190 more");
        assert_eq!(t.label, "10% · 200 running · ETA 1 h 30 min");
    }

    #[test]
    fn window_card_for_the_reference_example() {
        let p: BatchProgress =
            serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
        let now = p.last_completed_time.unwrap();
        let v = MonitorView {
            now_ms: now,
            batches: vec![BatchSnapshot {
                id: BatchId::parse("batch_7891011121314").unwrap(),
                progress: Some(Arc::new(p)),
                last_updated_ms: Some(now),
                fetch: FetchStatus::Live,
                cancellation: None,
            }],
            connection: Connection::Ready,
            settings: Settings::default(),
            state_problem: None,
        };
        let w = window_view(&v, &zone());
        assert_eq!(w.banner, None);
        let c = &w.cards[0];
        assert_eq!(c.state, BatchState::Running);
        assert_eq!(c.status_text, "processing");
        assert_eq!((c.percent, c.percent_text.as_str()), (66.7, "67%"));
        assert_eq!(
            c.segments,
            Segments {
                completed: 63.3,
                failed: 3.3,
                active: 3.3,
                waiting: 30.0
            }
        );
        assert_eq!(
            c.counts_text,
            "95 completed · 5 failed · 5 active · 45 waiting"
        );
        assert_eq!(c.elapsed_text.as_deref(), Some("running 1 h"));
        assert_eq!(c.eta_text.as_deref(), Some("ETA 30 min"));
        assert_eq!(c.average_call_text.as_deref(), Some("45 s per call"));
        assert_eq!(c.recent_calls.len(), 2);
        assert_eq!(
            (c.recent_calls[0].outcome, c.recent_calls[0].detail.as_ref()),
            ("completed", "42 s")
        );
        assert_eq!(
            (c.recent_calls[1].outcome, c.recent_calls[1].detail.as_ref()),
            ("failed", "Number busy")
        );
        assert!(!c.stale && c.problem.is_none());
    }

    #[test]
    fn window_problem_grid() {
        let retry = FetchStatus::Retrying {
            code: "network".into(),
            message: "could not reach Trillet".into(),
            retry_at_ms: START + 3_723_000,
        };
        let rate = FetchStatus::Retrying {
            code: "rate_limited".into(),
            message: "429".into(),
            retry_at_ms: START,
        };
        let cases: Vec<(BatchSnapshot, Connection, Option<&str>, &str, bool)> = vec![
            (
                snap(
                    "b",
                    None,
                    FetchStatus::NotFound {
                        message:
                            "Trillet has no batch with this ID in this workspace: Batch not found"
                                .into(),
                    },
                ),
                Connection::Ready,
                Some("not_found"),
                "has no batch with this ID",
                false,
            ),
            (
                snap(
                    "b",
                    Some(progress(BatchStatus::Processing, 5, 0, 5, 100)),
                    retry,
                ),
                Connection::Ready,
                Some("network"),
                "Offline; retrying at 22:32:03 IST",
                true,
            ),
            (
                snap(
                    "b",
                    Some(progress(BatchStatus::Processing, 5, 0, 5, 100)),
                    rate,
                ),
                Connection::Ready,
                Some("rate_limited"),
                "Rate-limited; retrying at",
                true,
            ),
            (
                running("b", 5, 100),
                Connection::CredentialsRejected {
                    status: 401,
                    message: "x".into(),
                },
                Some("credentials_rejected"),
                "Credentials rejected",
                true,
            ),
            (
                done("b"),
                Connection::CredentialsRejected {
                    status: 401,
                    message: "x".into(),
                },
                None,
                "",
                false,
            ),
            (
                snap("b", None, FetchStatus::Pending),
                Connection::Ready,
                None,
                "",
                false,
            ),
        ];
        for (i, (s, connection, code, phrase, stale)) in cases.into_iter().enumerate() {
            let v = view(vec![s], connection);
            let w = window_view(&v, &zone());
            let c = &w.cards[0];
            assert_eq!(
                c.problem.as_ref().map(|p| p.code.as_str()),
                code,
                "case {i}"
            );
            assert!(
                c.problem
                    .as_ref()
                    .is_none_or(|p| p.message.contains(phrase)),
                "case {i}: {:?}",
                c.problem
            );
            assert_eq!(c.stale, stale, "case {i}");
        }
        let banner = |c: Connection| {
            window_view(&view(vec![], c), &zone())
                .banner
                .map(|b| b.code)
        };
        assert_eq!(
            banner(Connection::NoCredentials).as_deref(),
            Some("no_credentials")
        );
        assert_eq!(
            banner(Connection::RateLimited { until_ms: START }).as_deref(),
            Some("rate_limited")
        );
        assert_eq!(banner(Connection::Ready), None);
    }

    #[test]
    fn a_cancelled_card_says_what_trillet_answered_and_offers_no_second_cancel() {
        let running = snap(
            "batch_run",
            Some(progress(BatchStatus::Processing, 30, 2, 5, 100)),
            FetchStatus::Live,
        );
        let mut cancelled = snap(
            "batch_gone",
            Some(progress(BatchStatus::Cancelled, 30, 2, 0, 100)),
            FetchStatus::Live,
        );
        cancelled.cancellation = Some(Arc::new(CancelOutcome {
            batch_id: "batch_gone".into(),
            status: BatchStatus::Cancelled,
            message: Some("Batch call cancelled successfully".into()),
            details: crate::model::CancelDetails {
                completed_calls: 30,
                failed_calls: 2,
                cancelled_calls: 63,
                total_calls: 100,
            },
        }));
        let v = view(vec![running, cancelled], Connection::Ready);
        let w = window_view(&v, &zone());
        assert!(w.cards[0].can_cancel);
        assert_eq!(w.cards[0].cancellation_text, None);
        assert!(!w.cards[1].can_cancel);
        assert_eq!(
            w.cards[1].cancellation_text.as_deref(),
            Some("Cancelled from Batchwatch: 63 waiting calls dropped; 30 completed and 2 failed before that (of 100). Trillet: Batch call cancelled successfully")
        );
        assert_eq!(
            w.settings.consequence, "A batch updates every 15 s.",
            "one batch still polled"
        );
    }
}
