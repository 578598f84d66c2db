//! How a monitor starts: its source, workspaces, state file, schedule override and clocks.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::credentials::Credentials;
use crate::schedule::PollPolicy;
use crate::state_file::StateFile;
use crate::workspace::Workspace;

/// The wall clock, in epoch milliseconds. Injected so tests can agree with the simulator's.
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> WallClock {
    Arc::new(wall_clock_ms)
}

/// The system's wall clock now, in epoch milliseconds: the one place a program without a
/// monitor (a one-shot command) reads it. With a monitor, its snapshot's `now_ms` is the time.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How the monitor starts.
pub struct MonitorConfig<S> {
    pub source: S,
    /// The workspaces to poll, the first stored first.
    pub workspaces: Vec<Workspace>,
    /// `None` keeps nothing across runs (the terminal companion, demo mode).
    pub state_file: Option<StateFile>,
    /// Replaces the user's polling schedule until they change it, and is never saved (tests
    /// compress time with it; so do the terminal companion's hidden options).
    pub poll: Option<PollPolicy>,
    pub clock: WallClock,
    /// How long a burst of changes may gather before one write.
    pub save_debounce: Duration,
    /// The zone quiet hours are read in (the system's; tests fix one).
    pub zone: crate::format::TimeZone,
}

impl<S> MonitorConfig<S> {
    /// A monitor of one workspace (labelled with its ID), or of none.
    pub fn new(source: S, credentials: Option<Credentials>) -> Self {
        let workspaces = credentials
            .into_iter()
            .map(|c| Workspace::new(c, None, 0).expect("a label from the ID always passes"))
            .collect();
        Self::of_workspaces(source, workspaces)
    }

    /// A monitor of these workspaces.
    pub fn of_workspaces(source: S, workspaces: Vec<Workspace>) -> Self {
        Self {
            source,
            workspaces,
            state_file: None,
            poll: None,
            clock: system_clock(),
            save_debounce: Duration::from_millis(500),
            zone: crate::format::TimeZone::system(),
        }
    }
}
