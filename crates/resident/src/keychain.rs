//! Reading the stored credentials into the monitor — at start, again when a keychain service
//! appears on the session bus (autostart can run before the login keyring is up), and when the
//! person clicks "Try again" — with what the window says following each read.

use std::sync::Arc;

use batchwatch_core::secret_store::{KeychainError, SecretStore, SECRET_SERVICE_NAME};
use batchwatch_core::workspace::Workspace;
use futures_util::StreamExt;

use crate::state::AppState;
use crate::status::CredentialsStatus;

/// Reads the keychain off the async threads and hands every workspace it holds to the monitor
/// (the single item of a version before workspaces becomes the first, in the store). Takes
/// turns with the credential requests, so what a person saved meanwhile wins.
pub async fn read(state: &AppState) {
    let Some(store) = state.secrets.clone() else {
        return;
    };
    let _turn = state.credentials_turn.lock().await;
    let credentials = match stored_now(&store).await {
        Ok((workspaces, status)) => {
            state.monitor.set_workspaces(workspaces);
            status
        }
        Err(e) => {
            log::error!("keychain: {e}");
            CredentialsStatus::unavailable(e.code(), e.to_string())
        }
    };
    state.status.send_modify(|s| s.credentials = credentials);
}

/// The workspaces stored now (read off the async threads: the Secret Service may prompt), and
/// the panel's words for them — naming any item that could not be read.
pub(crate) async fn stored_now(
    store: &Arc<dyn SecretStore>,
) -> Result<(Vec<Workspace>, CredentialsStatus), KeychainError> {
    let store = store.clone();
    let (workspaces, unreadable) = tokio::task::spawn_blocking(move || store.contents())
        .await
        .map_err(|e| KeychainError::Other(e.to_string()))??;
    let status = CredentialsStatus::stored(&workspaces).with_unreadable(&unreadable);
    Ok((workspaces, status))
}

/// From now on, a keychain service that starts while the keychain is unavailable is read at
/// once. (A keychain that was fine is not asked again: its state is already shown.) Watched on
/// the tray's own bus connection: no thread and no connection of its own.
pub fn reread_when_it_starts(state: &Arc<AppState>, bus: zbus::Connection) {
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let watching = async {
            let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
            let mut owners = dbus
                .receive_name_owner_changed_with_args(&[(0, SECRET_SERVICE_NAME)])
                .await?;
            while let Some(change) = owners.next().await {
                if !change.args().is_ok_and(|a| a.new_owner().is_some()) {
                    continue;
                }
                let Some(state) = state.upgrade() else {
                    break;
                };
                if state.status.borrow().credentials.state == "unavailable" {
                    log::info!("a keychain service started; reading it again");
                    read(&state).await;
                }
            }
            zbus::Result::Ok(())
        };
        if let Err(e) = watching.await {
            log::warn!("cannot watch for a keychain service to start: {e}");
        }
    });
}
