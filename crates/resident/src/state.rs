//! What every request reaches: the monitor's handle, the keychain port, the app status, the
//! window, and (in demo mode) the simulator that must live as long as the resident.

use std::sync::Arc;

use batchwatch_core::autostart::Autostart;
use batchwatch_core::monitor::MonitorHandle;
use batchwatch_core::secret_store::SecretStore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::status::AppStatus;
use crate::window::Windows;

pub struct AppState {
    pub monitor: MonitorHandle,
    /// The Trillet API base the monitor asks.
    pub api_base: batchwatch_core::ApiBase,
    /// `None` in demo mode: demo credentials never touch the keychain.
    pub secrets: Option<Arc<dyn SecretStore>>,
    pub status: watch::Sender<AppStatus>,
    /// The demo's simulator; dropping it stops it.
    pub demo: Option<trillet_sim::RunningSim>,
    /// Saving and forgetting credentials take turns, so the keychain and the monitor never
    /// end up holding different keys after two quick clicks.
    pub credentials_turn: tokio::sync::Mutex<()>,
    /// The "start at login" entry; `None` in demo mode (a login must not start the demo) or
    /// where no config directory is known.
    pub autostart: Option<Autostart>,
    /// The window views, serialized once for every window client.
    pub views: watch::Sender<Arc<str>>,
    pub windows: Windows,
    /// Cancelled to quit (the tray's "Quit", or a client's).
    pub quit: CancellationToken,
    /// The record of recent starts and the retry lists shown before a start.
    pub launching: crate::launching::Launching,
}

impl AppState {
    pub fn is_demo(&self) -> bool {
        self.demo.is_some()
    }
}
