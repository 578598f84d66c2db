//! The window's model: one card per batch (bar segments, counts, times, recent calls, the
//! problem line, a cancel's outcome), the banner across the window, and the settings panel.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

use crate::figures::Figures;
use crate::format::{self, TimeZone};
use crate::model::{BatchProgress, CancelOutcome};
use crate::monitor::{Connection, FetchStatus, MonitorSnapshot};
use crate::settings::{settings_view, SettingsView};

use super::*;

/// Widths of the progress bar's parts, in percent of the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segments {
    pub completed: f64,
    pub failed: f64,
    pub active: f64,
    pub waiting: f64,
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

/// One bar of a card's throughput plot: calls that finished between two samples, per minute,
/// ending at `at_ms`. Sent to the window as `[completed, failed]`: the plot places bars by
/// their order (a bar a sample), and an hour of them on 1,000 cards is most of the view — as
/// objects with their moments they were 4 KiB a card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThroughputBar {
    pub at_ms: u64,
    pub completed_per_minute: f64,
    pub failed_per_minute: f64,
}

impl Serialize for ThroughputBar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.completed_per_minute, self.failed_per_minute).serialize(s)
    }
}

/// The plot's bars from a batch's samples: one between each two, per minute (a gap with no
/// change spreads over its minutes).
fn bars(samples: &[crate::figures::Sample]) -> impl Iterator<Item = ThroughputBar> + '_ {
    samples.windows(2).filter_map(|pair| {
        let (a, b) = (pair[0], pair[1]);
        let minutes = b.at_ms.checked_sub(a.at_ms).filter(|ms| *ms > 0)? as f64 / 60_000.0;
        // One decimal is more than a 24-pixel bar shows, and keeps each view short.
        Some(ThroughputBar {
            at_ms: b.at_ms,
            completed_per_minute: one_decimal(
                b.completed.saturating_sub(a.completed) as f64 / minutes,
            ),
            failed_per_minute: one_decimal(b.failed.saturating_sub(a.failed) as f64 / minutes),
        })
    })
}

/// A card's plot as the view holds it: the batch's samples, made into bars only as the view is
/// written out — no list of bars is allocated for each card of each view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput<'a>(pub &'a [crate::figures::Sample]);

impl Serialize for Throughput<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(bars(self.0))
    }
}

/// One batch's card in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCard<'a> {
    pub id: &'a str,
    /// The workspace it is asked in (its group in the window).
    pub workspace: Option<&'a str>,
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
    /// What a screen reader says for its progress bar, and the window's live region when the
    /// batch finishes: "batch_123: 67% — 95 completed, 5 failed, 5 active, 45 waiting"; ended,
    /// its status in place of the percentage ("batch_123: completed — 145 completed, …");
    /// before any figures, its status alone ("batch_123: checking…").
    pub progress_text: String,
    pub elapsed_text: Option<String>,
    pub eta_text: Option<String>,
    /// [`Self::eta_text`] in whole minutes (rounded), for sorting by it: counted in seconds it
    /// would change the card every second, and the window passes on only changed cards.
    pub eta_minutes: Option<u64>,
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
    /// Over, with no call still in progress: the card goes in the "Finished" section.
    pub finished: bool,
    /// When it ended, as well as its answers tell (the "Finished" section's order).
    pub ended_at_ms: Option<u64>,
    /// Calls finished per minute over the last hour, a bar a sample, oldest first: the card's
    /// plot (each `[completed, failed]`).
    pub throughput: Throughput<'a>,
    /// "12 calls a minute lately": the recent pace the ETA comes from, while it runs.
    pub pace_text: Option<String>,
    /// "No progress for 22 min": no call ended for the user's stall minutes while calls wait
    /// (the attention colour).
    pub stall_text: Option<String>,
    /// When its notifications are shown: "always", "failures", "never" (the card's choice).
    pub notify: crate::notify_choice::NotifyChoice,
    /// "95% succeeded", once it has ended.
    pub success_text: Option<String>,
    /// How Batchwatch started it: "contacts.csv · agent Sales follow-up"; none for a batch
    /// started elsewhere.
    pub launch_text: Option<String>,
    /// The agent that places its calls, when Batchwatch started it (a retry's default).
    pub agent_id: Option<&'a str>,
    /// "starts at 09:30": started from Batchwatch for later, and not started yet.
    pub starts_text: Option<String>,
    /// The batch whose failed calls it calls again.
    pub retry_of: Option<&'a str>,
    /// The tracked batches that retry its failed calls, oldest first.
    pub retries: Vec<&'a str>,
    /// What the card says while a retry list is made: "Loading 257 failed calls from Trillet
    /// (3 pages, within the key's budget)…", or "Saving…" for one page; none without failures.
    pub saving_text: Option<String>,
}

/// A campaign's line in the Finished section: a batch and its retries added up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLine {
    pub root: String,
    /// "batch_x: 27 of 30 reached over 2 attempts, 3 still unreached".
    pub text: String,
}

/// A workspace's heading in the window, over its cards: its label and its own summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceGroup<'a> {
    pub id: &'a str,
    pub label: &'a str,
    /// Its batches and its key as the tray's label says them: "⚠ key rejected",
    /// "62% · 2 running · ETA 6 min", "✓ 3 done"; "No batches" when it has none.
    pub summary: String,
    /// Its key is refused or paused, or one of its batches needs the person.
    pub attention: bool,
}

/// The whole window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowView<'a> {
    pub cards: Vec<BatchCard<'a>>,
    /// The workspaces polled, the first stored first (the window groups cards under them when
    /// there are several).
    pub workspaces: Vec<WorkspaceGroup<'a>>,
    /// Each tracked batch with a tracked retry, added up over its attempts.
    pub campaigns: Vec<CampaignLine>,
    /// A problem that concerns every batch (credentials, rate limit, state file).
    pub banner: Option<Problem>,
    pub state_file_problem: Option<String>,
    pub settings: SettingsView,
}

pub(super) fn banner(view: &MonitorSnapshot, zone: &TimeZone) -> Option<Problem> {
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

pub(super) fn card_problem(row: &Row<'_>, zone: &TimeZone) -> Option<Problem> {
    match &row.snapshot.fetch {
        FetchStatus::NotFound { message } => Some(Problem {
            code: "not_found".into(),
            message: message.clone(),
        }),
        FetchStatus::Retrying {
            code,
            message,
            retry_at_ms,
        } if !row.state.has_ended() => {
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
        _ if !row.state.has_ended() => match row.connection {
            Some(Connection::CredentialsRejected { .. }) => Some(Problem {
                code: "credentials_rejected".into(),
                message: "Credentials rejected: not updating until you enter valid ones.".into(),
            }),
            // Its workspace was removed while others stay (with none, the banner says it).
            None => Some(Problem {
                code: "no_workspace".into(),
                message: "Its workspace is no longer stored: not updating. Add the workspace again, or remove this batch.".into(),
            }),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn status_text<'a>(row: &Row<'a>) -> &'a str {
    match (row.state, row.snapshot.progress.as_deref()) {
        (BatchState::NotFound, _) => "not found",
        (BatchState::Pending, _) => "checking…",
        (_, Some(p)) => p.status.as_str(),
        (_, None) => "checking…",
    }
}

pub(super) fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(super) fn segments(p: &BatchProgress, f: &Figures) -> Segments {
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

pub(super) fn eta_text(state: BatchState, f: &Figures) -> Option<String> {
    match state {
        BatchState::Running | BatchState::Unknown => {
            f.eta.map(|d| format!("ETA {}", format::duration(d)))
        }
        _ => None,
    }
}

/// The recent pace, while the batch runs: "12 calls a minute lately", "0.4 calls a minute
/// lately" below ten.
pub(super) fn pace_text(state: BatchState, f: &Figures) -> Option<String> {
    if !matches!(state, BatchState::Running | BatchState::Unknown) || !f.pace_is_recent {
        return None;
    }
    let per_minute = f.calls_per_minute?;
    let shown = if per_minute >= 10.0 {
        format!("{per_minute:.0}")
    } else {
        format!("{:.1}", one_decimal(per_minute))
    };
    Some(format!("{shown} calls a minute lately"))
}

/// Every page of failed calls is loaded before a retry list is written, within the key's
/// budget: a long list takes minutes, so the card says so.
pub(super) fn saving_text(failed: u64) -> Option<String> {
    let pages = failed.div_ceil(u64::from(crate::model::MAX_CALLS_PAGE_LIMIT));
    match pages {
        0 => None,
        1 => Some("Saving…".to_owned()),
        _ => Some(format!(
            "Loading {failed} failed calls from Trillet ({pages} pages, within the key's budget)…"
        )),
    }
}

/// "contacts.csv · agent Sales follow-up".
pub(super) fn launch_text(launch: &crate::launch::Launch) -> String {
    let agent = if launch.agent_name.trim().is_empty() {
        &launch.agent_id
    } else {
        &launch.agent_name
    };
    format!("{} · agent {agent}", launch.file_name)
}

/// The campaigns among the tracked batches (only built when some batch has a retry).
fn campaign_lines(view: &MonitorSnapshot) -> Vec<CampaignLine> {
    let attempts: Vec<crate::campaign::Attempt<'_>> = view
        .batches
        .iter()
        .map(|b| {
            let p = b.progress.as_deref();
            crate::campaign::Attempt {
                id: &b.id,
                retry_of: b.launch.as_ref().and_then(|l| l.retry_of.as_ref()),
                total: p.map_or(0, |p| p.total),
                completed: p.map_or(0, |p| p.completed),
                failed: p.map_or(0, |p| p.failed),
                ended: p.is_some_and(BatchProgress::is_settled),
            }
        })
        .collect();
    crate::campaign::campaigns(&attempts)
        .into_iter()
        .map(|c| CampaignLine {
            root: c.root.to_string(),
            text: c.text(),
        })
        .collect()
}

/// Each parent's tracked retries, oldest first (built once a view: most batches have none).
fn retries_by_parent(view: &MonitorSnapshot) -> HashMap<&str, Vec<&str>> {
    let mut by_parent: HashMap<&str, Vec<&str>> = HashMap::new();
    for b in &view.batches {
        if let Some(parent) = b.launch.as_ref().and_then(|l| l.retry_of.as_ref()) {
            by_parent
                .entry(parent.as_str())
                .or_default()
                .push(b.id.as_str());
        }
    }
    by_parent
}

pub(super) fn card<'a>(
    row: &Row<'a>,
    view: &'a MonitorSnapshot,
    retries: &HashMap<&str, Vec<&'a str>>,
    zone: &TimeZone,
) -> BatchCard<'a> {
    let launch = row.snapshot.launch.as_deref();
    let id = row.snapshot.id.as_str();
    let problem = card_problem(row, zone);
    let empty = Segments {
        completed: 0.0,
        failed: 0.0,
        active: 0.0,
        waiting: 0.0,
    };
    let p = row.snapshot.progress.as_deref();
    let f = row.figures.as_ref();
    let (percent, segs, counts) = match (p, f) {
        (Some(p), Some(f)) => (one_decimal(f.percent), segments(p, f), format::counts(p)),
        _ => (0.0, empty, String::new()),
    };
    let status_text = status_text(row);
    let percent_text = if p.is_some() {
        format::percent(percent)
    } else {
        String::new()
    };
    // Spoken, the parts read better as a list than with the dots between them.
    let spoken = counts.replace(" · ", ", ");
    let progress_text = if counts.is_empty() {
        format!("{id}: {}", status_text.to_lowercase())
    } else if row.state.has_ended() {
        format!("{id}: {} — {spoken}", status_text.to_lowercase())
    } else {
        format!("{id}: {percent_text} — {spoken}")
    };
    let eta_text_now = f.and_then(|f| eta_text(row.state, f));
    BatchCard {
        id: row.snapshot.id.as_str(),
        workspace: row.snapshot.workspace.as_ref().map(|w| w.as_str()),
        state: row.state,
        status_text,
        percent,
        percent_text,
        segments: segs,
        completed: p.map_or(0, |p| p.completed),
        failed: p.map_or(0, |p| p.failed),
        active: p.map_or(0, |p| p.active),
        waiting: p.map_or(0, |p| p.waiting),
        total: p.map_or(0, |p| p.total),
        counts_text: counts,
        progress_text,
        elapsed_text: f.and_then(|f| f.elapsed).map(|d| {
            if row.state.has_ended() {
                format!("took {}", format::duration(d))
            } else {
                format!("running {}", format::duration(d))
            }
        }),
        eta_minutes: eta_text_now
            .as_ref()
            .and(f.and_then(|f| f.eta))
            .map(|d| (d.as_secs() + 30) / 60),
        eta_text: eta_text_now,
        pace_text: f.and_then(|f| pace_text(row.state, f)),
        stall_text: row.stalled.map(crate::change::stall_text),
        notify: row.snapshot.notify,
        success_text: f
            .filter(|_| row.state.has_ended())
            .and_then(format::success),
        saving_text: p.and_then(|p| saving_text(p.failed)),
        average_call_text: p
            .and_then(|p| p.average_call_duration)
            .filter(|s| *s > 0.0)
            .and_then(format::seconds)
            .map(|d| format!("{d} per call")),
        last_updated_ms: row.snapshot.last_updated_ms,
        recent_calls: p.map(recent_calls).unwrap_or_default(),
        stale: problem.is_some() && p.is_some() && !row.state.has_ended(),
        can_cancel: matches!(
            row.state,
            BatchState::Queued | BatchState::Running | BatchState::Unknown
        ) && row.snapshot.cancellation.is_none(),
        cancellation_text: row.snapshot.cancellation.as_deref().map(cancellation_text),
        finished: p.is_some_and(BatchProgress::is_settled),
        throughput: Throughput(&row.snapshot.samples),
        ended_at_ms: p.and_then(|p| p.ended_at(row.snapshot.last_updated_ms)),
        launch_text: launch.map(launch_text),
        agent_id: launch.map(|l| l.agent_id.as_str()),
        starts_text: row.starts_text(view.now_ms, zone),
        retry_of: launch.and_then(|l| l.retry_of.as_ref()).map(|p| p.as_str()),
        retries: retries.get(id).cloned().unwrap_or_default(),
        problem,
    }
}

/// "Cancelled from Batchwatch: 6 waiting calls dropped; 3 completed and 1 failed before that
/// (of 10). Trillet: Batch call cancelled successfully"
pub(super) fn cancellation_text(outcome: &CancelOutcome) -> String {
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

pub(super) fn recent_calls(p: &BatchProgress) -> Vec<RecentCallRow<'_>> {
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
pub fn window_view<'a>(view: &'a MonitorSnapshot, zone: &TimeZone) -> WindowView<'a> {
    let retries = retries_by_parent(view);
    let rows = rows(view);
    WindowView {
        workspaces: super::tray::workspace_summaries(
            &super::tray::by_workspace(&rows, view),
            view,
            zone,
        )
        .into_iter()
        .map(|(w, summary, attention)| WorkspaceGroup {
            id: w.id.as_str(),
            label: &w.label,
            summary,
            attention,
        })
        .collect(),
        campaigns: if retries.is_empty() {
            Vec::new()
        } else {
            campaign_lines(view)
        },
        cards: rows.iter().map(|r| card(r, view, &retries, zone)).collect(),
        banner: banner(view, zone),
        state_file_problem: view.state_problem.clone(),
        settings: settings_view(&view.settings, view.now_ms, view.sharing_budget),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Sample;

    fn throughput(samples: &[Sample]) -> Vec<ThroughputBar> {
        bars(samples).collect()
    }

    #[test]
    fn the_plot_has_a_bar_a_sample_in_calls_per_minute() {
        let at = |minute: u64, completed, failed| Sample {
            at_ms: 1_000_000 + minute * 60_000,
            completed,
            failed,
        };
        assert!(throughput(&[]).is_empty());
        assert!(
            throughput(&[at(0, 10, 1)]).is_empty(),
            "one sample is no bar yet"
        );
        let bars = throughput(&[at(0, 10, 1), at(1, 40, 3), at(3, 100, 3), at(3, 100, 3)]);
        assert_eq!(bars.len(), 2, "two samples at one moment make no bar");
        assert_eq!(bars[0].completed_per_minute, 30.0);
        assert_eq!(bars[0].failed_per_minute, 2.0);
        // Two minutes with no sample between: spread over both.
        assert_eq!(bars[1].completed_per_minute, 30.0);
        assert_eq!(bars[1].failed_per_minute, 0.0);
        assert_eq!(bars[1].at_ms, 1_000_000 + 3 * 60_000);
        // To the window, each bar is [completed, failed], one decimal.
        assert_eq!(
            serde_json::to_string(&bars).unwrap(),
            "[[30.0,2.0],[30.0,0.0]]"
        );
        // The card's plot, written out as the view goes, says the same.
        let samples = [at(0, 10, 1), at(1, 40, 3), at(3, 100, 3), at(3, 100, 3)];
        assert_eq!(
            serde_json::to_string(&Throughput(&samples)).unwrap(),
            "[[30.0,2.0],[30.0,0.0]]"
        );
        let thirds = throughput(&[at(0, 0, 0), at(3, 10, 1)]);
        assert_eq!(serde_json::to_string(&thirds).unwrap(), "[[3.3,0.3]]");
        // Counters that go back (a corrected answer) never draw a negative bar.
        assert_eq!(
            throughput(&[at(0, 50, 5), at(1, 40, 5)])[0].completed_per_minute,
            0.0
        );
    }
}
