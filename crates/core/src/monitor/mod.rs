//! The monitor: one task that owns the tracked batches, polls them within the key's request
//! budget, remembers them in the state file, and says what happened.
//!
//! Nothing else holds the live state: the batches, the key's budget and pauses, the settings,
//! each batch's open drill-down. Callers talk to the task through a [`MonitorHandle`]
//! (commands in; a `watch` of the whole [`MonitorSnapshot`] out) and read discrete
//! [`MonitorEvent`]s from the receiver [`Monitor::spawn`] returns. Requests made for the user
//! (a cancel, a page of calls, a check of new credentials) go through it too, so they count
//! against the same budget. Dropping the handle stops the task (a cancellation token), which
//! saves one last time on its way out.
//!
//! Time is tokio's clock (so tests run with a paused clock) plus an injected wall clock for
//! the epoch-millisecond figures the API speaks in.
//!
//! # Layout
//! The flow runs one way: a command comes in through the `handle`, the task's loop (`run`)
//! takes it; `polling` and `requests` ask Trillet through the `port`; a poll's answer is
//! given to its `tracked` batch, whose pure `observe` says what it means (the finish to
//! announce once, the alert that is due, how soon to save); `persistence` writes what a
//! restart needs before anything is announced; the `MonitorEvent`s (a finish, an alert,
//! rejected credentials) go out; and `publishing` sends the `snapshot` the views are made
//! from. What is only a state (a 429 pause, a state-file problem) is in the snapshot alone.
//! - `config` — how a monitor starts (source, workspaces, state file, clocks).
//! - `lanes` — the workspaces and their keys: one lane per key, holding its budget, its
//!   refusal, its 429 pause and the leases waiting on it.
//! - `port` — [`TrilletApi`], what the monitor asks of Trillet.
//! - `handle` — [`MonitorHandle`], the commands, and what a `track` answers.
//! - `snapshot` — [`MonitorSnapshot`] and [`MonitorEvent`], what the monitor publishes.
//! - `tracked` — one batch inside the task, and `observe`.
//! - `run` — the loop and the commands it takes; `polling` — polls and their answers;
//!   `turns` — whose turn each key's budget gives next, a poll's or another process's lease;
//!   `requests` — cancels and pages of calls made for the user; `persistence`,
//!   `publishing`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::ApiError;
use crate::batch_id::BatchId;
use crate::credentials::WorkspaceId;
use crate::model::{BatchProgress, CallsPage, CancelOutcome};
use crate::schedule::PollPolicy;
use crate::state_file::{SavedState, Settings, StateFile};

mod config;
mod handle;
mod lanes;
mod persistence;
mod polling;
mod port;
mod publishing;
mod requests;
mod run;
mod snapshot;
mod tracked;
mod turns;

pub use config::{system_clock, wall_clock_ms, MonitorConfig, WallClock};
pub use handle::{
    ActionError, MonitorHandle, TrackReceipt, Tracking, MAX_LEASES_WAITING, MAX_TRACKED,
};
pub use port::TrilletApi;
pub use snapshot::{
    BatchSnapshot, Connection, FetchStatus, MonitorEvent, MonitorSnapshot, WorkspaceState,
};

use handle::{Command, In, LeaseFor, Reply, Slot};
use lanes::{Asked, Lane, RateLimit, Rejection, Watched};
use tracked::Tracked;

/// Starts monitors.
#[derive(Debug)]
pub struct Monitor;

impl Monitor {
    /// Loads the state file (if any), publishes the restored view at once, and starts the
    /// task on the current tokio runtime.
    pub fn spawn<S: TrilletApi>(
        config: MonitorConfig<S>,
    ) -> (MonitorHandle, mpsc::UnboundedReceiver<MonitorEvent>) {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let now_ms = (config.clock)();

        let (saved, state_problem, writable) = match &config.state_file {
            Some(file) => {
                let loaded = file.load(now_ms);
                let problem = loaded.problem.map(|p| p.message);
                (loaded.state, problem, loaded.writable)
            }
            None => (SavedState::default(), None, false),
        };
        if let Some(message) = &state_problem {
            log::error!("{message}");
        }
        let now = Instant::now();
        // A state file holding more than the monitor tracks (edited, or from elsewhere) keeps
        // its first batches, and says how many it left out.
        let left_out = saved.batches.len().saturating_sub(MAX_TRACKED);
        let state_problem = match (state_problem, left_out) {
            (problem, 0) => problem,
            (problem, n) => Some(
                problem
                    .into_iter()
                    .chain([format!(
                        "The saved list holds {} more than the {MAX_TRACKED} Batchwatch watches at once; the first {MAX_TRACKED} are watched.",
                        crate::format::count(n as u64, "batch", "batches")
                    )])
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        };
        let batches = saved
            .batches
            .into_iter()
            .take(MAX_TRACKED)
            .map(|b| Tracked::restored(b, now))
            .collect();

        let mut task = Task {
            source: Arc::new(config.source),
            workspaces: Vec::new(),
            lanes: vec![Lane::new(None)],
            state_file: config.state_file.filter(|_| writable),
            settings: saved.settings.within_ranges(),
            poll_override: config.poll,
            clock: config.clock,
            save_debounce: config.save_debounce,
            zone: config.zone,
            held: saved.held,
            batches,
            next_generation: 1,
            polls: JoinSet::new(),
            user_requests: JoinSet::new(),
            save_at: None,
            events: events_tx,
            state_problem,
            save_problem: None,
            snapshots: None,
        };
        task.set_workspaces(config.workspaces, now);
        let (snapshots, snapshot_rx) = watch::channel(Arc::new(task.snapshot()));
        task.snapshots = Some(snapshots);

        let cancel = CancellationToken::new();
        let handle = tokio::spawn(task.run(commands_rx, cancel.clone()));
        (
            MonitorHandle {
                commands: commands_tx,
                snapshots: snapshot_rx,
                cancel,
                task: std::sync::Mutex::new(Some(handle)),
            },
            events_rx,
        )
    }
}

/// What a poll reports back to the task.
struct PollAnswer {
    id: BatchId,
    generation: u64,
    asked: Asked,
    result: Result<BatchProgress, ApiError>,
}

/// What a request made for the user reports back to the task, which learns from it (a 429 or a
/// 401 concerns polling too) and then replies.
enum RequestAnswer {
    Cancel {
        id: BatchId,
        generation: u64,
        asked: Asked,
        /// Trillet's answer to the DELETE.
        result: Result<CancelOutcome, ApiError>,
        reply: Reply<CancelOutcome>,
    },
    Calls {
        asked: Asked,
        result: Result<CallsPage, ApiError>,
        reply: Reply<CallsPage>,
    },
    CredentialsCheck {
        asked: Asked,
        result: Result<(), ApiError>,
        reply: Reply<()>,
    },
    Status {
        asked: Asked,
        result: Result<BatchProgress, ApiError>,
        reply: Reply<Arc<BatchProgress>>,
    },
    Agents {
        asked: Asked,
        result: Result<Vec<crate::model::Agent>, ApiError>,
        reply: Reply<Vec<crate::model::Agent>>,
    },
    Start {
        asked: Asked,
        result: Result<crate::model::StartAnswer, crate::launch::StartFailure>,
        reply: Reply<crate::model::StartAnswer>,
    },
}

struct Task<S> {
    source: Arc<S>,
    /// The workspaces polled, the first stored first (the one a batch saved without a
    /// workspace, from before workspaces, joins); none: nothing is polled until some are given.
    workspaces: Vec<Watched>,
    /// One per key the workspaces use, plus the first, keyless one: the budget of leases for a
    /// workspace this monitor does not poll (another process's own credentials).
    lanes: Vec<Lane>,
    state_file: Option<StateFile>,
    /// The user's settings, as the state file keeps them.
    settings: Settings,
    /// A schedule given at start, in force instead of the user's until they change theirs;
    /// never saved.
    poll_override: Option<PollPolicy>,
    clock: WallClock,
    save_debounce: Duration,
    /// Where quiet hours are read.
    zone: crate::format::TimeZone,
    /// Notifications held through quiet hours; told as one summary when they end.
    held: crate::quiet::Held,
    batches: Vec<Tracked>,
    /// The incarnation the next tracked batch gets (see [`Tracked::generation`]).
    next_generation: u64,
    /// Polls in flight; each batch knows its own (see [`Tracked::in_flight`]).
    polls: JoinSet<PollAnswer>,
    /// Requests made for the user (cancels, pages of calls, a credentials check), in flight.
    user_requests: JoinSet<RequestAnswer>,
    save_at: Option<Instant>,
    events: mpsc::UnboundedSender<MonitorEvent>,
    /// What was wrong with the state file at start (set aside, unreadable); said until restart.
    state_problem: Option<String>,
    /// Why the last save failed; gone once a save succeeds again.
    save_problem: Option<String>,
    snapshots: Option<watch::Sender<Arc<MonitorSnapshot>>>,
}

impl<S> Task<S> {
    /// The schedule in force: a start-up override, else the user's.
    fn poll_policy(&self) -> PollPolicy {
        self.poll_override.unwrap_or(self.settings.poll)
    }

    /// The settings in force, as the snapshot shows them.
    fn settings_in_force(&self) -> Settings {
        Settings {
            poll: self.poll_policy(),
            ..self.settings
        }
    }
}
