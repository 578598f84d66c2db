//! The one place Batchwatch raises desktop notifications.
//!
//! [`Notifier`] is the port; [`DesktopNotifier`] sends through the platform's notification
//! service (on Linux the `org.freedesktop.Notifications` daemon over D-Bus). When the daemon
//! advertises `actions`, a notification carries an "Open" action whose click runs the
//! callback given to [`DesktopNotifier::on_open`].

use crate::change::NotificationContent;
use std::sync::Arc;

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

/// Sends notifications somewhere a person will see them; with `sound`, asks for the sound
/// that fits ([`sound_for`]).
pub trait Notifier: Send + Sync {
    fn notify(&self, content: &NotificationContent, sound: bool) -> Result<(), NotifyError>;
}

/// The freedesktop sound-theme name a notification asks for: `complete` for a finish that is
/// news to be glad of, `dialog-warning` for what needs a look (a failure, an alert, a key
/// refused).
pub fn sound_for(content: &NotificationContent) -> &'static str {
    if content.urgent {
        "dialog-warning"
    } else {
        "complete"
    }
}

/// The action key of the "Open" button; `default` is also what a click on the body sends.
pub const OPEN_ACTION: &str = "default";

type OpenCallback = Arc<dyn Fn() + Send + Sync>;

/// Notifications whose "Open" click is waited for at once, each on a thread of its own until
/// the notification closes. A daemon that never closes them must not collect threads: past
/// this many, a notification is shown without the action.
pub const MAX_OPEN_WAITERS: usize = 8;

/// [`Notifier`] through the platform notification service (notify-rust).
#[derive(Clone)]
pub struct DesktopNotifier {
    app_name: String,
    icon: Option<String>,
    on_open: Option<OpenCallback>,
    /// Threads waiting for a click right now.
    waiting_for_open: Arc<std::sync::atomic::AtomicUsize>,
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
            waiting_for_open: Default::default(),
        }
    }

    /// The notification as sent, before the "Open" action and the urgency.
    fn notification(
        &self,
        content: &NotificationContent,
        sound: bool,
    ) -> notify_rust::Notification {
        let mut n = notify_rust::Notification::new();
        n.appname(&self.app_name)
            .summary(&content.title)
            .body(&body_text(&content.body));
        if let Some(icon) = &self.icon {
            n.icon(icon);
        }
        if sound {
            n.sound_name(sound_for(content));
        }
        n
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
    fn notify(&self, content: &NotificationContent, sound: bool) -> Result<(), NotifyError> {
        let mut n = self.notification(content, sound);
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
            use std::sync::atomic::Ordering;
            let waiting = self.waiting_for_open.clone();
            let callback = self
                .on_open
                .clone()
                .filter(|_| capabilities.iter().any(|c| c == "actions"))
                .filter(|_| {
                    waiting
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                            (n < MAX_OPEN_WAITERS).then_some(n + 1)
                        })
                        .is_ok()
                });
            if callback.is_some() {
                n.action(OPEN_ACTION, "Open");
            }
            let release = |waiting: &std::sync::atomic::AtomicUsize| {
                waiting.fetch_sub(1, Ordering::SeqCst);
            };
            let handle = match n.show() {
                Ok(handle) => handle,
                Err(e) => {
                    if callback.is_some() {
                        release(&waiting);
                    }
                    return Err(classify(&e.to_string()));
                }
            };
            if let Some(callback) = callback {
                // Waiting for the click blocks, so it gets a thread that ends when the
                // notification is closed or acted on.
                let done = waiting.clone();
                let spawned = std::thread::Builder::new()
                    .name("notification-action".into())
                    .spawn(move || {
                        handle.wait_for_action(|action| {
                            if action == OPEN_ACTION {
                                callback();
                            }
                        });
                        release(&done);
                    });
                if let Err(e) = spawned {
                    release(&waiting);
                    return Err(NotifyError::Other(e.to_string()));
                }
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            n.show().map_err(|e| classify(&e.to_string()))?;
        }
        Ok(())
    }
}

/// The body as the platform reads it. Freedesktop notification bodies are markup, and a body
/// can carry a server's error text, which is not ours to render: `&`, `<` and `>` are escaped
/// so it shows as written. Other platforms show bodies as plain text.
fn body_text(body: &str) -> String {
    if cfg!(all(unix, not(target_os = "macos"))) {
        body.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        body.to_owned()
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
    #[test]
    fn a_sound_is_asked_for_only_when_wanted_and_fits_the_news() {
        use notify_rust::Hint;
        let notifier = super::DesktopNotifier::new("Batchwatch", None);
        let content = |urgent| crate::change::NotificationContent {
            title: "t".into(),
            body: "b".into(),
            urgent,
        };
        let sounds = |urgent, sound| {
            notifier
                .notification(&content(urgent), sound)
                .hints
                .into_iter()
                .filter_map(|h| match h {
                    Hint::SoundName(name) => Some(name),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sounds(false, true), ["complete"]);
        assert_eq!(sounds(true, true), ["dialog-warning"]);
        assert!(sounds(true, false).is_empty());
    }

    use super::*;

    #[test]
    #[cfg(all(unix, not(target_os = "macos")))]
    fn bodies_are_escaped_as_freedesktop_markup() {
        assert_eq!(
            body_text("Trillet: <b>busy</b> & <a href='x'>retry</a>"),
            "Trillet: &lt;b&gt;busy&lt;/b&gt; &amp; &lt;a href='x'&gt;retry&lt;/a&gt;"
        );
        assert_eq!(body_text("&amp;"), "&amp;amp;", "escaped once, as given");
    }

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
