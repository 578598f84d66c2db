//! What the window and the tray show, computed from a [`MonitorSnapshot`] by pure functions —
//! formatted here, once, so the window, the tray and the terminal agree.
//!
//! Times are shown in the person's zone, passed in (`TimeZone::system()` in the programs, a
//! fixed zone in tests), so the views stay pure functions of their inputs.
//!
//! The tray view carries the same summary several ways because tray hosts each show only some:
//! an icon state with the aggregate percent (all), a short label (GNOME's AppIndicator
//! extension, Ubuntu), a tooltip (KDE, XFCE), and one menu row per batch (all).
//!
//! # Layout
//! - `window` — the window's cards, banner and settings panel.
//! - `tray` — the tray's icon state, label, tooltip and menu rows; [`tray_icon`] draws the
//!   icon for a state and percent.
//! - [`sent`] — what the window's page already has: cards passed on only when changed.
//! - here — what both read: each batch's [`BatchState`] and figures, and [`Problem`].

use serde::Serialize;

use crate::figures::{figures_seen, Figures, Seen};
use crate::model::BatchStatus;
use crate::monitor::{BatchSnapshot, Connection, FetchStatus, MonitorSnapshot};

pub mod sent;
mod tray;
pub mod tray_icon;
mod window;

pub use tray::{tray_view, TrayState, TrayView, MAX_TRAY_ROWS};
pub use window::{window_view, BatchCard, CampaignLine, RecentCallRow, Segments, WindowView};

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

    fn has_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A problem shown on a card or across the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: String,
    pub message: String,
}

struct Row<'a> {
    snapshot: &'a BatchSnapshot,
    /// Its workspace's key's state: a fault of another key is not this batch's. `None`: its
    /// workspace is no longer stored (others are), so nothing asks about it.
    connection: Option<&'a Connection>,
    state: BatchState,
    figures: Option<Figures>,
    /// How long it has made no progress, once that is past the user's stall minutes: as of its
    /// last answer, as the stall alert counts it.
    stalled: Option<std::time::Duration>,
}

/// "starts at 09:30" for a batch Batchwatch started for later, until it starts: the card, the
/// tray row and the terminal say it alike.
pub fn starts_text(
    launch: Option<&crate::launch::Launch>,
    status_known_queued: bool,
    now_ms: u64,
    zone: &crate::format::TimeZone,
) -> Option<String> {
    let at = launch?.scheduled_at_ms.filter(|at| *at > now_ms)?;
    status_known_queued.then(|| format!("starts at {}", crate::format::moment_in(at, now_ms, zone)))
}

impl Row<'_> {
    /// [`starts_text`] for this batch: queued, or not heard of yet.
    fn starts_text(&self, now_ms: u64, zone: &crate::format::TimeZone) -> Option<String> {
        let waiting = matches!(self.state, BatchState::Queued | BatchState::Pending);
        starts_text(self.snapshot.launch.as_deref(), waiting, now_ms, zone)
    }
}

/// The state of a batch's workspace: its key's; with no workspace stored (or none read yet),
/// the one state of the snapshot. `None`: its workspace is no longer stored while others are.
fn connection_of<'v>(
    view: &'v MonitorSnapshot,
    snapshot: &BatchSnapshot,
) -> Option<&'v Connection> {
    if view.workspaces.is_empty() {
        return Some(&view.connection);
    }
    view.workspaces
        .iter()
        .find(|w| Some(&w.id) == snapshot.workspace.as_ref())
        .map(|w| &w.connection)
}

fn rows(view: &MonitorSnapshot) -> Vec<Row<'_>> {
    view.batches
        .iter()
        .map(|snapshot| Row {
            snapshot,
            connection: connection_of(view, snapshot),
            state: BatchState::of(snapshot),
            // Only while its answers come: a batch that cannot be asked shows why, not a stall
            // frozen at its last answer.
            stalled: snapshot
                .progress
                .as_deref()
                .filter(|_| {
                    matches!(snapshot.fetch, FetchStatus::Live)
                        && matches!(connection_of(view, snapshot), Some(Connection::Ready))
                })
                .and_then(|p| {
                    crate::change::stalled_for(
                        p,
                        snapshot.moved_at_ms,
                        snapshot.last_updated_ms?,
                        view.settings.stall_after_ms(),
                    )
                }),
            figures: snapshot.progress.as_deref().map(|p| {
                let seen = Seen {
                    samples: &snapshot.samples,
                    answered_at_ms: snapshot.last_updated_ms,
                };
                figures_seen(p, seen, view.now_ms)
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::batch_id::BatchId;
    use crate::format::TimeZone;
    use crate::model::{BatchProgress, CancelOutcome};
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
            launch: None,
            samples: Default::default(),
            moved_at_ms: None,
            notify: Default::default(),
            workspace: None,
        }
    }

    fn view(batches: Vec<BatchSnapshot>, connection: Connection) -> MonitorSnapshot {
        MonitorSnapshot {
            now_ms: START + 10 * MIN,
            batches,
            connection,
            workspaces: Vec::new(),
            settings: Settings::default(),
            sharing_budget: 0,
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

    fn launched(
        mut b: BatchSnapshot,
        scheduled_at_ms: Option<u64>,
        retry_of: Option<&str>,
    ) -> BatchSnapshot {
        b.launch = Some(Arc::new(crate::launch::Launch {
            agent_id: "agent_1".into(),
            agent_name: "Sales follow-up".into(),
            file_name: "contacts.csv".into(),
            started_at_ms: START,
            scheduled_at_ms,
            retry_of: retry_of.map(|p| BatchId::parse(p).unwrap()),
        }));
        b
    }

    /// Three workspaces, one of whose keys Trillet refused: its batches say so on their cards
    /// (the others' do not), the window's headings carry each workspace's own summary, and the
    /// tray groups its rows under each label and names who needs attention.
    #[test]
    fn several_workspaces_group_the_tray_and_the_window_and_keep_faults_apart() {
        let ws = |id: &str| Some(crate::credentials::WorkspaceId::new(id).unwrap());
        let state =
            |id: &str, label: &str, connection: Connection| crate::monitor::WorkspaceState {
                id: crate::credentials::WorkspaceId::new(id).unwrap(),
                label: label.into(),
                connection,
            };
        let rejected = Connection::CredentialsRejected {
            status: 401,
            message: "Invalid API key".into(),
        };
        let in_ws = |mut b: BatchSnapshot, id: &str| {
            b.workspace = ws(id);
            b
        };
        let mut v = view(
            vec![
                in_ws(running("batch_us_1", 40, 150), "ws_us"),
                in_ws(done("batch_eu_1"), "ws_eu"),
                in_ws(running("batch_globex_1", 75, 150), "ws_globex"),
                in_ws(running("batch_gone_1", 10, 150), "ws_gone"),
            ],
            rejected.clone(),
        );
        v.workspaces = vec![
            state("ws_us", "Acme US", Connection::Ready),
            state("ws_eu", "Acme EU", Connection::Ready),
            state("ws_globex", "Globex", rejected),
        ];

        let window = window_view(&v, &zone());
        let problem = |i: usize| window.cards[i].problem.as_ref().map(|p| p.code.as_str());
        assert_eq!(
            problem(0),
            None,
            "another key's refusal is not this batch's"
        );
        assert_eq!(problem(2), Some("credentials_rejected"));
        assert_eq!(problem(3), Some("no_workspace"));
        assert_eq!(window.cards[2].workspace, Some("ws_globex"));
        let headings: Vec<(&str, &str, bool)> = window
            .workspaces
            .iter()
            .map(|g| (g.label, g.summary.as_str(), g.attention))
            .collect();
        assert_eq!(headings[0].0, "Acme US");
        assert!(headings[0].1.starts_with("27%"), "{headings:?}");
        assert!(!headings[0].2);
        assert_eq!(headings[1], ("Acme EU", "✓ 1 done", false));
        assert_eq!(headings[2].0, "Globex");
        assert!(headings[2].1.starts_with("⚠ key rejected"), "{headings:?}");
        assert!(headings[2].2);

        let tray = tray_view(&v, &zone());
        assert!(
            tray.tooltip
                .contains("3 workspaces; needing attention: Globex"),
            "{}",
            tray.tooltip
        );
        let rows: Vec<&str> = tray.rows.iter().map(String::as_str).collect();
        let at = |text: &str| rows.iter().position(|r| r.starts_with(text)).unwrap();
        assert!(at("Acme US — ") < at("   batch_us_1"), "{rows:?}");
        assert!(
            at("Acme EU — ✓ 1 done") < at("   ✓ batch_eu_1 done"),
            "{rows:?}"
        );
        assert!(
            at("Globex — ⚠ key rejected") < at("   batch_globex_1"),
            "{rows:?}"
        );
        assert!(at("No workspace") < at("   batch_gone_1"), "{rows:?}");

        // Before the keychain answers (no workspace read yet, or a locked one), no card says its
        // workspace is gone: the banner says what is missing.
        let mut reading = v.clone();
        reading.workspaces.clear();
        reading.connection = Connection::NoCredentials;
        assert!(window_view(&reading, &zone())
            .cards
            .iter()
            .all(|c| c.problem.is_none()));

        // One workspace: the rows as before, no heading.
        let mut one = v.clone();
        one.workspaces.truncate(1);
        one.batches.truncate(1);
        assert_eq!(tray_view(&one, &zone()).rows.len(), 1);
        assert!(tray_view(&one, &zone()).rows[0].starts_with("batch_us_1"));
    }

    /// A batch whose calls stopped ending says so on its card and its tray row, and turns the
    /// tray to attention; once a call ends (or with the alert off) it says nothing.
    #[test]
    fn a_stalled_batch_says_how_long_on_its_card_and_its_tray_row() {
        let mut stuck = running("batch_stuck", 40, 150);
        stuck.moved_at_ms = Some(START + 10 * MIN - 22 * MIN);
        let v = view(
            vec![stuck.clone(), running("batch_fine", 40, 150)],
            Connection::Ready,
        );
        let card =
            |v: &MonitorSnapshot, i: usize| window_view(v, &zone()).cards[i].stall_text.clone();
        assert_eq!(card(&v, 0).as_deref(), Some("No progress for 22 min"));
        assert_eq!(card(&v, 1), None);
        let tray = tray_view(&v, &zone());
        assert_eq!(tray.state, TrayState::Attention);
        assert!(
            tray.rows
                .iter()
                .any(|r| r == "⚠ batch_stuck — No progress for 22 min"),
            "{:?}",
            tray.rows
        );

        let mut off = v.clone();
        off.settings.stall_minutes = 0;
        assert_eq!(card(&off, 0), None);
        assert_ne!(tray_view(&off, &zone()).state, TrayState::Attention);
        // A batch that cannot be asked shows why, not a stall frozen at its last answer.
        let mut retrying = v.clone();
        retrying.batches[0].fetch = FetchStatus::Retrying {
            code: "network".into(),
            message: "no connection".into(),
            retry_at_ms: START + 11 * MIN,
        };
        assert_eq!(card(&retrying, 0), None);
        let rejected = MonitorSnapshot {
            connection: Connection::CredentialsRejected {
                status: 401,
                message: "bad key".into(),
            },
            ..v.clone()
        };
        assert_eq!(card(&rejected, 0), None);
        let mut moved = v.clone();
        moved.batches[0].moved_at_ms = Some(START + 10 * MIN - MIN);
        assert_eq!(card(&moved, 0), None);
    }

    #[test]
    fn a_batch_started_for_later_says_when_and_how_it_was_started() {
        let now = START + 10 * MIN;
        let queued = |id: &str| {
            snap(
                id,
                Some(progress(BatchStatus::Queued, 0, 0, 0, 200)),
                FetchStatus::Live,
            )
        };
        // 16:00 UTC is 21:30 in the test zone.
        let at = 1_796_486_400_000;
        assert!(at > now);
        let v = view(
            vec![
                launched(queued("batch_later"), Some(at), None),
                launched(done("batch_retry"), None, Some("batch_later")),
                queued("batch_plain"),
                snap("batch_new", None, FetchStatus::Pending),
                launched(
                    snap("batch_soon", None, FetchStatus::Pending),
                    Some(at),
                    None,
                ),
            ],
            Connection::Ready,
        );
        let tray = tray_view(&v, &zone());
        for row in [
            "batch_later — starts at 2026-12-05 21:30 IST",
            "batch_plain — queued",
            "batch_new — checking…",
            "batch_soon — starts at 2026-12-05 21:30 IST",
        ] {
            assert!(
                tray.rows.iter().any(|r| r == row),
                "{row:?} in {:?}",
                tray.rows
            );
        }

        let w = window_view(&v, &zone());
        let later = &w.cards[0];
        assert_eq!(
            later.starts_text.as_deref(),
            Some("starts at 2026-12-05 21:30 IST")
        );
        assert_eq!(
            later.launch_text.as_deref(),
            Some("contacts.csv · agent Sales follow-up")
        );
        assert_eq!(later.agent_id, Some("agent_1"));
        assert_eq!(later.retries, ["batch_retry"]);
        assert_eq!(w.cards[1].retry_of, Some("batch_later"));
        assert_eq!(w.campaigns.len(), 1);
        assert_eq!(w.campaigns[0].root, "batch_later");
        assert_eq!(
            w.campaigns[0].text,
            "batch_later: 145 of 200 reached over 2 attempts, 5 still unreached, an attempt is still running"
        );
        assert_eq!(w.cards[1].starts_text, None, "no start time once it ran");
        assert_eq!(w.cards[2].launch_text, None, "started elsewhere");
        // Once the time has passed, the card no longer says it.
        let mut after = v.clone();
        after.now_ms = at + 1;
        assert_eq!(window_view(&after, &zone()).cards[0].starts_text, None);
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
            let tooltip = if label.is_empty() {
                "Batchwatch — no batches tracked".to_owned()
            } else {
                format!("Batchwatch — {label}\n{}", menu.join("\n"))
            };
            assert_eq!(t.tooltip, tooltip, "case {i}");
            assert_eq!(t.rows, menu, "case {i}");
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
        let v = MonitorSnapshot {
            now_ms: now,
            batches: vec![BatchSnapshot {
                id: BatchId::parse("batch_7891011121314").unwrap(),
                progress: Some(Arc::new(p)),
                last_updated_ms: Some(now),
                fetch: FetchStatus::Live,
                cancellation: None,
                launch: None,
                samples: Default::default(),
                moved_at_ms: None,
                notify: Default::default(),
                workspace: None,
            }],
            connection: Connection::Ready,
            workspaces: Vec::new(),
            settings: Settings::default(),
            sharing_budget: 0,
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
        assert_eq!(
            c.progress_text,
            "batch_7891011121314: 67% — 95 completed, 5 failed, 5 active, 45 waiting"
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

    /// 50 calls in the first ten minutes, but only 5 in the last five (the samples): the card,
    /// its pace and the tray all give the recent pace's ETA, 100 calls at one a minute.
    #[test]
    fn the_card_and_the_tray_give_the_eta_of_the_recent_pace() {
        let sample = |minute: u64, completed| crate::figures::Sample {
            at_ms: START + minute * MIN,
            completed,
            failed: 0,
        };
        let slowed = BatchSnapshot {
            samples: Arc::new(vec![sample(5, 45), sample(9, 49)]),
            ..running("batch_slow", 50, 150)
        };
        let v = view(vec![slowed], Connection::Ready);
        let card = &window_view(&v, &zone()).cards[0];
        assert_eq!(card.eta_text.as_deref(), Some("ETA 1 h 40 min"));
        assert_eq!(card.pace_text.as_deref(), Some("1.0 calls a minute lately"));
        assert!(
            tray_view(&v, &zone()).label.ends_with("ETA 1 h 40 min"),
            "{}",
            tray_view(&v, &zone()).label
        );

        // Without samples: the whole run's pace (50 in 10 min) and no "lately".
        let v = view(vec![running("batch_slow", 50, 150)], Connection::Ready);
        let card = &window_view(&v, &zone()).cards[0];
        assert_eq!(card.eta_text.as_deref(), Some("ETA 20 min"));
        assert_eq!(card.pace_text, None);
        assert_eq!(card.success_text, None, "said once it has ended");

        // A finished card says how it went: 145 of its 150 ended calls completed.
        let v = view(vec![done("batch_done")], Connection::Ready);
        let card = &window_view(&v, &zone()).cards[0];
        assert_eq!(card.success_text.as_deref(), Some("97% succeeded"));
        assert_eq!(card.pace_text, None);
        assert_eq!(
            card.saving_text.as_deref(),
            Some("Saving…"),
            "5 failed: one page"
        );
    }

    #[test]
    fn the_retry_list_says_how_many_pages_it_loads() {
        assert_eq!(window::saving_text(0), None);
        assert_eq!(window::saving_text(100).as_deref(), Some("Saving…"));
        assert_eq!(
            window::saving_text(257).as_deref(),
            Some("Loading 257 failed calls from Trillet (3 pages, within the key's budget)…")
        );
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
        let mut v = view(vec![running, cancelled], Connection::Ready);
        v.sharing_budget = 12;
        let w = window_view(&v, &zone());
        assert!(w.cards[0].can_cancel);
        assert_eq!(w.cards[0].cancellation_text, None);
        assert!(!w.cards[1].can_cancel);
        // Ended, its status is said in place of a percentage (and the finish is announced so).
        assert_eq!(
            w.cards[1].progress_text,
            "batch_gone: cancelled — 30 completed, 2 failed, 0 active, 0 waiting"
        );
        assert_eq!(
            w.cards[1].cancellation_text.as_deref(),
            Some("Cancelled from Batchwatch: 63 waiting calls dropped; 30 completed and 2 failed before that (of 100). Trillet: Batch call cancelled successfully")
        );
        assert_eq!(
            w.settings.consequence, "With 12 batches, each updates every 15 s.",
            "the monitor's count of batches sharing the budget"
        );
    }
}
