//! The caller's side: [`MonitorHandle`] sends commands to the task and reads its view;
//! dropping it stops the task. A `track` is answered with what was added ([`Tracking`]).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::api::ApiError;
use crate::batch_id::BatchId;
use crate::credentials::{Credentials, WorkspaceId};
use crate::failures::{FailedCalls, FailedCallsView};
use crate::model::{CallsPage, CallsQuery, CancelOutcome};
use crate::state_file::Settings;
use crate::workspace::Workspace;

use super::*;

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
    #[error("Too many requests are waiting for room in the key's budget; try again in a moment.")]
    Busy,
    /// A start that was sent and whose outcome is not known: the batch may have started.
    #[error("{0}")]
    OutcomeUnknown(crate::launch::StartFailure),
}

impl ActionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials => "no_credentials",
            Self::NotTracked(_) => "not_tracked",
            Self::RateLimited(_) => "rate_limited",
            Self::Api(e) => e.code(),
            Self::Interrupted => "interrupted",
            Self::Busy => "busy",
            Self::OutcomeUnknown(_) => "unknown_outcome",
        }
    }
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, ActionError>>;

/// A change to the settings in force, which the stored ones then follow.
pub(super) type SettingsChange = Box<dyn FnOnce(&mut Settings) + Send>;

/// The most batches one monitor tracks: a paste of 1,000 twice over. Past it, a `track` says
/// which were not added rather than dropping them.
pub const MAX_TRACKED: usize = 2000;

/// The most budget leases waiting at once (one per request another process is about to send);
/// past it a lease is refused at once rather than queued without end.
pub const MAX_LEASES_WAITING: usize = 256;

/// How many times a page of a retry list is asked for when Trillet answers 429 (each after the
/// pause it asked for).
pub const PAGE_TRIES: u32 = 3;

/// What a `track` did with each ID, decided by the monitor (the one owner of the list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    pub added: Vec<BatchId>,
    /// Already tracked; left as they were.
    pub already: Vec<BatchId>,
    /// Not added: [`MAX_TRACKED`] batches are tracked already.
    pub over_limit: Vec<BatchId>,
    /// Not added: the same ID is watched in this other workspace (one batch of each ID).
    pub in_another_workspace: Vec<(BatchId, WorkspaceId)>,
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

/// How a user request finds its place in the key's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// A click: sent at once (the budget leaves room for clicks) and counted there.
    Click,
    /// Already given a slot by [`MonitorHandle::lease`], which counted it.
    Leased,
}

/// The workspace a command is for: `None` is the first one.
pub(super) type In = Option<WorkspaceId>;

/// Whose key's budget a lease is taken from.
pub(super) enum LeaseFor {
    Workspace(In),
    /// A key this monitor does not hold (the keyless lane).
    Elsewhere,
    /// A tracked batch's (its workspace's key).
    Batch(BatchId),
}

pub(super) enum Command {
    Agents(In, Reply<Vec<crate::model::Agent>>),
    Start(
        In,
        Box<crate::launch::StartForm>,
        Reply<crate::model::StartAnswer>,
    ),
    /// Batches to track in a workspace, each with what Batchwatch knows of it when Batchwatch
    /// started it.
    Track(
        In,
        Vec<(BatchId, Option<Arc<crate::launch::Launch>>)>,
        oneshot::Sender<Tracking>,
    ),
    Untrack(BatchId),
    /// A batch's choice of notifications (a batch not tracked is left alone).
    SetNotify(BatchId, crate::notify_choice::NotifyChoice),
    Refresh(Option<BatchId>),
    /// The workspaces polled; with `true`, every batch is moved into the first (one workspace
    /// replacing another, as credentials were before workspaces).
    SetWorkspaces(Vec<Workspace>, bool),
    UpdateSettings(SettingsChange),
    /// Pause notifications for an hour (`Some(true)`), resume them, or (`None`) toggle.
    PauseNotifications(Option<bool>),
    Cancel(BatchId, Reply<CancelOutcome>),
    Calls(BatchId, CallsQuery, Reply<CallsPage>, Slot),
    CheckCredentials(Credentials, Reply<()>),
    KnownStatus(In, BatchId, Reply<Arc<BatchProgress>>),
    AskStatus(In, BatchId, Reply<Arc<BatchProgress>>),
    Lease(LeaseFor, Reply<()>),
    DrillDown(BatchId, Reply<Arc<tokio::sync::Mutex<FailedCalls>>>),
    CloseDrillDown(BatchId),
}

/// The caller's side of a running monitor. Dropping it stops the task.
pub struct MonitorHandle {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) snapshots: watch::Receiver<Arc<MonitorSnapshot>>,
    pub(super) cancel: CancellationToken,
    pub(super) task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
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
        self.track_in(None, ids)
    }

    /// [`Self::track`] in a workspace (`None`: the first one).
    pub fn track_in(&self, workspace: In, ids: Vec<BatchId>) -> TrackReceipt {
        let (reply, answer) = oneshot::channel();
        let ids = ids.into_iter().map(|id| (id, None)).collect();
        let _ = self.commands.send(Command::Track(workspace, ids, reply));
        TrackReceipt(answer)
    }

    /// Starts watching a batch Batchwatch started in a workspace, with what is known of it (a
    /// batch already tracked takes it on).
    pub fn track_launched(
        &self,
        workspace: In,
        id: BatchId,
        launch: crate::launch::Launch,
    ) -> TrackReceipt {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Track(
            workspace,
            vec![(id, Some(Arc::new(launch)))],
            reply,
        ));
        TrackReceipt(answer)
    }

    /// When `id`'s notifications are shown; kept with the batch.
    pub fn set_notify(&self, id: BatchId, choice: crate::notify_choice::NotifyChoice) {
        let _ = self.commands.send(Command::SetNotify(id, choice));
    }

    pub fn untrack(&self, id: BatchId) {
        let _ = self.commands.send(Command::Untrack(id));
    }

    /// Polls one batch (or all unfinished ones) as soon as the budget allows.
    pub fn refresh(&self, id: Option<BatchId>) {
        let _ = self.commands.send(Command::Refresh(id));
    }

    /// One workspace's credentials for every batch, or none — the monitor as it was before
    /// workspaces: [`Self::set_workspaces`] of one (labelled with its ID), into which every
    /// tracked batch moves.
    pub fn set_credentials(&self, credentials: Option<Credentials>) {
        let workspaces = credentials
            .into_iter()
            .map(|c| Workspace::new(c, None, 0).expect("a label from the ID always passes"))
            .collect();
        let _ = self.commands.send(Command::SetWorkspaces(workspaces, true));
    }

    /// The workspaces polled from now on, the first stored first. A new key resumes polling
    /// after a rejection; none stops it. A batch whose workspace is not among them waits,
    /// unpolled, until it is again (or is removed).
    pub fn set_workspaces(&self, workspaces: Vec<Workspace>) {
        let _ = self
            .commands
            .send(Command::SetWorkspaces(workspaces, false));
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

    /// Pauses desktop notifications for an hour from now, or resumes them; kept in the
    /// settings, so a restart inside the hour stays quiet.
    pub fn pause_notifications(&self, paused: bool) {
        let _ = self
            .commands
            .send(Command::PauseNotifications(Some(paused)));
    }

    /// Pauses notifications if they are not paused, else resumes them — decided by the monitor
    /// on the settings it holds, so two quick clicks pause and then resume.
    pub fn toggle_notification_pause(&self) {
        let _ = self.commands.send(Command::PauseNotifications(None));
    }

    /// Cancels a tracked batch at Trillet (`DELETE`): waiting calls are dropped, active ones
    /// finish. On success the batch keeps Trillet's answer and is polled once more at once.
    pub async fn cancel(&self, id: BatchId) -> Result<CancelOutcome, ActionError> {
        self.ask(|reply| Command::Cancel(id, reply)).await
    }

    /// One page of a tracked batch's calls, asked with the monitor's credentials and counted
    /// against the same request budget as polling.
    pub async fn calls(&self, id: BatchId, query: CallsQuery) -> Result<CallsPage, ActionError> {
        self.ask(|reply| Command::Calls(id, query, reply, Slot::Click))
            .await
    }

    /// One batch's progress for a client that asks (the terminal's `status`): a tracked
    /// batch's last answer, with no request; any other batch asked of Trillet once — after a
    /// slot in the budget ([`Self::lease`]), so many questions never pass the limit — and not
    /// added.
    pub async fn status(&self, id: BatchId) -> Result<Arc<BatchProgress>, ActionError> {
        self.status_in(None, id).await
    }

    /// [`Self::status`], asking Trillet in a workspace when the batch is not tracked.
    pub async fn status_in(
        &self,
        workspace: In,
        id: BatchId,
    ) -> Result<Arc<BatchProgress>, ActionError> {
        match self
            .ask(|reply| Command::KnownStatus(workspace.clone(), id.clone(), reply))
            .await
        {
            Err(ActionError::NotTracked(_)) => {}
            known => return known,
        }
        self.lease_in(workspace.clone()).await?;
        self.ask(|reply| Command::AskStatus(workspace, id, reply))
            .await
    }

    /// Waits for room in the key's request budget and counts one request there, for a request
    /// another process sends with the same key (the terminal companion while the tray app
    /// runs): the two then share one budget, and Trillet's limit is never crossed together.
    /// [`ActionError::Busy`] when [`MAX_LEASES_WAITING`] are already waiting,
    /// [`ActionError::Interrupted`] when the monitor has stopped.
    pub async fn lease(&self) -> Result<(), ActionError> {
        self.lease_in(None).await
    }

    /// [`Self::lease`] in the budget of a workspace's key; a workspace this monitor does not
    /// poll (the other process's own credentials) shares one budget of its own.
    pub async fn lease_in(&self, workspace: In) -> Result<(), ActionError> {
        self.ask(|reply| Command::Lease(LeaseFor::Workspace(workspace), reply))
            .await
    }

    /// The first workspace's call agents, asked once within the budget (a click).
    pub async fn agents(&self) -> Result<Vec<crate::model::Agent>, ActionError> {
        self.agents_in(None).await
    }

    /// [`Self::lease`] for a key this monitor does not hold: a budget of its own, apart from
    /// every workspace's.
    pub async fn lease_elsewhere(&self) -> Result<(), ActionError> {
        self.ask(|reply| Command::Lease(LeaseFor::Elsewhere, reply))
            .await
    }

    /// A workspace's call agents.
    pub async fn agents_in(&self, workspace: In) -> Result<Vec<crate::model::Agent>, ActionError> {
        self.ask(|reply| Command::Agents(workspace, reply)).await
    }

    /// Starts a batch at Trillet, within the budget, **once**: never sent again whatever comes
    /// back. Refused before sending (no credentials, a 429 pause in force) as any request;
    /// [`ActionError::OutcomeUnknown`] when the batch may have started — also when the monitor
    /// stopped while the start was out.
    pub async fn start(
        &self,
        form: crate::launch::StartForm,
    ) -> Result<crate::model::StartAnswer, ActionError> {
        self.start_in(None, form).await
    }

    /// [`Self::start`] in a workspace.
    pub async fn start_in(
        &self,
        workspace: In,
        form: crate::launch::StartForm,
    ) -> Result<crate::model::StartAnswer, ActionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Start(workspace, Box::new(form), reply))
            .map_err(|_| ActionError::Interrupted)?;
        answer.await.unwrap_or_else(|_| {
            Err(ActionError::OutcomeUnknown(
                crate::launch::StartFailure::Unknown(ApiError::Network(
                    "Batchwatch stopped before Trillet answered".into(),
                )),
            ))
        })
    }

    /// Asks Trillet whether these credentials are good, within the monitor's budget, before
    /// they are stored. Only a refusal (401/403) says they are not: any other answer, or none,
    /// does not disprove them.
    pub async fn check_credentials(&self, candidate: Credentials) -> Result<(), ActionError> {
        match self
            .ask(|reply| Command::CheckCredentials(candidate, reply))
            .await
        {
            Err(ActionError::Interrupted) => Ok(()),
            other => other,
        }
    }

    /// The drill-down of a tracked batch's failed calls: the first page (`more: false`, which
    /// starts over) or the next one, grouped by reason with every page loaded so far. Pages
    /// come through [`Self::calls`]; what was loaded stays with the batch until
    /// [`Self::close_failed_calls`] or untrack.
    pub async fn failed_calls(
        &self,
        id: BatchId,
        more: bool,
    ) -> Result<FailedCallsView, ActionError> {
        let drilldown = self
            .ask(|reply| Command::DrillDown(id.clone(), reply))
            .await?;
        // One load at a time per batch, so two quick "more"s never fetch the same page; other
        // batches (and Remove) do not wait for a slow page.
        let mut failed = drilldown.lock().await;
        if !more {
            *failed = FailedCalls::new();
        }
        if let Some(query) = failed.next_query() {
            let page = self.calls(id.clone(), query).await?;
            failed.add_page(page);
        }
        Ok(failed.view(id.as_str()))
    }

    /// Every failed call of a tracked batch, all pages, for a retry list — apart from the
    /// window's drill-down. The first page goes as a click does; each other waits for a slot
    /// in the budget ([`Self::lease`]), so a list of many pages never goes out in a burst past
    /// Trillet's limit. A page refused with a 429 is asked again after the pause (at most
    /// [`PAGE_TRIES`] times); any other failure ends the load, and nothing is kept (the caller
    /// writes all or nothing). At most [`crate::failures::MAX_PAGES`]; the result says when
    /// paging stopped early.
    pub async fn all_failed_calls(&self, id: BatchId) -> Result<FailedCalls, ActionError> {
        let mut failed = FailedCalls::new();
        while let Some(query) = failed.next_query() {
            let mut tries = 0;
            let page = loop {
                tries += 1;
                let slot = if query.page == 1 && tries == 1 {
                    Slot::Click
                } else {
                    self.ask(|reply| Command::Lease(LeaseFor::Batch(id.clone()), reply))
                        .await?;
                    Slot::Leased
                };
                match self
                    .ask(|reply| Command::Calls(id.clone(), query, reply, slot))
                    .await
                {
                    Err(ActionError::RateLimited(_))
                    | Err(ActionError::Api(ApiError::RateLimited { .. }))
                        if tries < PAGE_TRIES => {}
                    answer => break answer?,
                }
            };
            failed.add_page(page);
        }
        Ok(failed)
    }

    /// Forgets a closed drill-down's calls.
    pub fn close_failed_calls(&self, id: BatchId) {
        let _ = self.commands.send(Command::CloseDrillDown(id));
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, ActionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| ActionError::Interrupted)?;
        answer.await.unwrap_or(Err(ActionError::Interrupted))
    }

    /// The current snapshot, and every later one.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MonitorSnapshot>> {
        self.snapshots.clone()
    }

    pub fn snapshot(&self) -> Arc<MonitorSnapshot> {
        self.snapshots.borrow().clone()
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
