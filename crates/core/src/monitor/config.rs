//! How a monitor starts: its source, credentials, state file, settings override and clocks.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::credentials::Credentials;
use crate::state_file::{Settings, StateFile};

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
