//! The desktop's own file dialogs (GTK's, through `tauri-plugin-dialog`), asked from Rust so the
//! page gets no dialog or file permission: the place a retry list is saved and the CSV a start
//! uploads are always ones the person chose here.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime, WebviewWindow};
use tauri_plugin_dialog::{DialogExt, FilePath};

/// What the dialog asks for.
pub enum Choose {
    /// A place to save, suggesting this file name.
    SaveAs(String),
    /// A file to open.
    Open,
}

/// Shows the dialog titled `title` over `window`, for CSV files, in `folder` when it exists (else
/// the home folder). `None` when the person closed it.
pub async fn csv<R: Runtime>(
    app: &AppHandle<R>,
    window: &WebviewWindow<R>,
    title: &str,
    folder: Option<PathBuf>,
    choose: Choose,
) -> Option<FilePath> {
    let mut dialog = app
        .dialog()
        .file()
        .set_title(title)
        .add_filter("CSV", &["csv", "CSV"])
        .set_parent(window);
    if let Some(folder) = folder
        .filter(|d| d.is_dir())
        .or_else(|| app.path().home_dir().ok())
    {
        dialog = dialog.set_directory(folder);
    }
    let (chosen, answer) = tokio::sync::oneshot::channel();
    let send = move |path| {
        let _ = chosen.send(path);
    };
    match choose {
        Choose::SaveAs(name) => dialog.set_file_name(name).save_file(send),
        Choose::Open => dialog.pick_file(send),
    }
    answer.await.ok().flatten()
}
