//! What the app knows besides the monitor's view: whether this is the demo, where the
//! credentials stand, and whether notifications work. Held in a `watch` so the bridge
//! re-publishes the window whenever it changes; commands update it, nothing else does.

use batchwatch_core::hooks::HooksStatus;
use batchwatch_core::view::Problem;
use serde::Serialize;

/// Where the credentials stand. Never holds the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsStatus {
    /// "checking" (at start), "stored" (in the keychain), "missing", "demo" (in memory),
    /// "environment" (`TRILLET_API_KEY`/`TRILLET_WORKSPACE_ID`), or "unavailable" (keychain
    /// problem).
    pub state: &'static str,
    pub workspace_id: Option<String>,
    /// A plain sentence for the panel.
    pub message: String,
    /// The keychain problem, when there is one.
    pub problem: Option<Problem>,
}

impl CredentialsStatus {
    pub fn stored(workspace_id: &str) -> Self {
        Self {
            state: "stored",
            workspace_id: Some(workspace_id.to_owned()),
            message: "Stored in your keychain.".into(),
            problem: None,
        }
    }

    /// Before the keychain has answered.
    pub fn checking() -> Self {
        Self {
            state: "checking",
            workspace_id: None,
            message: "Reading your keychain…".into(),
            problem: None,
        }
    }

    pub fn missing() -> Self {
        Self {
            state: "missing",
            workspace_id: None,
            message: "No credentials yet: enter your Trillet API key and workspace ID.".into(),
            problem: None,
        }
    }

    /// From `TRILLET_API_KEY` and `TRILLET_WORKSPACE_ID` (a server with no keychain).
    pub fn environment(workspace_id: &str) -> Self {
        Self {
            state: "environment",
            workspace_id: Some(workspace_id.to_owned()),
            message: "From TRILLET_API_KEY and TRILLET_WORKSPACE_ID in the tray app's environment (never stored by Batchwatch).".into(),
            problem: None,
        }
    }

    pub fn demo(workspace_id: &str) -> Self {
        Self {
            state: "demo",
            workspace_id: Some(workspace_id.to_owned()),
            message: "Demo credentials, kept in memory only (never in your keychain).".into(),
            problem: None,
        }
    }

    pub fn unavailable(code: &str, message: String) -> Self {
        Self {
            state: "unavailable",
            workspace_id: None,
            message: message.clone(),
            problem: Some(Problem {
                code: code.into(),
                message,
            }),
        }
    }
}

/// Whether desktop notifications can be shown. (Whether the user turned them off or paused
/// them is a setting, in the monitor's view.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsStatus {
    pub available: bool,
    /// Why they are unavailable.
    pub message: Option<String>,
}

/// Everything the window shows that is not the monitor's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub demo: bool,
    pub credentials: CredentialsStatus,
    pub notifications: NotificationsStatus,
    /// The autostart entry exists: Batchwatch starts (hidden) at login.
    pub start_at_login: bool,
    /// The hooks read from the hooks file, its problem and each hook's last failure.
    pub hooks: HooksStatus,
}
