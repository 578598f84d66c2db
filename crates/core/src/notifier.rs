//! The one place Batchwatch raises desktop notifications.
//!
//! [`Notifier`] is the port; [`DesktopNotifier`] sends through the platform's notification
//! service (on Linux the `org.freedesktop.Notifications` daemon over D-Bus). When the daemon
//! advertises `actions`, a notification carries an "Open" action whose click runs the
//! callback given to [`DesktopNotifier::on_open`].

use std::sync::Arc;

/// What to show. Built by the pure content functions, sent by a [`Notifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationContent {
    pub title: String,
    pub body: String,
    /// Failures and rejected credentials stay on screen until seen.
    pub urgent: bool,
}

/// Why a notification could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("Desktop notifications are unavailable: no notification service is running. Batchwatch keeps working; completions show in the window and the tray.")]
    NoDaemon,
    #[error(
        "Desktop notifications are unavailable: no desktop session bus (D-Bus) is running. ({0})"
    )]
    NoSessionBus(String),
    #[error("The desktop notification failed: {0}")]
    Other(String),
}

impl NotifyError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoDaemon => "notifications_no_daemon",
            Self::NoSessionBus(_) => "notifications_no_session_bus",
            Self::Other(_) => "notifications_error",
        }
    }
}

/// Sends notifications somewhere a person will see them.
pub trait Notifier: Send + Sync {
    fn notify(&self, content: &NotificationContent) -> Result<(), NotifyError>;
}

/// The action key of the "Open" button; `default` is also what a click on the body sends.
pub const OPEN_ACTION: &str = "default";

type OpenCallback = Arc<dyn Fn() + Send + Sync>;

/// [`Notifier`] through the platform notification service (notify-rust).
#[derive(Clone)]
pub struct DesktopNotifier {
    app_name: String,
    icon: Option<String>,
    on_open: Option<OpenCallback>,
}

impl std::fmt::Debug for DesktopNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifier")
            .field("app_name", &self.app_name)
            .field("icon", &self.icon)
            .field("on_open", &self.on_open.is_some())
            .finish()
    }
}

impl DesktopNotifier {
    /// `icon` is a file path or a themed icon name.
    pub fn new(app_name: &str, icon: Option<String>) -> Self {
        Self {
            app_name: app_name.to_owned(),
            icon,
            on_open: None,
        }
    }

    /// Offer an "Open" action (where the daemon supports actions) that runs `callback` when chosen.
    pub fn on_open(mut self, callback: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_open = Some(Arc::new(callback));
        self
    }

    /// Whether a notification service answers, without showing anything.
    pub fn probe(&self) -> Result<(), NotifyError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            notify_rust::get_server_information().map_err(|e| classify(&e.to_string()))?;
        }
        Ok(())
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, content: &NotificationContent) -> Result<(), NotifyError> {
        let mut n = notify_rust::Notification::new();
        n.appname(&self.app_name)
            .summary(&content.title)
            .body(&content.body);
        if let Some(icon) = &self.icon {
            n.icon(icon);
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            use notify_rust::Urgency;
            n.urgency(if content.urgent {
                Urgency::Critical
            } else {
                Urgency::Normal
            });
            let capabilities =
                notify_rust::get_capabilities().map_err(|e| classify(&e.to_string()))?;
            let callback = self
                .on_open
                .clone()
                .filter(|_| capabilities.iter().any(|c| c == "actions"));
            if callback.is_some() {
                n.action(OPEN_ACTION, "Open");
            }
            let handle = n.show().map_err(|e| classify(&e.to_string()))?;
            if let Some(callback) = callback {
                // Waiting for the click blocks, so it gets a thread that ends when the
                // notification is closed or acted on.
                std::thread::Builder::new()
                    .name("notification-action".into())
                    .spawn(move || {
                        handle.wait_for_action(|action| {
                            if action == OPEN_ACTION {
                                callback();
                            }
                        })
                    })
                    .map_err(|e| NotifyError::Other(e.to_string()))?;
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            n.show().map_err(|e| classify(&e.to_string()))?;
        }
        Ok(())
    }
}

fn classify(text: &str) -> NotifyError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("serviceunknown") || lower.contains("not provided by any .service") {
        NotifyError::NoDaemon
    } else if lower.contains("dbus_session_bus_address")
        || lower.contains("no such file or directory")
        || lower.contains("connection refused")
        || lower.contains("address")
    {
        NotifyError::NoSessionBus(text.lines().next().unwrap_or_default().to_owned())
    } else {
        NotifyError::Other(text.lines().next().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_and_bus_failures_are_told_apart() {
        assert_eq!(
            classify("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.Notifications was not provided by any .service files"),
            NotifyError::NoDaemon
        );
        assert_eq!(
            classify("I/O error: No such file or directory (os error 2)").code(),
            "notifications_no_session_bus"
        );
        assert_eq!(classify("weird").code(), "notifications_error");
    }
}
