//! What the page calls. Everything but starting the resident again goes to the resident as it
//! is (`op` and `args`, the names the page has always used); its answers and `{code,
//! message}` errors come back unchanged. The API key typed in the page passes through here on
//! its way to the resident and is never sent back: no request answers with it.

use batchwatch_core::control::{CallError, Failure};
use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::resident::Link;

fn gone() -> Failure {
    Failure::new(
        "resident_gone",
        "The Batchwatch tray app has stopped. Start it again from the banner above.",
    )
}

/// Forwards one request to the resident.
#[tauri::command]
pub async fn call(link: State<'_, Link>, op: String, args: Value) -> Result<Value, Failure> {
    link.client()
        .await
        .call_raw(&op, args)
        .await
        .map_err(|e| match e {
            CallError::Failed(failure) => failure,
            CallError::Gone => gone(),
        })
}

/// Starts the resident again after it stopped, follows it, and returns the whole payload.
#[tauri::command]
pub async fn restart_resident<R: Runtime>(app: AppHandle<R>) -> Result<Value, Failure> {
    let link = app.state::<Link>();
    let client = link
        .restart()
        .await
        .map_err(|e| Failure::new("resident_start_failed", e))?;
    let claim = client
        .call_raw("claim_window", Value::Null)
        .await
        .map_err(|_| gone())?;
    if claim["granted"] != Value::Bool(true) {
        // Another window reached the new tray app first; it was raised, and this one goes.
        app.exit(0);
        return Err(Failure::new(
            "window_elsewhere",
            "Batchwatch is open in another window.",
        ));
    }
    crate::follow::spawn(app.clone(), client.clone());
    client
        .call_raw("get_state", Value::Null)
        .await
        .map_err(|_| gone())
}
