//! One tracked batch inside the task: its last snapshot, how its fetches went, when it is due,
//! and what was already announced.

use std::sync::Arc;

use tokio::time::Instant;

use crate::batch_id::BatchId;
use crate::change::is_settled;
use crate::model::{BatchProgress, BatchStatus, CancelOutcome};
use crate::state_file::SavedBatch;

use super::*;

/// One tracked batch inside the task.
pub(super) struct Tracked {
    pub(super) id: BatchId,
    pub(super) last: Option<Arc<BatchProgress>>,
    pub(super) last_updated_ms: Option<u64>,
    pub(super) fetch: FetchStatus,
    pub(super) failures: u32,
    pub(super) next_due: Instant,
    /// Bumped on untrack/re-track, so a late answer for an old incarnation is dropped.
    pub(super) generation: u64,
    pub(super) in_flight: bool,
    pub(super) finish_notified: bool,
    /// Cancels sent for this batch and not answered yet: a "cancelled" seen meanwhile is the
    /// user's own doing, not news to announce.
    pub(super) cancels_pending: u32,
    pub(super) failure_alerted: bool,
    pub(super) cancellation: Option<Arc<CancelOutcome>>,
}

impl Tracked {
    pub(super) fn new(id: BatchId, now: Instant, generation: u64) -> Self {
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

    pub(super) fn restored(saved: SavedBatch, now: Instant) -> Self {
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
    pub(super) fn pollable(&self) -> bool {
        !self.last.as_deref().is_some_and(is_settled)
            && !matches!(self.fetch, FetchStatus::NotFound { .. })
    }

    pub(super) fn queued(&self) -> bool {
        self.last
            .as_deref()
            .is_some_and(|p| p.status == BatchStatus::Queued)
    }

    pub(super) fn saved(&self) -> SavedBatch {
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
