//! The one sender of desktop notifications: a thread of its own behind a bounded queue, so a
//! notification daemon that hangs or restarts stalls nothing else (the tray and the window
//! keep updating; only this thread waits), and a burst of finishes becomes one notification
//! ("12 batches finished: …") instead of twelve.
//!
//! [`Announcer::spawn`] starts it over a [`Notifier`]; [`Announcer::announce`] never blocks.
//! What the last send came to is published in a `watch`, for the window's "notifications are
//! unavailable" notice.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::change::NotificationContent;
use crate::notifier::{Notifier, NotifyError};

/// Notifications waiting while one is being sent. Each batch finishes once, so only a daemon
/// that hangs through a great many finishes fills it; past it a notification is not queued (the
/// window and the tray still show the finish) and a line is logged by the caller.
pub const QUEUE: usize = 256;
/// The most finishes named in a combined notification's body.
const NAMED_IN_BURST: usize = 5;
/// How long the first of a burst waits for the rest: polls answer one after another, so
/// finishes seen "together" arrive a few milliseconds apart.
pub const GATHER: std::time::Duration = std::time::Duration::from_millis(300);

/// Something to tell the person, and whether it is a batch's finish (finishes that arrive
/// together are told together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub content: NotificationContent,
    pub finish: bool,
    /// With a sound (the person's setting when it was decided).
    pub sound: bool,
}

/// Why an announcement was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotQueued {
    #[error("{QUEUE} notifications are already waiting for the notification service")]
    Full,
    #[error("the notification thread has stopped")]
    Stopped,
}

/// The handle to the notification thread; dropping every clone ends it.
#[derive(Debug, Clone)]
pub struct Announcer {
    queue: mpsc::Sender<Announcement>,
}

impl Announcer {
    /// Starts the thread. The receiver holds the outcome of the last send: `None` when it was
    /// shown, else why not.
    pub fn spawn(
        notifier: Arc<dyn Notifier>,
    ) -> std::io::Result<(Self, watch::Receiver<Option<NotifyError>>)> {
        Self::spawn_gathering(notifier, GATHER)
    }

    fn spawn_gathering(
        notifier: Arc<dyn Notifier>,
        gather: std::time::Duration,
    ) -> std::io::Result<(Self, watch::Receiver<Option<NotifyError>>)> {
        let (queue, mut waiting) = mpsc::channel(QUEUE);
        let (outcome_tx, outcome) = watch::channel(None);
        std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                while let Some(first) = waiting.blocking_recv() {
                    let mut burst = vec![first];
                    // Whatever else arrives within GATHER is told with it (bounded by QUEUE).
                    let until = std::time::Instant::now() + gather;
                    loop {
                        match waiting.try_recv() {
                            Ok(more) => burst.push(more),
                            Err(mpsc::error::TryRecvError::Empty)
                                if std::time::Instant::now() < until && burst.len() < QUEUE =>
                            {
                                std::thread::sleep(std::time::Duration::from_millis(20));
                            }
                            Err(_) => break,
                        }
                    }
                    for told in coalesce(burst) {
                        let result = notifier.notify(&told.content, told.sound).err();
                        outcome_tx.send_if_modified(|last| {
                            let changed = *last != result;
                            *last = result.clone();
                            changed
                        });
                    }
                }
            })?;
        Ok((Self { queue }, outcome))
    }

    /// Queues a notification; never waits.
    pub fn announce(&self, announcement: Announcement) -> Result<(), NotQueued> {
        self.queue.try_send(announcement).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NotQueued::Full,
            mpsc::error::TrySendError::Closed(_) => NotQueued::Stopped,
        })
    }
}

/// What a burst of announcements is sent as: the others in order, and two or more finishes as
/// one notification placed where the first of them was (with a sound if any of them had one).
pub fn coalesce(burst: Vec<Announcement>) -> Vec<Announcement> {
    let finishes = burst.iter().filter(|a| a.finish).count();
    if finishes < 2 {
        return burst;
    }
    let mut out = Vec::new();
    let mut combined: Option<usize> = None;
    let mut named = Vec::new();
    let mut urgent = false;
    let mut sound = false;
    for announcement in burst {
        if !announcement.finish {
            out.push(announcement);
            continue;
        }
        urgent |= announcement.content.urgent;
        sound |= announcement.sound;
        if named.len() < NAMED_IN_BURST {
            named.push(announcement.content.title);
        }
        if combined.is_none() {
            combined = Some(out.len());
            out.push(Announcement {
                content: NotificationContent {
                    title: String::new(),
                    body: String::new(),
                    urgent: false,
                },
                finish: true,
                sound: false,
            });
        }
    }
    let mut body = named.join("; ");
    if finishes > named.len() {
        body.push_str(&format!("; and {} more", finishes - named.len()));
    }
    if let Some(at) = combined {
        out[at] = Announcement {
            content: NotificationContent {
                title: format!("{finishes} batches finished"),
                body,
                urgent,
            },
            finish: true,
            sound,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(title: &str, urgent: bool, finish: bool) -> Announcement {
        Announcement {
            content: NotificationContent {
                title: title.into(),
                body: format!("body of {title}"),
                urgent,
            },
            finish,
            sound: false,
        }
    }

    #[test]
    fn one_finish_or_none_is_sent_as_it_is() {
        let burst = vec![
            said("Batch a completed", false, true),
            said("Key", true, false),
        ];
        let sent = coalesce(burst.clone());
        assert_eq!(sent, burst);
    }

    #[test]
    fn a_burst_of_finishes_is_one_notification_naming_them() {
        let mut burst = vec![said("Key rejected", true, false)];
        for i in 0..12 {
            burst.push(Announcement {
                sound: i == 7,
                ..said(&format!("Batch b{i} completed"), i == 3, true)
            });
        }
        burst.push(said("Batch x: 40% failing", true, false));
        let sent: Vec<_> = coalesce(burst);
        assert!(
            sent[1].sound && !sent[0].sound,
            "the burst sounds if one of it did"
        );
        let sent: Vec<_> = sent.into_iter().map(|a| a.content).collect();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].title, "Key rejected");
        assert_eq!(sent[1].title, "12 batches finished");
        assert_eq!(
            sent[1].body,
            "Batch b0 completed; Batch b1 completed; Batch b2 completed; Batch b3 completed; Batch b4 completed; and 7 more"
        );
        assert!(sent[1].urgent, "one of them was urgent");
        assert_eq!(sent[2].title, "Batch x: 40% failing");
    }

    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;

    /// A notifier that says when a send began, blocks until told, and hands on what it was given.
    struct Gate {
        entered: Mutex<Sender<()>>,
        open: Mutex<Receiver<()>>,
        sent: Mutex<Sender<NotificationContent>>,
    }

    struct GateEnds {
        entered: Receiver<()>,
        release: Sender<()>,
        seen: Receiver<NotificationContent>,
    }

    fn gate() -> (Arc<Gate>, GateEnds) {
        let (entered_tx, entered) = channel();
        let (release, open) = channel();
        let (sent, seen) = channel();
        let gate = Gate {
            entered: Mutex::new(entered_tx),
            open: Mutex::new(open),
            sent: Mutex::new(sent),
        };
        let ends = GateEnds {
            entered,
            release,
            seen,
        };
        (Arc::new(gate), ends)
    }

    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    impl Notifier for Gate {
        fn notify(&self, content: &NotificationContent, _: bool) -> Result<(), NotifyError> {
            let _ = self.entered.lock().unwrap().send(());
            let _ = self.open.lock().unwrap().recv();
            let _ = self.sent.lock().unwrap().send(content.clone());
            Err(NotifyError::NoDaemon)
        }
    }

    #[test]
    fn a_hung_service_blocks_only_the_notification_thread_and_the_wait_coalesces() {
        let (gate, ends) = gate();
        let (announcer, outcome) = Announcer::spawn(gate).unwrap();
        announcer.announce(said("first", false, true)).unwrap();
        ends.entered.recv_timeout(WAIT).unwrap();
        // While "first" hangs in the service, every announce returns at once.
        for i in 0..20 {
            announcer
                .announce(said(&format!("Batch {i} completed"), false, true))
                .unwrap();
        }
        ends.release.send(()).unwrap();
        ends.release.send(()).unwrap();
        assert_eq!(ends.seen.recv_timeout(WAIT).unwrap().title, "first");
        assert_eq!(
            ends.seen.recv_timeout(WAIT).unwrap().title,
            "20 batches finished"
        );
        drop(announcer);
        // The thread ends with the last handle; by then the outcome was published.
        assert!(ends.seen.recv_timeout(WAIT).is_err());
        assert_eq!(*outcome.borrow(), Some(NotifyError::NoDaemon));
    }

    #[test]
    fn finishes_announced_one_after_another_are_gathered_into_one() {
        let (gate, ends) = gate();
        // A generous gather, so three calls in a row fall inside it on any machine.
        let (announcer, _outcome) =
            Announcer::spawn_gathering(gate, std::time::Duration::from_secs(2)).unwrap();
        ends.release.send(()).unwrap();
        for id in ["a", "b", "c"] {
            announcer
                .announce(said(&format!("Batch {id} completed"), false, true))
                .unwrap();
        }
        let sent = ends.seen.recv_timeout(WAIT).unwrap();
        assert_eq!(sent.title, "3 batches finished");
        assert_eq!(
            sent.body,
            "Batch a completed; Batch b completed; Batch c completed"
        );
    }

    #[test]
    fn a_full_queue_refuses_instead_of_waiting() {
        let (gate, ends) = gate();
        let (announcer, _outcome) = Announcer::spawn(gate).unwrap();
        announcer.announce(said("hanging", false, false)).unwrap();
        ends.entered.recv_timeout(WAIT).unwrap();
        for i in 0..QUEUE {
            announcer
                .announce(said(&format!("n{i}"), false, false))
                .unwrap();
        }
        assert_eq!(
            announcer.announce(said("one too many", false, false)),
            Err(NotQueued::Full)
        );
    }
}
