//! The one place where the monitor meets the desktop: each new view becomes one window event
//! (`batchwatch://view`) and one tray update; each finish or rejection becomes a notification,
//! handed to the announcer's thread without waiting (a hung notification daemon never holds up
//! the tray or the window).

use std::sync::Arc;

use batchwatch_core::announcer::{Announcement, Announcer};
use batchwatch_core::monitor::{MonitorEvent, MonitorSnapshot};
use batchwatch_core::notifier::NotifyError;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::{mpsc, watch};

use crate::payload::{tray_label_view, window_payload};
use crate::status::AppStatus;
use crate::tray::Tray;
use crate::window::MAIN;

/// The window event carrying the whole payload.
pub const VIEW_EVENT: &str = "batchwatch://view";

pub struct Bridge<R: Runtime> {
    pub app: AppHandle<R>,
    pub views: watch::Receiver<Arc<MonitorSnapshot>>,
    pub status: watch::Sender<AppStatus>,
    pub events: mpsc::UnboundedReceiver<MonitorEvent>,
    pub tray: Option<Tray<R>>,
    pub announcer: Announcer,
    /// How the announcer's last send went.
    pub notified: watch::Receiver<Option<NotifyError>>,
}

impl<R: Runtime> Bridge<R> {
    /// Runs until the monitor stops.
    pub async fn run(mut self) {
        let mut status = self.status.subscribe();
        let mut notifying = true;
        self.publish(&status.borrow_and_update().clone());
        loop {
            tokio::select! {
                changed = self.views.changed() => {
                    if changed.is_err() { break }
                    self.publish(&status.borrow().clone());
                }
                changed = status.changed() => {
                    if changed.is_err() { break }
                    self.publish(&status.borrow_and_update().clone());
                }
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => break,
                },
                changed = self.notified.changed(), if notifying => {
                    if changed.is_err() {
                        // The notification thread is gone; the window and tray go on.
                        log::error!("the notification thread stopped");
                        notifying = false;
                        continue;
                    }
                    let unavailable = self.notified.borrow_and_update().as_ref().map(ToString::to_string);
                    self.status.send_if_modified(|s| {
                        let available = unavailable.is_none();
                        let changed = s.notifications.available != available
                            || s.notifications.message != unavailable;
                        s.notifications.available = available;
                        s.notifications.message = unavailable;
                        changed
                    });
                }
            }
        }
    }

    fn publish(&mut self, status: &AppStatus) {
        let view = self.views.borrow_and_update().clone();
        let tray_view = tray_label_view(&view, status);
        if let Some(tray) = &mut self.tray {
            if let Err(e) = tray
                .apply(&tray_view)
                .and_then(|()| tray.set_paused(view.settings.paused_at(view.now_ms)))
            {
                log::warn!("could not update the tray: {e}");
            }
        }
        if self.app.get_webview_window(MAIN).is_none() {
            // No window to tell: it asks for the whole payload when it opens (`get_state`).
            return;
        }
        // Serialized once here; the event system wants an owned, clonable payload.
        match serde_json::to_value(window_payload(&view, status, tray_view)) {
            Ok(payload) => {
                let _ = self.app.emit_to(MAIN, VIEW_EVENT, payload);
            }
            Err(e) => log::error!("could not serialize the window view: {e}"),
        }
    }

    fn on_event(&mut self, event: MonitorEvent) {
        let (notification, finish) = match event {
            MonitorEvent::BatchFinished {
                id,
                notification,
                show,
            } => {
                log::info!("batch {id} finished: {}", notification.body);
                (show.then_some(notification), true)
            }
            MonitorEvent::FailureRateHigh {
                id,
                notification,
                show,
            } => {
                log::warn!("batch {id}: {}", notification.body);
                (show.then_some(notification), false)
            }
            MonitorEvent::CredentialsRejected {
                message,
                notification,
            } => {
                log::warn!("Trillet rejected the credentials: {message}");
                (Some(notification), false)
            }
        };
        if let Some(content) = notification {
            if let Err(e) = self.announcer.announce(Announcement { content, finish }) {
                // The window and the tray show it all the same.
                log::warn!("a notification was not queued: {e}");
            }
        }
    }
}
