//! The simulator's shared state: the clock, and one mutex over everything that changes
//! (batches, faults, credentials, rate-limit windows, request log). The HTTP handlers and
//! [`SimControl`](crate::SimControl) both go through it; every lock is short and never held
//! across an await.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::agents::Agent;
use crate::auth::Credentials;
use crate::batch::Batch;
use crate::clock::SimClock;
use crate::faults::Faults;
use crate::log::RequestLog;
use crate::ratelimit::RateLimiter;
use crate::script::BatchScript;
use crate::upload::Upload;
use crate::SimConfig;

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: SimClock,
    state: Mutex<SimState>,
}

#[derive(Debug)]
pub(crate) struct SimState {
    pub(crate) batches: HashMap<String, Batch>,
    pub(crate) faults: Faults,
    pub(crate) credentials: Credentials,
    pub(crate) limiter: RateLimiter,
    pub(crate) log: RequestLog,
    /// The call agents of every workspace, in the order added.
    pub(crate) agents: Vec<Agent>,
    /// Every start request whose form was read, in arrival order.
    pub(crate) uploads: Vec<Upload>,
    /// What a started batch does besides its rows (lanes, call lengths, failures).
    pub(crate) started_batches: BatchScript,
    /// The workspace an [`Agent`] without one belongs to.
    pub(crate) first_workspace: String,
    /// The number in the last generated `batch_<digits>` ID.
    last_generated: i64,
}

impl Shared {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            clock: SimClock::new(config.speed),
            state: Mutex::new(SimState {
                batches: HashMap::new(),
                faults: Faults::default(),
                credentials: Credentials::new(config.credentials.clone()),
                limiter: RateLimiter::new(config.rate_limit_per_minute),
                log: RequestLog::default(),
                agents: Vec::new(),
                uploads: Vec::new(),
                started_batches: default_started_batch(),
                first_workspace: config
                    .credentials
                    .first()
                    .map(|(_, w)| w.clone())
                    .unwrap_or_default(),
                last_generated: 0,
            }),
        }
    }

    /// The state; a panic elsewhere while it was held does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) a batch as of now and returns its ID.
    pub(crate) fn add_batch(&self, script: BatchScript) -> String {
        let mut state = self.lock();
        let now = self.clock.now();
        let id = match script.id.clone() {
            Some(id) => id,
            None => state.generate_id(self.clock.wall_ms(now)),
        };
        state
            .batches
            .insert(id.clone(), Batch::new(id.clone(), script, now));
        id
    }
}

/// A started batch unless a test says otherwise: 5 lanes, calls of about 30 s, one call in five
/// failing (a retry has something to do).
pub(crate) fn default_started_batch() -> BatchScript {
    BatchScript::new(0)
        .concurrency(5)
        .call_duration(std::time::Duration::from_secs(30))
        .failure_rate(0.2)
}

impl SimState {
    /// `batch_<epoch ms>`, like the documented `batch_7891011121314`, unique in this simulator.
    fn generate_id(&mut self, wall_ms: i64) -> String {
        let mut n = wall_ms.max(self.last_generated + 1);
        while self.batches.contains_key(&format!("batch_{n}")) {
            n += 1;
        }
        self.last_generated = n;
        format!("batch_{n}")
    }
}
