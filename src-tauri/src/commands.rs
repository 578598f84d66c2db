//! What the page calls. Everything but starting the resident again goes to the resident as it
//! is (`op` and `args`, the names the page has always used); its answers and `{code,
//! message}` errors come back unchanged. The API key typed in the page passes through here on
//! its way to the resident and is never sent back: no request answers with it.

use batchwatch_core::control::{CallError, Failure};
use batchwatch_core::BatchId;
use serde_json::{json, Value};
use tauri::{AppHandle, Manager, Runtime, State, WebviewWindow};

use crate::resident::Link;

fn gone() -> Failure {
    Failure::new(
        "resident_gone",
        "The Batchwatch tray app has stopped. Start it again from the banner above.",
    )
}

/// What the page may not ask by name: each names a path, and a path is always one the person
/// chose — writing a retry list goes through [`save_retry_list`] (the save dialog), checking
/// and starting a file through [`crate::launch`] (the open dialog, or a drop).
const NOT_FROM_THE_PAGE: [&str; 3] = ["save_retry_list", "check_csv", "start_batch"];

/// Forwards one request to the resident.
#[tauri::command]
pub async fn call(
    link: State<'_, Link>,
    sent: State<'_, crate::follow::Sent>,
    op: String,
    args: Value,
) -> Result<Value, Failure> {
    if NOT_FROM_THE_PAGE.contains(&op.as_str()) {
        return Err(Failure::new(
            "not_allowed",
            format!("The window does not send {op} itself."),
        ));
    }
    if op == "get_state" {
        // The page takes the whole view: the next one it hears is whole too.
        sent.forget();
    }
    forward(&link, &op, args).await
}

pub(crate) async fn forward(link: &Link, op: &str, args: Value) -> Result<Value, Failure> {
    link.client()
        .await
        .call_raw(op, args)
        .await
        .map_err(|e| match e {
            CallError::Failed(failure) => failure,
            CallError::Gone => gone(),
        })
}

/// "Save failed calls as CSV…": asks where with the desktop's own save dialog (in the
/// Downloads folder, a name from the batch and the group), then has the resident load every
/// failed call and write the list there. `{"cancelled": true}` when the person closed the
/// dialog; otherwise the resident's answer (how many calls, where) or its error.
#[tauri::command]
pub async fn save_retry_list<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    link: State<'_, Link>,
    id: String,
    reason: Option<String>,
) -> Result<Value, Failure> {
    let batch = BatchId::parse(&id).map_err(|e| {
        Failure::new(
            "invalid_batch_id",
            format!("{id:?} is not a batch ID: it {e}"),
        )
    })?;
    let chosen = crate::file_dialog::csv(
        &app,
        &window,
        "Save failed calls as CSV",
        app.path().download_dir().ok(),
        crate::file_dialog::Choose::SaveAs(batchwatch_core::retry_list::suggested_file_name(
            &batch,
            reason.as_deref(),
        )),
    )
    .await;
    let Some(path) = chosen else {
        return Ok(json!({ "cancelled": true }));
    };
    let path = path.into_path().map_err(|e| {
        Failure::new(
            "save_failed",
            format!("The dialog gave no place on disk ({e})."),
        )
    })?;
    // The request is JSON: a name that is not UTF-8 text cannot travel in it.
    let Some(place) = path.to_str() else {
        return Err(Failure::new(
            "save_failed",
            format!(
                "{} has a name that is not UTF-8 text; choose another.",
                path.display()
            ),
        ));
    };
    forward(
        &link,
        "save_retry_list",
        json!({ "id": id, "reason": reason, "path": place }),
    )
    .await
}

/// Starts the resident again after it stopped, follows it, and returns the whole payload.
#[tauri::command]
pub async fn restart_resident<R: Runtime>(app: AppHandle<R>) -> Result<Value, Failure> {
    let link = app.state::<Link>();
    let client = link
        .restart()
        .await
        .map_err(|e| Failure::new("resident_start_failed", e))?;
    let granted = crate::resident::claim_window(&client)
        .await
        .map_err(|_| gone())?;
    if !granted {
        // Another window reached the new tray app first; it was raised, and this one goes.
        app.exit(0);
        return Err(Failure::new(
            "window_elsewhere",
            "Batchwatch is open in another window.",
        ));
    }
    app.state::<crate::follow::Sent>().forget();
    crate::follow::spawn(app.clone(), client.clone());
    client
        .call_raw("get_state", Value::Null)
        .await
        .map_err(|_| gone())
}
