//! The one place Batchwatch touches the OS keychain.
//!
//! [`SecretStore`] is the port the app and the terminal companion use; [`KeyringStore`] is its
//! implementation on the Secret Service (GNOME Keyring, KWallet), through `keyring-core` and its
//! Secret Service store. Each workspace is one item (its key, ID and label together, so they
//! are saved and removed together), found by the service attribute. The single item stored by
//! a version before workspaces (account `trillet`, also as keyring 3 wrote it) becomes the first
//! workspace the first time the items are read, with nothing for the person to do. Every
//! failure is a distinct [`KeychainError`] with a sentence saying what to do: there is no
//! plaintext fallback, ever.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::credentials::{ApiKey, Credentials, WorkspaceId};
use crate::workspace::{Workspace, MAX_WORKSPACES};

/// The keychain "service" of Batchwatch's items: the app identifier.
pub const KEYCHAIN_SERVICE: &str = "dev.batchwatch.app";
/// The keychain "account" (the `username` attribute on Linux) of the item stored before
/// workspaces; each workspace's item is `trillet/<workspace ID>`.
pub const KEYCHAIN_ACCOUNT: &str = "trillet";

/// Where credentials are kept between runs: one entry per workspace.
pub trait SecretStore: Send + Sync {
    /// Every stored workspace that can be read, the first stored first; empty when none is.
    /// An entry that cannot be read is left out (see [`Self::contents`]), so it never hides
    /// the others nor blocks saving, renaming or removing.
    fn workspaces(&self) -> Result<Vec<Workspace>, KeychainError>;
    /// Adds the workspace, or replaces the one with its ID (also one that could not be read);
    /// the others are left alone.
    fn save(&self, workspace: &Workspace) -> Result<(), KeychainError>;
    /// Removes one workspace; succeeds when it was not stored.
    fn delete(&self, workspace: &WorkspaceId) -> Result<(), KeychainError>;
    /// Removes every entry of Batchwatch's, read or not ("Forget all").
    fn delete_all(&self) -> Result<(), KeychainError>;
    /// [`Self::workspaces`], and — read in the same pass — the entries that cannot be read as a
    /// workspace, by what names them (the workspace ID, or `trillet` for the one an earlier
    /// version stored): to say so, never to guess.
    fn contents(&self) -> Result<(Vec<Workspace>, Vec<String>), KeychainError> {
        Ok((self.workspaces()?, Vec::new()))
    }
}

/// Why the keychain could not be used, worded for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    #[error("No desktop session bus (D-Bus) is running, so the keychain cannot be reached. Run Batchwatch inside your desktop session, or use TRILLET_API_KEY and TRILLET_WORKSPACE_ID on a headless machine. ({0})")]
    NoSessionBus(String),
    #[error("No keychain service is running (the Secret Service, provided by GNOME Keyring or KWallet). Install or start one, then try again; on a headless machine use TRILLET_API_KEY and TRILLET_WORKSPACE_ID instead. Batchwatch never stores your key in a plain file.")]
    NoSecretService,
    #[error("Your keychain is locked. Unlock it (logging in to the desktop usually does) and try again.")]
    Locked,
    #[error("The keychain asked for permission and the request was dismissed. Try again and allow access.")]
    PromptDismissed,
    #[error(
        "The credentials stored in the keychain are unreadable. Forget them and enter them again."
    )]
    Corrupt,
    #[error("The keychain failed: {0}")]
    Other(String),
}

impl KeychainError {
    /// A stable machine-readable name, for the IPC boundary.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSessionBus(_) => "keychain_no_session_bus",
            Self::NoSecretService => "keychain_unavailable",
            Self::Locked => "keychain_locked",
            Self::PromptDismissed => "keychain_prompt_dismissed",
            Self::Corrupt => "keychain_corrupt",
            Self::Other(_) => "keychain_error",
        }
    }
}

impl KeychainError {
    /// Whether a keychain that starts (or unlocks) later could answer: worth asking again then.
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            Self::NoSecretService | Self::Locked | Self::PromptDismissed | Self::Other(_)
        )
    }
}

/// The bus name a Secret Service (GNOME Keyring, KWallet) owns while it runs.
pub const SECRET_SERVICE_NAME: &str = "org.freedesktop.secrets";

/// The stored form: one secret holding a workspace's values, so they are saved and removed
/// together. (The item from before workspaces has the first two only.)
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredItem {
    api_key: String,
    workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default)]
    added_at_ms: u64,
}

impl Zeroize for StoredItem {
    fn zeroize(&mut self) {
        self.api_key.zeroize();
        self.workspace_id.zeroize();
    }
}

impl StoredItem {
    fn of(workspace: &Workspace) -> Self {
        Self {
            api_key: workspace.credentials.api_key.expose_for_header().to_owned(),
            workspace_id: workspace.id().as_str().to_owned(),
            label: Some(workspace.label.clone()),
            added_at_ms: workspace.added_at_ms,
        }
    }

    fn read(secret: &str) -> Result<Workspace, KeychainError> {
        let item: StoredItem = serde_json::from_str(secret).map_err(|_| KeychainError::Corrupt)?;
        let item = Zeroizing::new(item);
        let credentials = Credentials {
            api_key: ApiKey::new(&item.api_key).map_err(|_| KeychainError::Corrupt)?,
            workspace_id: WorkspaceId::new(&item.workspace_id)
                .map_err(|_| KeychainError::Corrupt)?,
        };
        // A label that no longer passes (edited by hand) falls back to the ID, keeping the key.
        Workspace::new(credentials.clone(), item.label.as_deref(), item.added_at_ms)
            .or_else(|_| Workspace::new(credentials, None, item.added_at_ms))
            .map_err(|_| KeychainError::Corrupt)
    }
}

/// [`SecretStore`] on the Secret Service, through `keyring-core`.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    account: String,
}

impl Default for KeyringStore {
    fn default() -> Self {
        Self::new(KEYCHAIN_SERVICE, KEYCHAIN_ACCOUNT)
    }
}

/// Hidden: lets tests use a keychain item of their own instead of a real user's.
pub const KEYCHAIN_SERVICE_ENV: &str = "BATCHWATCH_KEYCHAIN_SERVICE";

impl KeyringStore {
    /// The item the tray app and the terminal companion share, unless the environment names
    /// another service ([`KEYCHAIN_SERVICE_ENV`], for tests; blank means unset).
    pub fn from_env() -> Self {
        match std::env::var(KEYCHAIN_SERVICE_ENV) {
            Ok(service) if !service.trim().is_empty() => {
                Self::new(service.trim(), KEYCHAIN_ACCOUNT)
            }
            _ => Self::default(),
        }
    }
}

impl KeyringStore {
    /// A store under another service name — tests use one of their own.
    pub fn new(service: &str, account: &str) -> Self {
        Self {
            service: service.to_owned(),
            account: account.to_owned(),
        }
    }

    /// The item stored before workspaces.
    fn legacy_account(&self) -> &str {
        &self.account
    }

    /// The item of one workspace.
    fn account_of(&self, workspace: &WorkspaceId) -> String {
        format!("{}/{workspace}", self.account)
    }

    /// The store, on a connection of its own: a keychain that started (or restarted) since the
    /// last question is reached, never a connection left over from before.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn store(
        &self,
    ) -> Result<std::sync::Arc<dbus_secret_service_keyring_store::Store>, KeychainError> {
        dbus_secret_service_keyring_store::Store::new().map_err(classify)
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn entry(&self, account: &str) -> Result<keyring_core::Entry, KeychainError> {
        use keyring_core::api::CredentialStoreApi;
        self.store()?
            .build(&self.service, account, None)
            .map_err(classify)
    }

    /// Every item under the service, with its account.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn items(&self) -> Result<Vec<(String, keyring_core::Entry)>, KeychainError> {
        use keyring_core::api::CredentialStoreApi;
        let spec = HashMap::from([("service", self.service.as_str())]);
        let entries = self.store()?.search(&spec).map_err(classify)?;
        let mut items = Vec::new();
        for entry in entries {
            let attributes = entry.get_attributes().map_err(classify)?;
            if let Some(account) = attributes.get("username") {
                items.push((account.clone(), entry));
            }
        }
        Ok(items)
    }

    /// Batchwatch keeps credentials in the Secret Service only (its tray and socket are Linux's).
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn entry(&self, _account: &str) -> Result<keyring_core::Entry, KeychainError> {
        Err(KeychainError::NoSecretService)
    }

    #[cfg(not(all(unix, not(target_os = "macos"))))]
    fn items(&self) -> Result<Vec<(String, keyring_core::Entry)>, KeychainError> {
        Err(KeychainError::NoSecretService)
    }

    fn write(&self, workspace: &Workspace) -> Result<(), KeychainError> {
        let item = Zeroizing::new(StoredItem::of(workspace));
        let secret =
            Zeroizing::new(serde_json::to_string(&*item).expect("strings always serialize"));
        self.entry(&self.account_of(workspace.id()))?
            .set_password(&secret)
            .map_err(classify)
    }
}

/// A stored secret, wiped when dropped; `Corrupt` when it is not text.
fn secret_of(entry: &keyring_core::Entry) -> Result<Option<Zeroizing<String>>, KeychainError> {
    match entry.get_password() {
        Ok(secret) => Ok(Some(Zeroizing::new(secret))),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(keyring_core::Error::BadEncoding(mut bytes)) => {
            bytes.zeroize();
            Err(KeychainError::Corrupt)
        }
        Err(e) => Err(classify(e)),
    }
}

impl KeyringStore {
    /// Every Batchwatch item read: the workspaces (the item from before workspaces moved into
    /// the first), and what names each item that could not be read.
    fn scan(&self) -> Result<(Vec<Workspace>, Vec<String>), KeychainError> {
        let prefix = format!("{}/", self.account);
        let mut workspaces: Vec<Workspace> = Vec::new();
        let mut unreadable = Vec::new();
        let mut legacy = None;
        for (account, entry) in self.items()? {
            let secret = match secret_of(&entry) {
                Ok(Some(secret)) => Some(secret),
                Ok(None) => continue,
                // Not text at all: as unreadable as text that is not ours.
                Err(KeychainError::Corrupt) => None,
                Err(e) => return Err(e),
            };
            let name = if account == self.legacy_account() {
                account.clone()
            } else if let Some(id) = account.strip_prefix(&prefix) {
                id.to_owned()
            } else {
                continue; // not one of ours
            };
            let read = secret
                .ok_or(KeychainError::Corrupt)
                .and_then(|s| StoredItem::read(&s));
            match (read, account == self.legacy_account()) {
                (Ok(item), true) => legacy = Some(item),
                (Ok(item), false) => workspaces.push(item),
                (Err(_), _) => unreadable.push(name),
            }
        }
        // The item from before workspaces becomes the first workspace: written as one (unless
        // an interrupted migration already did), then removed. A crash between leaves both,
        // and the next read finishes the move; a removal that fails is tried again then.
        if let Some(mut first) = legacy {
            if !workspaces.iter().any(|w| w.id() == first.id()) {
                first.added_at_ms = 0;
                self.write(&first)?;
                workspaces.push(first);
            }
            if let Err(e) = self.remove(self.legacy_account()) {
                log::warn!("keychain: the item from before workspaces stays for now: {e}");
            }
        }
        workspaces.sort_by(|a, b| {
            (a.added_at_ms, a.id().as_str()).cmp(&(b.added_at_ms, b.id().as_str()))
        });
        workspaces.truncate(MAX_WORKSPACES);
        unreadable.sort();
        if !unreadable.is_empty() {
            log::warn!(
                "keychain: unreadable item(s) left out: {}",
                unreadable.join(", ")
            );
        }
        Ok((workspaces, unreadable))
    }

    /// Removes one item; succeeds when there is none.
    fn remove(&self, account: &str) -> Result<(), KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

impl SecretStore for KeyringStore {
    fn workspaces(&self) -> Result<Vec<Workspace>, KeychainError> {
        Ok(self.scan()?.0)
    }

    fn contents(&self) -> Result<(Vec<Workspace>, Vec<String>), KeychainError> {
        self.scan()
    }

    fn delete_all(&self) -> Result<(), KeychainError> {
        let prefix = format!("{}/", self.account);
        for (account, _) in self.items()? {
            if account == self.legacy_account() || account.starts_with(&prefix) {
                self.remove(&account)?;
            }
        }
        Ok(())
    }

    fn save(&self, workspace: &Workspace) -> Result<(), KeychainError> {
        self.write(workspace)
    }

    fn delete(&self, workspace: &WorkspaceId) -> Result<(), KeychainError> {
        self.remove(&self.account_of(workspace))
    }
}

/// Sorts the store's errors into the cases a person can act on. The Secret Service reports them
/// only as D-Bus error names and texts, so this reads those.
fn classify(e: keyring_core::Error) -> KeychainError {
    let text = match &e {
        keyring_core::Error::PlatformFailure(inner)
        | keyring_core::Error::NoStorageAccess(inner) => error_chain_text(inner.as_ref()),
        other => other.to_string(),
    };
    classify_text(&text, matches!(e, keyring_core::Error::NoStorageAccess(_)))
}

fn classify_text(text: &str, no_storage_access: bool) -> KeychainError {
    let lower = text.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("serviceunknown")
        || has("org.freedesktop.secrets")
        || has("not provided by any .service")
    {
        KeychainError::NoSecretService
    } else if has("dbus_session_bus_address")
        || has("autolaunch")
        || has("dbus-launch")
        || has("failed to connect to socket")
        || has("no such file or directory")
        || has("connection refused")
    {
        KeychainError::NoSessionBus(first_line(text))
    } else if has("dismissed") {
        KeychainError::PromptDismissed
    } else if has("locked") || no_storage_access {
        KeychainError::Locked
    } else {
        KeychainError::Other(first_line(text))
    }
}

fn error_chain_text(e: &(dyn std::error::Error + Send + Sync)) -> String {
    // keyring's messages often repeat their source's text; keep each cause once.
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_texts_map_to_actionable_errors() {
        let cases = [
            ("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files", false, "keychain_unavailable"),
            ("Unable to autolaunch a dbus-daemon without a $DISPLAY for X11", false, "keychain_no_session_bus"),
            ("Failed to connect to socket /run/user/0/bus: No such file or directory", false, "keychain_no_session_bus"),
            // The store's own words (dbus-secret-service).
            ("Secret Service: unlock prompt was dismissed", true, "keychain_prompt_dismissed"),
            ("Secret Service: object locked", true, "keychain_locked"),
            ("Prompt was dismissed", true, "keychain_prompt_dismissed"),
            ("Cannot get secret of a locked object", false, "keychain_locked"),
            ("something else entirely", true, "keychain_locked"),
            ("something else entirely", false, "keychain_error"),
        ];
        for (text, no_access, code) in cases {
            assert_eq!(classify_text(text, no_access).code(), code, "{text}");
        }
    }
}
