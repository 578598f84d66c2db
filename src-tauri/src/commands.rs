//! The commands the window calls. Thin: each validates its input, talks to the monitor or the
//! keychain port, and answers. None returns the API key — there is no command that could.

use std::sync::Arc;

use batchwatch_core::autostart::current_program;
use batchwatch_core::batch_id::RejectedToken;
use batchwatch_core::failures::FailedCallsView;
use batchwatch_core::monitor::ActionError;
use batchwatch_core::settings::SettingsForm;
use batchwatch_core::{parse_pasted, ApiError, BatchId, Credentials};
use serde::Serialize;
use tauri::{Manager, State};

use crate::error::CommandError;
use crate::payload::{tray_label_view, window_payload};
use crate::state::AppState;
use crate::status::CredentialsStatus;

/// What `track` did with the pasted text.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    pub added: Vec<String>,
    /// Already tracked; ignored.
    pub already: Vec<String>,
    pub rejected: Vec<RejectedToken>,
    /// Valid IDs not added because the monitor tracks its most already.
    pub over_limit: Vec<String>,
    /// The sentence for `over_limit`, when there is one.
    pub over_limit_message: Option<String>,
}

/// The whole window payload, for a window that has just opened.
#[tauri::command]
pub fn get_state(state: State<'_, AppState>) -> serde_json::Value {
    let view = state.monitor.snapshot();
    let status = state.status.borrow().clone();
    let tray = tray_label_view(&view, &status);
    serde_json::to_value(window_payload(&view, &status, tray)).unwrap_or_default()
}

/// Starts watching every batch ID (or link) in `text`; the monitor says which were added.
#[tauri::command]
pub async fn track(state: State<'_, AppState>, text: String) -> Result<TrackOutcome, CommandError> {
    let pasted = parse_pasted(&text)?;
    let tracking = if pasted.accepted.is_empty() {
        Default::default()
    } else {
        state.monitor.track(pasted.accepted).answer().await
    };
    if !tracking.added.is_empty() {
        log::info!("tracking {} new batch(es)", tracking.added.len());
    }
    let names = |ids: &[BatchId]| ids.iter().map(ToString::to_string).collect();
    Ok(TrackOutcome {
        added: names(&tracking.added),
        already: names(&tracking.already),
        rejected: pasted.rejected,
        over_limit: names(&tracking.over_limit),
        over_limit_message: tracking.over_limit_sentence(),
    })
}

fn batch_id(id: &str) -> Result<BatchId, CommandError> {
    BatchId::parse(id)
        .map_err(|e| CommandError::InvalidBatchId(format!("{id:?} is not a batch ID: it {e}")))
}

#[tauri::command]
pub async fn untrack(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    state.monitor.untrack(batch_id(&id)?);
    Ok(())
}

/// Polls one batch, or every unfinished one, as soon as the request budget allows.
#[tauri::command]
pub fn refresh(state: State<'_, AppState>, id: Option<String>) -> Result<(), CommandError> {
    let id = id.as_deref().map(batch_id).transpose()?;
    state.monitor.refresh(id);
    Ok(())
}

/// Reads the keychain again ("Try again" when it was locked or not running).
#[tauri::command]
pub async fn retry_keychain<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
) -> Result<CredentialsStatus, CommandError> {
    if app.state::<AppState>().is_demo() {
        return Err(CommandError::DemoMode);
    }
    crate::keychain::read(&app).await;
    Ok(app.state::<AppState>().status.borrow().credentials.clone())
}

/// Checks the credentials with Trillet, stores them in the keychain and starts polling with
/// them.
#[tauri::command]
pub async fn save_credentials(
    state: State<'_, AppState>,
    api_key: String,
    workspace_id: String,
) -> Result<CredentialsStatus, CommandError> {
    if state.is_demo() {
        return Err(CommandError::DemoMode);
    }
    let _turn = state.credentials_turn.lock().await;
    let credentials = Credentials::new(&api_key, &workspace_id)?;
    drop(api_key);

    // A 401/403 means these are wrong: say so and keep what was stored before. Any other
    // answer (including "offline") does not disprove them. Asked by the monitor, within the
    // key's budget.
    match state.monitor.check_credentials(credentials.clone()).await {
        Err(ActionError::Api(ApiError::Unauthorized { message, .. })) => {
            return Err(CommandError::CredentialsRejected(message));
        }
        Err(e) => log::warn!("the new credentials could not be checked: {e}"),
        Ok(()) => {}
    }

    let secrets = state.secrets.clone().ok_or(CommandError::DemoMode)?;
    let to_store = credentials.clone();
    tauri::async_runtime::spawn_blocking(move || secrets.save(&to_store))
        .await
        .map_err(|e| batchwatch_core::secret_store::KeychainError::Other(e.to_string()))??;

    let status = CredentialsStatus::stored(credentials.workspace_id.as_str());
    log::info!(
        "credentials stored for workspace {}",
        credentials.workspace_id
    );
    state.monitor.set_credentials(Some(credentials));
    state.status.send_modify(|s| s.credentials = status.clone());
    Ok(status)
}

/// Removes the credentials from the keychain and stops polling.
#[tauri::command]
pub async fn forget_credentials(
    state: State<'_, AppState>,
) -> Result<CredentialsStatus, CommandError> {
    let secrets: Arc<_> = state.secrets.clone().ok_or(CommandError::DemoMode)?;
    let _turn = state.credentials_turn.lock().await;
    tauri::async_runtime::spawn_blocking(move || secrets.delete())
        .await
        .map_err(|e| batchwatch_core::secret_store::KeychainError::Other(e.to_string()))??;
    state.monitor.set_credentials(None);
    let status = CredentialsStatus::missing();
    state.status.send_modify(|s| s.credentials = status.clone());
    log::info!("credentials removed from the keychain");
    Ok(status)
}

/// Pauses desktop notifications for an hour (or resumes them); the tray's check item says the
/// same. Kept in the settings, so a restart inside the hour stays quiet.
#[tauri::command]
pub fn pause_notifications(state: State<'_, AppState>, paused: bool) {
    state.monitor.pause_notifications(paused);
}

/// Checks the settings panel's fields and stores them; the schedule follows at once.
#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, form: SettingsForm) -> Result<(), CommandError> {
    let form = form.validate()?;
    state
        .monitor
        .update_settings(move |s| *s = form.applied_to(*s));
    Ok(())
}

/// What the panel's fields would mean, said before they are saved: "With 12 batches, each
/// updates every 15 s." — or why they cannot be saved.
#[tauri::command]
pub fn preview_settings(
    state: State<'_, AppState>,
    form: SettingsForm,
) -> Result<String, CommandError> {
    let form = form.validate()?;
    let view = state.monitor.snapshot();
    Ok(form.consequence(&view.settings, view.sharing_budget))
}

/// Writes or removes the autostart entry (Batchwatch starts hidden, in the tray, at login).
#[tauri::command]
pub fn set_start_at_login(state: State<'_, AppState>, enabled: bool) -> Result<bool, CommandError> {
    if state.is_demo() {
        return Err(CommandError::DemoMode);
    }
    let autostart = state.autostart.as_ref().ok_or_else(|| {
        CommandError::Autostart(
            "Batchwatch cannot tell where your desktop keeps autostart entries (neither XDG_CONFIG_HOME nor HOME is an absolute path).".into(),
        )
    })?;
    let done = if enabled {
        current_program().and_then(|program| autostart.enable(&program))
    } else {
        autostart.disable()
    };
    done.map_err(|e| CommandError::Autostart(format!("{} ({e})", autostart.path().display())))?;
    log::info!(
        "start at login {}",
        if enabled { "enabled" } else { "disabled" }
    );
    let enabled = autostart.is_enabled();
    state.status.send_modify(|s| s.start_at_login = enabled);
    Ok(enabled)
}

/// The drill-down of a batch's failed calls: the first page (`more: false`, which starts over)
/// or the next one, grouped by reason with every page loaded so far.
#[tauri::command]
pub async fn failed_calls(
    state: State<'_, AppState>,
    id: String,
    more: bool,
) -> Result<FailedCallsView, CommandError> {
    Ok(state.monitor.failed_calls(batch_id(&id)?, more).await?)
}

/// Forgets a closed drill-down's calls.
#[tauri::command]
pub async fn close_failed_calls(
    state: State<'_, AppState>,
    id: String,
) -> Result<(), CommandError> {
    state.monitor.close_failed_calls(batch_id(&id)?);
    Ok(())
}

/// Cancels a batch at Trillet. The card then shows Trillet's answer; errors come back as they
/// are, for the card to show.
#[tauri::command]
pub async fn cancel_batch(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    let id = batch_id(&id)?;
    let outcome = state.monitor.cancel(id.clone()).await.inspect_err(|e| {
        log::warn!("cancelling {id} failed: {e}");
    })?;
    log::info!(
        "batch {id} cancelled: {} waiting calls dropped",
        outcome.details.cancelled_calls
    );
    Ok(())
}
