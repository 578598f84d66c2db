//! [`SimControl`]: what a test (or the binary) does to a running simulator from outside the
//! HTTP API — add batches, inject faults, manage keys, move sim time, read the request log.
//! Every method is synchronous and callable from any thread, async or not.

use std::sync::Arc;
use std::time::Duration;

use crate::agents::Agent;
use crate::faults::{Fault, FaultTarget};
use crate::log::RequestRecord;
use crate::scenario;
use crate::script::BatchScript;
use crate::state::Shared;
use crate::upload::Upload;

/// A cheap, cloneable handle on a running simulator's state.
#[derive(Debug, Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Adds a batch, planned from now, and returns its ID. A batch with the same ID is replaced.
    pub fn add_batch(&self, script: BatchScript) -> String {
        self.shared.add_batch(script)
    }

    /// Adds a named scenario's batches and agents and returns the batches' IDs: `"demo"` (see
    /// [`demo_scenario`](crate::demo_scenario), [`demo_agents`](crate::demo_agents)) or
    /// `"empty"`; `None` for any other name.
    pub fn load_scenario(&self, name: &str) -> Option<Vec<String>> {
        let (scripts, agents) = scenario::by_name(name)?;
        for agent in agents {
            self.add_agent(agent);
        }
        Some(scripts.into_iter().map(|s| self.add_batch(s)).collect())
    }

    /// Every call not yet ended ends now with its planned outcome, and a queued or processing
    /// batch becomes `completed`. Does nothing for an unknown or already complete batch.
    pub fn finish_batch(&self, id: &str) {
        let mut state = self.shared.lock();
        let now = self.shared.clock.now();
        if let Some(batch) = state.batches.get_mut(id) {
            batch.finish(now);
        }
    }

    /// Adds a call agent (listed by `GET /v1/api/agents`, accepted as a start's `agentId`).
    pub fn add_agent(&self, agent: Agent) {
        self.shared.lock().agents.push(agent);
    }

    /// What a batch started by upload does besides calling its rows: `script`'s lanes, call
    /// lengths, failure rate and reasons (its ID, size and timing are the upload's).
    pub fn set_started_batches(&self, script: BatchScript) {
        self.shared.lock().started_batches = script;
    }

    /// Every start request whose form was read, in arrival order, accepted or not.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }

    /// Forgets a batch: it answers 404 from then on. Returns whether it existed.
    pub fn remove_batch(&self, id: &str) -> bool {
        self.shared.lock().batches.remove(id).is_some()
    }

    /// Puts `fault` in force for `target` (replacing that target's previous fault).
    pub fn set_fault(&self, target: FaultTarget, fault: Fault) {
        self.shared.lock().faults.set(target, fault);
    }

    pub fn clear_fault(&self, target: FaultTarget) {
        self.shared.lock().faults.clear(&target);
    }

    pub fn clear_all_faults(&self) {
        self.shared.lock().faults.clear_all();
    }

    /// Accepts `key` for `workspace` (in addition to any workspaces it already has).
    pub fn add_key(&self, key: &str, workspace: &str) {
        self.shared.lock().credentials.add(key, workspace);
    }

    /// From now on `key` gets 401 `Invalid API key`.
    pub fn revoke_key(&self, key: &str) {
        self.shared.lock().credentials.revoke(key);
    }

    /// Moves sim time forward: batches progress and rate-limit windows slide at once.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The sim wall clock in epoch milliseconds (what JSON timestamps are measured against).
    pub fn now_ms(&self) -> u64 {
        let clock = &self.shared.clock;
        u64::try_from(clock.wall_ms(clock.now())).unwrap_or_default()
    }

    /// Every request received since start (or the last `clear_requests`), in arrival order,
    /// including refused and faulted ones.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.records()
    }

    /// How many logged requests named `batch_id` in their path.
    pub fn request_count(&self, batch_id: &str) -> usize {
        self.shared.lock().log.count_for_batch(batch_id)
    }

    /// The most requests carrying `key` (admitted or not) within any span of sim time shorter
    /// than `window`.
    pub fn max_requests_in_window(&self, key: &str, window: Duration) -> usize {
        self.shared.lock().log.max_in_window(key, window)
    }

    /// Empties the request log (the rate-limit windows are not affected).
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }
}
