//! The tray's model: the icon's state and aggregate percent, the short label (the only text a
//! Linux tray shows), the tooltip, and one menu row per batch, capped — grouped under each
//! workspace's label when there are several.

use serde::Serialize;

use crate::format::{self, TimeZone};
use crate::monitor::{Connection, FetchStatus, MonitorSnapshot, WorkspaceState};

use super::*;

/// The menu shows at most this many batch rows, then "and N more".
pub const MAX_TRAY_ROWS: usize = 10;

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

pub(super) fn needs_attention(row: &Row<'_>) -> bool {
    matches!(row.state, BatchState::NotFound | BatchState::Failed)
        || row.stalled.is_some()
        || (matches!(row.snapshot.fetch, FetchStatus::Retrying { .. }) && !row.state.has_ended())
}

pub(super) fn tray_row(row: &Row<'_>, now_ms: u64, zone: &TimeZone) -> String {
    let id = &row.snapshot.id;
    let f = row.figures.as_ref();
    match row.state {
        BatchState::Completed => format!("✓ {id} done"),
        BatchState::Failed => format!("✗ {id} failed"),
        BatchState::Cancelled => format!("⊘ {id} cancelled"),
        BatchState::NotFound => format!("⚠ {id} not found"),
        BatchState::Pending | BatchState::Queued if row.starts_text(now_ms, zone).is_some() => {
            format!(
                "{id} — {}",
                row.starts_text(now_ms, zone).unwrap_or_default()
            )
        }
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
            } else if let Some(stalled) = row.stalled {
                text = format!("⚠ {id} — {}", crate::change::stall_text(stalled));
            }
            text
        }
    }
}

/// The tray's view: icon state, label, tooltip and menu rows, its times in `zone`.
pub fn tray_view(view: &MonitorSnapshot, zone: &TimeZone) -> TrayView {
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
    let summary = Summary::of(&rows, &view.connection);
    let label = label(&summary, &view.connection, zone);
    let (menu, tooltip) = if view.workspaces.len() > 1 {
        let buckets = by_workspace(&rows, view);
        let groups = workspace_summaries(&buckets, view, zone);
        let attention: Vec<&str> = groups
            .iter()
            .filter(|(_, _, attention)| *attention)
            .map(|(w, _, _)| w.label.as_str())
            .collect();
        let workspaces = match attention.as_slice() {
            [] => format!("{} workspaces", groups.len()),
            some => format!(
                "{} workspaces; needing attention: {}",
                groups.len(),
                some.join(", ")
            ),
        };
        let menu = grouped_menu_rows(&buckets, &groups, rows.len(), view.now_ms, zone);
        let tooltip = format!("Batchwatch — {label}\n{workspaces}\n{}", menu.join("\n"));
        (menu, tooltip)
    } else {
        let menu = menu_rows(&rows, view.now_ms, zone);
        let tooltip = format!("Batchwatch — {label}\n{}", menu.join("\n"));
        (menu, tooltip)
    };
    TrayView {
        state: summary.state(),
        percent: Some(summary.percent.round().clamp(0.0, 100.0) as u8),
        label,
        tooltip,
        rows: menu,
    }
}

/// What the tray says of all the batches together.
struct Summary<'r> {
    /// The batches still under way (running, queued, not yet seen).
    running: Vec<&'r Row<'r>>,
    tracked: usize,
    /// Batches that need the person (unknown, failed, erroring).
    problems: usize,
    /// What is wrong with the key, if anything.
    key_problem: Option<&'static str>,
    /// Aggregate percent of the running batches (of all, when none runs).
    percent: f64,
    /// The longest ETA among the running batches: when everything is done.
    eta: Option<std::time::Duration>,
}

impl<'r> Summary<'r> {
    fn of(rows: &'r [Row<'r>], connection: &Connection) -> Self {
        let problems = rows.iter().filter(|r| needs_attention(r)).count();
        Self::of_rows(rows.iter().collect(), problems, connection)
    }

    /// The summary of some rows (one workspace's), `problems` of them needing the person.
    fn of_rows(rows: Vec<&'r Row<'r>>, problems: usize, connection: &Connection) -> Self {
        let running: Vec<&Row> = rows
            .iter()
            .copied()
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
        let counted: Vec<&Row> = if running.is_empty() {
            rows.clone()
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
        let percent = match (size, running.is_empty()) {
            (0, true) => 100.0,
            (0, false) => 0.0,
            _ => finished as f64 * 100.0 / size as f64,
        };
        Self {
            eta: running.iter().filter_map(|r| r.figures.as_ref()?.eta).max(),
            running,
            tracked: rows.len(),
            problems,
            key_problem: match connection {
                Connection::CredentialsRejected { .. } => Some("key rejected"),
                Connection::NoCredentials => Some("no API key"),
                _ => None,
            },
            percent,
        }
    }

    fn state(&self) -> TrayState {
        if self.key_problem.is_some() || self.problems > 0 {
            TrayState::Attention
        } else if !self.running.is_empty() {
            TrayState::Running
        } else {
            TrayState::AllDone
        }
    }
}

/// The short text beside the icon: `⚠ 1 problem · 62% · 2 running · ETA 6 min`.
fn label(summary: &Summary<'_>, connection: &Connection, zone: &TimeZone) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(what) = summary.key_problem {
        parts.push(format!("⚠ {what}"));
    } else if summary.problems > 0 {
        parts.push(format!(
            "⚠ {} {}",
            summary.problems,
            if summary.problems == 1 {
                "problem"
            } else {
                "problems"
            }
        ));
    }
    if summary.running.is_empty() {
        if summary.key_problem.is_none() {
            parts.push(format!("✓ {} done", summary.tracked));
        }
    } else {
        parts.push(format::percent(summary.percent));
        if summary.running.len() > 1 {
            parts.push(format!("{} running", summary.running.len()));
        }
        if let Some(eta) = summary.eta {
            parts.push(format!("ETA {}", format::duration(eta)));
        }
    }
    if let Connection::RateLimited { until_ms } = connection {
        parts.push(format!(
            "paused until {}",
            format::clock_time_in(*until_ms, zone)
        ));
    }
    parts.join(" · ")
}

/// The first `n` rows in menu order — problems first, then running, then finished, tracked
/// order within each — found by a pass per rank that stops once `n` are found, rather than
/// sorting every batch for the ten the menu shows.
fn first_in_menu_order<'r>(rows: &[&'r Row<'r>], n: usize) -> Vec<&'r Row<'r>> {
    let rank = |r: &Row| {
        if needs_attention(r) {
            0
        } else if r.state.has_ended() {
            2
        } else {
            1
        }
    };
    let mut first = Vec::with_capacity(n.min(rows.len()));
    for wanted in 0..3 {
        for r in rows.iter().copied().filter(|r| rank(r) == wanted) {
            if first.len() == n {
                return first;
            }
            first.push(r);
        }
    }
    first
}

/// One disabled menu row per batch, in menu order, capped at [`MAX_TRAY_ROWS`] with "and N
/// more".
fn menu_rows(rows: &[Row<'_>], now_ms: u64, zone: &TimeZone) -> Vec<String> {
    let all: Vec<&Row> = rows.iter().collect();
    let mut menu: Vec<String> = first_in_menu_order(&all, MAX_TRAY_ROWS)
        .iter()
        .map(|r| tray_row(r, now_ms, zone))
        .collect();
    if rows.len() > MAX_TRAY_ROWS {
        menu.push(format!("and {} more", rows.len() - MAX_TRAY_ROWS));
    }
    menu
}

/// With several workspaces: each workspace's label and summary as a heading row, then its
/// batches (indented, in menu order); [`MAX_TRAY_ROWS`] batch rows in all, then "and N more".
/// Batches of a workspace no longer stored come last, under "No workspace".
fn grouped_menu_rows(
    buckets: &Buckets<'_>,
    groups: &[(&WorkspaceState, String, bool)],
    total: usize,
    now_ms: u64,
    zone: &TimeZone,
) -> Vec<String> {
    let sections = groups
        .iter()
        .zip(&buckets.of)
        .map(|((w, summary, _), own)| (format!("{} — {summary}", w.label), own))
        .chain(
            (!buckets.orphans.is_empty()).then(|| ("No workspace".to_owned(), &buckets.orphans)),
        );
    let mut menu = Vec::new();
    let mut shown = 0;
    for (heading, batches) in sections {
        if shown == MAX_TRAY_ROWS {
            break;
        }
        menu.push(heading);
        for r in first_in_menu_order(batches, MAX_TRAY_ROWS - shown) {
            menu.push(format!("   {}", tray_row(r, now_ms, zone)));
            shown += 1;
        }
    }
    if total > shown {
        menu.push(format!("and {} more", total - shown));
    }
    menu
}

/// The rows of each workspace, in the snapshot's order of workspaces, and those of none stored:
/// one pass over the batches.
pub(super) struct Buckets<'r> {
    pub(super) of: Vec<Vec<&'r Row<'r>>>,
    pub(super) orphans: Vec<&'r Row<'r>>,
}

pub(super) fn by_workspace<'r>(rows: &'r [Row<'r>], view: &MonitorSnapshot) -> Buckets<'r> {
    let mut buckets = Buckets {
        of: vec![Vec::new(); view.workspaces.len()],
        orphans: Vec::new(),
    };
    for r in rows {
        let at = r
            .snapshot
            .workspace
            .as_ref()
            .and_then(|id| view.workspaces.iter().position(|w| &w.id == id));
        match at {
            Some(i) => buckets.of[i].push(r),
            None => buckets.orphans.push(r),
        }
    }
    buckets
}

/// Each workspace with its own summary (the tray label's words for its batches and key) and
/// whether it needs the person: the window's headings and the tray's groups.
pub(super) fn workspace_summaries<'v>(
    buckets: &Buckets<'_>,
    view: &'v MonitorSnapshot,
    zone: &TimeZone,
) -> Vec<(&'v WorkspaceState, String, bool)> {
    view.workspaces
        .iter()
        .zip(&buckets.of)
        .map(|(w, own)| {
            let own = own.clone();
            let problems = own.iter().filter(|r| needs_attention(r)).count();
            let attention = problems > 0 || !matches!(w.connection, Connection::Ready);
            let text = if own.is_empty() {
                match &w.connection {
                    Connection::CredentialsRejected { .. } => "⚠ key rejected".to_owned(),
                    _ => "No batches".to_owned(),
                }
            } else {
                let summary = Summary::of_rows(own, problems, &w.connection);
                label(&summary, &w.connection, zone)
            };
            (w, text, attention)
        })
        .collect()
}
