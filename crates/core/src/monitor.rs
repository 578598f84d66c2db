//! The monitor: one task that owns the tracked batches, polls them within the key's request
//! budget, remembers them in the state file, and says what happened.
//!
//! Nothing else holds the live state. Callers talk to the task through a [`MonitorHandle`]
//! (commands in; a `watch` of the whole [`MonitorView`] out) and read discrete
//! [`MonitorEvent`]s from the receiver [`Monitor::spawn`] returns. Dropping the handle stops the
//! task (a cancellation token), which saves one last time on its way out.
//!
//! Time is tokio's clock (so tests run with a paused clock) plus an injected wall clock for
//! the epoch-millisecond figures the API speaks in.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::api::{rate_limit_wait, ApiError, TrilletClient};
use crate::batch_id::BatchId;
use crate::change::{
    credentials_rejected_notification, detect, failure_rate_alert, is_final, is_settled,
    notification_for, Change,
};
use crate::credentials::Credentials;
use crate::model::{BatchProgress, BatchStatus, CallsPage, CallsQuery, CancelOutcome};
use crate::notifier::NotificationContent;
use crate::schedule::{jitter_seed, RequestBudget};
use crate::state_file::{SavedBatch, SavedState, Settings, StateFile, SCHEMA_VERSION};

/// The part of Trillet the monitor speaks to: the client in the product, a fake in some tests.
/// Each call gets the credentials of the moment, so only the monitor ever holds them.
pub trait TrilletApi: Send + Sync + 'static {
    /// `GET …/{id}/status`.
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static;

    /// `DELETE …/{id}`.
    fn cancel(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static;

    /// `GET …/{id}/calls`.
    fn calls(
        &self,
        credentials: &Credentials,
        id: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static;
}

impl TrilletApi for TrilletClient {
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.batch_progress(&id).await }
    }

    fn cancel(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.cancel_batch(&id).await }
    }

    fn calls(
        &self,
        credentials: &Credentials,
        id: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.batch_calls(&id, query).await }
    }
}

/// The wall clock, in epoch milliseconds. Injected so tests can agree with the simulator's.
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> WallClock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    })
}

/// How the monitor starts.
pub struct MonitorConfig<S> {
    pub source: S,
    pub credentials: Option<Credentials>,
    /// `None` keeps nothing across runs (the terminal companion, demo mode).
    pub state_file: Option<StateFile>,
    /// Replaces the settings found in the state file (e.g. command-line options).
    pub settings: Option<Settings>,
    pub clock: WallClock,
    /// How long a burst of changes may gather before one write.
    pub save_debounce: Duration,
}

impl<S> MonitorConfig<S> {
    pub fn new(source: S, credentials: Option<Credentials>) -> Self {
        Self {
            source,
            credentials,
            state_file: None,
            settings: None,
            clock: system_clock(),
            save_debounce: Duration::from_millis(500),
        }
    }
}

/// How the last attempt to fetch a batch went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FetchStatus {
    /// Not fetched yet in this run.
    Pending,
    /// The last fetch succeeded.
    Live,
    /// The last fetch failed for a reason that passes; the next try is at `retry_at_ms`.
    #[serde(rename_all = "camelCase")]
    Retrying {
        code: String,
        message: String,
        retry_at_ms: u64,
    },
    /// Trillet does not know this batch (404). Not polled again unless refreshed.
    NotFound { message: String },
}

/// The key's state, shared by every batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Connection {
    Ready,
    /// No credentials were given: nothing is polled.
    NoCredentials,
    /// 401/403: nothing is polled until new credentials arrive.
    CredentialsRejected {
        status: u16,
        message: String,
    },
    /// 429: nothing is polled until then.
    #[serde(rename_all = "camelCase")]
    RateLimited {
        until_ms: u64,
    },
}

/// One batch as the monitor knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSnapshot {
    pub id: BatchId,
    pub progress: Option<Arc<BatchProgress>>,
    pub last_updated_ms: Option<u64>,
    pub fetch: FetchStatus,
    /// Trillet's answer when the user cancelled the batch from Batchwatch.
    pub cancellation: Option<Arc<CancelOutcome>>,
}

/// Everything the monitor knows, as an immutable snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorView {
    pub now_ms: u64,
    pub batches: Vec<BatchSnapshot>,
    pub connection: Connection,
    pub settings: Settings,
    /// The state file could not be read at start (see [`MonitorEvent::StateFileProblem`]).
    pub state_problem: Option<String>,
}

/// Something worth telling the user once.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A batch completed, failed or was cancelled while watched (or while Batchwatch was not
    /// running). Sent exactly once per batch, across restarts.
    BatchFinished {
        id: BatchId,
        change: Change,
        progress: Arc<BatchProgress>,
        notification: NotificationContent,
    },
    /// A running batch's failure rate reached the user's threshold. Sent once per batch.
    FailureRateHigh {
        id: BatchId,
        notification: NotificationContent,
    },
    /// The key was refused; polling stopped until new credentials.
    CredentialsRejected {
        message: String,
        notification: NotificationContent,
    },
    /// Trillet's rate limit was hit; polling waits until then.
    RateLimited { until_ms: u64 },
    /// The state file was unreadable and set aside, or could not be written.
    StateFileProblem { message: String },
}

/// Why a request made on the user's behalf (cancel, failed calls) has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("Enter your Trillet credentials first.")]
    NoCredentials,
    #[error("Batchwatch is not watching {0}.")]
    NotTracked(BatchId),
    #[error("Trillet's rate limit was reached; try again in {} s.", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("The request was interrupted (Batchwatch is stopping); try again.")]
    Interrupted,
}

impl ActionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials => "no_credentials",
            Self::NotTracked(_) => "not_tracked",
            Self::RateLimited(_) => "rate_limited",
            Self::Api(e) => e.code(),
            Self::Interrupted => "interrupted",
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, ActionError>>;

/// A change to the settings in force, which the stored ones then follow.
type SettingsChange = Box<dyn FnOnce(&mut Settings) + Send>;

/// The most batches one monitor tracks: a paste of 1,000 twice over. Past it, a `track` says
/// which were not added rather than dropping them.
pub const MAX_TRACKED: usize = 2000;

/// What a `track` did with each ID, decided by the monitor (the one owner of the list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    pub added: Vec<BatchId>,
    /// Already tracked; left as they were.
    pub already: Vec<BatchId>,
    /// Not added: [`MAX_TRACKED`] batches are tracked already.
    pub over_limit: Vec<BatchId>,
}

impl Tracking {
    /// The sentence for [`Self::over_limit`], when there is one.
    pub fn over_limit_sentence(&self) -> Option<String> {
        (!self.over_limit.is_empty()).then(|| {
            format!(
                "{} not added: Batchwatch watches at most {MAX_TRACKED} batches at once. Remove finished ones, then add these again.",
                crate::format::count(self.over_limit.len() as u64, "batch", "batches")
            )
        })
    }
}

/// The monitor's answer to a `track`, for the callers that want it; dropping it is fine.
#[derive(Debug)]
pub struct TrackReceipt(oneshot::Receiver<Tracking>);

impl TrackReceipt {
    /// What was added; empty if the monitor stopped first.
    pub async fn answer(self) -> Tracking {
        self.0.await.unwrap_or_default()
    }
}

enum Command {
    Track(Vec<BatchId>, oneshot::Sender<Tracking>),
    Untrack(BatchId),
    Refresh(Option<BatchId>),
    SetCredentials(Option<Credentials>),
    UpdateSettings(SettingsChange),
    Cancel(BatchId, Reply<CancelOutcome>),
    Calls(BatchId, CallsQuery, Reply<CallsPage>),
}

/// The caller's side of a running monitor. Dropping it stops the task.
pub struct MonitorHandle {
    commands: mpsc::UnboundedSender<Command>,
    view: watch::Receiver<Arc<MonitorView>>,
    cancel: CancellationToken,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for MonitorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorHandle").finish_non_exhaustive()
    }
}

impl MonitorHandle {
    /// Starts watching these batches (already tracked ones are ignored, and none past
    /// [`MAX_TRACKED`] is added); each is polled soon. The receipt tells which were added.
    pub fn track(&self, ids: Vec<BatchId>) -> TrackReceipt {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Track(ids, reply));
        TrackReceipt(answer)
    }

    pub fn untrack(&self, id: BatchId) {
        let _ = self.commands.send(Command::Untrack(id));
    }

    /// Polls one batch (or all unfinished ones) as soon as the budget allows.
    pub fn refresh(&self, id: Option<BatchId>) {
        let _ = self.commands.send(Command::Refresh(id));
    }

    /// New credentials resume polling after a rejection; `None` stops it.
    pub fn set_credentials(&self, credentials: Option<Credentials>) {
        let _ = self.commands.send(Command::SetCredentials(credentials));
    }

    pub fn set_settings(&self, settings: Settings) {
        self.update_settings(move |s| *s = settings);
    }

    /// Changes some settings (the rest stay as they are) and stores them.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings) + Send + 'static) {
        let _ = self
            .commands
            .send(Command::UpdateSettings(Box::new(change)));
    }

    /// Cancels a tracked batch at Trillet (`DELETE`): waiting calls are dropped, active ones
    /// finish. On success the batch keeps Trillet's answer and is polled once more at once.
    pub async fn cancel(&self, id: BatchId) -> Result<CancelOutcome, ActionError> {
        self.ask(|reply| Command::Cancel(id, reply)).await
    }

    /// One page of a tracked batch's calls, asked with the monitor's credentials and counted
    /// against the same request budget as polling.
    pub async fn calls(&self, id: BatchId, query: CallsQuery) -> Result<CallsPage, ActionError> {
        self.ask(|reply| Command::Calls(id, query, reply)).await
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, ActionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| ActionError::Interrupted)?;
        answer.await.unwrap_or(Err(ActionError::Interrupted))
    }

    /// The current view, and every later one.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MonitorView>> {
        self.view.clone()
    }

    pub fn view(&self) -> Arc<MonitorView> {
        self.view.borrow().clone()
    }

    /// Stops the task and waits until it has saved. Later calls return at once.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let task = self.task.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

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
            let _ = events_tx.send(MonitorEvent::StateFileProblem {
                message: message.clone(),
            });
        }
        let stored_settings = saved.settings.within_ranges();
        let settings = config.settings.unwrap_or(stored_settings);
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
            connection: match config.credentials {
                Some(_) => Connection::Ready,
                None => Connection::NoCredentials,
            },
            credentials: config.credentials,
            credentials_generation: 0,
            state_file: config.state_file.filter(|_| writable),
            settings,
            stored_settings,
            clock: config.clock,
            save_debounce: config.save_debounce,
            batches,
            budget: RequestBudget::default(),
            rate_limited_until: None,
            in_flight: JoinSet::new(),
            requests: HashMap::new(),
            actions: JoinSet::new(),
            save_at: None,
            events: events_tx,
            state_problem,
            save_problem: None,
            view_tx: None,
        };
        let (view_tx, view_rx) = watch::channel(Arc::new(task.view()));
        task.view_tx = Some(view_tx);

        let cancel = CancellationToken::new();
        let handle = tokio::spawn(task.run(commands_rx, cancel.clone()));
        (
            MonitorHandle {
                commands: commands_tx,
                view: view_rx,
                cancel,
                task: std::sync::Mutex::new(Some(handle)),
            },
            events_rx,
        )
    }
}

/// One tracked batch inside the task.
struct Tracked {
    id: BatchId,
    last: Option<Arc<BatchProgress>>,
    last_updated_ms: Option<u64>,
    fetch: FetchStatus,
    failures: u32,
    next_due: Instant,
    /// Bumped on untrack/re-track, so a late answer for an old incarnation is dropped.
    generation: u64,
    in_flight: bool,
    finish_notified: bool,
    /// Cancels sent for this batch and not answered yet: a "cancelled" seen meanwhile is the
    /// user's own doing, not news to announce.
    cancels_pending: u32,
    failure_alerted: bool,
    cancellation: Option<Arc<CancelOutcome>>,
}

impl Tracked {
    fn new(id: BatchId, now: Instant, generation: u64) -> Self {
        Self {
            id,
            last: None,
            last_updated_ms: None,
            fetch: FetchStatus::Pending,
            failures: 0,
            next_due: now,
            generation,
            in_flight: false,
            finish_notified: false,
            cancels_pending: 0,
            failure_alerted: false,
            cancellation: None,
        }
    }

    fn restored(saved: SavedBatch, now: Instant) -> Self {
        let mut t = Self::new(saved.id, now, 0);
        t.last = saved.last;
        t.last_updated_ms = saved.last_updated_ms;
        t.finish_notified = saved.finish_notified;
        t.failure_alerted = saved.failure_alerted;
        t.cancellation = saved.cancellation;
        if saved.not_found {
            t.fetch = FetchStatus::NotFound {
                message: "Trillet has no batch with this ID in this workspace.".into(),
            };
        }
        t
    }

    /// Still worth polling: not settled (a cancelled batch's last calls may still be ending)
    /// and not unknown to Trillet.
    fn pollable(&self) -> bool {
        !self.last.as_deref().is_some_and(is_settled)
            && !matches!(self.fetch, FetchStatus::NotFound { .. })
    }

    fn queued(&self) -> bool {
        self.last
            .as_deref()
            .is_some_and(|p| p.status == BatchStatus::Queued)
    }

    fn saved(&self) -> SavedBatch {
        SavedBatch {
            id: self.id.clone(),
            last: self.last.clone(),
            last_updated_ms: self.last_updated_ms,
            finish_notified: self.finish_notified,
            not_found: matches!(self.fetch, FetchStatus::NotFound { .. }),
            failure_alerted: self.failure_alerted,
            cancellation: self.cancellation.clone(),
        }
    }
}

/// What a finished request reports back to the task.
struct Answer {
    id: BatchId,
    generation: u64,
    credentials_generation: u64,
    result: Result<BatchProgress, ApiError>,
}

/// What a request made for the user reports back to the task, which learns from it (a 429 or a
/// 401 concerns polling too) and then replies.
enum ActionAnswer {
    Cancel {
        id: BatchId,
        generation: u64,
        credentials_generation: u64,
        /// Whether the batch's end was already announced before the cancel was sent.
        result: Result<CancelOutcome, ApiError>,
        reply: Reply<CancelOutcome>,
    },
    Calls {
        credentials_generation: u64,
        result: Result<CallsPage, ApiError>,
        reply: Reply<CallsPage>,
    },
}

struct Task<S> {
    source: Arc<S>,
    credentials: Option<Credentials>,
    /// Bumped on every credential change, so a 401 for old credentials is ignored.
    credentials_generation: u64,
    connection: Connection,
    state_file: Option<StateFile>,
    settings: Settings,
    /// The settings the file keeps: the user's, not an override given at start.
    stored_settings: Settings,
    clock: WallClock,
    save_debounce: Duration,
    batches: Vec<Tracked>,
    budget: RequestBudget<Instant>,
    rate_limited_until: Option<Instant>,
    in_flight: JoinSet<Answer>,
    /// Which batch (and incarnation) each in-flight task asks about.
    requests: HashMap<tokio::task::Id, (BatchId, u64)>,
    /// Requests made for the user (cancels, pages of calls), in flight.
    actions: JoinSet<ActionAnswer>,
    save_at: Option<Instant>,
    events: mpsc::UnboundedSender<MonitorEvent>,
    /// What was wrong with the state file at start (set aside, unreadable); said until restart.
    state_problem: Option<String>,
    /// Why the last save failed; gone once a save succeeds again.
    save_problem: Option<String>,
    view_tx: Option<watch::Sender<Arc<MonitorView>>>,
}

impl<S: TrilletApi> Task<S> {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) {
        let mut next_generation = 1;
        loop {
            let wake = self.next_wake();
            let changed = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command, &mut next_generation),
                    None => break,
                },
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    match joined {
                        Ok((task, answer)) => {
                            self.requests.remove(&task);
                            self.apply(answer)
                        }
                        // A fetch cannot panic by design; if one did, its batch is retried.
                        Err(e) => self.recover_lost_request(e.id()),
                    }
                }
                Some(Ok(answer)) = self.actions.join_next(), if !self.actions.is_empty() => {
                    // (A panicked action drops its reply, which the caller reads as interrupted.)
                    self.apply_action(answer)
                }
                () = sleep_or_forever(wake) => self.on_timer(),
            };
            if changed {
                self.publish();
            }
        }
        let _ = self.save_now();
    }

    /// The earliest moment something is due: a poll (within budget and pauses) or a save.
    fn next_wake(&mut self) -> Option<Instant> {
        let now = Instant::now();
        [self.next_poll_time(now), self.save_at, self.pause_end(now)]
            .into_iter()
            .flatten()
            .min()
    }

    /// When a notification pause in force ends, so the view says so at that moment.
    fn pause_end(&self, now: Instant) -> Option<Instant> {
        let until = self.settings.notifications_paused_until_ms?;
        Some(now + Duration::from_millis(until.saturating_sub((self.clock)())))
    }

    fn polling_allowed(&self) -> bool {
        matches!(
            self.connection,
            Connection::Ready | Connection::RateLimited { .. }
        )
    }

    fn next_poll_time(&mut self, now: Instant) -> Option<Instant> {
        if !self.polling_allowed() {
            return None;
        }
        let due = self
            .batches
            .iter()
            .filter(|b| b.pollable() && !b.in_flight)
            .map(|b| b.next_due)
            .min()?;
        let mut at = due.max(self.budget.next_slot(now, &self.settings.poll));
        if let Some(until) = self.rate_limited_until {
            at = at.max(until);
        }
        Some(at)
    }

    fn on_timer(&mut self) -> bool {
        let now = Instant::now();
        let mut changed = false;
        let now_ms = (self.clock)();
        if self
            .settings
            .notifications_paused_until_ms
            .is_some_and(|until| until <= now_ms)
        {
            // The hour is over: forget it, so neither the view nor the file still says "paused".
            self.settings.notifications_paused_until_ms = None;
            self.stored_settings.notifications_paused_until_ms = None;
            self.schedule_save(now);
            changed = true;
        }
        if self.save_at.is_some_and(|at| at <= now) {
            changed |= self.save_now();
        }
        if self.rate_limited_until.is_some_and(|until| until <= now) {
            self.rate_limited_until = None;
            if matches!(self.connection, Connection::RateLimited { .. }) {
                self.connection = Connection::Ready;
                changed = true;
            }
        }
        while let Some(at) = self.next_poll_time(now) {
            if at > now {
                break;
            }
            let Some(index) = self.most_due(now) else {
                break;
            };
            self.send_request(index, now);
            changed = true;
        }
        changed
    }

    /// The due batch to poll first: never-fetched batches, then the longest overdue.
    fn most_due(&self, now: Instant) -> Option<usize> {
        self.batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.pollable() && !b.in_flight && b.next_due <= now)
            .min_by_key(|(_, b)| (b.fetch != FetchStatus::Pending, b.next_due))
            .map(|(i, _)| i)
    }

    fn send_request(&mut self, index: usize, now: Instant) {
        let Some(credentials) = self.credentials.clone() else {
            return;
        };
        self.budget.record(now);
        let batch = &mut self.batches[index];
        batch.in_flight = true;
        let request = self.source.fetch(&credentials, &batch.id);
        let (id, generation, credentials_generation) = (
            batch.id.clone(),
            batch.generation,
            self.credentials_generation,
        );
        let task = self.in_flight.spawn({
            let id = id.clone();
            async move {
                Answer {
                    id,
                    generation,
                    credentials_generation,
                    result: request.await,
                }
            }
        });
        self.requests.insert(task.id(), (id, generation));
    }

    /// A request whose task died without an answer: its batch is no longer in flight and is
    /// tried again after a back-off, like any failure.
    fn recover_lost_request(&mut self, task: tokio::task::Id) -> bool {
        let Some((id, generation)) = self.requests.remove(&task) else {
            return false;
        };
        let policy = self.settings.poll;
        if let Some(batch) = self
            .batches
            .iter_mut()
            .find(|b| b.id == id && b.generation == generation)
        {
            batch.in_flight = false;
            batch.failures += 1;
            batch.next_due =
                Instant::now() + policy.backoff(batch.failures, jitter_seed(batch.id.as_str()));
        }
        true
    }

    fn apply(&mut self, answer: Answer) -> bool {
        let now = Instant::now();
        let now_ms = (self.clock)();
        let Some(index) = self
            .batches
            .iter()
            .position(|b| b.id == answer.id && b.generation == answer.generation)
        else {
            return false; // untracked meanwhile
        };
        self.batches[index].in_flight = false;
        if answer.credentials_generation != self.credentials_generation {
            // Asked with credentials since replaced: whatever it says (404 from the old
            // workspace, 429 for the old key) is not about the new ones. Ask again.
            self.batches[index].next_due = now;
            return true;
        }
        let (running, queued) = self.load();
        let policy = self.settings.poll;
        let failure_alert = self.settings.failure_alert_percent;

        match answer.result {
            Ok(progress) => {
                let batch = &mut self.batches[index];
                let change = detect(batch.last.as_deref(), &progress);
                let alert = failure_alert
                    .filter(|_| !batch.failure_alerted)
                    .and_then(|threshold| failure_rate_alert(&batch.id, &progress, threshold));
                let alerted_now = alert.is_some();
                if let Some(notification) = alert {
                    batch.failure_alerted = true;
                    let _ = self.events.send(MonitorEvent::FailureRateHigh {
                        id: batch.id.clone(),
                        notification,
                    });
                }
                let progress = Arc::new(progress);
                if change == Change::FirstSeen && is_final(&progress) {
                    // Finished before we ever saw it running: nothing to announce, ever.
                    batch.finish_notified = true;
                }
                if change == Change::Cancelled && batch.cancels_pending > 0 {
                    // Seen before the DELETE's own answer: the user's doing, not news.
                    batch.finish_notified = true;
                }
                let announce = change.is_finish() && !batch.finish_notified;
                if announce {
                    batch.finish_notified = true;
                    if let Some(notification) =
                        notification_for(&batch.id, change, &progress, now_ms)
                    {
                        let _ = self.events.send(MonitorEvent::BatchFinished {
                            id: batch.id.clone(),
                            change,
                            progress: progress.clone(),
                            notification,
                        });
                    }
                }
                batch.next_due = now
                    + if progress.status == BatchStatus::Queued {
                        policy.queued_interval(running, queued)
                    } else {
                        policy.interval(running, queued)
                    };
                batch.last = Some(progress);
                batch.last_updated_ms = Some(now_ms);
                batch.fetch = FetchStatus::Live;
                batch.failures = 0;
                if announce || alerted_now {
                    // "Announced" reaches the disk now, not after the debounce, so a kill or a
                    // logout right after the notification cannot bring it back at the next start.
                    self.save_now();
                } else {
                    self.schedule_save(now);
                }
            }
            Err(ApiError::Unauthorized { status, message }) => {
                self.reject_credentials(status, message);
            }
            Err(error @ ApiError::NotFound { .. }) => {
                self.batches[index].fetch = FetchStatus::NotFound {
                    message: error.to_string(),
                };
                self.schedule_save(now);
            }
            Err(error @ ApiError::RateLimited { .. }) => {
                let ApiError::RateLimited { retry_after, .. } = &error else {
                    unreachable!()
                };
                let (until, until_ms) = self.pause_for_rate_limit(*retry_after, now, now_ms);
                // Said with the wait actually used, not the server's (perhaps absurd) one.
                let error = error.with_retry_after(until.saturating_duration_since(now));
                let batch = &mut self.batches[index];
                batch.next_due = until;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: until_ms,
                };
            }
            Err(error) => {
                let batch = &mut self.batches[index];
                batch.failures += 1;
                let wait = policy.backoff(batch.failures, jitter_seed(batch.id.as_str()));
                batch.next_due = now + wait;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: now_ms + wait.as_millis() as u64,
                };
            }
        }
        true
    }

    /// 401/403: polling stops until new credentials; said once.
    fn reject_credentials(&mut self, status: u16, message: String) {
        if !matches!(self.connection, Connection::CredentialsRejected { .. }) {
            self.connection = Connection::CredentialsRejected {
                status,
                message: message.clone(),
            };
            let notification = credentials_rejected_notification(&message);
            let _ = self.events.send(MonitorEvent::CredentialsRejected {
                message,
                notification,
            });
        }
    }

    /// 429: nothing is sent until the wait is over. Returns when that is.
    fn pause_for_rate_limit(
        &mut self,
        retry_after: Option<Duration>,
        now: Instant,
        now_ms: u64,
    ) -> (Instant, u64) {
        let policy = self.settings.poll;
        // The server's word, within reason: an absurd Retry-After (or a reset_at in year 9999)
        // must neither overflow the clock nor stop polling for years.
        let longest = policy.backoff_cap.max(policy.window);
        let wait = rate_limit_wait(retry_after, policy.window, longest);
        let until = now + wait;
        let until_ms = now_ms.saturating_add(wait.as_millis() as u64);
        if self.rate_limited_until.is_none_or(|u| until >= u) {
            self.rate_limited_until = Some(until);
            if matches!(
                self.connection,
                Connection::Ready | Connection::RateLimited { .. }
            ) {
                self.connection = Connection::RateLimited { until_ms };
            }
        }
        let _ = self.events.send(MonitorEvent::RateLimited { until_ms });
        (until, until_ms)
    }

    /// (running or not yet seen, queued) among the batches still polled.
    fn load(&self) -> (usize, usize) {
        let pollable = self.batches.iter().filter(|b| b.pollable());
        let queued = pollable.clone().filter(|b| b.queued()).count();
        (pollable.count() - queued, queued)
    }

    fn handle(&mut self, command: Command, next_generation: &mut u64) -> bool {
        let now = Instant::now();
        match command {
            Command::Track(ids, reply) => {
                let mut tracking = Tracking::default();
                let mut known: std::collections::HashSet<BatchId> =
                    self.batches.iter().map(|b| b.id.clone()).collect();
                for id in ids {
                    if known.contains(&id) {
                        tracking.already.push(id);
                    } else if self.batches.len() >= MAX_TRACKED {
                        tracking.over_limit.push(id);
                    } else {
                        known.insert(id.clone());
                        self.batches
                            .push(Tracked::new(id.clone(), now, *next_generation));
                        *next_generation += 1;
                        tracking.added.push(id);
                    }
                }
                let _ = reply.send(tracking);
            }
            Command::Untrack(id) => self.batches.retain(|b| b.id != id),
            Command::Refresh(target) => {
                for b in &mut self.batches {
                    if target.as_ref().is_none_or(|t| *t == b.id) {
                        if target.is_some() && matches!(b.fetch, FetchStatus::NotFound { .. }) {
                            // Asked by name: maybe it exists now.
                            b.fetch = FetchStatus::Pending;
                        }
                        b.next_due = b.next_due.min(now);
                    }
                }
            }
            Command::SetCredentials(credentials) => {
                self.credentials_generation += 1;
                // "Not found" may have been the old workspace's answer: ask again.
                for b in &mut self.batches {
                    if matches!(b.fetch, FetchStatus::NotFound { .. }) {
                        b.fetch = FetchStatus::Pending;
                        b.next_due = now;
                    }
                }
                self.connection = match credentials {
                    Some(_) => Connection::Ready,
                    None => Connection::NoCredentials,
                };
                self.credentials = credentials;
                self.rate_limited_until = None;
            }
            Command::UpdateSettings(change) => {
                // Decided once, on the settings in force; the stored ones take the result, except
                // a start-up override of the schedule, which stays unsaved unless this changed it.
                let before = self.settings.poll;
                change(&mut self.settings);
                let stored_poll = if self.settings.poll == before {
                    self.stored_settings.poll
                } else {
                    self.settings.poll
                };
                self.stored_settings = Settings {
                    poll: stored_poll,
                    ..self.settings
                };
                // A shorter interval takes effect now rather than after the old one runs out.
                let (running, queued) = self.load();
                let soonest = now + self.settings.poll.interval(running, queued);
                for b in &mut self.batches {
                    b.next_due = b.next_due.min(soonest);
                }
            }
            Command::Cancel(id, reply) => {
                self.send_cancel(id, reply, now);
                return false;
            }
            Command::Calls(id, query, reply) => {
                self.send_calls(id, query, reply, now);
                return false;
            }
        }
        self.schedule_save(now);
        true
    }

    /// What a request on the user's behalf needs: a tracked batch, credentials, and no 429
    /// pause in force (asking during one would only earn another). It counts in the budget.
    fn action_allowed(&mut self, id: &BatchId, now: Instant) -> Result<Credentials, ActionError> {
        if self.batches.iter().all(|b| &b.id != id) {
            return Err(ActionError::NotTracked(id.clone()));
        }
        let credentials = self.credentials.clone().ok_or(ActionError::NoCredentials)?;
        if let Some(until) = self.rate_limited_until.filter(|u| *u > now) {
            return Err(ActionError::RateLimited(until - now));
        }
        // Not held back by the budget: the budget leaves room under Trillet's limit for
        // clicks, and recording them makes the polling that follows give way.
        self.budget.record(now);
        Ok(credentials)
    }

    fn send_cancel(&mut self, id: BatchId, reply: Reply<CancelOutcome>, now: Instant) {
        let credentials = match self.action_allowed(&id, now) {
            Ok(c) => c,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let credentials_generation = self.credentials_generation;
        let Some(batch) = self.batches.iter_mut().find(|b| b.id == id) else {
            return; // action_allowed found it
        };
        // Counted now, not when the answer comes: a poll that sees "cancelled" before the
        // DELETE's answer must not announce the user's own doing back to them.
        batch.cancels_pending += 1;
        let generation = batch.generation;
        let request = self.source.cancel(&credentials, &id);
        self.actions.spawn(async move {
            ActionAnswer::Cancel {
                id,
                generation,
                credentials_generation,
                result: request.await,
                reply,
            }
        });
    }

    fn send_calls(
        &mut self,
        id: BatchId,
        query: CallsQuery,
        reply: Reply<CallsPage>,
        now: Instant,
    ) {
        match self.action_allowed(&id, now) {
            Ok(credentials) => {
                let request = self.source.calls(&credentials, &id, query);
                let credentials_generation = self.credentials_generation;
                self.actions.spawn(async move {
                    ActionAnswer::Calls {
                        credentials_generation,
                        result: request.await,
                        reply,
                    }
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Learns what an action's answer says about the key (a 429 pauses polling too; a 401
    /// stops it), keeps a cancel's answer on its batch, then replies.
    fn apply_action(&mut self, answer: ActionAnswer) -> bool {
        match answer {
            ActionAnswer::Calls {
                credentials_generation,
                result,
                reply,
            } => {
                let changed = self.learn_from(result.as_ref().err(), credentials_generation);
                let _ = reply.send(result.map_err(|e| self.action_error(e)));
                changed
            }
            ActionAnswer::Cancel {
                id,
                generation,
                credentials_generation,
                result,
                reply,
            } => {
                let mut changed = self.learn_from(result.as_ref().err(), credentials_generation);
                changed |= self.apply_cancel(&id, generation, &result);
                let _ = reply.send(result.map_err(|e| self.action_error(e)));
                changed
            }
        }
    }

    /// An action's error as the person reads it: a 429 says the wait actually used (the
    /// one clamp), not the server's word, which may be years.
    fn action_error(&self, error: ApiError) -> ActionError {
        match error {
            ApiError::RateLimited { retry_after, .. } => {
                let policy = self.settings.poll;
                let longest = policy.backoff_cap.max(policy.window);
                ActionError::RateLimited(rate_limit_wait(retry_after, policy.window, longest))
            }
            other => ActionError::Api(other),
        }
    }

    /// What an action's error says about the key, if it was asked with the current one.
    fn learn_from(&mut self, error: Option<&ApiError>, credentials_generation: u64) -> bool {
        if credentials_generation != self.credentials_generation {
            return false;
        }
        match error {
            Some(ApiError::Unauthorized { status, message }) => {
                self.reject_credentials(*status, message.clone());
                true
            }
            Some(ApiError::RateLimited { retry_after, .. }) => {
                self.pause_for_rate_limit(*retry_after, Instant::now(), (self.clock)());
                true
            }
            _ => false,
        }
    }

    /// Keeps Trillet's answer to a cancel on the batch, whose end (the user's own doing) is then
    /// not announced. A cancelled batch is polled again at once, so its card shows the final
    /// state; after a refused cancel, its end is announced as any other.
    fn apply_cancel(
        &mut self,
        id: &BatchId,
        generation: u64,
        result: &Result<CancelOutcome, ApiError>,
    ) -> bool {
        let now = Instant::now();
        let Some(batch) = self
            .batches
            .iter_mut()
            .find(|b| &b.id == id && b.generation == generation)
        else {
            return false; // untracked meanwhile
        };
        batch.cancels_pending = batch.cancels_pending.saturating_sub(1);
        match result {
            Ok(outcome) => {
                batch.finish_notified = true;
                batch.cancellation = Some(Arc::new(outcome.clone()));
                batch.next_due = now;
                self.save_now();
                true
            }
            Err(error) => {
                if matches!(error, ApiError::Refused { .. }) {
                    // "Already finished" (409): the card is behind; bring it up to date.
                    batch.next_due = now;
                }
                false
            }
        }
    }

    fn schedule_save(&mut self, now: Instant) {
        if self.state_file.is_some() && self.save_at.is_none() {
            self.save_at = Some(now + self.save_debounce);
        }
    }

    /// Writes the state file; returns whether the visible state-file problem changed.
    fn save_now(&mut self) -> bool {
        self.save_at = None;
        let Some(file) = &self.state_file else {
            return false;
        };
        let state = SavedState {
            schema: SCHEMA_VERSION,
            batches: self.batches.iter().map(Tracked::saved).collect(),
            settings: self.stored_settings,
        };
        match file.save(&state) {
            // A save that works again clears the banner of the one that did not.
            Ok(()) => self.save_problem.take().is_some(),
            Err(e) => {
                let message = format!(
                    "Batchwatch could not save its list of batches to {}: {e}. Finished batches may be announced again after a restart.",
                    file.path().display()
                );
                // Shown in the window until it is fixed; announced once, not once per save.
                if self.save_problem.as_deref() == Some(message.as_str()) {
                    return false;
                }
                self.save_problem = Some(message.clone());
                let _ = self.events.send(MonitorEvent::StateFileProblem { message });
                true
            }
        }
    }

    fn view(&self) -> MonitorView {
        MonitorView {
            now_ms: (self.clock)(),
            batches: self
                .batches
                .iter()
                .map(|b| BatchSnapshot {
                    id: b.id.clone(),
                    progress: b.last.clone(),
                    last_updated_ms: b.last_updated_ms,
                    fetch: b.fetch.clone(),
                    cancellation: b.cancellation.clone(),
                })
                .collect(),
            connection: self.connection.clone(),
            settings: self.settings,
            state_problem: self
                .save_problem
                .clone()
                .or_else(|| self.state_problem.clone()),
        }
    }

    fn publish(&self) {
        if let Some(tx) = &self.view_tx {
            tx.send_replace(Arc::new(self.view()));
        }
    }
}

async fn sleep_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
