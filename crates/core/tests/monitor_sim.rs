//! The monitor against the Trillet simulator over real loopback HTTP, with time compressed
//! through configuration: the simulator runs a minute per real second and the monitor's
//! policy is scaled to match (a one-second budget window), so ten simulated minutes take ten
//! seconds. The simulator counts what it received; these tests assert on its counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use batchwatch_core::format::TimeZone;
use batchwatch_core::monitor::{
    Connection, FetchStatus, Monitor, MonitorConfig, MonitorEvent, MonitorHandle, MonitorSnapshot,
};
use batchwatch_core::schedule::PollPolicy;
use batchwatch_core::{ApiBase, BatchId, Credentials, TrilletClient};
use tokio::sync::mpsc::UnboundedReceiver;
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

/// Simulated seconds per real second.
const SPEED: f64 = 60.0;

/// The default policy (50 a minute, 15 s floor, 5 min cap) in compressed time.
fn compressed_policy() -> PollPolicy {
    PollPolicy::paced(
        Duration::from_secs(15).div_f64(SPEED),
        Duration::from_secs(60).div_f64(SPEED),
    )
}

fn sim(speed: f64) -> RunningSim {
    RunningSim::spawn(SimConfig {
        speed,
        ..SimConfig::default()
    })
    .unwrap()
}

fn start(sim: &RunningSim, policy: PollPolicy) -> (MonitorHandle, UnboundedReceiver<MonitorEvent>) {
    let client = TrilletClient::new(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new("sk_unused", "ws_unused").unwrap(),
    );
    let mut config = MonitorConfig::new(
        client,
        Some(Credentials::new(&sim.api_key(), &sim.workspace_id()).unwrap()),
    );
    config.poll = Some(policy);
    let control = sim.control();
    config.clock = Arc::new(move || control.now_ms());
    Monitor::spawn(config)
}

fn id(s: &str) -> BatchId {
    BatchId::parse(s).unwrap()
}

/// Waits (real time) until the monitor's view satisfies `ok`.
async fn wait_for(
    monitor: &MonitorHandle,
    limit: Duration,
    ok: impl Fn(&MonitorSnapshot) -> bool,
) -> Duration {
    let started = Instant::now();
    let mut rx = monitor.subscribe();
    loop {
        if ok(&rx.borrow_and_update()) {
            return started.elapsed();
        }
        let left = limit
            .checked_sub(started.elapsed())
            .expect("condition not reached in time");
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
}

/// A batch's fetch status; `Pending` also before the monitor has taken the track command.
fn fetch_of(view: &MonitorSnapshot, name: &str) -> FetchStatus {
    view.batches
        .iter()
        .find(|b| b.id.as_str() == name)
        .map_or(FetchStatus::Pending, |b| b.fetch.clone())
}

fn has_ended(view: &MonitorSnapshot, name: &str) -> bool {
    view.batches
        .iter()
        .find(|b| b.id.as_str() == name)
        .and_then(|b| b.progress.as_ref())
        .is_some_and(|p| p.has_ended())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_batches_for_ten_simulated_minutes_stay_within_the_budget() {
    let sim = sim(SPEED);
    let control = sim.control();
    let ids: Vec<BatchId> = (0..1000)
        .map(|i| {
            let script =
                BatchScript::new(if i % 10 == 0 { 20 } else { 500 }).id(format!("batch_load_{i}"));
            id(&control.add_batch(script))
        })
        .collect();
    let (monitor, _events) = start(&sim, compressed_policy());
    let started = std::time::Instant::now();
    monitor.track(ids);
    tokio::time::sleep(Duration::from_secs_f64(600.0 / SPEED)).await;
    drop(monitor);
    let elapsed = started.elapsed();

    let requests = control.requests();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    let worst_minute = control.max_requests_in_window(&sim.api_key(), Duration::from_secs(60));
    println!("1,000 batches, 10 simulated minutes: {} requests, worst minute {worst_minute}, 429s {too_many}", requests.len());
    assert_eq!(too_many, 0, "no 429");
    assert!(
        worst_minute <= 50,
        "worst simulated minute had {worst_minute} requests"
    );
    // The budget is used: most of 50 a (compressed) minute for as long as the monitor ran,
    // counted from the time that really passed (a loaded machine oversleeps).
    let windows = elapsed.as_secs_f64() / compressed_policy().window.as_secs_f64();
    let floor = (0.8 * 50.0 * windows) as usize;
    assert!(
        requests.len() >= floor,
        "{} requests in {elapsed:?}, at least {floor} expected",
        requests.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_added_is_polled_at_once_not_after_an_interval() {
    let sim = sim(1.0);
    sim.control()
        .add_batch(BatchScript::new(100).id("batch_new"));
    let (monitor, _events) = start(&sim, PollPolicy::default());
    monitor.track(vec![id("batch_new")]);
    let took = wait_for(&monitor, Duration::from_secs(5), |v| {
        fetch_of(v, "batch_new") == FetchStatus::Live
    })
    .await;
    // Reaching it at all within 5 s shows the first poll does not wait for the 15-s interval;
    // the figure itself is printed, not asserted (shared machines are noisy).
    println!("first poll answered after {took:?}");
    assert_eq!(sim.control().request_count("batch_new"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_batches_get_no_request_after_they_finish() {
    let sim = sim(SPEED);
    let control = sim.control();
    control.add_batch(
        BatchScript::new(10)
            .id("batch_short")
            .concurrency(10)
            .call_duration(Duration::from_secs(30)),
    );
    control.add_batch(BatchScript::new(5000).id("batch_long"));
    let (monitor, mut events) = start(&sim, compressed_policy());
    monitor.track(vec![id("batch_short"), id("batch_long")]);
    wait_for(&monitor, Duration::from_secs(10), |v| {
        has_ended(v, "batch_short")
    })
    .await;
    let finished_at = control.request_count("batch_short");
    let long_at = control.request_count("batch_long");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        control.request_count("batch_short"),
        finished_at,
        "no request after the finish"
    );
    assert!(
        control.request_count("batch_long") > long_at,
        "the other batch kept being polled"
    );
    let finished: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, MonitorEvent::BatchFinished { .. }))
        .collect();
    assert_eq!(finished.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500s_recovers_by_itself() {
    let sim = sim(SPEED);
    let control = sim.control();
    control.add_batch(BatchScript::new(5000).id("batch_flaky"));
    control.add_batch(BatchScript::new(5000).id("batch_steady"));
    let (monitor, _events) = start(&sim, compressed_policy());
    monitor.track(vec![id("batch_flaky"), id("batch_steady")]);
    wait_for(&monitor, Duration::from_secs(5), |v| {
        fetch_of(v, "batch_flaky") == FetchStatus::Live
    })
    .await;

    control.set_fault(FaultTarget::Batch("batch_flaky".into()), Fault::ServerError);
    wait_for(&monitor, Duration::from_secs(5), |v| {
        matches!(fetch_of(v, "batch_flaky"), FetchStatus::Retrying { .. })
    })
    .await;
    let steady = control.request_count("batch_steady");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        control.request_count("batch_steady") > steady,
        "other batches keep updating"
    );
    let view = monitor.snapshot();
    let flaky = view
        .batches
        .iter()
        .find(|b| b.id.as_str() == "batch_flaky")
        .unwrap();
    assert!(
        flaky.progress.is_some(),
        "last known progress kept while retrying"
    );

    control.clear_all_faults();
    wait_for(&monitor, Duration::from_secs(10), |v| {
        fetch_of(v, "batch_flaky") == FetchStatus::Live
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rejected_mid_run_stops_all_requests_until_replaced() {
    let sim = sim(SPEED);
    let control = sim.control();
    for i in 0..5 {
        control.add_batch(BatchScript::new(5000).id(format!("batch_key_{i}")));
    }
    let (monitor, mut events) = start(&sim, compressed_policy());
    monitor.track((0..5).map(|i| id(&format!("batch_key_{i}"))).collect());
    wait_for(&monitor, Duration::from_secs(5), |v| {
        v.batches.iter().all(|b| b.fetch == FetchStatus::Live)
    })
    .await;

    let (key, workspace) = (sim.api_key(), sim.workspace_id());
    control.revoke_key(&key);
    wait_for(&monitor, Duration::from_secs(5), |v| {
        matches!(v.connection, Connection::CredentialsRejected { .. })
    })
    .await;
    let after_rejection = control.requests().len();
    tokio::time::sleep(Duration::from_secs(3)).await; // three simulated minutes
    assert_eq!(
        control.requests().len(),
        after_rejection,
        "no request with a rejected key"
    );
    let rejected = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, MonitorEvent::CredentialsRejected { .. }))
        .count();
    assert_eq!(rejected, 1);

    control.add_key("sk_replacement_key", &workspace);
    monitor.set_credentials(Some(
        Credentials::new("sk_replacement_key", &workspace).unwrap(),
    ));
    wait_for(&monitor, Duration::from_secs(5), |v| {
        v.connection == Connection::Ready
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let resumed: Vec<_> = control
        .requests()
        .into_iter()
        .skip(after_rejection)
        .collect();
    assert!(!resumed.is_empty());
    assert!(resumed
        .iter()
        .all(|r| r.api_key.as_deref() == Some("sk_replacement_key") && r.status == 200));
}

fn card<'a>(
    view: &'a batchwatch_core::view::WindowView<'a>,
    name: &str,
) -> &'a batchwatch_core::view::BatchCard<'a> {
    view.cards.iter().find(|c| c.id == name).unwrap()
}

fn live(view: &MonitorSnapshot, name: &str) -> bool {
    fetch_of(view, name) == FetchStatus::Live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_succeeds_or_says_why_not_and_the_card_follows() {
    use batchwatch_core::model::BatchStatus;
    use batchwatch_core::monitor::ActionError;
    use batchwatch_core::view::window_view;
    use batchwatch_core::ApiError;

    let sim = sim(SPEED);
    let control = sim.control();
    for name in ["batch_cancel_me", "batch_faulty", "batch_vanishing"] {
        control.add_batch(
            BatchScript::new(2000)
                .id(name)
                .concurrency(4)
                .call_duration(Duration::from_secs(120)),
        );
    }
    let (monitor, mut events) = start(&sim, compressed_policy());
    let all = ["batch_cancel_me", "batch_faulty", "batch_vanishing"];
    monitor.track(all.iter().map(|n| id(n)).collect());
    wait_for(&monitor, Duration::from_secs(5), |v| {
        all.iter().all(|n| live(v, n))
    })
    .await;

    // Success: Trillet's answer is kept on the card, the batch ends as cancelled, unannounced.
    let outcome = monitor.cancel(id("batch_cancel_me")).await.unwrap();
    assert_eq!(outcome.status, BatchStatus::Cancelled);
    assert_eq!(outcome.details.total_calls, 2000);
    assert!(outcome.details.cancelled_calls > 1900, "{outcome:?}");
    wait_for(&monitor, Duration::from_secs(5), |v| {
        v.batches.iter().any(|b| {
            b.id.as_str() == "batch_cancel_me"
                && b.progress
                    .as_ref()
                    .is_some_and(|p| p.status == BatchStatus::Cancelled)
        })
    })
    .await;
    let view = monitor.snapshot();
    let window = window_view(&view, &TimeZone::UTC);
    let cancelled = card(&window, "batch_cancel_me");
    assert!(!cancelled.can_cancel);
    let text = cancelled
        .cancellation_text
        .as_deref()
        .expect("details shown");
    assert!(
        text.starts_with(&format!(
            "Cancelled from Batchwatch: {} waiting calls dropped;",
            outcome.details.cancelled_calls
        )),
        "{text}"
    );
    // Its calls in progress run to their end, and the card follows them until they have;
    // then the batch is left alone.
    wait_for(&monitor, Duration::from_secs(10), |v| {
        v.batches.iter().any(|b| {
            b.id.as_str() == "batch_cancel_me" && b.progress.as_ref().is_some_and(|p| p.active == 0)
        })
    })
    .await;
    let settled_at = control.request_count("batch_cancel_me");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        control.request_count("batch_cancel_me"),
        settled_at,
        "not polled once settled"
    );
    let deletes = || {
        control
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
    };
    assert_eq!(deletes(), 1);

    // 500: said, and nothing changes — the batch still runs and may be cancelled later.
    control.set_fault(
        FaultTarget::Batch("batch_faulty".into()),
        Fault::ServerError,
    );
    let error = monitor.cancel(id("batch_faulty")).await.unwrap_err();
    assert!(
        matches!(
            error,
            ActionError::Api(ApiError::Server { status: 500, .. })
        ),
        "{error:?}"
    );
    control.clear_fault(FaultTarget::Batch("batch_faulty".into()));
    // 404: the batch is gone at Trillet.
    control.remove_batch("batch_vanishing");
    let error = monitor.cancel(id("batch_vanishing")).await.unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    // Not watched: refused without asking Trillet.
    let error = monitor.cancel(id("batch_elsewhere")).await.unwrap_err();
    assert_eq!(error.code(), "not_tracked");
    assert_eq!(deletes(), 3, "the unwatched batch cost no request");

    wait_for(&monitor, Duration::from_secs(5), |v| {
        live(v, "batch_faulty")
    })
    .await;
    let view = monitor.snapshot();
    let window = window_view(&view, &TimeZone::UTC);
    let faulty = card(&window, "batch_faulty");
    assert!(
        faulty.can_cancel,
        "a failed cancel leaves the batch cancellable"
    );
    assert_eq!(faulty.cancellation_text, None);
    assert_eq!(card(&window, "batch_vanishing").cancellation_text, None);

    let finishes = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, MonitorEvent::BatchFinished { .. }))
        .count();
    assert_eq!(
        finishes, 0,
        "the user's own cancel is not announced back to them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_page_in_through_the_monitor_and_agree_with_the_counters() {
    use batchwatch_core::failures::FailedCalls;

    let sim = sim(SPEED);
    let control = sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_bad_list"));
    let (monitor, _events) = start(&sim, compressed_policy());
    monitor.track(vec![id("batch_bad_list")]);
    wait_for(&monitor, Duration::from_secs(5), |v| {
        has_ended(v, "batch_bad_list")
    })
    .await;
    let counted = monitor.snapshot().batches[0]
        .progress
        .as_ref()
        .unwrap()
        .failed;

    let before = control.request_count("batch_bad_list");
    let mut failed = FailedCalls::new();
    while let Some(query) = failed.next_query() {
        let page = monitor.calls(id("batch_bad_list"), query).await.unwrap();
        failed.add_page(page);
    }
    let view = failed.view("batch_bad_list");
    assert_eq!(
        view.loaded as u64, counted,
        "every failure the counters show"
    );
    assert_eq!(
        view.groups.iter().map(|g| g.count as u64).sum::<u64>(),
        counted
    );
    assert_eq!(view.summary, format!("All {counted} failed calls"));
    assert_eq!(
        control.request_count("batch_bad_list") - before,
        counted.div_ceil(100) as usize,
        "one request a page of 100"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_leasing_the_budget_keeps_both_within_one_limit() {
    let sim = sim(SPEED);
    let control = sim.control();
    let tracked: Vec<BatchId> = (0..30)
        .map(|i| id(&control.add_batch(BatchScript::new(5000).id(format!("batch_tray_{i}")))))
        .collect();
    let others: Vec<BatchId> = (0..30)
        .map(|i| id(&control.add_batch(BatchScript::new(5000).id(format!("batch_cli_{i}")))))
        .collect();
    let (monitor, _events) = start(&sim, compressed_policy());
    monitor.track(tracked);
    let monitor = Arc::new(monitor);

    // The other process: asks as fast as it may, each request after a lease.
    let client = TrilletClient::new(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(&sim.api_key(), &sim.workspace_id()).unwrap(),
    );
    let leasing = monitor.clone();
    let granted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = granted.clone();
    let other = tokio::spawn(async move {
        for id in others.iter().cycle() {
            if leasing.lease().await.is_err() {
                break;
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = client.batch_progress(id).await;
        }
    });
    // Both ask far more than the budget allows (the 30 tracked batches alone would be 120 polls
    // a minute): run until the other process was given 30 slots (about five simulated
    // minutes of its turns), however slow the machine (bounded).
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while granted.load(std::sync::atomic::Ordering::SeqCst) < 30 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    other.abort();
    assert!(waited.is_ok(), "the other process was never given 30 slots");

    let requests = control.requests();
    let by_other = requests
        .iter()
        .filter(|r| {
            r.batch_id
                .as_deref()
                .is_some_and(|b| b.starts_with("batch_cli_"))
        })
        .count();
    let by_monitor = requests.len() - by_other;
    let worst_minute = control.max_requests_in_window(&sim.api_key(), Duration::from_secs(60));
    println!(
        "leased: {by_other} requests, the monitor's own {by_monitor}, worst minute {worst_minute}"
    );
    assert_eq!(
        requests.iter().filter(|r| r.status == 429).count(),
        0,
        "no 429"
    );
    assert!(
        worst_minute <= 50,
        "worst simulated minute had {worst_minute} requests"
    );
    assert!(
        by_other > 0 && by_monitor > 0,
        "both were served: {by_other} and {by_monitor}"
    );
}
