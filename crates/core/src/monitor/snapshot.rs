//! What the monitor publishes: the immutable [`MonitorSnapshot`] of every batch and workspace, and
//! the discrete [`MonitorEvent`]s worth telling once.

use std::sync::Arc;

use serde::Serialize;

use crate::batch_id::BatchId;
use crate::change::NotificationContent;
use crate::events::Event;
use crate::model::{BatchProgress, CancelOutcome};
use crate::state_file::Settings;

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

/// One workspace as the monitor polls it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceState {
    pub id: crate::credentials::WorkspaceId,
    pub label: String,
    /// Its key's state (shared by the workspaces on the same key).
    pub connection: Connection,
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
    /// What Batchwatch knows of it when Batchwatch started it.
    pub launch: Option<Arc<crate::launch::Launch>>,
    /// Its counters, sampled at most once a minute over the last hour.
    pub samples: Arc<Vec<crate::figures::Sample>>,
    /// When an answer last moved its status or its ended calls: a stall is counted from here.
    pub moved_at_ms: Option<u64>,
    /// When its notifications are shown.
    pub notify: crate::notify_choice::NotifyChoice,
    /// The workspace it is asked in (none only while no workspace is stored).
    pub workspace: Option<crate::credentials::WorkspaceId>,
}

/// Everything the monitor knows, as an immutable snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSnapshot {
    pub now_ms: u64,
    pub batches: Vec<BatchSnapshot>,
    /// All keys together, as one line says it (see `workspaces` for each).
    pub connection: Connection,
    /// The workspaces polled, the first stored first.
    pub workspaces: Vec<WorkspaceState>,
    /// The settings in force.
    pub settings: Settings,
    /// How many batches share the busiest key's request budget now (those still polled): the
    /// count the schedule divides by, and the one the settings panel's consequence speaks of.
    pub sharing_budget: usize,
    /// The state file was unreadable at start and set aside, or the last save failed.
    pub state_problem: Option<String>,
}

/// Something worth telling once — the person (a notification) and their hooks (`payload`).
/// What is only a state (a 429 pause, a state-file problem) is in the snapshot, not here. Each
/// is sent after the flag that makes it happen once reached the disk, so a restart repeats none.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A batch left the queue and began calling: for hooks and the log, not a notification.
    Started { id: BatchId, payload: Event },
    /// A batch completed, failed or was cancelled while watched (or while Batchwatch was not
    /// running). Sent exactly once per batch, across restarts.
    BatchFinished {
        id: BatchId,
        notification: NotificationContent,
        /// Whether the user's settings let it be shown now (notifications on, not paused).
        show: bool,
        payload: Event,
    },
    /// A running batch's failure rate reached the user's threshold. Sent once per batch.
    FailureRateHigh {
        id: BatchId,
        notification: NotificationContent,
        /// As for [`MonitorEvent::BatchFinished`].
        show: bool,
        payload: Event,
    },
    /// A running batch made no progress for the user's stall minutes while calls still wait
    /// or run. Sent once per stall, across restarts.
    Stalled {
        id: BatchId,
        notification: NotificationContent,
        /// As for [`MonitorEvent::BatchFinished`].
        show: bool,
        payload: Event,
    },
    /// The key was refused; polling stopped until new credentials.
    CredentialsRejected {
        message: String,
        notification: NotificationContent,
        payload: Event,
    },
    /// Quiet hours ended (or were turned off) with notifications held: they, as one.
    QuietSummary { notification: NotificationContent },
}

impl MonitorEvent {
    /// What the hooks are handed (a summary of held notifications is for people only).
    pub fn payload(&self) -> Option<&Event> {
        match self {
            Self::Started { payload, .. }
            | Self::BatchFinished { payload, .. }
            | Self::FailureRateHigh { payload, .. }
            | Self::Stalled { payload, .. }
            | Self::CredentialsRejected { payload, .. } => Some(payload),
            Self::QuietSummary { .. } => None,
        }
    }
}
