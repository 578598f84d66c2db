//! The error every command returns, serialized as `{code, message}` so the window switches on
//! `code` and shows `message`, never parsing text.

use batchwatch_core::batch_id::PasteTooLarge;
use batchwatch_core::credentials::InvalidCredential;
use batchwatch_core::monitor::ActionError;
use batchwatch_core::secret_store::KeychainError;
use batchwatch_core::settings::SettingsError;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    InvalidBatchId(String),
    #[error(transparent)]
    PasteTooLarge(#[from] PasteTooLarge),
    #[error("Check your credentials: {0}.")]
    InvalidCredentials(#[from] InvalidCredential),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error("Trillet rejected these credentials: {0}. Nothing was stored.")]
    CredentialsRejected(String),
    #[error("The demo uses built-in credentials; restart without --demo to use your own.")]
    DemoMode,
    #[error("The credentials come from TRILLET_API_KEY and TRILLET_WORKSPACE_ID in the tray app's environment; change them there and restart it.")]
    CredentialsFromEnvironment,
    /// A cancel or a page of failed calls that Trillet (or the monitor) could not give.
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("Could not change the start-at-login entry: {0}")]
    Autostart(String),
    /// The retry list could not be written where the person asked.
    #[error("Could not save {path}: {reason}.")]
    SaveFailed { path: String, reason: String },
    /// A start refused before it was sent (the file, the time, the ledger), or with nothing to
    /// start: its code, and the sentence for the panel.
    #[error("{1}")]
    Launch(&'static str, String),
    /// Batchwatch already watches as many batches as it can.
    #[error("{0}")]
    OverLimit(String),
    /// A workspace named that is not stored, or a label refused.
    #[error("{0}")]
    Workspace(String),
}

impl CommandError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidBatchId(_) => "invalid_batch_id",
            Self::PasteTooLarge(_) => "paste_too_large",
            Self::InvalidCredentials(_) => "invalid_credentials",
            Self::Keychain(e) => e.code(),
            Self::CredentialsRejected(_) => "credentials_rejected",
            Self::DemoMode => "demo_mode",
            Self::CredentialsFromEnvironment => "credentials_from_environment",
            Self::Action(e) => e.code(),
            Self::Settings(_) => "invalid_settings",
            Self::Autostart(_) => "autostart_failed",
            Self::SaveFailed { .. } => "save_failed",
            Self::OverLimit(_) => "over_limit",
            Self::Workspace(_) => "unknown_workspace",
            Self::Launch(code, _) => code,
        }
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut e = s.serialize_struct("CommandError", 2)?;
        e.serialize_field("code", self.code())?;
        e.serialize_field("message", &self.to_string())?;
        e.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_to_code_and_message() {
        let cases = [
            (
                CommandError::InvalidBatchId("\"../x\" is not a batch ID".into()),
                r#"{"code":"invalid_batch_id","message":"\"../x\" is not a batch ID"}"#,
            ),
            (
                CommandError::InvalidCredentials(InvalidCredential::EmptyKey),
                r#"{"code":"invalid_credentials","message":"Check your credentials: the API key is empty."}"#,
            ),
            (
                CommandError::Keychain(KeychainError::Locked),
                r#"{"code":"keychain_locked","message":"Your keychain is locked. Unlock it (logging in to the desktop usually does) and try again."}"#,
            ),
            (
                CommandError::CredentialsRejected("Invalid API key".into()),
                r#"{"code":"credentials_rejected","message":"Trillet rejected these credentials: Invalid API key. Nothing was stored."}"#,
            ),
            (
                CommandError::DemoMode,
                r#"{"code":"demo_mode","message":"The demo uses built-in credentials; restart without --demo to use your own."}"#,
            ),
        ];
        for (error, json) in cases {
            assert_eq!(serde_json::to_string(&error).unwrap(), json);
        }
    }
}
