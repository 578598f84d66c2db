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
    let window = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Batchwatch")
        .inner_size(420.0, 560.0)
        .min_inner_size(360.0, 420.0)
        .build()?;
    // A page of a few cards needs no back/forward list and no cache of pages it left: the
    // document-viewer model keeps none (measured in the README's performance section).
    #[cfg(target_os = "linux")]
    window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
        if let Some(context) = webview.inner().context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    })?;
    window.set_focus()
}

/// What the window's WebKit is told before GTK starts: paint without accelerated compositing
/// (no GL compositor with its threads and layer buffers, for a page with nothing to animate) —
/// the largest share of the window's memory in the README's performance section, with no
/// visible change — and so without the DMA-BUF renderer, which only composited pages use (off,
/// GTK sets up no GLX for it; WebKit's own EGL display, and Mesa with it, stay whatever the
/// settings). A person who wants compositing back sets `WEBKIT_DISABLE_COMPOSITING_MODE=0`, and
/// then the renderer stays too; a value of theirs for either is never changed. Returns the
/// names it set: this process's own, not to be passed on to a resident it starts.
pub fn before_gtk_starts() -> Vec<&'static str> {
    let mut set = Vec::new();
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        set.push("WEBKIT_DISABLE_COMPOSITING_MODE");
    }
    // Compositing is off unless the value is "0" (WebKit's own reading), whoever set it: a
    // person's own `=1`, or the one a resident inherited from an older window.
    let compositing_off =
        std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_some_and(|value| value != "0");
    if compositing_off && std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
        set.push("WEBKIT_DISABLE_DMABUF_RENDERER");
    }
    set
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
