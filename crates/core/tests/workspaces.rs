//! Several workspaces in one monitor, on tokio's paused clock with an in-process fake of
//! Trillet that answers by key: each batch asked with its own workspace's pair, one request
//! budget per key (not per workspace), and a key's faults (401, 429) kept to its workspaces.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batchwatch_core::model::{CallsPage, CallsQuery, CancelOutcome};
use batchwatch_core::monitor::{
    Connection, Monitor, MonitorConfig, MonitorEvent, MonitorHandle, TrilletApi,
};
use batchwatch_core::state_file::{SavedBatch, SavedState, StateFile, SCHEMA_VERSION};
use batchwatch_core::workspace::Workspace;
use batchwatch_core::{ApiError, BatchId, BatchProgress, BatchStatus, Credentials, WorkspaceId};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{sleep, Instant};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct Asked {
    at: Instant,
    batch: String,
    key: String,
    workspace: String,
}

/// Trillet, answering by key: running progress, unless the test made a key answer an error.
#[derive(Clone, Default)]
struct FakeTrillet {
    log: Arc<Mutex<Vec<Asked>>>,
    by_key: Arc<Mutex<HashMap<String, ApiError>>>,
}

impl FakeTrillet {
    fn fail_key(&self, key: &str, error: ApiError) {
        self.by_key.lock().unwrap().insert(key.into(), error);
    }

    fn heal_key(&self, key: &str) {
        self.by_key.lock().unwrap().remove(key);
    }

    /// The key answers `error` in this workspace only (a 403: not allowed there).
    fn fail_pair(&self, key: &str, workspace: &str, error: ApiError) {
        self.by_key
            .lock()
            .unwrap()
            .insert(format!("{key}/{workspace}"), error);
    }

    fn asked(&self) -> Vec<Asked> {
        self.log.lock().unwrap().clone()
    }

    fn with_key(&self, key: &str) -> Vec<Asked> {
        self.asked().into_iter().filter(|a| a.key == key).collect()
    }

    /// The most requests with `key` inside any window of a minute.
    fn worst_minute(&self, key: &str) -> usize {
        let times: Vec<Instant> = self.with_key(key).iter().map(|a| a.at).collect();
        let mut best = 0;
        let mut first = 0;
        for (last, t) in times.iter().enumerate() {
            while t.duration_since(times[first]) >= Duration::from_secs(60) {
                first += 1;
            }
            best = best.max(last + 1 - first);
        }
        best
    }
}

impl TrilletApi for FakeTrillet {
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static {
        let key = credentials.api_key.expose_for_header().to_owned();
        self.log.lock().unwrap().push(Asked {
            at: Instant::now(),
            batch: id.to_string(),
            key: key.clone(),
            workspace: credentials.workspace_id.to_string(),
        });
        let by_key = self.by_key.lock().unwrap();
        let pair = format!("{key}/{}", credentials.workspace_id);
        let answer = match by_key.get(&pair).or_else(|| by_key.get(&key)) {
            Some(error) => Err(error.clone()),
            None => Ok(running()),
        };
        std::future::ready(answer)
    }

    fn cancel(
        &self,
        _: &Credentials,
        _: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
        std::future::ready(Err(ApiError::Network("not used here".into())))
    }

    fn calls(
        &self,
        _: &Credentials,
        _: &BatchId,
        _: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
        std::future::ready(Err(ApiError::Network("not used here".into())))
    }
}

fn running() -> BatchProgress {
    BatchProgress {
        status: BatchStatus::Processing,
        is_complete: false,
        total: 1000,
        completed: 10,
        failed: 0,
        active: 2,
        waiting: 988,
        start_time: Some(1_000),
        last_completed_time: Some(61_000),
        completed_time: None,
        average_call_duration: None,
        recent_calls: vec![],
    }
}

const KEY_A: &str = "sk_agency_key";
const KEY_B: &str = "sk_other_key";

/// Acme US and Acme EU on one key, Globex on another: an agency's three clients.
fn three_workspaces() -> Vec<Workspace> {
    [
        (KEY_A, "ws_acme_us", "Acme US"),
        (KEY_A, "ws_acme_eu", "Acme EU"),
        (KEY_B, "ws_globex", "Globex"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (key, id, label))| {
        Workspace::new(Credentials::new(key, id).unwrap(), Some(label), i as u64).unwrap()
    })
    .collect()
}

fn start(
    fake: &FakeTrillet,
    workspaces: Vec<Workspace>,
    state: Option<StateFile>,
) -> (MonitorHandle, UnboundedReceiver<MonitorEvent>) {
    let mut config = MonitorConfig::of_workspaces(fake.clone(), workspaces);
    config.state_file = state;
    config.clock = Arc::new(|| 3_800_000);
    Monitor::spawn(config)
}

/// `n` batches named after their workspace, tracked in it.
fn track(monitor: &MonitorHandle, workspace: &str, n: usize) {
    let ids = (0..n)
        .map(|i| BatchId::parse(&format!("batch_{workspace}_{i:04}")).unwrap())
        .collect();
    monitor.track_in(Some(WorkspaceId::new(workspace).unwrap()), ids);
}

async fn run_for(d: Duration) {
    sleep(d).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn connection_of(monitor: &MonitorHandle, workspace: &str) -> Connection {
    monitor
        .snapshot()
        .workspaces
        .iter()
        .find(|w| w.id.as_str() == workspace)
        .map(|w| w.connection.clone())
        .unwrap()
}

/// Three workspaces over two keys, 1,000 batches: the two workspaces on one key share its 50
/// requests a minute, the other key has 50 of its own, and every request carries the pair of
/// its own batch's workspace.
#[tokio::test(start_paused = true)]
async fn one_budget_per_key_and_each_batch_asked_in_its_own_workspace() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), None);
    track(&monitor, "ws_acme_us", 400);
    track(&monitor, "ws_acme_eu", 300);
    track(&monitor, "ws_globex", 300);
    // 700 batches on one key at 50 a minute: a round takes 14 minutes.
    run_for(Duration::from_secs(20 * 60)).await;

    let (a, b) = (fake.worst_minute(KEY_A), fake.worst_minute(KEY_B));
    assert!(
        a <= 50,
        "the key two workspaces share: {a} in its worst minute"
    );
    assert!(b <= 50, "the other key: {b} in its worst minute");
    // Each key used its own budget: together they went well past what one key may send.
    assert!(a >= 45 && b >= 45, "each key near its own 50: {a}, {b}");
    // Every batch of both workspaces of the shared key was polled, within that one budget.
    let shared = fake.with_key(KEY_A);
    for (workspace, n) in [("ws_acme_us", 400), ("ws_acme_eu", 300)] {
        let polled: std::collections::HashSet<&str> = shared
            .iter()
            .filter(|x| x.workspace == workspace)
            .map(|x| x.batch.as_str())
            .collect();
        assert_eq!(polled.len(), n, "{workspace}: every batch asked");
    }
    // Every request carried its batch's own pair.
    let pairs = HashMap::from([
        ("ws_acme_us", KEY_A),
        ("ws_acme_eu", KEY_A),
        ("ws_globex", KEY_B),
    ]);
    for asked in fake.asked() {
        let expected = pairs
            .iter()
            .find(|(ws, _)| asked.batch.starts_with(&format!("batch_{ws}_")))
            .unwrap();
        assert_eq!(
            (asked.workspace.as_str(), asked.key.as_str()),
            (*expected.0, *expected.1),
            "{asked:?}"
        );
    }
    assert_eq!(
        monitor.snapshot().sharing_budget,
        700,
        "the busiest key's batches"
    );
}

/// Another process's leases wait on the budget of their workspace's key: behind the requests
/// of that key (and of the other workspace on it), never behind another key's.
#[tokio::test(start_paused = true)]
async fn leases_wait_on_their_own_keys_budget() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), None);
    let monitor = Arc::new(monitor);
    let us = Some(WorkspaceId::new("ws_acme_us").unwrap());
    let eu = Some(WorkspaceId::new("ws_acme_eu").unwrap());
    let globex = Some(WorkspaceId::new("ws_globex").unwrap());
    // The shared key's first slot goes at once; the next waits its spacing (a minute / 50).
    monitor.lease_in(us).await.unwrap();
    let start = Instant::now();
    let shared = {
        let monitor = monitor.clone();
        tokio::spawn(async move { monitor.lease_in(eu).await.map(|()| Instant::now()) })
    };
    // The other key's is granted at once, not behind it.
    monitor.lease_in(globex).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the other key's budget was free"
    );
    let shared_at = shared.await.unwrap().unwrap();
    assert!(
        shared_at.duration_since(start) >= Duration::from_millis(1200),
        "the other workspace on the same key waited for that key's spacing: {:?}",
        shared_at.duration_since(start)
    );
}

/// A refused key stops its own workspaces and says so once; the other key goes on.
#[tokio::test(start_paused = true)]
async fn a_refused_key_stops_only_its_workspaces() {
    let fake = FakeTrillet::default();
    fake.fail_key(
        KEY_A,
        ApiError::Unauthorized {
            status: 401,
            message: "Invalid API key".into(),
        },
    );
    let (monitor, mut events) = start(&fake, three_workspaces(), None);
    track(&monitor, "ws_acme_us", 3);
    track(&monitor, "ws_acme_eu", 3);
    track(&monitor, "ws_globex", 3);
    run_for(Duration::from_secs(5 * 60)).await;

    assert_eq!(fake.with_key(KEY_A).len(), 1, "one 401 stops the key");
    assert!(
        fake.with_key(KEY_B).len() >= 9 * 2,
        "the other key polls on: {}",
        fake.with_key(KEY_B).len()
    );
    for workspace in ["ws_acme_us", "ws_acme_eu"] {
        assert!(matches!(
            connection_of(&monitor, workspace),
            Connection::CredentialsRejected { status: 401, .. }
        ));
    }
    assert_eq!(connection_of(&monitor, "ws_globex"), Connection::Ready);
    let Connection::CredentialsRejected { message, .. } = monitor.snapshot().connection.clone()
    else {
        panic!("the one line names the refusal");
    };
    assert!(message.starts_with("Acme US, Acme EU: "), "{message}");

    let mut rejected = vec![];
    while let Ok(event) = events.try_recv() {
        if let MonitorEvent::CredentialsRejected { notification, .. } = event {
            rejected.push(notification.body);
        }
    }
    assert_eq!(rejected.len(), 1, "said once: {rejected:?}");
    assert!(
        rejected[0].starts_with("Acme US, Acme EU: "),
        "{rejected:?}"
    );

    // A check of the same key that passes (the person fixed it at Trillet) resumes it.
    fake.heal_key(KEY_A);
    let again = Credentials::new(KEY_A, "ws_acme_us").unwrap();
    assert_eq!(monitor.check_credentials(again).await, Ok(()));
    run_for(Duration::from_secs(30)).await;
    assert_eq!(connection_of(&monitor, "ws_acme_us"), Connection::Ready);
    assert!(
        fake.with_key(KEY_A).len() > 2,
        "polled again after the check"
    );
}

/// A 429 pauses its key for the wait asked; the other key's polls go on meanwhile.
#[tokio::test(start_paused = true)]
async fn a_429_pauses_only_its_key() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), None);
    track(&monitor, "ws_acme_us", 2);
    track(&monitor, "ws_globex", 2);
    run_for(Duration::from_secs(60)).await;

    fake.fail_key(
        KEY_A,
        ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
            message: "Rate limit of 60 requests per minute exceeded".into(),
        },
    );
    run_for(Duration::from_secs(20)).await;
    let paused_at = Instant::now();
    assert!(matches!(
        connection_of(&monitor, "ws_acme_us"),
        Connection::RateLimited { .. }
    ));
    assert_eq!(connection_of(&monitor, "ws_globex"), Connection::Ready);
    let a_before = fake.with_key(KEY_A).len();
    let b_before = fake.with_key(KEY_B).len();
    run_for(Duration::from_secs(90)).await;
    assert_eq!(
        fake.with_key(KEY_A).len(),
        a_before,
        "nothing is sent with the paused key"
    );
    assert!(
        fake.with_key(KEY_B).len() >= b_before + 8,
        "the other key goes on: {} then {}",
        b_before,
        fake.with_key(KEY_B).len()
    );
    fake.heal_key(KEY_A);
    run_for(Duration::from_secs(60)).await;
    let resumed = fake.with_key(KEY_A);
    assert!(resumed.len() > a_before, "asked again after the pause");
    assert!(
        resumed[a_before].at.duration_since(paused_at) >= Duration::from_secs(90),
        "not before the pause ended"
    );
    assert_eq!(connection_of(&monitor, "ws_acme_us"), Connection::Ready);
}

/// Batches saved before workspaces join the first workspace — the one the single credential
/// became — and are saved as its; a later workspace's batches are not touched.
#[tokio::test(start_paused = true)]
async fn batches_from_before_workspaces_join_the_first_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let saved = |id: &str, workspace: Option<&str>| SavedBatch {
        id: BatchId::parse(id).unwrap(),
        last: None,
        last_updated_ms: None,
        finish_notified: false,
        not_found: false,
        failure_alerted: false,
        cancellation: None,
        launch: None,
        samples: Arc::default(),
        moved_at_ms: None,
        stall_alerted: false,
        notify: Default::default(),
        workspace: workspace.map(|w| WorkspaceId::new(w).unwrap()),
    };
    StateFile::new(&path)
        .save(&SavedState {
            schema: SCHEMA_VERSION,
            batches: vec![
                saved("batch_old", None),
                saved("batch_globex", Some("ws_globex")),
            ],
            settings: Default::default(),
            held: Default::default(),
        })
        .unwrap();

    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), Some(StateFile::new(&path)));
    run_for(Duration::from_secs(5)).await;
    let asked = fake.asked();
    let of = |batch: &str| {
        asked
            .iter()
            .find(|a| a.batch == batch)
            .map(|a| (a.workspace.clone(), a.key.clone()))
            .unwrap()
    };
    assert_eq!(of("batch_old"), ("ws_acme_us".into(), KEY_A.into()));
    assert_eq!(of("batch_globex"), ("ws_globex".into(), KEY_B.into()));
    monitor.shutdown().await;

    let reloaded = StateFile::new(&path).load(0).state;
    let workspace_of = |id: &str| {
        reloaded
            .batches
            .iter()
            .find(|b| b.id.as_str() == id)
            .and_then(|b| b.workspace.clone())
            .map(|w| w.to_string())
    };
    assert_eq!(workspace_of("batch_old").as_deref(), Some("ws_acme_us"));
    assert_eq!(workspace_of("batch_globex").as_deref(), Some("ws_globex"));
}

/// With several workspaces, what is told names the batch's workspace.
#[tokio::test(start_paused = true)]
async fn with_several_workspaces_a_finish_names_its_workspace() {
    #[derive(Clone)]
    struct Finishing(FakeTrillet);
    impl TrilletApi for Finishing {
        fn fetch(
            &self,
            credentials: &Credentials,
            id: &BatchId,
        ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static {
            let first = self.0.asked().iter().all(|a| a.batch != id.as_str());
            // Logged as asked; the answer is this wrapper's own.
            drop(self.0.fetch(credentials, id));
            let mut p = running();
            if !first {
                p.status = BatchStatus::Completed;
                p.is_complete = true;
                (p.completed, p.waiting, p.active) = (1000, 0, 0);
                p.completed_time = Some(3_721_000);
            }
            std::future::ready(Ok(p))
        }
        fn cancel(
            &self,
            c: &Credentials,
            id: &BatchId,
        ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
            self.0.cancel(c, id)
        }
        fn calls(
            &self,
            c: &Credentials,
            id: &BatchId,
            q: CallsQuery,
        ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
            self.0.calls(c, id, q)
        }
    }
    let fake = FakeTrillet::default();
    let mut config = MonitorConfig::of_workspaces(Finishing(fake.clone()), three_workspaces());
    config.clock = Arc::new(|| 3_800_000);
    let (monitor, mut events) = Monitor::spawn(config);
    track(&monitor, "ws_globex", 1);
    run_for(Duration::from_secs(60)).await;
    let finished: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            MonitorEvent::BatchFinished {
                notification,
                payload,
                ..
            } => Some((notification.body, payload.workspace.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert!(finished[0].0.starts_with("Globex: "), "{finished:?}");
    assert_eq!(finished[0].1.as_deref(), Some("ws_globex"));
}

/// A database written by the version before workspaces (schema 9, kept as a fixture) opens
/// with today's code: nothing is lost, its batches go to the first workspace, and its record
/// of finished batches stays readable.
#[tokio::test(start_paused = true)]
async fn a_database_from_before_workspaces_is_migrated_and_its_batches_join_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v9.db"),
        &path,
    )
    .unwrap();

    let loaded = StateFile::new(&path).load(0);
    assert!(
        loaded.problem.is_none(),
        "{:?}",
        loaded.problem.map(|p| p.message)
    );
    let ids: Vec<&str> = loaded.state.batches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["batch_running_v9", "batch_done_v9"]);
    assert!(loaded.state.batches.iter().all(|b| b.workspace.is_none()));
    assert_eq!(
        loaded.state.batches[0].notify,
        batchwatch_core::notify_choice::NotifyChoice::Failures
    );
    assert_eq!(loaded.state.settings.failure_alert_percent, Some(25));

    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), Some(StateFile::new(&path)));
    run_for(Duration::from_secs(5)).await;
    let running = fake
        .asked()
        .into_iter()
        .find(|a| a.batch == "batch_running_v9")
        .expect("the running batch is polled");
    assert_eq!(
        (running.workspace.as_str(), running.key.as_str()),
        ("ws_acme_us", KEY_A)
    );
    monitor.shutdown().await;

    let reloaded = StateFile::new(&path).load(0).state;
    assert!(reloaded
        .batches
        .iter()
        .all(|b| b.workspace.as_ref().map(|w| w.as_str()) == Some("ws_acme_us")));
    let record = StateFile::new(&path).history().unwrap();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].id.as_str(), "batch_done_v9");
    assert_eq!(
        record[0].workspace, None,
        "a record from before stays the first's"
    );
}

/// One batch of each ID: the same ID asked in another workspace is said, with the workspace
/// that watches it, and nothing is merged or moved.
#[tokio::test(start_paused = true)]
async fn the_same_id_in_another_workspace_is_said_not_merged() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), None);
    let id = BatchId::parse("batch_shared").unwrap();
    let first = monitor
        .track_in(
            Some(WorkspaceId::new("ws_acme_us").unwrap()),
            vec![id.clone()],
        )
        .answer()
        .await;
    assert_eq!(first.added, std::slice::from_ref(&id));
    let again = monitor
        .track_in(
            Some(WorkspaceId::new("ws_globex").unwrap()),
            vec![id.clone()],
        )
        .answer()
        .await;
    assert!(again.added.is_empty() && again.already.is_empty());
    assert_eq!(
        again.in_another_workspace,
        [(id.clone(), WorkspaceId::new("ws_acme_us").unwrap())]
    );
    let same = monitor
        .track_in(
            Some(WorkspaceId::new("ws_acme_us").unwrap()),
            vec![id.clone()],
        )
        .answer()
        .await;
    assert_eq!(same.already, [id]);
    run_for(Duration::from_secs(5)).await;
    let view = monitor.snapshot();
    assert_eq!(view.batches.len(), 1);
    assert_eq!(
        view.batches[0].workspace.as_ref().map(|w| w.as_str()),
        Some("ws_acme_us")
    );
    assert!(fake.asked().iter().all(|a| a.workspace == "ws_acme_us"));
}

/// A 403 is about one pairing — the key is not allowed in that workspace — so it stops that
/// workspace alone: the other workspace on the same key goes on, and one notification names
/// only the refused one.
#[tokio::test(start_paused = true)]
async fn a_403_stops_only_its_workspace_not_the_key() {
    let fake = FakeTrillet::default();
    fake.fail_pair(
        KEY_A,
        "ws_acme_eu",
        ApiError::Unauthorized {
            status: 403,
            message: "API key is not authorized for this workspace".into(),
        },
    );
    let (monitor, mut events) = start(&fake, three_workspaces(), None);
    track(&monitor, "ws_acme_us", 2);
    track(&monitor, "ws_acme_eu", 2);
    run_for(Duration::from_secs(5 * 60)).await;

    let asked = fake.with_key(KEY_A);
    let eu = asked.iter().filter(|a| a.workspace == "ws_acme_eu").count();
    let us = asked.iter().filter(|a| a.workspace == "ws_acme_us").count();
    assert_eq!(eu, 1, "one 403 stops that workspace");
    assert!(us >= 2 * 5, "the other workspace on the key goes on: {us}");
    assert!(matches!(
        connection_of(&monitor, "ws_acme_eu"),
        Connection::CredentialsRejected { status: 403, .. }
    ));
    assert_eq!(connection_of(&monitor, "ws_acme_us"), Connection::Ready);
    let told: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            MonitorEvent::CredentialsRejected { notification, .. } => Some(notification.body),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].starts_with("Acme EU: "), "{told:?}");

    // A batch added to the refused workspace afterwards is not polled either: the key's other
    // workspace keeps its turns.
    let us_before = fake
        .with_key(KEY_A)
        .iter()
        .filter(|a| a.workspace == "ws_acme_us")
        .count();
    monitor.track_in(
        Some(WorkspaceId::new("ws_acme_eu").unwrap()),
        vec![BatchId::parse("batch_eu_late").unwrap()],
    );
    run_for(Duration::from_secs(60)).await;
    let asked = fake.with_key(KEY_A);
    assert_eq!(
        asked.iter().filter(|a| a.workspace == "ws_acme_eu").count(),
        eu,
        "nothing asked in the refused workspace"
    );
    assert!(
        asked.iter().filter(|a| a.workspace == "ws_acme_us").count() >= us_before + 2,
        "the other workspace on the key goes on"
    );

    // Once Trillet allows the pair (and a check says so), it is polled again.
    fake.by_key.lock().unwrap().clear();
    let pair = Credentials::new(KEY_A, "ws_acme_eu").unwrap();
    assert_eq!(monitor.check_credentials(pair).await, Ok(()));
    run_for(Duration::from_secs(30)).await;
    assert_eq!(connection_of(&monitor, "ws_acme_eu"), Connection::Ready);
    let eu_after = fake
        .with_key(KEY_A)
        .iter()
        .filter(|a| a.workspace == "ws_acme_eu")
        .count();
    assert!(eu_after > eu + 1, "polled again: {eu_after}");
}

/// A change of the workspaces (a rename, another workspace added) keeps what a key's answer
/// in flight says: its 429 still pauses that key.
#[tokio::test(start_paused = true)]
async fn a_429_in_flight_while_the_workspaces_change_still_pauses_its_key() {
    let fake = FakeTrillet::default();
    let (monitor, _events) = start(&fake, three_workspaces(), None);
    track(&monitor, "ws_globex", 1);
    // Past the key's spacing (1.2 s), so the refresh's poll goes out the moment it is asked.
    run_for(Duration::from_secs(5)).await;
    fake.fail_key(
        KEY_B,
        ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
            message: "Rate limit".into(),
        },
    );
    // The refresh's poll goes out, then the rename is taken before its answer (commands come
    // first): the answer is still the key's.
    let before = fake.with_key(KEY_B).len();
    monitor.refresh(None);
    let mut renamed = three_workspaces();
    renamed[2].label = "Globex Corp".into();
    monitor.set_workspaces(renamed);
    run_for(Duration::from_secs(1)).await;
    let at_429 = fake.with_key(KEY_B).len();
    assert_eq!(at_429, before + 1, "the 429 was believed, not asked again");
    assert!(matches!(
        connection_of(&monitor, "ws_globex"),
        Connection::RateLimited { .. }
    ));
    run_for(Duration::from_secs(60)).await;
    assert_eq!(
        fake.with_key(KEY_B).len(),
        at_429,
        "paused, not asked again at once"
    );
}
