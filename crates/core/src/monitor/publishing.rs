//! The snapshot the task publishes: one immutable [`MonitorSnapshot`] per change, on a `watch`.

use std::sync::Arc;

use super::*;

impl<S: TrilletApi> Task<S> {
    pub(super) fn snapshot(&self) -> MonitorSnapshot {
        MonitorSnapshot {
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
                    launch: b.launch.clone(),
                    samples: b.samples.clone(),
                    moved_at_ms: b.moved_at_ms,
                    notify: b.notify,
                })
                .collect(),
            connection: self.connection(),
            settings: self.settings_in_force(),
            sharing_budget: {
                let (running, queued) = self.budget_shares();
                running + queued
            },
            state_problem: self
                .save_problem
                .clone()
                .or_else(|| self.state_problem.clone()),
        }
    }

    pub(super) fn publish(&self) {
        if let Some(tx) = &self.snapshots {
            tx.send_replace(Arc::new(self.snapshot()));
        }
    }
}
