//! The one place where the monitor meets the desktop: each new view becomes one tray update
//! and one window view (serialized once, for every window client); each finish or rejection
//! becomes a notification, handed to the announcer's thread without waiting (a hung
//! notification daemon never holds up the tray or the window); each tray click becomes what
//! it asks for.

use std::sync::Arc;

use batchwatch_core::announcer::{Announcement, Announcer};
use batchwatch_core::hooks::{HookRunner, HooksStatus};
use batchwatch_core::monitor::{MonitorEvent, MonitorSnapshot};
use batchwatch_core::notifier::NotifyError;
use tokio::sync::{mpsc, watch};

use crate::payload::{tray_label_view, window_payload};
use crate::state::AppState;
use crate::status::AppStatus;
use crate::tray::{Tray, TrayAction};

pub struct Bridge {
    pub state: Arc<AppState>,
    pub views: watch::Receiver<Arc<MonitorSnapshot>>,
    pub events: mpsc::UnboundedReceiver<MonitorEvent>,
    /// `None` where the session has no bus to serve a tray on.
    pub tray: Option<Tray>,
    pub tray_actions: mpsc::UnboundedReceiver<TrayAction>,
    pub announcer: Announcer,
    /// How the announcer's last send went.
    pub notified: watch::Receiver<Option<NotifyError>>,
    /// The person's hooks (none in the demo), and what the settings panel shows of them.
    pub hooks: Option<HookRunner>,
    pub hooks_status: Option<watch::Receiver<HooksStatus>>,
}

impl Bridge {
    /// Runs until the monitor stops or the resident quits.
    pub async fn run(mut self) {
        let mut status = self.state.status.subscribe();
        let mut notifying = true;
        let mut hooks_status = self.hooks_status.take();
        if let Some(hooks) = &mut hooks_status {
            let first = hooks.borrow_and_update().clone();
            self.state.status.send_modify(|s| s.hooks = first);
        }
        let first = status.borrow_and_update().clone();
        self.publish(&first).await;
        loop {
            tokio::select! {
                () = self.state.quit.cancelled() => break,
                changed = self.views.changed() => {
                    if changed.is_err() { break }
                    let current = status.borrow().clone();
                    self.publish(&current).await;
                }
                changed = status.changed() => {
                    if changed.is_err() { break }
                    let current = status.borrow_and_update().clone();
                    self.publish(&current).await;
                }
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => break,
                },
                Some(action) = self.tray_actions.recv() => self.on_tray(action),
                Some(hooks) = hooks_changed(&mut hooks_status) => {
                    self.state.status.send_if_modified(|s| {
                        let changed = s.hooks != hooks;
                        s.hooks = hooks;
                        changed
                    });
                }
                changed = self.notified.changed(), if notifying => {
                    if changed.is_err() {
                        // The notification thread is gone; the window and tray go on.
                        log::error!("the notification thread stopped");
                        notifying = false;
                        continue;
                    }
                    let unavailable = self.notified.borrow_and_update().as_ref().map(ToString::to_string);
                    self.state.status.send_if_modified(|s| {
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

    async fn publish(&mut self, status: &AppStatus) {
        let view = self.views.borrow_and_update().clone();
        let tray_view = tray_label_view(&view, status);
        if let Some(tray) = &mut self.tray {
            let paused = view.settings.paused_at(view.now_ms);
            if let Err(e) = tray.apply(&tray_view, paused).await {
                log::warn!("could not update the tray: {e}");
            }
        }
        if self.state.views.receiver_count() == 0 {
            // No client to tell: a window asks for the whole payload when it opens.
            return;
        }
        match serde_json::to_string(&window_payload(&view, status, tray_view)) {
            Ok(payload) => {
                self.state.views.send_replace(Arc::from(payload));
            }
            Err(e) => log::error!("could not serialize the window view: {e}"),
        }
    }

    fn on_tray(&self, action: TrayAction) {
        match action {
            TrayAction::Open => self.state.windows.open(),
            TrayAction::Refresh => self.state.monitor.refresh(None),
            // Decided by the monitor against the settings it holds, so two quick clicks pause
            // and then resume.
            TrayAction::TogglePause => self.state.monitor.toggle_notification_pause(),
            TrayAction::Quit => self.state.quit.cancel(),
        }
    }

    fn on_event(&mut self, event: MonitorEvent) {
        // Queued in a moment: a hook never holds up the notification, the tray or a poll.
        if let (Some(hooks), Some(payload)) = (&self.hooks, event.payload()) {
            hooks.on_event(payload.clone());
        }
        let (notification, finish) = match event {
            MonitorEvent::QuietSummary { notification } => {
                log::info!("quiet hours ended: {}", notification.title);
                (Some(notification), false)
            }
            MonitorEvent::Started { id, payload } => {
                log::info!("batch {id} started: {}", payload.text);
                (None, false)
            }
            MonitorEvent::BatchFinished {
                id,
                notification,
                show,
                ..
            } => {
                log::info!("batch {id} finished: {}", notification.body);
                (show.then_some(notification), true)
            }
            MonitorEvent::FailureRateHigh {
                id,
                notification,
                show,
                ..
            } => {
                log::warn!("batch {id}: {}", notification.body);
                (show.then_some(notification), false)
            }
            MonitorEvent::Stalled {
                id,
                notification,
                show,
                ..
            } => {
                log::warn!("batch {id}: {}", notification.title);
                (show.then_some(notification), false)
            }
            MonitorEvent::CredentialsRejected {
                message,
                notification,
                ..
            } => {
                log::warn!("Trillet rejected the credentials: {message}");
                (Some(notification), false)
            }
        };
        if let Some(content) = notification {
            let sound = self.views.borrow().settings.sounds;
            if let Err(e) = self.announcer.announce(Announcement {
                content,
                finish,
                sound,
            }) {
                // The window and the tray show it all the same.
                log::warn!("a notification was not queued: {e}");
            }
        }
    }
}

/// The hooks' next status, when there is a runner to hear from (never, otherwise).
async fn hooks_changed(status: &mut Option<watch::Receiver<HooksStatus>>) -> Option<HooksStatus> {
    match status {
        Some(status) => match status.changed().await {
            Ok(()) => Some(status.borrow_and_update().clone()),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
