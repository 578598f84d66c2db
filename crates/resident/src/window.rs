//! The one window, as the resident sees it: a separate process (`batchwatch`, the webview)
//! that claims the window role over the control socket. "Open" raises the window that holds
//! it, or starts a window process when none does; a second claimant is refused and the
//! holder raised. When the window closes its process exits, and every WebKit process with it.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use batchwatch_core::control::start::launch_command;
use batchwatch_core::control::{Endpoint, Peer, Push};

/// A window process started but not yet connected is waited for this long before "Open"
/// starts another.
const STARTING_GRACE: Duration = Duration::from_secs(15);

pub struct Windows {
    endpoint: Endpoint,
    demo: bool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    holder: Option<Peer>,
    starting_since: Option<Instant>,
}

impl Windows {
    pub fn new(endpoint: Endpoint, demo: bool) -> Self {
        Self {
            endpoint,
            demo,
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `peer` wants to be the window: yes when no other is, else the other is raised.
    pub fn claim(&self, peer: &Peer) -> bool {
        let mut inner = self.inner();
        inner.starting_since = None;
        if let Some(holder) = &inner.holder {
            if holder.id != peer.id && holder.push(Push::Raise) {
                return false;
            }
        }
        inner.holder = Some(peer.clone());
        true
    }

    /// `peer` has gone; if it held the window, nobody does now.
    pub fn release(&self, peer: &Peer) {
        let mut inner = self.inner();
        if inner.holder.as_ref().is_some_and(|h| h.id == peer.id) {
            inner.holder = None;
        }
    }

    /// Shows the window: raises the open one, or starts a window process.
    pub fn open(&self) {
        let mut inner = self.inner();
        if let Some(holder) = &inner.holder {
            if holder.push(Push::Raise) {
                return;
            }
            inner.holder = None;
        }
        if inner
            .starting_since
            .is_some_and(|since| since.elapsed() < STARTING_GRACE)
        {
            return;
        }
        match self.start_window_process() {
            Ok(()) => inner.starting_since = Some(Instant::now()),
            Err(e) => log::error!("could not start the window: {e}"),
        }
    }

    /// Tells the window to close (the resident is quitting).
    pub fn close(&self) {
        if let Some(holder) = self.inner().holder.take() {
            holder.push(Push::Quit);
        }
    }

    fn start_window_process(&self) -> std::io::Result<()> {
        let mut command = launch_command(WINDOW, &self.endpoint, self.demo);
        // Its own process group: a signal meant for the resident's terminal is not its.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()?;
        log::info!("window process {} started", child.id());
        // Reaped when it exits, so no zombie is left for the months the resident runs.
        std::thread::Builder::new()
            .name("window-reaper".into())
            .spawn(move || {
                let _ = child.wait();
            })?;
        Ok(())
    }
}

/// The window program's name (beside the resident, as installed and as built).
pub const WINDOW: &str = "batchwatch";
