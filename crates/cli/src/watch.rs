//! The polling loop behind `watch`: [`follow`] polls each unfinished batch on a schedule that
//! keeps one key inside Trillet's 60 requests/minute, reacts to each kind of failure, reports
//! what it sees to a [`View`], and returns how the watch ended.
//!
//! This is deliberately one narrow function: the core's monitor engine will replace it, and the
//! command and its output (`live`) should not notice.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use batchwatch_core::{ApiError, BatchId, BatchProgress};
use tokio::time::Instant;

use crate::summary::is_finished;

/// Requests per budget window the poller allows itself: Trillet allows 60 a minute per key,
/// and the rest is headroom for the app, the dashboard or a second terminal on the same key.
pub const BUDGET_PER_WINDOW: u32 = 50;

/// How fast to poll. Every wait is derived from these two, so shrinking both (as tests do)
/// compresses time without changing the schedule's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// The shortest time between two polls of one batch.
    pub floor: Duration,
    /// The span [`BUDGET_PER_WINDOW`] requests are spread over (a minute in production).
    pub window: Duration,
}

impl Pacing {
    /// Time between two polls of one batch while `unfinished` batches share the budget.
    pub fn interval(&self, unfinished: usize) -> Duration {
        let share = self
            .window
            .mul_f64(unfinished as f64 / f64::from(BUDGET_PER_WINDOW));
        self.floor.max(share)
    }

    /// After a transient failure: double the last wait (the interval the first time), up to
    /// five windows — five minutes in production.
    pub fn backoff(&self, previous: Option<Duration>, interval: Duration) -> Duration {
        let cap = self.window * 5;
        previous.unwrap_or(interval).saturating_mul(2).min(cap)
    }

    /// A 429 that does not say how long to wait: half a window (30 s in production).
    pub fn rate_limit_wait(&self) -> Duration {
        self.window / 2
    }
}

/// What the loop has to tell the person watching.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A fresh snapshot; when it is finished, the batch is not polled again.
    Progress {
        id: &'a BatchId,
        progress: &'a BatchProgress,
    },
    /// The poll failed for a reason that may pass; the next try is in `wait`.
    Retrying {
        id: &'a BatchId,
        error: &'a ApiError,
        wait: Duration,
    },
    /// Trillet does not know the batch; it is not polled again.
    NotFound {
        id: &'a BatchId,
        error: &'a ApiError,
    },
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

struct Tracked {
    id: BatchId,
    due: Instant,
    backoff: Option<Duration>,
    end: Option<Final>,
}

/// Polls every batch in `ids` through `fetch` until each is finished (or unknown), the
/// credentials are rejected, or `stop` completes.
pub async fn follow<F, Fut>(
    ids: &[BatchId],
    pacing: Pacing,
    mut fetch: F,
    view: &mut dyn View,
    stop: impl Future<Output = ()>,
) -> Ending
where
    F: FnMut(BatchId) -> Fut,
    Fut: Future<Output = Result<BatchProgress, ApiError>>,
{
    let mut stop = pin!(stop);
    let start = Instant::now();
    // Everything is polled once at the start: fewer than a budget's worth of IDs is fine, and
    // more are spread out by the rate-limit handling below.
    let mut tracked: Vec<Tracked> = ids
        .iter()
        .map(|id| Tracked {
            id: id.clone(),
            due: start,
            backoff: None,
            end: None,
        })
        .collect();

    loop {
        let Some(next) = tracked
            .iter()
            .enumerate()
            .filter(|(_, t)| t.end.is_none())
            .min_by_key(|(_, t)| t.due)
            .map(|(i, _)| i)
        else {
            let ends = tracked
                .into_iter()
                .map(|t| (t.id, t.end.expect("only finished batches remain")))
                .collect();
            return Ending::AllFinished(ends);
        };

        // `biased`: `stop` is polled first every time, so a Ctrl-C handler behind it is
        // installed before the first request leaves, and a stop always wins over a due poll.
        tokio::select! {
            biased;
            () = &mut stop => return Ending::Stopped,
            () = tokio::time::sleep_until(tracked[next].due) => {}
        }
        let result = tokio::select! {
            biased;
            () = &mut stop => return Ending::Stopped,
            result = fetch(tracked[next].id.clone()) => result,
        };
        let now = Instant::now();

        match result {
            Ok(progress) => {
                let interval = pacing.interval(unfinished(&tracked));
                let batch = &mut tracked[next];
                batch.backoff = None;
                view.show(Event::Progress {
                    id: &batch.id,
                    progress: &progress,
                });
                if is_finished(&progress) {
                    batch.end = Some(Final::Ended(progress));
                } else {
                    batch.due = now + interval;
                }
            }
            Err(error @ ApiError::Unauthorized { .. }) => return Ending::Rejected(error),
            Err(error @ ApiError::NotFound { .. }) => {
                let batch = &mut tracked[next];
                view.show(Event::NotFound {
                    id: &batch.id,
                    error: &error,
                });
                batch.end = Some(Final::NotFound);
            }
            Err(error @ ApiError::RateLimited { retry_after, .. }) => {
                // The limit is per key: every batch waits, not just the one that hit it.
                let wait = retry_after.unwrap_or_else(|| pacing.rate_limit_wait());
                for batch in tracked.iter_mut().filter(|t| t.end.is_none()) {
                    batch.due = batch.due.max(now + wait);
                }
                view.show(Event::Retrying {
                    id: &tracked[next].id,
                    error: &error,
                    wait,
                });
            }
            // 5xx, timeouts, dropped connections, unreadable bodies — and any other refusal,
            // which this endpoint is not documented to give: say why, wait longer, keep going.
            Err(error) => {
                let interval = pacing.interval(unfinished(&tracked));
                let batch = &mut tracked[next];
                let wait = pacing.backoff(batch.backoff, interval);
                batch.backoff = Some(wait);
                batch.due = now + wait;
                view.show(Event::Retrying {
                    id: &batch.id,
                    error: &error,
                    wait,
                });
            }
        }
    }
}

fn unfinished(tracked: &[Tracked]) -> usize {
    tracked.iter().filter(|t| t.end.is_none()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{HashMap, VecDeque};
    use std::rc::Rc;

    use batchwatch_core::BatchStatus;

    const PRODUCTION: Pacing = Pacing {
        floor: Duration::from_secs(15),
        window: Duration::from_secs(60),
    };

    #[test]
    fn interval_grows_with_the_number_of_batches() {
        let cases = [
            (0, 15_000),
            (1, 15_000),
            (12, 15_000),
            (13, 15_600),
            (25, 30_000),
            (50, 60_000),
            (100, 120_000),
        ];
        for (batches, ms) in cases {
            assert_eq!(
                PRODUCTION.interval(batches),
                Duration::from_millis(ms),
                "{batches} batches"
            );
        }
        // Compressed the way tests do it: same shape, a sixtieth of the time.
        let fast = Pacing {
            floor: Duration::from_millis(250),
            window: Duration::from_secs(1),
        };
        assert_eq!(fast.interval(25), Duration::from_millis(500));
    }

    #[test]
    fn backoff_doubles_up_to_five_windows() {
        let mut wait = None;
        let mut seen = Vec::new();
        for _ in 0..7 {
            let next = PRODUCTION.backoff(wait, PRODUCTION.interval(1));
            seen.push(next.as_secs());
            wait = Some(next);
        }
        assert_eq!(seen, [30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(PRODUCTION.rate_limit_wait(), Duration::from_secs(30));
    }

    fn id(text: &str) -> BatchId {
        BatchId::parse(text).unwrap()
    }

    fn progress(status: BatchStatus, done: u64) -> BatchProgress {
        serde_json::from_value::<BatchProgress>(serde_json::json!({
            "status": status.as_str(), "isComplete": false,
            "completed": done, "waiting": 10 - done, "total": 10,
        }))
        .unwrap()
    }

    fn server_error() -> ApiError {
        ApiError::Server {
            status: 500,
            message: "boom".into(),
        }
    }

    type Script = HashMap<String, VecDeque<Result<BatchProgress, ApiError>>>;

    /// Answers each batch's polls from its script, and logs (batch, seconds since start).
    #[derive(Clone, Default)]
    struct Fake {
        script: Rc<RefCell<Script>>,
        log: Rc<RefCell<Vec<(String, f64)>>>,
    }

    impl Fake {
        fn new(script: Vec<(&str, Vec<Result<BatchProgress, ApiError>>)>) -> Self {
            let fake = Fake::default();
            for (id, answers) in script {
                fake.script
                    .borrow_mut()
                    .insert(id.to_owned(), answers.into());
            }
            fake
        }

        fn fetcher(
            &self,
            start: Instant,
        ) -> impl FnMut(BatchId) -> std::future::Ready<Result<BatchProgress, ApiError>> {
            let fake = self.clone();
            move |id| {
                let at = (Instant::now() - start).as_secs_f64();
                fake.log.borrow_mut().push((id.to_string(), at));
                let answer = fake
                    .script
                    .borrow_mut()
                    .get_mut(id.as_str())
                    .and_then(VecDeque::pop_front)
                    .expect("polled more often than scripted");
                std::future::ready(answer)
            }
        }

        fn times(&self, batch: &str) -> Vec<f64> {
            self.log
                .borrow()
                .iter()
                .filter(|(b, _)| b == batch)
                .map(|(_, t)| (t * 10.0).round() / 10.0)
                .collect()
        }
    }

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl View for Recorder {
        fn show(&mut self, event: Event<'_>) {
            self.0.push(match event {
                Event::Progress { id, progress } => format!("{id} {}", progress.status),
                Event::Retrying { id, wait, error } => {
                    format!("{id} retry {} {}", wait.as_secs(), error.code())
                }
                Event::NotFound { id, .. } => format!("{id} not found"),
            });
        }
    }

    async fn run(fake: &Fake, ids: &[&str]) -> (Ending, Vec<String>) {
        let ids: Vec<BatchId> = ids.iter().map(|s| id(s)).collect();
        let mut view = Recorder::default();
        let ending = follow(
            &ids,
            PRODUCTION,
            fake.fetcher(Instant::now()),
            &mut view,
            std::future::pending(),
        )
        .await;
        (ending, view.0)
    }

    #[tokio::test(start_paused = true)]
    async fn polls_on_the_interval_until_finished_then_never_again() {
        use BatchStatus::*;
        let fake = Fake::new(vec![
            (
                "a",
                vec![
                    Ok(progress(Queued, 0)),
                    Ok(progress(Processing, 5)),
                    Ok(progress(Completed, 10)),
                ],
            ),
            ("b", vec![Ok(progress(Failed, 3))]),
        ]);
        let (ending, events) = run(&fake, &["a", "b"]).await;
        assert_eq!(fake.times("a"), [0.0, 15.0, 30.0]);
        assert_eq!(fake.times("b"), [0.0]);
        assert_eq!(
            events,
            ["a queued", "b failed", "a processing", "a completed"]
        );
        let Ending::AllFinished(ends) = ending else {
            panic!("{ending:?}")
        };
        assert_eq!(ends[0], (id("a"), Final::Ended(progress(Completed, 10))));
        assert_eq!(ends[1], (id("b"), Final::Ended(progress(Failed, 3))));
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_back_off_and_recover() {
        use BatchStatus::*;
        let fake = Fake::new(vec![(
            "a",
            vec![
                Err(server_error()),
                Err(ApiError::Timeout(Duration::from_secs(20))),
                Ok(progress(Processing, 1)),
                Err(server_error()),
                Ok(progress(Completed, 10)),
            ],
        )]);
        let (ending, events) = run(&fake, &["a"]).await;
        // 30 s, then 60 s, then the plain interval again once an answer came through.
        assert_eq!(fake.times("a"), [0.0, 30.0, 90.0, 105.0, 135.0]);
        assert_eq!(events[0], "a retry 30 server_error");
        assert_eq!(events[1], "a retry 60 timeout");
        assert_eq!(events[3], "a retry 30 server_error");
        assert!(matches!(ending, Ending::AllFinished(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_batch_for_as_long_as_asked() {
        use BatchStatus::*;
        let limited = |retry_after| ApiError::RateLimited {
            retry_after,
            message: "slow down".into(),
        };
        let fake = Fake::new(vec![
            (
                "a",
                vec![
                    Err(limited(Some(Duration::from_secs(40)))),
                    Err(limited(None)),
                    Ok(progress(Completed, 10)),
                ],
            ),
            (
                "b",
                vec![Ok(progress(Processing, 1)), Ok(progress(Completed, 10))],
            ),
        ]);
        let (_, events) = run(&fake, &["a", "b"]).await;
        // b was due at the start too, but waited out both of a's 429s (40 s, then 30 s).
        assert_eq!(fake.times("a"), [0.0, 40.0, 70.0]);
        assert_eq!(fake.times("b"), [70.0, 85.0]);
        assert_eq!(events[0], "a retry 40 rate_limited");
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_batches_stop_alone_and_rejection_stops_everything() {
        use BatchStatus::*;
        let not_found = ApiError::NotFound {
            message: "Batch not found".into(),
        };
        let fake = Fake::new(vec![
            ("gone", vec![Err(not_found)]),
            ("ok", vec![Ok(progress(Completed, 10))]),
        ]);
        let (ending, events) = run(&fake, &["gone", "ok"]).await;
        assert_eq!(events, ["gone not found", "ok completed"]);
        assert_eq!(
            ending,
            Ending::AllFinished(vec![
                (id("gone"), Final::NotFound),
                (id("ok"), Final::Ended(progress(Completed, 10)))
            ])
        );

        let rejected = ApiError::Unauthorized {
            status: 401,
            message: "Invalid API key".into(),
        };
        let fake = Fake::new(vec![
            (
                "a",
                vec![Ok(progress(Processing, 1)), Err(rejected.clone())],
            ),
            ("b", vec![Ok(progress(Processing, 1))]),
        ]);
        let (ending, _) = run(&fake, &["a", "b"]).await;
        assert_eq!(ending, Ending::Rejected(rejected));
        // Stopped at once: b's second poll, due at the same moment, never happened.
        assert_eq!(fake.times("b"), [0.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_watch_between_polls() {
        let fake = Fake::new(vec![("a", vec![Ok(progress(BatchStatus::Processing, 1))])]);
        let mut view = Recorder::default();
        let ending = follow(
            &[id("a")],
            PRODUCTION,
            fake.fetcher(Instant::now()),
            &mut view,
            tokio::time::sleep(Duration::from_secs(5)),
        )
        .await;
        assert_eq!(ending, Ending::Stopped);
        assert_eq!(fake.times("a"), [0.0]);
    }
}
