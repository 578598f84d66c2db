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
                    workspace: b.workspace.clone(),
                })
                .collect(),
            connection: self.connection(),
            workspaces: self
                .workspaces
                .iter()
                .map(|w| WorkspaceState {
                    id: w.workspace.id().clone(),
                    label: w.workspace.label.clone(),
                    connection: self.workspace_connection(w),
                })
                .collect(),
            settings: self.settings_in_force(),
            // The busiest key's; batches waiting for a workspace count as one key's (all of
            // them, with none stored).
            sharing_budget: (0..self.lanes.len())
                .map(|lane| {
                    let (running, queued) = self.budget_shares(lane);
                    running + queued
                })
                .chain([self
                    .batches
                    .iter()
                    .filter(|b| b.lane.is_none() && b.pollable())
                    .count()])
                .max()
                .unwrap_or(0),
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
