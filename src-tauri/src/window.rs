//! The one window. Closing it ends this process — and with it the webview and its WebKit
//! processes, so a Batchwatch sitting in the tray costs little; "Open Batchwatch" in the tray
//! starts a new window process.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub const MAIN: &str = "main";

/// Shows and focuses the window, making it the first time.
pub fn show<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(MAIN) {
        window.show()?;
        window.unminimize()?;
        return window.set_focus();
    }
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Batchwatch")
        .inner_size(420.0, 560.0)
        .min_inner_size(360.0, 420.0)
        .build()?
        .set_focus()
}

/// [`show`] from any thread (the resident's "raise" arrives on the follow task's).
pub fn show_from_anywhere<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if let Err(e) = show(&handle) {
            log::error!("could not open the window: {e}");
        }
    });
}
