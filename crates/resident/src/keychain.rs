//! Reading the stored credentials into the monitor — at start, again when a keychain service
//! appears on the session bus (autostart can run before the login keyring is up), and when the
//! person clicks "Try again" — with what the window says following each read.

use std::sync::Arc;

use batchwatch_core::secret_store::on_secret_service_start;

use crate::state::AppState;
use crate::status::CredentialsStatus;

/// Reads the keychain off the async threads and hands what it holds to the monitor. Takes
/// turns with the credential requests, so what a person saved meanwhile wins.
pub async fn read(state: &AppState) {
    let Some(store) = state.secrets.clone() else {
        return;
    };
    let _turn = state.credentials_turn.lock().await;
    let loaded = tokio::task::spawn_blocking(move || store.load()).await;
    let credentials = match loaded {
        Ok(Ok(Some(c))) => {
            let workspace = c.workspace_id.clone();
            state.monitor.set_credentials(Some(c));
            CredentialsStatus::stored(workspace.as_str())
        }
        Ok(Ok(None)) => CredentialsStatus::missing(),
        Ok(Err(e)) => {
            log::error!("keychain: {e}");
            CredentialsStatus::unavailable(e.code(), e.to_string())
        }
        Err(e) => CredentialsStatus::unavailable("keychain_error", e.to_string()),
    };
    state.status.send_modify(|s| s.credentials = credentials);
}

/// From now on, a keychain service that starts while the keychain is unavailable is read at
/// once. (A keychain that was fine is not asked again: its state is already shown.)
pub fn reread_when_it_starts(state: &Arc<AppState>) {
    let runtime = tokio::runtime::Handle::current();
    let state = Arc::downgrade(state);
    let watching = on_secret_service_start(move || {
        let Some(state) = state.upgrade() else {
            return;
        };
        runtime.spawn(async move {
            let unavailable = state.status.borrow().credentials.state == "unavailable";
            if unavailable {
                log::info!("a keychain service started; reading it again");
                read(&state).await;
            }
        });
    });
    if let Err(e) = watching {
        log::warn!("cannot watch for a keychain service to start: {e}");
    }
}
