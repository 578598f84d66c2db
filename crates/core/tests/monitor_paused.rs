//! The monitor task with tokio's paused clock and an in-process fake source: the polling
//! policy as applied (intervals, back-off, 429 pause, 401 stop), change events, and exactly-once
//! finish events across restarts through the real state file.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batchwatch_core::model::{CallsPage, CallsQuery, CancelOutcome};
use batchwatch_core::monitor::{
    Connection, FetchStatus, Monitor, MonitorConfig, MonitorEvent, MonitorHandle, MonitorSnapshot,
    TrilletApi,
};
use batchwatch_core::schedule::{jitter_seed, PollPolicy};
use batchwatch_core::settings::SettingsForm;
use batchwatch_core::state_file::{Settings, StateFile};
use batchwatch_core::{ApiError, BatchId, BatchProgress, BatchStatus, Credentials};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{sleep, Instant};

type Answer = Result<BatchProgress, ApiError>;

/// A scripted Trillet: each batch answers what the test last set; every request is logged.
#[derive(Clone, Default)]
struct FakeTrillet {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    log: Arc<Mutex<Vec<(Instant, String, String)>>>,
    /// How long each answer takes to arrive.
    latency: Arc<Mutex<Duration>>,
    /// The next request's task dies instead of answering.
    panic_next: Arc<std::sync::atomic::AtomicBool>,
    /// What a cancel answers, after how long; unscripted when `None`.
    cancel: Arc<Mutex<Option<(Duration, Result<CancelOutcome, ApiError>)>>>,
    /// What a page of calls answers; unscripted when `None`.
    calls: Arc<Mutex<Option<Result<CallsPage, ApiError>>>>,
    /// Instead of `calls`: this many pages of one failed call each (`job_<page>`).
    pages: Arc<Mutex<Option<u64>>>,
    /// The next ask for this page is answered 429, asking to wait the given time.
    page_limited_once: Arc<Mutex<Option<(u64, Duration)>>>,
}

impl FakeTrillet {
    /// Every page of calls is refused with a 429 asking to wait `wait`.
    fn answer_calls_with_429(&self, wait: Duration) {
        *self.calls.lock().unwrap() = Some(Err(ApiError::RateLimited {
            retry_after: Some(wait),
            message: "Too many requests".into(),
        }));
    }
    fn set(&self, id: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(id.into(), answer);
    }
    fn requests(&self, id: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b, _)| b == id)
            .count()
    }
    fn total(&self) -> usize {
        self.log.lock().unwrap().len()
    }
    fn times(&self, id: &str) -> Vec<Instant> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b, _)| b == id)
            .map(|(t, _, _)| *t)
            .collect()
    }
}

/// What an action answers when the test did not script it. (Cancel and the call list are
/// tested for their content against the simulator, in `monitor_sim.rs`.)
fn unscripted<T>() -> Result<T, ApiError> {
    Err(ApiError::Refused {
        status: 501,
        message: "not scripted in this fake".into(),
    })
}

impl TrilletApi for FakeTrillet {
    /// A start's answer never comes: the one request is out, its outcome unknown.
    fn start(
        &self,
        credentials: &Credentials,
        _: batchwatch_core::launch::StartForm,
    ) -> impl Future<
        Output = Result<batchwatch_core::model::StartAnswer, batchwatch_core::launch::StartFailure>,
    > + Send
           + 'static {
        self.log.lock().unwrap().push((
            Instant::now(),
            "start".into(),
            credentials.workspace_id.to_string(),
        ));
        std::future::pending()
    }

    fn cancel(
        &self,
        _: &Credentials,
        _: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
        let (latency, answer) = self
            .cancel
            .lock()
            .unwrap()
            .clone()
            .unwrap_or((Duration::ZERO, unscripted()));
        async move {
            tokio::time::sleep(latency).await;
            answer
        }
    }

    fn calls(
        &self,
        credentials: &Credentials,
        batch: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
        if let Some(total_pages) = *self.pages.lock().unwrap() {
            let page = u64::from(query.page);
            self.log.lock().unwrap().push((
                Instant::now(),
                format!("calls of {batch}"),
                credentials.workspace_id.to_string(),
            ));
            let mut limited = self.page_limited_once.lock().unwrap();
            if let Some((_, wait)) = limited.filter(|(p, _)| *p == page) {
                *limited = None;
                return std::future::ready(Err(ApiError::RateLimited {
                    retry_after: Some(wait),
                    message: "Too many requests".into(),
                }));
            }
            return std::future::ready(Ok(CallsPage {
                calls: vec![serde_json::from_value(serde_json::json!({
                    "jobId": format!("job_{page}"), "status": "failed",
                    "phone_number": format!("+1555000{page}"), "error": "Number busy",
                }))
                .unwrap()],
                pagination: batchwatch_core::model::Pagination {
                    page,
                    limit: 1,
                    total: total_pages,
                    total_pages,
                    has_next: page < total_pages,
                    has_prev: page > 1,
                },
            }));
        }
        std::future::ready(
            self.calls
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(unscripted),
        )
    }

    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Answer> + Send + 'static {
        self.log.lock().unwrap().push((
            Instant::now(),
            id.to_string(),
            credentials.workspace_id.to_string(),
        ));
        let answer = self
            .answers
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .unwrap_or(Err(ApiError::NotFound {
                message: "Batch not found".into(),
            }));
        let latency = *self.latency.lock().unwrap();
        let panic = self
            .panic_next
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        async move {
            tokio::time::sleep(latency).await;
            assert!(!panic, "a request task dies (on purpose)");
            answer
        }
    }
}

fn progress(status: BatchStatus, completed: u64, total: u64) -> BatchProgress {
    let complete = matches!(
        status,
        BatchStatus::Completed | BatchStatus::Failed | BatchStatus::Cancelled
    );
    BatchProgress {
        is_complete: complete,
        waiting: if complete { 0 } else { total - completed },
        active: 0,
        completed,
        failed: 0,
        total,
        start_time: (status != BatchStatus::Queued).then_some(1_000),
        last_completed_time: (completed > 0).then_some(61_000),
        completed_time: complete.then_some(3_721_000),
        average_call_duration: None,
        recent_calls: vec![],
        status,
    }
}

fn running(completed: u64) -> Answer {
    Ok(progress(BatchStatus::Processing, completed, 100))
}

fn id(s: &str) -> BatchId {
    BatchId::parse(s).unwrap()
}

fn creds() -> Credentials {
    Credentials::new("sk_fake", "ws_fake").unwrap()
}

fn start(
    source: &FakeTrillet,
    state: Option<StateFile>,
) -> (MonitorHandle, UnboundedReceiver<MonitorEvent>) {
    let mut config = MonitorConfig::new(source.clone(), Some(creds()));
    config.state_file = state;
    config.clock = Arc::new(|| 3_800_000);
    Monitor::spawn(config)
}

/// Lets `d` of (paused) time pass, then lets every task woken at that instant run: the
/// monitor's timers that fall due exactly then have had their turn before the test looks.
async fn run_for(d: Duration) {
    sleep(d).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn drain(events: &mut UnboundedReceiver<MonitorEvent>) -> Vec<MonitorEvent> {
    let mut out = vec![];
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

fn batch<'a>(view: &'a MonitorSnapshot, name: &str) -> &'a batchwatch_core::monitor::BatchSnapshot {
    view.batches.iter().find(|b| b.id.as_str() == name).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_new_batch_is_polled_at_once_then_every_floor_interval() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(10));
    let (monitor, _events) = start(&fake, None);
    let t0 = Instant::now();
    monitor.track(vec![id("batch_a"), id("batch_a")]);
    run_for(Duration::from_millis(100)).await;
    assert_eq!(
        fake.requests("batch_a"),
        1,
        "first poll right away, duplicates ignored"
    );
    assert_eq!(monitor.snapshot().batches.len(), 1);
    assert_eq!(
        batch(&monitor.snapshot(), "batch_a")
            .progress
            .as_ref()
            .unwrap()
            .completed,
        10
    );

    run_for(Duration::from_secs(5 * 60)).await;
    let times = fake.times("batch_a");
    assert_eq!(
        times.len(),
        21,
        "once at start, then every 15 s for 5 minutes"
    );
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(15));
    }
    assert!(times[0] - t0 < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_batch_started_for_tomorrow_is_asked_every_15_minutes_until_then() {
    let fake = FakeTrillet::default();
    fake.set("batch_tomorrow", Ok(progress(BatchStatus::Queued, 0, 100)));
    fake.set("batch_queued", Ok(progress(BatchStatus::Queued, 0, 100)));
    let (monitor, _events) = start(&fake, None);
    let launch = batchwatch_core::launch::Launch {
        agent_id: "agent_1".into(),
        agent_name: "Sales".into(),
        file_name: "contacts.csv".into(),
        started_at_ms: 3_800_000,
        // The test's wall clock stands at 3,800,000 ms: a day from now.
        scheduled_at_ms: Some(3_800_000 + 24 * 3_600_000),
        retry_of: None,
    };
    monitor
        .track_launched(None, id("batch_tomorrow"), launch.clone())
        .answer()
        .await;
    monitor.track(vec![id("batch_queued")]);
    run_for(Duration::from_secs(2 * 3600)).await;
    let times = fake.times("batch_tomorrow");
    assert_eq!(times.len(), 9, "at once, then every 15 min for two hours");
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(15 * 60));
    }
    // A queued batch started elsewhere (no start time known) is asked as before.
    assert!(
        fake.requests("batch_queued") > 100,
        "{}",
        fake.requests("batch_queued")
    );
    let snapshot = monitor.snapshot();
    assert_eq!(
        batch(&snapshot, "batch_tomorrow").launch.as_deref(),
        Some(&launch)
    );
}

/// A start out when Batchwatch stops: its answer will never be heard, so it may have started —
/// said as such, never as "not started" (which would invite sending it again).
#[tokio::test(start_paused = true)]
async fn a_start_out_when_the_monitor_stops_has_an_unknown_outcome() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, None);
    let monitor = Arc::new(monitor);
    let form = batchwatch_core::launch::StartForm {
        file: batchwatch_core::launch::CsvSource::Bytes {
            name: "c.csv".into(),
            bytes: b"phone_number\n+15550000001\n".to_vec(),
        },
        agent_id: "agent_1".into(),
        scheduled_at_ms: None,
        callbacks: None,
    };
    let starting = tokio::spawn({
        let monitor = Arc::clone(&monitor);
        async move { monitor.start(form).await }
    });
    run_for(Duration::from_secs(1)).await;
    assert_eq!(fake.requests("start"), 1, "the start went out");
    monitor.shutdown().await;
    let outcome = starting.await.unwrap();
    assert!(
        matches!(
            outcome,
            Err(batchwatch_core::monitor::ActionError::OutcomeUnknown(_))
        ),
        "{outcome:?}"
    );
    assert_eq!(fake.requests("start"), 1, "and was never sent again");
}

#[tokio::test(start_paused = true)]
async fn many_batches_share_the_budget() {
    let fake = FakeTrillet::default();
    let ids: Vec<BatchId> = (0..200).map(|i| id(&format!("batch_{i}"))).collect();
    for b in &ids {
        fake.set(b.as_str(), running(1));
    }
    let (monitor, _events) = start(&fake, None);
    monitor.track(ids);
    // Ten minutes in one-second steps; count requests per sliding minute.
    let mut per_second = vec![];
    for _ in 0..600 {
        let before = fake.total();
        run_for(Duration::from_secs(1)).await;
        per_second.push(fake.total() - before);
    }
    let worst_minute = per_second
        .windows(60)
        .map(|w| w.iter().sum::<usize>())
        .max()
        .unwrap();
    assert!(worst_minute <= 50, "{worst_minute} requests in one minute");
    assert!(
        worst_minute >= 45,
        "the budget is used, not starved: {worst_minute}"
    );
    // With 200 batches each is polled every 200 × 60 / 50 = 240 s.
    let times = fake.times("batch_0");
    assert!(
        times
            .windows(2)
            .all(|p| p[1] - p[0] >= Duration::from_secs(240)),
        "{times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn finished_and_unknown_batches_are_not_polled_again() {
    let fake = FakeTrillet::default();
    fake.set("batch_done", running(90));
    fake.set("batch_cancel", running(5));
    let (monitor, mut events) = start(&fake, None);
    monitor.track(vec![
        id("batch_done"),
        id("batch_cancel"),
        id("batch_ghost"),
    ]);
    run_for(Duration::from_secs(5)).await;
    assert_eq!(fake.requests("batch_ghost"), 1);
    assert!(matches!(
        batch(&monitor.snapshot(), "batch_ghost").fetch,
        FetchStatus::NotFound { .. }
    ));

    fake.set("batch_done", Ok(progress(BatchStatus::Completed, 100, 100)));
    fake.set("batch_cancel", Ok(progress(BatchStatus::Cancelled, 5, 100)));
    run_for(Duration::from_secs(20)).await;
    let finished: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            MonitorEvent::BatchFinished {
                id, notification, ..
            } => Some((id.to_string(), notification.title)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        vec![
            (
                "batch_done".to_owned(),
                "Batch batch_done completed".to_owned()
            ),
            (
                "batch_cancel".to_owned(),
                "Batch batch_cancel cancelled".to_owned()
            )
        ]
    );
    let counts = (
        fake.requests("batch_done"),
        fake.requests("batch_cancel"),
        fake.requests("batch_ghost"),
    );
    monitor.refresh(None);
    run_for(Duration::from_secs(10 * 60)).await;
    assert_eq!(
        counts,
        (
            fake.requests("batch_done"),
            fake.requests("batch_cancel"),
            fake.requests("batch_ghost")
        )
    );
    assert!(drain(&mut events).is_empty(), "a finish is announced once");

    // Refreshing the unknown batch by name asks again.
    monitor.refresh(Some(id("batch_ghost")));
    run_for(Duration::from_secs(2)).await;
    assert_eq!(fake.requests("batch_ghost"), 2);
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_keep_the_last_progress_and_recover() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(10));
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_millis(100)).await;
    fake.set(
        "batch_a",
        Err(ApiError::Server {
            status: 500,
            message: "Internal server error".into(),
        }),
    );
    let errors_from = Duration::from_millis(100);
    let span = Duration::from_secs(15 * 60);
    run_for(span).await;
    let times = fake.times("batch_a");
    let gaps: Vec<Duration> = times.windows(2).map(|p| p[1] - p[0]).collect();
    // The 15 s interval, then exactly the policy's back-off for this batch's jitter seed:
    // 15, 30, 60, 120, 240, 300, 300 … each moved by its own ±20 %.
    let policy = PollPolicy::default();
    let seed = jitter_seed("batch_a");
    let mut expected = vec![policy.interval(1, 0)];
    let mut at = expected[0];
    for failures in 1.. {
        let wait = policy.backoff(failures, seed);
        if at + wait > span + errors_from {
            break;
        }
        at += wait;
        expected.push(wait);
    }
    assert!(expected.len() >= 7, "{expected:?}");
    // (tokio's timers fire on whole milliseconds, so each wait is rounded up to one.)
    let on_the_timer = |d: Duration| Duration::from_millis(d.as_nanos().div_ceil(1_000_000) as u64);
    assert_eq!(
        gaps,
        expected.into_iter().map(on_the_timer).collect::<Vec<_>>()
    );
    let view = monitor.snapshot();
    let b = batch(&view, "batch_a");
    assert_eq!(
        b.progress.as_ref().unwrap().completed,
        10,
        "last known progress kept"
    );
    let FetchStatus::Retrying { code, message, .. } = &b.fetch else {
        panic!("{:?}", b.fetch)
    };
    assert_eq!(code, "server_error");
    assert!(message.contains("Internal server error"));

    fake.set("batch_a", running(50));
    run_for(Duration::from_secs(6 * 60)).await;
    let view = monitor.snapshot();
    let b = batch(&view, "batch_a");
    assert_eq!(b.fetch, FetchStatus::Live);
    assert_eq!(b.progress.as_ref().unwrap().completed, 50);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_batch_until_the_wait_is_over() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(1));
    fake.set("batch_b", running(1));
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a"), id("batch_b")]);
    run_for(Duration::from_secs(3)).await;
    fake.set(
        "batch_a",
        Err(ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(90)),
            message: "slow down".into(),
        }),
    );
    run_for(Duration::from_secs(16)).await;
    let total = fake.total();
    assert!(matches!(
        monitor.snapshot().connection,
        Connection::RateLimited { .. }
    ));
    fake.set("batch_a", running(2));
    run_for(Duration::from_secs(80)).await;
    assert_eq!(fake.total(), total, "nothing sent during the wait");
    run_for(Duration::from_secs(15)).await;
    assert!(fake.total() > total, "polling resumed");
    assert_eq!(monitor.snapshot().connection, Connection::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_key_stops_everything_until_new_credentials() {
    let fake = FakeTrillet::default();
    for b in ["batch_a", "batch_b", "batch_c"] {
        fake.set(
            b,
            Err(ApiError::Unauthorized {
                status: 401,
                message: "Invalid API key".into(),
            }),
        );
    }
    let (monitor, mut events) = start(&fake, None);
    monitor.track(vec![id("batch_a"), id("batch_b"), id("batch_c")]);
    run_for(Duration::from_secs(60 * 60)).await;
    assert_eq!(fake.total(), 1, "one 401 stops all polling for the key");
    let rejected: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, MonitorEvent::CredentialsRejected { .. }))
        .collect();
    assert_eq!(rejected.len(), 1, "one notification");
    assert!(matches!(
        monitor.snapshot().connection,
        Connection::CredentialsRejected { .. }
    ));

    for b in ["batch_a", "batch_b", "batch_c"] {
        fake.set(b, running(3));
    }
    monitor.set_credentials(Some(Credentials::new("sk_new", "ws_new").unwrap()));
    run_for(Duration::from_secs(5)).await;
    assert_eq!(fake.total(), 4);
    assert!(fake
        .log
        .lock()
        .unwrap()
        .iter()
        .skip(1)
        .all(|(_, _, ws)| ws == "ws_new"));
    assert_eq!(monitor.snapshot().connection, Connection::Ready);
}

#[tokio::test(start_paused = true)]
async fn refresh_now_is_honoured_within_the_budget() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(1));
    let mut config = MonitorConfig::new(fake.clone(), Some(creds()));
    config.poll = Some(batchwatch_core::schedule::PollPolicy {
        budget: 2,
        ..Default::default()
    });
    let (monitor, _events) = Monitor::spawn(config);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_secs(1)).await;
    for _ in 0..10 {
        monitor.refresh(Some(id("batch_a")));
        run_for(Duration::from_secs(1)).await;
    }
    // Budget 2 a minute → requests at least 30 s apart, however often the user clicks.
    let times = fake.times("batch_a");
    assert_eq!(times.len(), 1);
    run_for(Duration::from_secs(30)).await;
    assert_eq!(fake.times("batch_a").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn finishes_are_announced_exactly_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_while_away", running(40));
    fake.set(
        "batch_seen_done",
        Ok(progress(BatchStatus::Completed, 100, 100)),
    );
    fake.set("batch_finishes_now", running(70));

    // Run 1: sees two batches running and one already done (no announcement for that one).
    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    monitor.track(vec![
        id("batch_while_away"),
        id("batch_seen_done"),
        id("batch_finishes_now"),
    ]);
    run_for(Duration::from_secs(5)).await;
    fake.set(
        "batch_finishes_now",
        Ok(progress(BatchStatus::Completed, 100, 100)),
    );
    monitor.refresh(None);
    run_for(Duration::from_secs(20)).await;
    let names = |events: Vec<MonitorEvent>| -> Vec<String> {
        events
            .into_iter()
            .filter_map(|e| match e {
                MonitorEvent::BatchFinished { id, .. } => Some(id.to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(names(drain(&mut events)), vec!["batch_finishes_now"]);
    monitor.shutdown().await;

    // While stopped, one batch finishes.
    fake.set(
        "batch_while_away",
        Ok(progress(BatchStatus::Failed, 60, 100)),
    );

    // Run 2: the saved snapshots show at once; the batch that finished while away is announced.
    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    let view = monitor.snapshot();
    assert_eq!(view.batches.len(), 3, "restored before any request");
    assert_eq!(
        batch(&view, "batch_while_away")
            .progress
            .as_ref()
            .unwrap()
            .completed,
        40
    );
    let requests_before = fake.total();
    run_for(Duration::from_secs(20)).await;
    assert_eq!(
        fake.total(),
        requests_before + 1,
        "only the unfinished batch is polled"
    );
    assert_eq!(names(drain(&mut events)), vec!["batch_while_away"]);
    monitor.shutdown().await;

    // Run 3: nothing left to announce, nothing to poll.
    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    run_for(Duration::from_secs(60)).await;
    assert!(names(drain(&mut events)).is_empty());
    assert_eq!(fake.total(), requests_before + 1);
    drop(monitor);
}

#[tokio::test(start_paused = true)]
async fn a_start_is_an_event_once_across_restarts_with_its_payload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_q", Ok(progress(BatchStatus::Queued, 0, 100)));
    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    monitor.track(vec![id("batch_q")]);
    run_for(Duration::from_secs(5)).await;
    assert!(drain(&mut events).is_empty(), "queued: nothing yet");
    fake.set("batch_q", running(3));
    monitor.refresh(None);
    run_for(Duration::from_secs(20)).await;
    let said = drain(&mut events);
    assert_eq!(said.len(), 1, "{said:?}");
    let MonitorEvent::Started {
        id: started,
        payload,
    } = &said[0]
    else {
        panic!("{said:?}")
    };
    assert_eq!(started.as_str(), "batch_q");
    let payload = serde_json::to_value(payload).unwrap();
    assert_eq!(payload["event"], "started");
    assert_eq!(payload["status"], "processing");
    assert_eq!(payload["completed"], 3);
    assert_eq!(payload["workspace"], "ws_fake");
    assert_eq!(payload["text"], "Batch batch_q started — 100 calls");
    assert!(!payload.to_string().contains("sk_fake"));
    let asked = fake.requests("batch_q");
    // Killed, not shut down: the start was saved before it was told.
    drop(monitor);

    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    monitor.refresh(None);
    run_for(Duration::from_secs(20)).await;
    assert!(
        fake.requests("batch_q") > asked,
        "asked again after the restart"
    );
    assert!(drain(&mut events).is_empty(), "the start is not said again");
    drop(monitor);
}

#[tokio::test(start_paused = true)]
async fn a_batchs_notify_choice_silences_its_notifications_not_its_hooks_and_is_kept() {
    use batchwatch_core::notify_choice::NotifyChoice;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    for name in [
        "batch_muted",
        "batch_clean",
        "batch_failing",
        "batch_default",
    ] {
        fake.set(name, running(10));
    }
    let (monitor, events) = start(&fake, Some(StateFile::new(&path)));
    monitor.track(
        [
            "batch_muted",
            "batch_clean",
            "batch_failing",
            "batch_default",
        ]
        .map(id)
        .to_vec(),
    );
    monitor.set_notify(id("batch_muted"), NotifyChoice::Never);
    monitor.set_notify(id("batch_clean"), NotifyChoice::Failures);
    monitor.set_notify(id("batch_failing"), NotifyChoice::Failures);
    run_for(Duration::from_secs(5)).await;
    monitor.shutdown().await;
    let (monitor, mut events_after) = start(&fake, Some(StateFile::new(&path)));
    drop(events);
    let view = monitor.snapshot();
    assert_eq!(
        batch(&view, "batch_muted").notify,
        NotifyChoice::Never,
        "kept across a restart"
    );
    assert_eq!(batch(&view, "batch_default").notify, NotifyChoice::Always);

    let mut some_failed = progress(BatchStatus::Completed, 90, 100);
    some_failed.failed = 10;
    for name in ["batch_muted", "batch_clean", "batch_default"] {
        fake.set(name, Ok(progress(BatchStatus::Completed, 100, 100)));
    }
    fake.set("batch_failing", Ok(some_failed));
    monitor.refresh(None);
    run_for(Duration::from_secs(20)).await;
    let mut shown: Vec<(String, bool)> = drain(&mut events_after)
        .into_iter()
        .filter_map(|e| match e {
            MonitorEvent::BatchFinished { id, show, .. } => Some((id.to_string(), show)),
            _ => None,
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            ("batch_clean".to_owned(), false),
            ("batch_default".to_owned(), true),
            ("batch_failing".to_owned(), true),
            ("batch_muted".to_owned(), false),
        ],
        "every finish is an event (for the hooks); the choice decides only what is shown"
    );
    drop(monitor);
}

/// A monitor whose wall clock starts at `wall_ms` and moves with the paused clock, in UTC.
fn start_at_wall(
    source: &FakeTrillet,
    state: StateFile,
    wall_ms: u64,
) -> (MonitorHandle, UnboundedReceiver<MonitorEvent>) {
    let origin = Instant::now();
    let mut config = MonitorConfig::new(source.clone(), Some(creds()));
    config.state_file = Some(state);
    config.clock = Arc::new(move || wall_ms + origin.elapsed().as_millis() as u64);
    config.zone = batchwatch_core::format::TimeZone::UTC;
    Monitor::spawn(config)
}

#[tokio::test(start_paused = true)]
async fn quiet_hours_hold_notifications_across_a_restart_and_tell_them_once_at_the_end() {
    use batchwatch_core::quiet::QuietHours;
    // 2023-12-20 21:00 UTC: inside 20:00–08:00.
    const NINE_PM: u64 = 1_703_106_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_night", running(10));
    fake.set("batch_late", running(10));
    let (monitor, mut events) = start_at_wall(&fake, StateFile::new(&path), NINE_PM);
    let night = QuietHours::parse("20:00-08:00").unwrap();
    monitor.update_settings(move |s| s.quiet_hours = Some(night));
    monitor.track(vec![id("batch_night"), id("batch_late")]);
    run_for(Duration::from_secs(5)).await;
    fake.set(
        "batch_night",
        Ok(progress(BatchStatus::Completed, 100, 100)),
    );
    monitor.refresh(None);
    run_for(Duration::from_secs(20)).await;
    let said = drain(&mut events);
    assert!(
        matches!(&said[..], [MonitorEvent::BatchFinished { show: false, .. }]),
        "the finish is an event (hooks run) but not shown: {said:?}"
    );
    // Killed inside the quiet: what was held is on disk.
    drop(monitor);

    let (monitor, mut events) = start_at_wall(&fake, StateFile::new(&path), NINE_PM + 30 * 60_000);
    fake.set("batch_late", Ok(progress(BatchStatus::Failed, 60, 100)));
    monitor.refresh(None);
    run_for(Duration::from_secs(60)).await;
    let said = drain(&mut events);
    assert!(
        matches!(&said[..], [MonitorEvent::BatchFinished { show: false, .. }]),
        "still quiet after the restart: {said:?}"
    );
    // It is 21:31: to 07:59, then past 08:00.
    run_for(Duration::from_secs(10 * 3600 + 28 * 60)).await;
    assert!(drain(&mut events).is_empty(), "not before the end");
    run_for(Duration::from_secs(120)).await;
    let said = drain(&mut events);
    let [MonitorEvent::QuietSummary { notification }] = &said[..] else {
        panic!("one summary at 08:00: {said:?}")
    };
    assert_eq!(notification.title, "While quiet: 2 batches finished");
    assert_eq!(
        notification.body,
        "Batch batch_night completed; Batch batch_late failed"
    );
    assert!(notification.urgent, "one of them failed");
    run_for(Duration::from_secs(3600)).await;
    assert!(drain(&mut events).is_empty(), "told once");
    monitor.shutdown().await;
    let stored = StateFile::new(&path).load(0).state;
    assert!(stored.held.is_empty(), "forgotten once told");
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_state_file_is_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, b"{\"schema\": 1, \"batches\": [").unwrap();
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, Some(StateFile::new(&path)));
    let problem = monitor.snapshot().state_problem.clone().unwrap_or_default();
    assert!(
        problem.contains("is damaged") && problem.contains("state.db.corrupt-3800000"),
        "{problem}"
    );
    assert!(dir.path().join("state.db.corrupt-3800000").exists());

    // Later saves write a fresh file; the damaged one stays aside.
    fake.set("batch_a", running(1));
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_secs(2)).await;
    monitor.shutdown().await;
    let saved = StateFile::new(&path).load(0);
    assert!(saved.problem.is_none());
    assert_eq!(saved.state.batches[0].id.as_str(), "batch_a");
}

#[tokio::test(start_paused = true)]
async fn a_failed_save_is_shown_until_a_later_save_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batchwatch/state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(1));
    let (monitor, _events) = start(&fake, Some(StateFile::new(&path)));
    // Another program holds the database locked (a backup tool, say): saves fail.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    monitor.track(vec![id("batch_a")]);
    let mut views = monitor.subscribe();
    let failed = views
        .wait_for(|v| v.state_problem.is_some())
        .await
        .unwrap()
        .state_problem
        .clone()
        .unwrap();
    assert!(failed.contains("could not save"), "{failed}");

    // The lock goes; the next change is saved and the banner with it.
    other.execute_batch("COMMIT;").unwrap();
    drop(other);
    fake.set("batch_a", running(2));
    monitor.refresh(Some(id("batch_a")));
    views.wait_for(|v| v.state_problem.is_none()).await.unwrap();
    assert_eq!(StateFile::new(&path).load(0).state.batches.len(), 1);
    drop(monitor);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_changes_is_saved_once_the_debounce_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    let file = StateFile::new(&path);
    let (monitor, _events) = start(&fake, Some(file.clone()));
    let mut views = monitor.subscribe();
    for i in 0..50 {
        monitor.track(vec![id(&format!("batch_{i}"))]);
    }
    // All fifty taken (and published) at the same instant: nothing is written yet.
    views.wait_for(|v| v.batches.len() == 50).await.unwrap();
    assert_eq!(file.writes(), 0, "not written before the debounce");
    run_for(Duration::from_millis(600)).await;
    assert_eq!(file.writes(), 1, "one write for the burst");
    assert_eq!(
        StateFile::new(&path).load(0).state.batches.len(),
        50,
        "all fifty in it"
    );
    drop(monitor);
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_capped_not_fatal() {
    let fake = FakeTrillet::default();
    fake.set(
        "batch_a",
        Err(ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(u64::MAX / 2)),
            message: "later".into(),
        }),
    );
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_secs(1)).await;
    fake.set("batch_a", running(5));
    // The default cap is five minutes: polling resumes then, and the task is alive to do it.
    run_for(Duration::from_secs(5 * 60 + 1)).await;
    assert_eq!(fake.requests("batch_a"), 2);
    assert_eq!(
        batch(&monitor.snapshot(), "batch_a").fetch,
        FetchStatus::Live
    );
}

#[tokio::test(start_paused = true)]
async fn settings_given_at_start_are_not_written_over_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(1));
    let mut config = MonitorConfig::new(fake.clone(), Some(creds()));
    config.state_file = Some(StateFile::new(&path));
    config.poll = Some(batchwatch_core::schedule::PollPolicy {
        window: Duration::from_secs(1),
        ..Default::default()
    });
    let (monitor, _events) = Monitor::spawn(config);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_secs(2)).await;
    monitor.shutdown().await;
    assert_eq!(
        StateFile::new(&path).load(0).state.settings,
        Settings::default()
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_to_replaced_credentials_is_not_believed() {
    let fake = FakeTrillet::default();
    // The old workspace does not know the batch; the request is in flight when the key changes.
    fake.set(
        "batch_a",
        Err(ApiError::NotFound {
            message: "Batch not found".into(),
        }),
    );
    *fake.latency.lock().unwrap() = Duration::from_secs(1);
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]);
    // Sent (and published as sent) at once; its answer takes a second.
    let mut views = monitor.subscribe();
    views
        .wait_for(|_| fake.requests("batch_a") == 1)
        .await
        .unwrap();
    fake.set("batch_a", running(7));
    monitor.set_credentials(Some(Credentials::new("sk_new", "ws_new").unwrap()));
    run_for(Duration::from_secs(3)).await;
    assert_eq!(fake.requests("batch_a"), 2);
    let view = monitor.snapshot();
    assert_eq!(
        batch(&view, "batch_a").fetch,
        FetchStatus::Live,
        "asked again with the new credentials"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_task_that_dies_is_retried_not_lost() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(3));
    fake.set("batch_b", running(4));
    // Slow answers, so batch_b's request is still out when batch_a's task dies.
    *fake.latency.lock().unwrap() = Duration::from_secs(5);
    fake.panic_next
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a"), id("batch_b")]);
    run_for(Duration::from_millis(5_500)).await;
    assert_eq!(fake.requests("batch_b"), 1);
    assert_eq!(
        batch(&monitor.snapshot(), "batch_a").fetch,
        FetchStatus::Pending
    );
    // Retried after the first back-off (15 s ± 20 %), not stuck "in flight".
    run_for(Duration::from_secs(30)).await;
    assert!(fake.requests("batch_a") >= 2);
    assert_eq!(
        batch(&monitor.snapshot(), "batch_a").fetch,
        FetchStatus::Live
    );
}

#[tokio::test(start_paused = true)]
async fn settings_round_trip_through_the_file_and_steer_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(1));
    let (monitor, _events) = start(&fake, Some(StateFile::new(&path)));
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_millis(100)).await;

    let form = SettingsForm {
        floor_secs: 40,
        budget: 20,
        notifications: false,
        failure_alert_percent: Some(30),
        stall_minutes: 20,
        sounds: false,
        quiet_hours: None,
    }
    .validate()
    .unwrap();
    monitor.update_settings(move |s| *s = form.applied_to(*s));
    run_for(Duration::from_secs(200)).await;
    let times = fake.times("batch_a");
    // The first poll's 15-s interval was cut short by nothing (40 s is longer), then every 40 s.
    for pair in times[1..].windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(40), "{times:?}");
    }
    assert!(times.len() >= 5, "{times:?}");
    monitor.shutdown().await;

    let stored = StateFile::new(&path).load(0).state.settings;
    assert_eq!(stored.poll.floor, Duration::from_secs(40));
    assert_eq!(stored.poll.budget, 20);
    assert!(!stored.notifications);
    assert_eq!(stored.failure_alert_percent, Some(30));
    assert!(!stored.sounds);
    assert_eq!(stored.stall_minutes, 20);

    // A new run reads them back and polls by them.
    let again = FakeTrillet::default();
    again.set("batch_a", running(2));
    let (monitor, _events) = start(&again, Some(StateFile::new(&path)));
    assert_eq!(monitor.snapshot().settings, stored);
    run_for(Duration::from_secs(121)).await;
    let times = again.times("batch_a");
    assert_eq!(
        times.len(),
        4,
        "at once, then at 40, 80 and 120 s: {times:?}"
    );
    assert_eq!(times[1] - times[0], Duration::from_secs(40));
}

fn with_failures(completed: u64, failed: u64) -> Answer {
    let mut p = progress(BatchStatus::Processing, completed, 100);
    p.failed = failed;
    p.waiting = 100 - completed - failed;
    Ok(p)
}

#[tokio::test(start_paused = true)]
async fn a_failure_rate_alert_is_sent_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    fake.set("batch_a", with_failures(16, 4)); // 20 % of 20
    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    monitor.update_settings(|s| s.failure_alert_percent = Some(25));
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_secs(20)).await;
    let alerts = |events: &mut UnboundedReceiver<MonitorEvent>| {
        drain(events)
            .into_iter()
            .filter(|e| matches!(e, MonitorEvent::FailureRateHigh { .. }))
            .count()
    };
    assert_eq!(alerts(&mut events), 0, "20 % is under the 25 % threshold");

    fake.set("batch_a", with_failures(18, 7)); // 28 %
    run_for(Duration::from_secs(16)).await;
    assert_eq!(alerts(&mut events), 1);
    fake.set("batch_a", with_failures(20, 10)); // 33 %: still high, already said
    run_for(Duration::from_secs(60)).await;
    assert_eq!(alerts(&mut events), 0);
    monitor.shutdown().await;

    let (monitor, mut events) = start(&fake, Some(StateFile::new(&path)));
    run_for(Duration::from_secs(60)).await;
    assert!(
        fake.requests("batch_a") > 5,
        "still polled after the restart"
    );
    assert_eq!(alerts(&mut events), 0, "not again after a restart");
    drop(monitor);
}

type CancelAnswer = Result<CancelOutcome, ApiError>;

/// `batch_a` tracked and polled, then cancelled with a DELETE that answers `answer` only after
/// 20 s; returns a second into that wait, for the test to change what polls see meanwhile.
async fn cancel_in_flight(
    fake: &FakeTrillet,
    answer: CancelAnswer,
) -> (
    Arc<MonitorHandle>,
    UnboundedReceiver<MonitorEvent>,
    tokio::task::JoinHandle<Result<CancelOutcome, batchwatch_core::monitor::ActionError>>,
) {
    *fake.cancel.lock().unwrap() = Some((Duration::from_secs(20), answer));
    let (monitor, events) = start(fake, None);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_millis(100)).await;
    let monitor = Arc::new(monitor);
    let cancel = tokio::spawn({
        let monitor = monitor.clone();
        async move { monitor.cancel(id("batch_a")).await }
    });
    run_for(Duration::from_secs(1)).await;
    (monitor, events, cancel)
}

#[tokio::test(start_paused = true)]
async fn a_cancel_seen_by_a_poll_before_its_answer_is_not_announced() {
    use batchwatch_core::model::CancelDetails;
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(10));
    let outcome = CancelOutcome {
        batch_id: "batch_a".into(),
        status: BatchStatus::Cancelled,
        message: None,
        details: CancelDetails::default(),
    };
    // The DELETE takes 20 s to answer; a poll in between already sees "cancelled".
    let (monitor, mut events, cancel) = cancel_in_flight(&fake, Ok(outcome)).await;
    fake.set("batch_a", Ok(progress(BatchStatus::Cancelled, 10, 100)));
    run_for(Duration::from_secs(16)).await;
    assert!(
        batch(&monitor.snapshot(), "batch_a")
            .progress
            .as_ref()
            .is_some_and(|p| p.status == BatchStatus::Cancelled),
        "the poll saw it first"
    );
    run_for(Duration::from_secs(5)).await;
    assert!(cancel.await.unwrap().is_ok());
    let finishes = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, MonitorEvent::BatchFinished { .. }))
        .count();
    assert_eq!(finishes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_429_on_a_page_of_calls_pauses_polling_too() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(10));
    fake.answer_calls_with_429(Duration::from_secs(40));
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_millis(100)).await;
    let error = monitor
        .calls(id("batch_a"), CallsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "rate_limited");
    // The monitor learns from the answer, replies and publishes in one turn of its task.
    assert!(matches!(
        monitor.snapshot().connection,
        Connection::RateLimited { .. }
    ));
    let before = fake.requests("batch_a");
    run_for(Duration::from_secs(39)).await;
    assert_eq!(fake.requests("batch_a"), before, "no poll during the wait");
    // While the wait lasts, a click is refused without a request (which would now succeed).
    *fake.calls.lock().unwrap() = Some(Ok(CallsPage {
        calls: vec![],
        pagination: Default::default(),
    }));
    let refused = monitor.calls(id("batch_a"), CallsQuery::default()).await;
    assert_eq!(refused.unwrap_err().code(), "rate_limited");
    run_for(Duration::from_secs(2)).await;
    assert_eq!(
        fake.requests("batch_a"),
        before + 1,
        "polling resumes after it"
    );
    assert!(monitor
        .calls(id("batch_a"), CallsQuery::default())
        .await
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_401_on_a_click_stops_polling_like_one_on_a_poll() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(10));
    *fake.calls.lock().unwrap() = Some(Err(ApiError::Unauthorized {
        status: 401,
        message: "Invalid API key".into(),
    }));
    let (monitor, mut events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]);
    run_for(Duration::from_millis(100)).await;
    let before = fake.requests("batch_a");
    let error = monitor
        .calls(id("batch_a"), CallsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unauthorized");
    run_for(Duration::from_secs(60)).await;
    assert!(matches!(
        monitor.snapshot().connection,
        Connection::CredentialsRejected { status: 401, .. }
    ));
    assert_eq!(
        fake.requests("batch_a"),
        before,
        "no poll with a refused key"
    );
    let rejections = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, MonitorEvent::CredentialsRejected { .. }))
        .count();
    assert_eq!(rejections, 1);
}

#[tokio::test(start_paused = true)]
async fn a_finish_seen_while_a_cancel_fails_is_announced_once() {
    let fake = FakeTrillet::default();
    fake.set("batch_a", running(90));
    // The DELETE takes 20 s and is refused (it had finished); a poll in between sees the finish.
    let refused = Err(ApiError::Refused {
        status: 409,
        message: "Batch already completed".into(),
    });
    let (_monitor, mut events, cancel) = cancel_in_flight(&fake, refused).await;
    fake.set("batch_a", Ok(progress(BatchStatus::Completed, 100, 100)));
    run_for(Duration::from_secs(30)).await;
    assert_eq!(cancel.await.unwrap().unwrap_err().code(), "refused");
    let finishes = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, MonitorEvent::BatchFinished { .. }))
        .count();
    assert_eq!(finishes, 1, "a real completion is news, cancel or not");
}

#[tokio::test(start_paused = true)]
async fn a_pause_ends_by_itself_after_the_hour_and_the_file_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = FakeTrillet::default();
    // A wall clock that moves with tokio's paused one.
    let start_at = Instant::now();
    let mut config = MonitorConfig::new(fake.clone(), Some(creds()));
    config.state_file = Some(StateFile::new(&path));
    config.clock = Arc::new(move || 1_000_000 + (Instant::now() - start_at).as_millis() as u64);
    let (monitor, _events) = Monitor::spawn(config);
    monitor.update_settings(|s| *s = s.with_pause(true, 1_000_000));
    run_for(Duration::from_secs(1)).await;
    let until = monitor.snapshot().settings.notifications_paused_until_ms;
    assert_eq!(until, Some(1_000_000 + 3_600_000));
    let mut views = monitor.subscribe();
    views.borrow_and_update();

    run_for(Duration::from_secs(3_600)).await;
    assert!(
        views.has_changed().unwrap(),
        "a view at the end of the pause"
    );
    assert_eq!(
        monitor.snapshot().settings.notifications_paused_until_ms,
        None
    );
    monitor.shutdown().await;
    assert_eq!(
        StateFile::new(&path)
            .load(0)
            .state
            .settings
            .notifications_paused_until_ms,
        None
    );
}

#[tokio::test(start_paused = true)]
async fn new_credentials_are_checked_by_the_monitor_within_its_budget() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, None);
    let candidate = || Credentials::new("sk_candidate", "ws_candidate").unwrap();
    // With nothing tracked, an ID that cannot exist: a good key earns a 404, which is fine.
    assert_eq!(monitor.check_credentials(candidate()).await, Ok(()));
    let probe = "batch_batchwatch_credentials_check";
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (log[0].1.as_str(), log[0].2.as_str()),
        (probe, "ws_candidate")
    );

    // A refusal says the candidate is wrong — and nothing about the monitor's own key.
    fake.set(
        probe,
        Err(ApiError::Unauthorized {
            status: 401,
            message: "Invalid API key".into(),
        }),
    );
    let refused = monitor.check_credentials(candidate()).await.unwrap_err();
    assert_eq!(refused.code(), "unauthorized", "{refused:?}");
    assert_eq!(monitor.snapshot().connection, Connection::Ready);

    // With a batch of its own workspace tracked, that batch is the one asked about (a new key
    // for the workspace polled)...
    fake.set("batch_a", running(3));
    monitor.track(vec![id("batch_a")]).answer().await;
    let before = fake.requests("batch_a");
    let same_workspace = Credentials::new("sk_candidate", "ws_fake").unwrap();
    assert_eq!(monitor.check_credentials(same_workspace).await, Ok(()));
    assert_eq!(fake.requests("batch_a"), before + 1);
    assert_eq!(fake.requests(probe), 2);
    // ...while another workspace's batch is none of a candidate's business: it asks the probe.
    let refused = monitor.check_credentials(candidate()).await.unwrap_err();
    assert_eq!(refused.code(), "unauthorized", "{refused:?}");
    assert_eq!(fake.requests(probe), 3);
    assert_eq!(fake.requests("batch_a"), before + 1);
}

#[tokio::test(start_paused = true)]
async fn a_drill_down_lives_with_its_batch_and_pages_on() {
    let fake = FakeTrillet::default();
    *fake.pages.lock().unwrap() = Some(3);
    fake.set("batch_a", running(3));
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_a")]).answer().await;

    let first = monitor.failed_calls(id("batch_a"), false).await.unwrap();
    assert_eq!((first.loaded, first.has_more), (1, true));
    let second = monitor.failed_calls(id("batch_a"), true).await.unwrap();
    assert_eq!(
        (second.loaded, second.has_more),
        (2, true),
        "page 2 added to page 1"
    );

    // Closed, the calls are forgotten: "more" starts from the first page again.
    monitor.close_failed_calls(id("batch_a"));
    let reopened = monitor.failed_calls(id("batch_a"), true).await.unwrap();
    assert_eq!(reopened.loaded, 1);

    // Untracked, the batch takes its drill-down with it.
    monitor.failed_calls(id("batch_a"), true).await.unwrap();
    monitor.untrack(id("batch_a"));
    assert_eq!(
        monitor
            .failed_calls(id("batch_a"), true)
            .await
            .unwrap_err()
            .code(),
        "not_tracked"
    );
    monitor.track(vec![id("batch_a")]).answer().await;
    let fresh = monitor.failed_calls(id("batch_a"), true).await.unwrap();
    assert_eq!(fresh.loaded, 1, "a re-tracked batch starts over");
}

/// A retry list of 25 pages with a budget of 10 a minute: the first page goes at once (a
/// click), every other waits for a slot, so polls and pages together stay within the budget.
#[tokio::test(start_paused = true)]
async fn every_failed_call_is_loaded_within_the_budget() {
    let fake = FakeTrillet::default();
    *fake.pages.lock().unwrap() = Some(25);
    fake.set("batch_a", running(3));
    let mut config = MonitorConfig::new(fake.clone(), Some(creds()));
    config.poll = Some(batchwatch_core::schedule::PollPolicy {
        budget: 10,
        ..Default::default()
    });
    let (monitor, _events) = Monitor::spawn(config);
    let monitor = Arc::new(monitor);
    monitor.track(vec![id("batch_a")]).answer().await;
    let loading = tokio::spawn({
        let monitor = monitor.clone();
        async move { monitor.all_failed_calls(id("batch_a")).await }
    });
    let mut per_second = vec![];
    while !loading.is_finished() {
        let before = fake.total();
        run_for(Duration::from_secs(1)).await;
        per_second.push(fake.total() - before);
        assert!(per_second.len() < 600, "the list never finished loading");
    }
    let failed = loading.await.unwrap().unwrap();
    assert_eq!(failed.loaded(), 25);
    assert_eq!((failed.next_page, failed.stopped_early), (None, None));
    let pages = fake.times("calls of batch_a");
    assert_eq!(pages.len(), 25);
    // 24 leased pages and the polls beside them at 10 a minute: about 200 s. Not a burst —
    // and not twice that, as a leased page counted again when sent would make it.
    let span = pages[24] - pages[0];
    assert!(
        span >= Duration::from_secs(120),
        "25 pages at 10 a minute take minutes, not a burst: {span:?}"
    );
    assert!(
        span <= Duration::from_secs(240),
        "each leased page counts once in the budget: {span:?}"
    );
    let worst_minute = per_second
        .windows(60)
        .map(|w| w.iter().sum::<usize>())
        .max()
        .unwrap_or_else(|| per_second.iter().sum());
    assert!(worst_minute <= 11, "{worst_minute} requests in one minute");
    assert!(
        fake.requests("batch_a") >= 2,
        "polling went on beside the pages"
    );
}

/// Leases past the waiting bound are refused at once as busy (not "stopping"); a slot goes to
/// the first client still waiting; a stopped monitor says it stopped.
#[tokio::test(start_paused = true)]
async fn leases_past_the_bound_are_busy_and_a_gone_client_takes_no_slot() {
    use batchwatch_core::monitor::{ActionError, MAX_LEASES_WAITING};
    let fake = FakeTrillet::default();
    let mut config = MonitorConfig::new(fake.clone(), Some(creds()));
    config.poll = Some(batchwatch_core::schedule::PollPolicy {
        budget: 1,
        ..Default::default()
    });
    let (monitor, _events) = Monitor::spawn(config);
    let monitor = Arc::new(monitor);
    assert_eq!(monitor.lease().await, Ok(()), "the budget's one slot");
    // The next waits a minute; its client goes before then.
    let gone = tokio::spawn({
        let monitor = monitor.clone();
        async move { monitor.lease().await }
    });
    run_for(Duration::from_secs(1)).await;
    gone.abort();
    let waiting: Vec<_> = (0..MAX_LEASES_WAITING)
        .map(|_| {
            let monitor = monitor.clone();
            tokio::spawn(async move { monitor.lease().await })
        })
        .collect();
    run_for(Duration::from_secs(1)).await;
    // At once: not after a wait (paused time would jump to the next slot).
    let refused = tokio::time::timeout(Duration::from_millis(1), monitor.lease()).await;
    assert_eq!(refused, Ok(Err(ActionError::Busy)));
    // A minute on, the slot goes to the first client still waiting, not the gone one.
    run_for(Duration::from_secs(60)).await;
    assert!(waiting[0].is_finished(), "the first live lease was granted");
    assert!(!waiting[1].is_finished(), "one slot a minute");
    monitor.shutdown().await;
    assert_eq!(monitor.lease().await, Err(ActionError::Interrupted));
}

/// A page answered 429 is asked again once the pause Trillet asked for is over; nothing loaded
/// before it is lost.
#[tokio::test(start_paused = true)]
async fn a_rate_limited_page_of_the_retry_list_is_asked_again_after_the_pause() {
    let fake = FakeTrillet::default();
    *fake.pages.lock().unwrap() = Some(3);
    *fake.page_limited_once.lock().unwrap() = Some((2, Duration::from_secs(20)));
    fake.set("batch_a", running(3));
    let (monitor, _events) = start(&fake, None);
    let monitor = Arc::new(monitor);
    monitor.track(vec![id("batch_a")]).answer().await;
    let loading = tokio::spawn({
        let monitor = monitor.clone();
        async move { monitor.all_failed_calls(id("batch_a")).await }
    });
    while !loading.is_finished() {
        run_for(Duration::from_secs(1)).await;
        assert!(fake.total() < 1000, "the list never finished loading");
    }
    let failed = loading.await.unwrap().unwrap();
    assert_eq!(failed.loaded(), 3);
    let pages = fake.times("calls of batch_a");
    assert_eq!(pages.len(), 4, "page 2 twice: {pages:?}");
    assert!(
        pages[2] - pages[1] >= Duration::from_secs(20),
        "asked again only after the pause: {:?}",
        pages[2] - pages[1]
    );
}

#[tokio::test(start_paused = true)]
async fn the_tray_toggle_pauses_then_resumes_on_the_monitors_clock() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, None);
    let mut views = monitor.subscribe();
    monitor.toggle_notification_pause();
    let paused = views
        .wait_for(|v| v.settings.notifications_paused_until_ms.is_some())
        .await
        .unwrap()
        .settings
        .notifications_paused_until_ms;
    // The monitor's clock (3,800,000 ms here) plus the hour.
    assert_eq!(paused, Some(3_800_000 + 3_600_000));
    monitor.toggle_notification_pause();
    views
        .wait_for(|v| v.settings.notifications_paused_until_ms.is_none())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn answers_that_never_change_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(dir.path().join("state.db"));
    let fake = FakeTrillet::default();
    let ids: Vec<BatchId> = (0..10).map(|i| id(&format!("batch_idle_{i}"))).collect();
    for batch in &ids {
        fake.set(batch.as_str(), running(40));
    }
    let (monitor, _events) = start(&fake, Some(file.clone()));
    monitor.track(ids.clone()).answer().await;
    // The first answers are news (the budget spaces them, so they are saved as they come).
    let mut views = monitor.subscribe();
    views
        .wait_for(|v| v.batches.iter().all(|b| b.fetch == FetchStatus::Live))
        .await
        .unwrap();
    run_for(Duration::from_secs(1)).await;
    let (writes, asked) = (file.writes(), fake.total());
    assert!(writes >= 1, "the first answers are written");

    run_for(Duration::from_secs(90)).await;
    // Every batch was asked again and again (each every 15 s), with the same answer each time.
    assert!(fake.total() >= asked + 10 * 5, "{} requests", fake.total());
    assert_eq!(
        file.writes(),
        writes,
        "nothing written for answers already kept"
    );

    // One answer that changes is written (once, after the debounce).
    fake.set("batch_idle_3", running(41));
    run_for(Duration::from_secs(16)).await;
    assert_eq!(file.writes(), writes + 1);
    drop(monitor);
}

#[tokio::test(start_paused = true)]
async fn a_429_pause_ends_in_the_snapshot_even_with_nothing_left_to_poll() {
    let fake = FakeTrillet::default();
    fake.set("batch_done", Ok(progress(BatchStatus::Completed, 100, 100)));
    fake.answer_calls_with_429(Duration::from_secs(40));
    let (monitor, _events) = start(&fake, None);
    monitor.track(vec![id("batch_done")]);
    run_for(Duration::from_millis(100)).await;
    assert_eq!(fake.requests("batch_done"), 1, "settled: not polled again");
    // Opening its failed calls earns a 429: the key is paused…
    let error = monitor
        .calls(id("batch_done"), CallsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "rate_limited");
    assert!(matches!(
        monitor.snapshot().connection,
        Connection::RateLimited { .. }
    ));
    // …and the pause is over in the snapshot when the wait is, though no poll wakes the task.
    let mut views = monitor.subscribe();
    let ended = tokio::time::timeout(
        Duration::from_secs(120),
        views.wait_for(|v| v.connection == Connection::Ready),
    )
    .await;
    assert!(ended.is_ok(), "still paused two minutes after a 40 s wait");
    assert_eq!(fake.requests("batch_done"), 1);
}
