//! Trillet credentials: the API key in a redacting newtype, and the workspace ID beside it.
//!
//! [`ApiKey`] has no `Serialize`, and its `Debug`/`Display` print `<redacted>`, so a key cannot
//! reach a log line, a file or the webview by accident. The one way out is
//! [`ApiKey::expose_for_header`], used only where the `x-api-key` header is built, and by the
//! keychain adapter that stores it.
//!
//! In memory the key is held once, behind an `Arc` (cloning credentials for a request copies a
//! pointer, not the key), in a buffer wiped when the last holder drops it, beside its header
//! value built once (whose bytes `http` does not wipe); and [`protect_process`] keeps it out
//! of core dumps.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;
use zeroize::Zeroizing;

use serde::{Deserialize, Serialize};

/// A Trillet API key. Never printed, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: Arc<Zeroizing<String>>,
    /// The `x-api-key` header, built once and marked sensitive: cloning it for a request
    /// shares its bytes rather than copying the key again.
    header: HeaderValue,
}

/// Why a typed-in credential was refused before any request was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCredential {
    #[error("the API key is empty")]
    EmptyKey,
    #[error("the API key contains spaces or characters other than printable ASCII; paste it again without them")]
    KeyHasInvalidCharacters,
    #[error("the workspace ID is empty")]
    EmptyWorkspace,
    #[error("the workspace ID contains spaces or characters other than printable ASCII")]
    WorkspaceHasInvalidCharacters,
}

impl ApiKey {
    /// Accepts a key as typed or pasted; surrounding whitespace is trimmed.
    pub fn new(key: &str) -> Result<Self, InvalidCredential> {
        let key = key.trim();
        if key.is_empty() {
            return Err(InvalidCredential::EmptyKey);
        }
        // Header values must be visible ASCII; checking here keeps the header builder infallible.
        if !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(InvalidCredential::KeyHasInvalidCharacters);
        }
        let mut header = HeaderValue::from_str(key).expect("visible ASCII is a valid header value");
        // Keeps the key out of reqwest's and hyper's debug output.
        header.set_sensitive(true);
        Ok(Self {
            secret: Arc::new(Zeroizing::new(key.to_owned())),
            header,
        })
    }

    /// The `x-api-key` header value (a shared handle on the bytes built once).
    pub(crate) fn header(&self) -> HeaderValue {
        self.header.clone()
    }

    /// The key itself, for the keychain and for blanking echoes of it — nowhere else.
    pub fn expose_for_header(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Marks this process as not dumpable (Linux `PR_SET_DUMPABLE` 0): a crash writes no core
/// file holding the key, and other processes of the same user cannot attach to read it.
/// Called first thing by the tray app and the terminal companion.
pub fn protect_process() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            // Not fatal: the key still never reaches a file or a log.
            eprintln!("batchwatch: could not turn off core dumps ({e})");
        }
    }
}

/// A Trillet workspace ID. Not a secret, but kept with the key. Shared, not copied: every
/// tracked batch and every snapshot of it names its workspace, and with 2,000 batches a copy
/// each was 600 bytes a batch (the allocations, not the few letters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceId(Arc<str>);

impl TryFrom<String> for WorkspaceId {
    type Error = InvalidCredential;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(&id)
    }
}

impl From<WorkspaceId> for String {
    fn from(id: WorkspaceId) -> Self {
        id.0.to_string()
    }
}

impl WorkspaceId {
    pub fn new(id: &str) -> Result<Self, InvalidCredential> {
        let id = id.trim();
        if id.is_empty() {
            return Err(InvalidCredential::EmptyWorkspace);
        }
        if !id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(InvalidCredential::WorkspaceHasInvalidCharacters);
        }
        Ok(Self(Arc::from(id)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every request needs: the key and the workspace it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: ApiKey,
    pub workspace_id: WorkspaceId,
}

/// The environment variables a headless machine gives its credentials in.
pub const API_KEY_ENV: &str = "TRILLET_API_KEY";
pub const WORKSPACE_ENV: &str = "TRILLET_WORKSPACE_ID";

/// Credentials from `TRILLET_API_KEY` and `TRILLET_WORKSPACE_ID` read through `lookup` (a
/// headless server's way, for the tray app and the terminal alike): none when neither is set;
/// empty counts as unset, so `VAR=` disables one. A message names the variable, never what it
/// holds.
pub fn from_environment(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<Credentials>, String> {
    let read = |name: &str| -> Result<Option<String>, String> {
        match lookup(name) {
            None => Ok(None),
            Some(raw) => match raw.into_string() {
                Ok(text) if text.trim().is_empty() => Ok(None),
                Ok(text) => Ok(Some(text)),
                Err(_) => Err(format!("{name} is not valid text")),
            },
        }
    };
    match (read(API_KEY_ENV)?, read(WORKSPACE_ENV)?) {
        (None, None) => Ok(None),
        (Some(key), Some(workspace)) => {
            // Each part is checked on its own so the message names the right variable.
            let api_key = ApiKey::new(&key)
                .map_err(|e| format!("{API_KEY_ENV} is unusable: {e}"))?;
            let workspace_id = WorkspaceId::new(&workspace)
                .map_err(|e| format!("{WORKSPACE_ENV} is unusable: {e}"))?;
            Ok(Some(Credentials {
                api_key,
                workspace_id,
            }))
        }
        (Some(_), None) => Err(format!(
            "{API_KEY_ENV} is set but {WORKSPACE_ENV} is not; set both, or neither to use the keychain"
        )),
        (None, Some(_)) => Err(format!(
            "{WORKSPACE_ENV} is set but {API_KEY_ENV} is not; set both, or neither to use the keychain"
        )),
    }
}

impl Credentials {
    /// Empty credentials for a client that is always given real ones per request.
    pub(crate) fn placeholder() -> Self {
        Self {
            api_key: ApiKey {
                secret: Arc::default(),
                header: HeaderValue::from_static(""),
            },
            workspace_id: WorkspaceId(Arc::from("")),
        }
    }

    pub fn new(api_key: &str, workspace_id: &str) -> Result<Self, InvalidCredential> {
        Ok(Self {
            api_key: ApiKey::new(api_key)?,
            workspace_id: WorkspaceId::new(workspace_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_prints() {
        let creds = Credentials::new("  sk_live_supersecret ", "ws_1").unwrap();
        assert_eq!(creds.api_key.expose_for_header(), "sk_live_supersecret");
        let debug = format!("{creds:?} {} {:#?}", creds.api_key, creds);
        assert!(!debug.contains("supersecret"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert!(debug.contains("ws_1"));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_protected_process_is_not_dumpable() {
        use rustix::process::{dumpable_behavior, DumpableBehavior};
        protect_process();
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }

    #[test]
    fn cloned_credentials_share_one_copy_of_the_key() {
        let creds = Credentials::new("sk_live_once", "ws_1").unwrap();
        let copy = creds.clone();
        assert!(std::ptr::eq(
            creds.api_key.expose_for_header(),
            copy.api_key.expose_for_header()
        ));
    }

    #[test]
    fn bad_credentials_are_refused_with_reasons() {
        assert_eq!(ApiKey::new("  ").unwrap_err(), InvalidCredential::EmptyKey);
        assert_eq!(
            ApiKey::new("sk a").unwrap_err(),
            InvalidCredential::KeyHasInvalidCharacters
        );
        assert_eq!(
            ApiKey::new("sk_ä").unwrap_err(),
            InvalidCredential::KeyHasInvalidCharacters
        );
        assert_eq!(
            WorkspaceId::new("").unwrap_err(),
            InvalidCredential::EmptyWorkspace
        );
        assert_eq!(
            WorkspaceId::new("w\ts").unwrap_err(),
            InvalidCredential::WorkspaceHasInvalidCharacters
        );
    }
}
