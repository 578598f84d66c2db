//! "New batch…": the file a start uploads is always one the person chose — in the desktop's
//! open dialog, or by dropping it on the window. Its path stays here, in the window process:
//! the page gets the check's result and starts "the chosen file", and never names a path.

use std::path::PathBuf;
use std::sync::Mutex;

use batchwatch_core::control::Failure;
use serde_json::{json, Value};
use tauri::{AppHandle, DragDropEvent, Emitter, Manager, Runtime, State, WebviewWindow};

use crate::commands::forward;
use crate::resident::Link;

/// The event a dropped file's check reaches the page with.
pub const DROPPED: &str = "batchwatch://csv-dropped";

/// The CSV chosen last (its check passed or not), which [`start_chosen`] starts.
#[derive(Default)]
pub struct ChosenCsv(Mutex<Option<PathBuf>>);

impl ChosenCsv {
    fn set(&self, path: PathBuf) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn get(&self) -> Option<PathBuf> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// "Choose a CSV file…": the desktop's open dialog (CSV files, in Documents or the home
/// folder), then the file's check. `{"cancelled": true}` when the person closed the dialog.
#[tauri::command]
pub async fn choose_csv<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    link: State<'_, Link>,
    chosen: State<'_, ChosenCsv>,
) -> Result<Value, Failure> {
    let picked = crate::file_dialog::csv(
        &app,
        &window,
        "Choose the campaign's CSV file",
        app.path().document_dir().ok(),
        crate::file_dialog::Choose::Open,
    )
    .await;
    let Some(path) = picked else {
        return Ok(json!({ "cancelled": true }));
    };
    let path = path.into_path().map_err(|e| {
        Failure::new(
            "unreadable",
            format!("The dialog gave no file on disk ({e})."),
        )
    })?;
    check(&link, &chosen, path).await
}

/// Checks `path` with the resident and makes it the chosen file.
async fn check(link: &Link, chosen: &ChosenCsv, path: PathBuf) -> Result<Value, Failure> {
    // No file is chosen until this one's check passes: a failed check never leaves the one
    // before it ready to start.
    chosen.clear();
    let Some(text) = path.to_str() else {
        return Err(Failure::new(
            "unreadable",
            format!(
                "{} has a name that is not UTF-8 text; rename it and choose it again.",
                path.display()
            ),
        ));
    };
    let checked = forward(link, "check_csv", json!({ "path": text })).await?;
    chosen.set(path);
    Ok(checked)
}

/// Starts the chosen file with what the person chose on the panel (agent, time, callbacks).
#[tauri::command]
pub async fn start_chosen(
    link: State<'_, Link>,
    chosen: State<'_, ChosenCsv>,
    choice: Value,
) -> Result<Value, Failure> {
    let Some(path) = chosen.get() else {
        return Err(Failure::new("no_file", "Choose a CSV file first."));
    };
    let mut args = match choice {
        Value::Object(fields) => fields,
        _ => {
            return Err(Failure::new(
                "bad_request",
                "The start's choices are missing.",
            ))
        }
    };
    args.insert("path".into(), json!(path));
    forward(&link, "start_batch", Value::Object(args)).await
}

/// A file dropped on the window: the first one is checked and the page told, which opens the
/// panel with the result.
pub fn on_drop<R: Runtime>(app: &AppHandle<R>, event: &DragDropEvent) {
    let DragDropEvent::Drop { paths, .. } = event else {
        return;
    };
    let Some(path) = paths.first().cloned() else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let outcome = if is_csv {
            check(&app.state::<Link>(), &app.state::<ChosenCsv>(), path).await
        } else {
            Err(Failure::new(
                "not_csv",
                format!(
                    "{} is not a .csv file: drop the campaign's CSV file.",
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            ))
        };
        let payload = match outcome {
            Ok(checked) => json!({ "checked": checked }),
            Err(failure) => json!({ "error": failure }),
        };
        if let Err(e) = app.emit(DROPPED, payload) {
            log::warn!("could not tell the page of a dropped file: {e}");
        }
    });
}
