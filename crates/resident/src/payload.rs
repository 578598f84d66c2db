//! What the window receives — on load (`get_state`) and on every change (the
//! `batchwatch://view` event): the core's window and tray views plus the app status.

use batchwatch_core::format::TimeZone;
use batchwatch_core::monitor::MonitorSnapshot;
use batchwatch_core::view::{tray_view, window_view, TrayView, WindowView};
use serde::Serialize;

use crate::status::AppStatus;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowPayload<'a> {
    #[serde(flatten)]
    pub view: WindowView<'a>,
    pub status: &'a AppStatus,
    /// The tray's own summary, so the window can show the same words.
    pub tray: TrayView,
    pub now_ms: u64,
}

/// The payload for `view`, carrying the tray view already built for the tray itself.
pub fn window_payload<'a>(
    view: &'a MonitorSnapshot,
    status: &'a AppStatus,
    tray: TrayView,
) -> WindowPayload<'a> {
    WindowPayload {
        view: window_view(view, &TimeZone::system()),
        status,
        tray,
        now_ms: view.now_ms,
    }
}

/// The tray view, marked "Demo" in demo mode so nobody mistakes simulated progress for theirs.
pub fn tray_label_view(view: &MonitorSnapshot, status: &AppStatus) -> TrayView {
    let mut tray = tray_view(view, &TimeZone::system());
    if status.demo {
        tray.label = if tray.label.is_empty() {
            "Demo".into()
        } else {
            format!("Demo · {}", tray.label)
        };
        tray.tooltip = format!("(Demo) {}", tray.tooltip);
    }
    tray
}
