//! The window's link to the resident — replaced when the person starts a resident again
//! after one stopped (a crash, a kill).

use std::os::unix::process::CommandExt;
use std::sync::Arc;

use batchwatch_core::control::start::{connect_or_start, resident_command};
use batchwatch_core::control::{Client, ClientKind, Endpoint, Request};

/// Becomes the resident (the autostart entry's `--hidden`): this process is replaced, so no
/// GTK or WebKit library stays loaded. Returns only if that failed.
pub fn become_resident(endpoint: &Endpoint, demo: bool) -> std::io::Error {
    resident_command(endpoint, demo).exec()
}

/// Reaches the resident, starting one if none runs — without the environment variables this
/// window set for itself alone (`set_here`, from [`crate::window::before_gtk_starts`]).
pub async fn connect(endpoint: &Endpoint, demo: bool, set_here: &[&str]) -> Result<Client, String> {
    connect_or_start(endpoint, ClientKind::Window, demo, set_here).await
}

/// Asks to be the one window: `true` when granted, `false` when another is open (the resident
/// raised it, and this process should go).
pub async fn claim_window(client: &Client) -> Result<bool, String> {
    let claim = client
        .call(&Request::ClaimWindow {})
        .await
        .map_err(|e| e.to_string())?;
    Ok(claim["granted"] == serde_json::Value::Bool(true))
}

pub struct Link {
    pub endpoint: Endpoint,
    pub demo: bool,
    /// The environment variables this window set for itself, kept from a resident it starts.
    set_here: Vec<&'static str>,
    client: tokio::sync::RwLock<Arc<Client>>,
}

impl Link {
    pub fn new(
        endpoint: Endpoint,
        demo: bool,
        set_here: Vec<&'static str>,
        client: Client,
    ) -> Self {
        Self {
            endpoint,
            demo,
            set_here,
            client: tokio::sync::RwLock::new(Arc::new(client)),
        }
    }

    pub async fn client(&self) -> Arc<Client> {
        self.client.read().await.clone()
    }

    /// Starts a resident (or finds the one another start made) and links to it.
    pub async fn restart(&self) -> Result<Arc<Client>, String> {
        let client = Arc::new(connect(&self.endpoint, self.demo, &self.set_here).await?);
        *self.client.write().await = client.clone();
        Ok(client)
    }
}
