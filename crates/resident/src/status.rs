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
    /// The first workspace's ID (the one the panel's form shows).
    pub workspace_id: Option<String>,
    /// Every stored workspace, the first stored first: its ID and label, never its key.
    pub workspaces: Vec<WorkspaceLabel>,
    /// A plain sentence for the panel.
    pub message: String,
    /// The keychain problem, when there is one.
    pub problem: Option<Problem>,
}

/// A workspace as the window and the terminal name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceLabel {
    pub id: String,
    pub label: String,
}

impl CredentialsStatus {
    /// The workspaces stored in the keychain (none: [`Self::missing`]).
    pub fn stored(workspaces: &[batchwatch_core::workspace::Workspace]) -> Self {
        if workspaces.is_empty() {
            return Self::missing();
        }
        let message = match workspaces.len() {
            1 => "Stored in your keychain.".to_owned(),
            n => format!("{n} workspaces, each stored in your keychain."),
        };
        Self {
            state: "stored",
            workspace_id: workspaces.first().map(|w| w.id().to_string()),
            workspaces: workspaces
                .iter()
                .map(|w| WorkspaceLabel {
                    id: w.id().to_string(),
                    label: w.label.clone(),
                })
                .collect(),
            message,
            problem: None,
        }
    }

    /// Says which keychain items could not be read (and how to be rid of them), if any.
    pub fn with_unreadable(mut self, unreadable: &[String]) -> Self {
        if !unreadable.is_empty() {
            let message = format!(
                "Unreadable in your keychain, left out: {}. Save that workspace again, or Forget all.",
                unreadable.join(", ")
            );
            self.message = if self.state == "stored" {
                format!("{} {message}", self.message)
            } else {
                message.clone()
            };
            self.problem = Some(Problem {
                code: "keychain_unreadable_item".into(),
                message,
            });
        }
        self
    }

    /// One workspace, labelled with its ID, in a state other than stored.
    fn one(state: &'static str, workspace_id: &str, message: &str) -> Self {
        Self {
            state,
            workspace_id: Some(workspace_id.to_owned()),
            workspaces: vec![WorkspaceLabel {
                id: workspace_id.to_owned(),
                label: workspace_id.to_owned(),
            }],
            message: message.to_owned(),
            problem: None,
        }
    }

    /// Before the keychain has answered.
    pub fn checking() -> Self {
        Self {
            state: "checking",
            workspace_id: None,
            workspaces: Vec::new(),
            message: "Reading your keychain…".into(),
            problem: None,
        }
    }

    pub fn missing() -> Self {
        Self {
            state: "missing",
            workspace_id: None,
            workspaces: Vec::new(),
            message: "No credentials yet: enter your Trillet API key and workspace ID.".into(),
            problem: None,
        }
    }

    /// From `TRILLET_API_KEY` and `TRILLET_WORKSPACE_ID` (a server with no keychain).
    pub fn environment(workspace_id: &str) -> Self {
        Self::one(
            "environment",
            workspace_id,
            "From TRILLET_API_KEY and TRILLET_WORKSPACE_ID in the tray app's environment (never stored by Batchwatch).",
        )
    }

    pub fn demo(workspace_id: &str) -> Self {
        Self::one(
            "demo",
            workspace_id,
            "Demo credentials, kept in memory only (never in your keychain).",
        )
    }

    pub fn unavailable(code: &str, message: String) -> Self {
        Self {
            state: "unavailable",
            workspace_id: None,
            workspaces: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::workspace::Workspace;
    use batchwatch_core::Credentials;

    /// An item the keychain could not read is said in the panel, beside what was read.
    #[test]
    fn unreadable_items_are_said_beside_the_workspaces_read() {
        let one = Workspace::new(Credentials::new("sk_1", "ws_1").unwrap(), None, 0).unwrap();
        let status = CredentialsStatus::stored(&[one]).with_unreadable(&["ws_x".to_owned()]);
        assert_eq!(status.state, "stored");
        assert_eq!(
            status.message,
            "Stored in your keychain. Unreadable in your keychain, left out: ws_x. Save that workspace again, or Forget all."
        );
        assert_eq!(status.problem.unwrap().code, "keychain_unreadable_item");
        let none = CredentialsStatus::stored(&[]).with_unreadable(&["trillet".to_owned()]);
        assert_eq!(none.state, "missing");
        assert!(none
            .message
            .starts_with("Unreadable in your keychain, left out: trillet."));
        assert_eq!(
            CredentialsStatus::stored(&[]).with_unreadable(&[]).problem,
            None
        );
    }
}
