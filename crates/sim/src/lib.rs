//! `trillet-sim`: a faithful HTTP simulator of the Trillet AI batch-calls API, for the project's
//! tests and demo mode (the real service cannot be reached from here). It speaks the documented
//! JSON from its own types — it does not depend on the client crate, so a mistake in the
//! client's model cannot be mirrored here and hidden.
//!
//! ```no_run
//! use std::time::Duration;
//! use trillet_sim::{BatchScript, RunningSim, SimConfig};
//!
//! let sim = RunningSim::spawn(SimConfig::default())?;
//! let id = sim.control().add_batch(BatchScript::new(150).id("batch_1"));
//! // GET {base_url}/v1/api/batch-calls/batch_1/status with x-api-key / x-workspace-id ...
//! sim.control().advance(Duration::from_secs(60));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Layout
//! - `server`: [`RunningSim`] — binds loopback, serves on its own thread and runtime.
//! - `control`: [`SimControl`] — the test's handle: batches, faults, keys, time, request log.
//! - `routes`: the endpoints, and the gate every request passes (log → rate limit → auth).
//! - `upload`: the start's form ([`Upload`]) and the checks the docs give for it; `agents`: the
//!   workspace's call agents ([`Agent`]).
//! - `wire`: the JSON bodies, as the simulator's own serde types.
//! - `script`: [`BatchScript`], what a batch should do; `batch`: the deterministic plan and
//!   progress model the simulator derives from it.
//! - `faults`: [`Fault`], [`FaultTarget`] and what each fault does to an answer.
//! - `ratelimit`, `auth`: the per-minute window and the key/workspace check.
//! - `log`: the [`RequestRecord`] of every request received.
//! - `clock`: sim time (real time × speed + `advance`).
//! - `scenario`: [`demo_scenario`] and the other named scenarios.
//! - `state`: the one mutex over all of the above.
//! - `main.rs`: the `trillet-sim` binary (demo mode and manual poking).

mod agents;
mod auth;
mod batch;
mod clock;
mod control;
mod faults;
mod log;
mod ratelimit;
mod routes;
mod scenario;
mod script;
mod server;
mod start;
mod state;
mod upload;
mod wire;

pub use agents::Agent;
pub use control::SimControl;
pub use faults::{Fault, FaultTarget};
pub use log::RequestRecord;
pub use scenario::{demo_agents, demo_scenario, failing_batch, FAILURE_REASONS};
pub use script::BatchScript;
pub use server::RunningSim;
pub use upload::{scheduled_at_text, Upload, MAX_FILE_BYTES};

/// How a simulator is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Sim seconds per real second (must be positive): 60.0 makes a minute pass each second.
    pub speed: f64,
    /// Requests per key per sliding minute of sim time before 429.
    pub rate_limit_per_minute: u32,
    /// Accepted (API key, workspace ID) pairs; the first is what `RunningSim::api_key` and
    /// `workspace_id` return.
    pub credentials: Vec<(String, String)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            speed: 1.0,
            rate_limit_per_minute: 60,
            credentials: vec![(
                "sk_sim_batchwatch_test_key".to_owned(),
                "ws_sim_workspace".to_owned(),
            )],
        }
    }
}
