//! The monitor against the Trillet simulator over real loopback HTTP, with time compressed
//! through configuration: the simulator runs a minute per real second and the monitor's
//! policy is scaled to match (a one-second budget window), so ten simulated minutes take ten
//! seconds. The simulator counts what it received; these tests assert on its counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use batchwatch_core::monitor::{
    Connection, FetchStatus, Monitor, MonitorConfig, MonitorEvent, MonitorHandle, MonitorView,
};
use batchwatch_core::schedule::PollPolicy;
use batchwatch_core::state_file::Settings;
use batchwatch_core::{ApiBase, BatchId, Credentials, TrilletClient};
use tokio::sync::mpsc::UnboundedReceiver;
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

/// Simulated seconds per real second.
const SPEED: f64 = 60.0;

/// The default policy (50 a minute, 15 s floor, 5 min cap) in compressed time.
fn compressed_policy() -> PollPolicy {
    let scale = |d: Duration| d.div_f64(SPEED);
    let p = PollPolicy::default();
    PollPolicy {
        window: scale(p.window),
        floor: scale(p.floor),
        backoff_cap: scale(p.backoff_cap),
        ..p
    }
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
    config.settings = Some(Settings {
        poll: policy,
        ..Settings::default()
    });
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
    ok: impl Fn(&MonitorView) -> bool,
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
fn fetch_of(view: &MonitorView, name: &str) -> FetchStatus {
    view.batches
        .iter()
        .find(|b| b.id.as_str() == name)
        .map_or(FetchStatus::Pending, |b| b.fetch.clone())
}

fn is_final(view: &MonitorView, name: &str) -> bool {
    view.batches
        .iter()
        .find(|b| b.id.as_str() == name)
        .and_then(|b| b.progress.as_ref())
        .is_some_and(|p| p.is_complete)
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
    monitor.track(ids);
    tokio::time::sleep(Duration::from_secs_f64(600.0 / SPEED)).await;
    drop(monitor);

    let requests = control.requests();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    let worst_minute = control.max_requests_in_window(&sim.api_key(), Duration::from_secs(60));
    println!("1,000 batches, 10 simulated minutes: {} requests, worst minute {worst_minute}, 429s {too_many}", requests.len());
    assert_eq!(too_many, 0, "no 429");
    assert!(
        worst_minute <= 50,
        "worst simulated minute had {worst_minute} requests"
    );
    // The budget is used: about 50 a minute for ten minutes.
    assert!(requests.len() >= 450, "{} requests", requests.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_added_is_polled_within_a_second() {
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
        is_final(v, "batch_short")
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
    let view = monitor.view();
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
