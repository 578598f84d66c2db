//! `watch` on the core's monitor: [`follow`] starts a [`Monitor`] for the given batches,
//! turns each new view of it into [`Event`]s for a [`View`], and returns how the watch ended.
//!
//! The polling itself — budget, intervals, back-off, 429 pauses, the stop on 401 — is the
//! monitor's, the same engine the tray app runs; this module only translates.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use batchwatch_core::monitor::{
    BatchSnapshot, Connection, FetchStatus, Monitor, MonitorConfig, MonitorSnapshot, TrilletApi,
};
use batchwatch_core::schedule::PollPolicy;
use batchwatch_core::{ApiError, BatchId, BatchProgress, Credentials};

/// How fast to poll. Every wait is derived from these two, so shrinking both (as tests do)
/// compresses time without changing the schedule's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// The shortest time between two polls of one batch.
    pub floor: Duration,
    /// The span the request budget is counted over (a minute in production).
    pub window: Duration,
}

impl Pacing {
    /// The monitor's policy at this pace: the default budget, back-off capped at five windows.
    pub fn policy(&self) -> PollPolicy {
        PollPolicy::paced(self.floor, self.window)
    }
}

/// What the person watching is told.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A fresh snapshot; when it is finished, the batch is not polled again.
    Progress {
        id: &'a BatchId,
        progress: &'a BatchProgress,
        /// The snapshot's time, which the figures (ETA, "took") are reckoned at.
        now_ms: u64,
    },
    /// The poll failed for a reason that may pass; the next try is in `wait`.
    Retrying {
        id: &'a BatchId,
        error: &'a str,
        wait: Duration,
    },
    /// Trillet does not know the batch; it is not polled again.
    NotFound { id: &'a BatchId, error: &'a str },
}

/// Where [`follow`] reports to.
pub trait View {
    fn show(&mut self, event: Event<'_>);
}

/// How a batch's watch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Final {
    Ended(BatchProgress),
    NotFound,
}

/// How the whole watch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Every batch is finished or unknown, in the order given.
    AllFinished(Vec<(BatchId, Final)>),
    /// 401/403: no poll can succeed with these credentials.
    Rejected(ApiError),
    /// `stop` fired first.
    Stopped,
}

/// Watches `ids` through `source` with `credentials` until each is finished (or unknown), the
/// credentials are rejected, or `stop` completes. Must run inside a tokio runtime.
pub async fn follow<S: TrilletApi>(
    ids: &[BatchId],
    pacing: Pacing,
    source: S,
    credentials: Credentials,
    view: &mut dyn View,
    stop: impl Future<Output = ()>,
) -> Ending {
    let mut config = MonitorConfig::new(source, Some(credentials));
    config.poll = Some(pacing.policy());
    let (monitor, _events) = Monitor::spawn(config);
    monitor.track(ids.to_vec());
    let mut views = monitor.subscribe();
    let mut stop = pin!(stop);
    let mut previous: Option<Arc<MonitorSnapshot>> = None;
    loop {
        let current = views.borrow_and_update().clone();
        for event in changes(previous.as_deref(), &current) {
            view.show(event);
        }
        if let Some(ending) = ending(&current, ids.len()) {
            return ending;
        }
        previous = Some(current);
        tokio::select! {
            biased;
            () = &mut stop => return Ending::Stopped,
            changed = views.changed() => if changed.is_err() { return Ending::Stopped },
        }
    }
}

/// What is new in `current` compared with `previous`, as events.
pub fn changes<'a>(
    previous: Option<&MonitorSnapshot>,
    current: &'a MonitorSnapshot,
) -> Vec<Event<'a>> {
    let before: HashMap<&BatchId, &BatchSnapshot> = previous
        .map(|p| p.batches.iter().map(|b| (&b.id, b)).collect())
        .unwrap_or_default();
    let mut events = Vec::new();
    for batch in &current.batches {
        let old = before.get(&batch.id);
        let fetch_changed = old.is_none_or(|o| o.fetch != batch.fetch);
        match &batch.fetch {
            FetchStatus::Live => {
                let progress_changed =
                    match (old.and_then(|o| o.progress.as_ref()), &batch.progress) {
                        (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                        (None, Some(_)) => true,
                        _ => false,
                    };
                if let (true, Some(progress)) = (progress_changed || fetch_changed, &batch.progress)
                {
                    events.push(Event::Progress {
                        id: &batch.id,
                        progress,
                        now_ms: current.now_ms,
                    });
                }
            }
            FetchStatus::Retrying {
                message,
                retry_at_ms,
                ..
            } if fetch_changed => {
                events.push(Event::Retrying {
                    id: &batch.id,
                    error: message,
                    wait: Duration::from_millis(retry_at_ms.saturating_sub(current.now_ms)),
                });
            }
            FetchStatus::NotFound { message } if fetch_changed => {
                events.push(Event::NotFound {
                    id: &batch.id,
                    error: message,
                });
            }
            _ => {}
        }
    }
    events
}

/// The watch's end, once every one of the `expected` batches is settled or the key is refused.
pub fn ending(view: &MonitorSnapshot, expected: usize) -> Option<Ending> {
    if let Connection::CredentialsRejected { status, message } = &view.connection {
        return Some(Ending::Rejected(ApiError::Unauthorized {
            status: *status,
            message: message.clone(),
        }));
    }
    if view.batches.len() < expected {
        return None;
    }
    view.batches
        .iter()
        .map(|b| match (&b.fetch, b.progress.as_deref()) {
            (FetchStatus::NotFound { .. }, _) => Some((b.id.clone(), Final::NotFound)),
            (_, Some(p)) if p.has_ended() => Some((b.id.clone(), Final::Ended(p.clone()))),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(Ending::AllFinished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::BatchStatus;

    fn progress(status: BatchStatus, completed: u64) -> Arc<BatchProgress> {
        let complete = status == BatchStatus::Completed;
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "status": status.as_str(), "isComplete": complete, "completed": completed,
                "waiting": 10 - completed, "total": 10,
            }))
            .unwrap(),
        )
    }

    fn snapshot(
        id: &str,
        progress: Option<Arc<BatchProgress>>,
        fetch: FetchStatus,
    ) -> BatchSnapshot {
        BatchSnapshot {
            id: BatchId::parse(id).unwrap(),
            progress,
            last_updated_ms: None,
            fetch,
            cancellation: None,
            launch: None,
            samples: Default::default(),
            moved_at_ms: None,
            notify: Default::default(),
            workspace: None,
        }
    }

    fn view(batches: Vec<BatchSnapshot>, connection: Connection) -> MonitorSnapshot {
        MonitorSnapshot {
            now_ms: 10_000,
            batches,
            connection,
            workspaces: Vec::new(),
            settings: batchwatch_core::state_file::Settings::default(),
            sharing_budget: 0,
            state_problem: None,
        }
    }

    #[test]
    fn only_what_changed_becomes_an_event() {
        let p1 = progress(BatchStatus::Processing, 1);
        let first = view(
            vec![
                snapshot("a", Some(p1.clone()), FetchStatus::Live),
                snapshot("b", None, FetchStatus::Pending),
            ],
            Connection::Ready,
        );
        let events = changes(None, &first);
        assert!(
            matches!(events.as_slice(), [Event::Progress { progress, .. }] if progress.completed == 1)
        );

        let retrying = FetchStatus::Retrying {
            code: "server_error".into(),
            message: "Trillet had a server error".into(),
            retry_at_ms: 12_500,
        };
        let second = view(
            vec![
                snapshot("a", Some(p1), FetchStatus::Live),
                snapshot("b", None, retrying.clone()),
            ],
            Connection::Ready,
        );
        let events = changes(Some(&first), &second);
        assert!(
            matches!(events.as_slice(), [Event::Retrying { error, wait, .. }] if *error == "Trillet had a server error" && *wait == Duration::from_millis(2500)),
            "{events:?}"
        );
        assert!(
            changes(Some(&second), &second).is_empty(),
            "nothing new, nothing shown"
        );

        let third = view(
            vec![
                snapshot(
                    "a",
                    Some(progress(BatchStatus::Processing, 2)),
                    FetchStatus::Live,
                ),
                snapshot(
                    "b",
                    None,
                    FetchStatus::NotFound {
                        message: "Batch not found".into(),
                    },
                ),
            ],
            Connection::Ready,
        );
        let events = changes(Some(&second), &third);
        assert!(
            matches!(
                events.as_slice(),
                [Event::Progress { .. }, Event::NotFound { .. }]
            ),
            "{events:?}"
        );
    }

    #[test]
    fn the_watch_ends_when_everything_is_settled_or_the_key_is_refused() {
        let done = snapshot(
            "a",
            Some(progress(BatchStatus::Completed, 10)),
            FetchStatus::Live,
        );
        let gone = snapshot(
            "b",
            None,
            FetchStatus::NotFound {
                message: "x".into(),
            },
        );
        let running = snapshot(
            "c",
            Some(progress(BatchStatus::Processing, 3)),
            FetchStatus::Live,
        );
        assert_eq!(
            ending(
                &view(vec![done.clone(), running.clone()], Connection::Ready),
                2
            ),
            None
        );
        assert_eq!(
            ending(&view(vec![done.clone()], Connection::Ready), 2),
            None,
            "not all tracked yet"
        );
        match ending(&view(vec![done, gone], Connection::Ready), 2) {
            Some(Ending::AllFinished(ends)) => {
                assert!(matches!(ends[0].1, Final::Ended(_)));
                assert_eq!(ends[1].1, Final::NotFound);
            }
            other => panic!("{other:?}"),
        }
        let refused = Connection::CredentialsRejected {
            status: 401,
            message: "Invalid API key".into(),
        };
        assert_eq!(
            ending(&view(vec![running], refused), 1),
            Some(Ending::Rejected(ApiError::Unauthorized {
                status: 401,
                message: "Invalid API key".into()
            }))
        );
    }
}
