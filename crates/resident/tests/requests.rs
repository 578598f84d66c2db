//! The resident's requests over a real control socket, as the window sends them, against a
//! real monitor and the Trillet simulator, with an in-memory keychain double (the real keychain is proven in
//! `batchwatch-core`'s tests and the desktop smoke test). Asserts the exact JSON the window
//! receives, errors included, and that no answer ever carries the API key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batchwatch_core::autostart::Autostart;
use batchwatch_core::control::{serve, CallError, Client, ClientKind, Endpoint};
use batchwatch_core::monitor::{Monitor, MonitorConfig};
use batchwatch_core::secret_store::{KeychainError, SecretStore};
use batchwatch_core::workspace::Workspace;
use batchwatch_core::{ApiBase, TrilletClient, WorkspaceId};
use batchwatch_resident::state::AppState;
use batchwatch_resident::status::{AppStatus, CredentialsStatus, NotificationsStatus};
use batchwatch_resident::window::Windows;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use trillet_sim::{BatchScript, RunningSim, SimConfig};

const KEY: &str = "sk_tauri_command_secret_77";

/// A keychain that keeps its items in memory, or fails every call with `failure`.
#[derive(Default)]
struct MemoryKeychain {
    items: Mutex<Vec<Workspace>>,
    failure: Option<KeychainError>,
}

impl MemoryKeychain {
    fn fail(&self) -> Result<(), KeychainError> {
        self.failure.clone().map_or(Ok(()), Err)
    }

    fn is_empty(&self) -> bool {
        self.items.lock().unwrap().is_empty()
    }

    /// The key stored for a workspace.
    fn key_of(&self, workspace: &str) -> Option<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|w| w.id().as_str() == workspace)
            .map(|w| w.credentials.api_key.expose_for_header().to_owned())
    }
}

impl SecretStore for MemoryKeychain {
    fn workspaces(&self) -> Result<Vec<Workspace>, KeychainError> {
        self.fail()?;
        let mut items = self.items.lock().unwrap().clone();
        items.sort_by_key(|w| w.added_at_ms);
        Ok(items)
    }
    fn save(&self, workspace: &Workspace) -> Result<(), KeychainError> {
        self.fail()?;
        let mut items = self.items.lock().unwrap();
        items.retain(|w| w.id() != workspace.id());
        items.push(workspace.clone());
        Ok(())
    }
    fn delete(&self, workspace: &WorkspaceId) -> Result<(), KeychainError> {
        self.fail()?;
        self.items.lock().unwrap().retain(|w| w.id() != workspace);
        Ok(())
    }
    fn delete_all(&self) -> Result<(), KeychainError> {
        self.fail()?;
        self.items.lock().unwrap().clear();
        Ok(())
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    client: Client,
    state: Arc<AppState>,
    keychain: Arc<MemoryKeychain>,
    sim: RunningSim,
    /// Stands for the XDG config home of the autostart entry.
    config_home: tempfile::TempDir,
    _socket_dir: tempfile::TempDir,
}

fn harness(failure: Option<KeychainError>) -> Harness {
    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        credentials: vec![(KEY.into(), "ws_cmd".into())],
        ..SimConfig::default()
    })
    .unwrap();
    sim.control().add_batch(BatchScript::new(50).id("batch_a"));
    let api_base = ApiBase::parse(&sim.base_url()).unwrap();
    let keychain = Arc::new(MemoryKeychain {
        failure,
        ..Default::default()
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = MonitorConfig::new(TrilletClient::unauthenticated(api_base.clone()), None);
    let (monitor, _events) = runtime.block_on(async { Monitor::spawn(config) });
    let (status, _) = tokio::sync::watch::channel(AppStatus {
        demo: false,
        credentials: CredentialsStatus::missing(),
        notifications: NotificationsStatus {
            available: true,
            message: None,
        },
        start_at_login: false,
        hooks: Default::default(),
    });
    let config_home = tempfile::tempdir().unwrap();
    let socket_dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::at(socket_dir.path().join("control.sock"));
    let state = Arc::new(AppState {
        monitor,
        api_base: api_base.clone(),
        secrets: Some(keychain.clone() as Arc<dyn SecretStore>),
        status,
        demo: None,
        credentials_turn: Default::default(),
        autostart: Some(Autostart::in_config_dir(config_home.path())),
        views: tokio::sync::watch::channel(Arc::from("{}")).0,
        windows: Windows::new(endpoint.clone(), false),
        quit: CancellationToken::new(),
        launching: batchwatch_resident::launching::Launching::at(
            config_home.path().join("state.db"),
        ),
    });
    let mut bound = endpoint.bind().unwrap();
    let client = runtime.block_on(async {
        let listener = tokio::net::UnixListener::from_std(bound.take_listener().unwrap()).unwrap();
        let serving = state.clone();
        let quit = state.quit.clone();
        tokio::spawn(async move {
            serve(listener, serving, quit).await;
            drop(bound);
        });
        Client::connect(&endpoint, ClientKind::Window)
            .await
            .unwrap()
    });
    Harness {
        runtime,
        client,
        state,
        keychain,
        sim,
        config_home,
        _socket_dir: socket_dir,
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.state.quit.cancel();
    }
}

impl Harness {
    /// Sends a request as the window does, over the control socket; `Ok` or `Err` JSON,
    /// exactly as the page sees it.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let response = self
            .runtime
            .block_on(self.client.call_raw(cmd, args))
            .map_err(|e| match e {
                CallError::Failed(failure) => serde_json::to_value(failure).unwrap(),
                CallError::Gone => json!({"code": "gone"}),
            });
        let text = format!("{response:?}");
        assert!(!text.contains(KEY), "{cmd} answered with the key: {text}");
        response
    }

    fn wait_for_state(&self, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.invoke("get_state", json!({})).unwrap();
            if ok(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "state never matched: {state:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn track_reports_added_duplicate_and_rejected_tokens() {
    let h = harness(None);
    let first = h
        .invoke("track", json!({"text": "batch_a, junk! https://app.trillet.ai/batch-calls/batch_b/status batch_a"}))
        .unwrap();
    assert_eq!(
        first,
        json!({
            "added": ["batch_a", "batch_b"],
            "already": [],
            "rejected": [{"token": "junk!", "reason": "not a batch ID: it contains '!'; a batch ID has only letters, digits, '_' and '-'"}],
            "overLimit": [],
            "overLimitMessage": null,
        })
    );
    let state = h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 2));
    assert_eq!(state["cards"][0]["id"], "batch_a");
    assert_eq!(state["cards"][0]["statusText"], "checking…");
    assert_eq!(state["banner"]["code"], "no_credentials");
    let again = h.invoke("track", json!({"text": "batch_a"})).unwrap();
    assert_eq!(
        again,
        json!({"added": [], "already": ["batch_a"], "rejected": [], "overLimit": [], "overLimitMessage": null})
    );
}

#[test]
fn a_huge_paste_is_refused_whole_and_the_tracked_list_has_a_ceiling_that_says_so() {
    let h = harness(None);
    let e = h
        .invoke("track", json!({"text": "b".repeat(70 * 1024)}))
        .unwrap_err();
    assert_eq!(e["code"], "paste_too_large");
    assert_eq!(e["message"], "That paste is 70 KiB; Batchwatch reads at most 64 KiB at a time. Nothing was added: paste it in parts.");

    let ids = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("batch_{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for from in [0, 1000] {
        let outcome = h.invoke("track", json!({"text": ids(from, 1000)})).unwrap();
        assert_eq!(outcome["added"].as_array().unwrap().len(), 1000);
    }
    // The list is full (2,000): a further paste adds nothing and names every ID left out.
    let outcome = h.invoke("track", json!({"text": ids(1995, 8)})).unwrap();
    assert_eq!(outcome["added"], json!([]));
    assert_eq!(outcome["already"].as_array().unwrap().len(), 5);
    assert_eq!(
        outcome["overLimit"],
        json!(["batch_2000", "batch_2001", "batch_2002"])
    );
    assert_eq!(
        outcome["overLimitMessage"],
        "3 batches not added: Batchwatch watches at most 2000 batches at once. Remove finished ones, then add these again."
    );
    h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 2000));
}

#[test]
fn untrack_and_refresh_validate_ids_and_errors_are_code_and_message() {
    let h = harness(None);
    h.invoke("track", json!({"text": "batch_a batch_b"}))
        .unwrap();
    h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 2));
    assert_eq!(
        h.invoke("untrack", json!({"id": "batch_b"})),
        Ok(Value::Null)
    );
    h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 1));
    assert_eq!(
        h.invoke("untrack", json!({"id": "../etc"})),
        Err(
            json!({"code": "invalid_batch_id", "message": "\"../etc\" is not a batch ID: it contains '.'; a batch ID has only letters, digits, '_' and '-'"})
        )
    );
    assert_eq!(h.invoke("refresh", json!({"id": null})), Ok(Value::Null));
    assert_eq!(
        h.invoke("refresh", json!({"id": "batch_a"})),
        Ok(Value::Null)
    );
    assert_eq!(
        h.invoke("refresh", json!({"id": "a b"})).unwrap_err()["code"],
        "invalid_batch_id"
    );
}

#[test]
fn credentials_are_checked_stored_used_and_forgotten_without_ever_coming_back() {
    let h = harness(None);
    h.invoke("track", json!({"text": "batch_a"})).unwrap();

    assert_eq!(
        h.invoke(
            "save_credentials",
            json!({"apiKey": "  ", "workspaceId": "ws_cmd"})
        ),
        Err(
            json!({"code": "invalid_credentials", "message": "Check your credentials: the API key is empty."})
        )
    );
    assert_eq!(
        h.invoke(
            "save_credentials",
            json!({"apiKey": "sk_wrong", "workspaceId": "ws_cmd"})
        ),
        Err(
            json!({"code": "credentials_rejected", "message": "Trillet rejected these credentials: Invalid API key. Nothing was stored."})
        )
    );
    assert!(h.keychain.is_empty(), "a rejected key is not stored");

    let saved = h
        .invoke(
            "save_credentials",
            json!({"apiKey": KEY, "workspaceId": "ws_cmd"}),
        )
        .unwrap();
    assert_eq!(
        saved,
        json!({"state": "stored", "workspaceId": "ws_cmd", "workspaces": [{"id": "ws_cmd", "label": "ws_cmd"}], "message": "Stored in your keychain.", "problem": null})
    );
    assert_eq!(h.keychain.key_of("ws_cmd").as_deref(), Some(KEY));

    // The monitor now polls with them: the card fills in from the simulator.
    let state = h.wait_for_state(|s| s["cards"][0]["total"] == 50);
    assert_eq!(state["status"]["credentials"]["state"], "stored");
    assert!(state["banner"].is_null());
    assert!(h.sim.control().request_count("batch_a") >= 2);

    let forgotten = h.invoke("forget_credentials", json!({})).unwrap();
    assert_eq!(forgotten["state"], "missing");
    assert!(h.keychain.is_empty());
    let state = h.wait_for_state(|s| s["banner"]["code"] == "no_credentials");
    assert!(!state.to_string().contains(KEY));
    drop(h);
}

#[test]
fn a_wrong_key_is_refused_before_any_batch_is_tracked() {
    let h = harness(None);
    assert_eq!(
        h.invoke(
            "save_credentials",
            json!({"apiKey": "sk_wrong", "workspaceId": "ws_cmd"})
        )
        .unwrap_err()["code"],
        "credentials_rejected"
    );
    assert!(h.keychain.is_empty());
    // The right one is stored: the probe's 404 does not disprove it.
    h.sign_in();
    assert!(!h.keychain.is_empty());
}

#[test]
fn keychain_failures_reach_the_window_as_their_own_code() {
    let h = harness(Some(KeychainError::Locked));
    assert_eq!(
        h.invoke(
            "save_credentials",
            json!({"apiKey": KEY, "workspaceId": "ws_cmd"})
        ),
        Err(
            json!({"code": "keychain_locked", "message": "Your keychain is locked. Unlock it (logging in to the desktop usually does) and try again."})
        )
    );
    assert_eq!(
        h.invoke("forget_credentials", json!({})).unwrap_err()["code"],
        "keychain_locked"
    );
}

impl Harness {
    /// Signs in, tracks a batch of the simulator's many failures (three pages of them at
    /// least) and waits for it to finish; its failed calls.
    fn finished_failing_batch(&self, id: &str) -> u64 {
        self.sim.control().add_batch(trillet_sim::failing_batch(id));
        self.sign_in();
        self.invoke("track", json!({ "text": id })).unwrap();
        let state = self.wait_for_state(|s| s["cards"][0]["state"] == "completed");
        let failed = state["cards"][0]["failed"].as_u64().unwrap();
        assert!(failed > 200, "three pages at least: {failed}");
        failed
    }

    fn sign_in(&self) {
        self.invoke(
            "save_credentials",
            json!({"apiKey": KEY, "workspaceId": "ws_cmd"}),
        )
        .unwrap();
    }
}

fn now_ms() -> u64 {
    batchwatch_core::monitor::system_clock()()
}

#[test]
fn pausing_notifications_is_a_setting_that_lasts_an_hour() {
    let h = harness(None);
    let before = now_ms();
    assert_eq!(
        h.invoke("pause_notifications", json!({"paused": true})),
        Ok(Value::Null)
    );
    let state = h.wait_for_state(|s| !s["settings"]["notificationsPausedUntilMs"].is_null());
    let until = state["settings"]["notificationsPausedUntilMs"]
        .as_u64()
        .unwrap();
    assert!(
        (before + 3_600_000..=now_ms() + 3_600_000).contains(&until),
        "an hour from the click: {until}"
    );
    h.invoke("pause_notifications", json!({"paused": false}))
        .unwrap();
    h.wait_for_state(|s| s["settings"]["notificationsPausedUntilMs"].is_null());
}

#[test]
fn settings_are_checked_previewed_and_stored() {
    let h = harness(None);
    let form = |floor: u64, budget: u32| json!({"form": {"floorSecs": floor, "budget": budget, "notifications": false, "failureAlertPercent": 20}});
    assert_eq!(
        h.invoke("preview_settings", form(15, 56)),
        Err(
            json!({"code": "invalid_settings", "message": "The request budget must be 1–55 requests a minute (you entered 56); Trillet allows 60."})
        )
    );
    assert_eq!(
        h.invoke("save_settings", form(2, 50)).unwrap_err()["code"],
        "invalid_settings"
    );
    // Whatever a person types arrives and is refused in words, not as a parse error.
    for wild in [
        json!({"form": {"floorSecs": -1, "budget": 50, "notifications": true, "failureAlertPercent": null}}),
        json!({"form": {"floorSecs": 15, "budget": 50, "notifications": true, "failureAlertPercent": 256}}),
        json!({"form": {"floorSecs": 15, "budget": 50, "notifications": true, "failureAlertPercent": null, "stallMinutes": 241}}),
    ] {
        assert_eq!(
            h.invoke("save_settings", wild).unwrap_err()["code"],
            "invalid_settings"
        );
    }
    h.invoke("track", json!({"text": "batch_a batch_b batch_c"}))
        .unwrap();
    h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 3));
    assert_eq!(
        h.invoke("preview_settings", form(15, 6)),
        Ok(json!("With 3 batches, each updates every 30 s."))
    );
    assert_eq!(h.invoke("save_settings", form(40, 6)), Ok(Value::Null));
    let state = h.wait_for_state(|s| s["settings"]["floorSecs"] == 40);
    assert_eq!(
        state["settings"],
        json!({
            "floorSecs": 40, "budget": 6, "notifications": false, "failureAlertPercent": 20,
            // A form without the stall minutes (a window of the version before) keeps them.
            "stallMinutes": 15,
            // ... and so do its sounds and quiet hours.
            "sounds": true, "quietHours": null,
            "notificationsPausedUntilMs": null,
            "consequence": "With 3 batches, each updates every 40 s."
        })
    );
}

#[test]
fn start_at_login_writes_and_removes_the_autostart_entry() {
    let h = harness(None);
    let entry = h.config_home.path().join("autostart/batchwatch.desktop");
    assert_eq!(
        h.invoke("set_start_at_login", json!({"enabled": true})),
        Ok(json!(true))
    );
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert!(exec.ends_with(" --hidden"), "{exec}");
    assert!(
        exec.starts_with(&*std::env::current_exe().unwrap().to_string_lossy()),
        "starts this program: {exec}"
    );
    h.wait_for_state(|s| s["status"]["startAtLogin"] == true);
    assert_eq!(
        h.invoke("set_start_at_login", json!({"enabled": false})),
        Ok(json!(false))
    );
    assert!(!entry.exists());
    h.wait_for_state(|s| s["status"]["startAtLogin"] == false);
}

#[test]
fn failed_calls_load_a_page_at_a_time_and_agree_with_the_counters() {
    let h = harness(None);
    let control = h.sim.control();
    let failed = h.finished_failing_batch("batch_bad");

    let first = h
        .invoke("failed_calls", json!({"id": "batch_bad", "more": false}))
        .unwrap();
    assert_eq!(first["loaded"], 100);
    assert_eq!(first["total"], failed);
    assert_eq!(first["hasMore"], true);
    assert_eq!(
        first["summary"],
        format!("100 of {failed} failed calls loaded")
    );
    let group = &first["groups"][0];
    assert_eq!(
        group["numbers"].as_str().unwrap().lines().count(),
        group["calls"].as_array().unwrap().len(),
        "Copy numbers gives each failed number"
    );
    let mut last = first;
    while last["hasMore"] == true {
        last = h
            .invoke("failed_calls", json!({"id": "batch_bad", "more": true}))
            .unwrap();
    }
    assert_eq!(last["loaded"], failed);
    let counted: u64 = last["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, failed, "the groups add up to the card's counter");
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/calls"))
        .count();
    assert_eq!(pages as u64, failed.div_ceil(100));

    // Starting over reloads from the first page.
    let again = h
        .invoke("failed_calls", json!({"id": "batch_bad", "more": false}))
        .unwrap();
    assert_eq!(again["loaded"], 100);
    assert_eq!(
        h.invoke(
            "failed_calls",
            json!({"id": "batch_unwatched", "more": false})
        )
        .unwrap_err()["code"],
        "not_tracked"
    );
}

/// "Save failed calls as CSV…": every page loaded, the file written where the window's dialog
/// said, parsed back with a CSV reader: each failed number once, the campaign's own columns
/// from `metadata` (a comma in one survives), then `error` and `ended_at`.
#[test]
fn the_retry_list_is_saved_whole_where_the_person_chose() {
    let h = harness(None);
    let control = h.sim.control();
    let failed = h.finished_failing_batch("batch_bad");
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("batch_bad failed calls.csv");

    let saved = h
        .invoke("save_retry_list", json!({"id": "batch_bad", "path": path}))
        .unwrap();
    let read = |path: &std::path::Path| {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    };
    let (header, rows) = read(&path);
    assert_eq!(
        header,
        [
            "phone_number",
            "name",
            "appointment_day",
            "error",
            "ended_at"
        ]
    );
    let numbers: std::collections::HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers.len(), rows.len(), "each number once");
    assert_eq!(saved["rows"], rows.len());
    assert_eq!(
        saved["message"],
        format!("Saved {} calls to {}", rows.len(), path.display())
    );
    assert!(
        rows.len() as u64 <= failed && rows.len() > 200,
        "{}",
        rows.len()
    );
    assert!(
        rows.iter().any(|r| r[2].contains(',')),
        "a comma in the campaign's own column survives the quoting"
    );
    assert!(rows
        .iter()
        .all(|r| r[0].starts_with("+1555") && !r[3].is_empty()));
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/calls"))
        .count();
    assert_eq!(pages as u64, failed.div_ceil(100), "every page, once");

    // One group only, as the window's groups name it; saving again replaces the file whole.
    let reason = rows[0][3].clone();
    let group = h
        .invoke(
            "save_retry_list",
            json!({"id": "batch_bad", "reason": reason, "path": path}),
        )
        .unwrap();
    let (_, grouped) = read(&path);
    assert!(grouped.iter().all(|r| r[3] == reason), "{grouped:?}");
    assert!(!grouped.is_empty() && grouped.len() < rows.len());
    assert_eq!(group["rows"], grouped.len());
    let beside: Vec<_> = std::fs::read_dir(folder.path()).unwrap().collect();
    assert_eq!(beside.len(), 1, "no partial file left beside it");

    // Where it cannot be written: said plainly, nothing left behind.
    let missing = folder.path().join("gone").join("list.csv");
    let refused = h
        .invoke(
            "save_retry_list",
            json!({"id": "batch_bad", "path": missing}),
        )
        .unwrap_err();
    assert_eq!(refused["code"], "save_failed");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Could not save {}: ", missing.display())),
        "{message}"
    );
    assert!(!missing.exists());
    assert_eq!(
        h.invoke(
            "save_retry_list",
            json!({"id": "batch_bad", "path": "relative.csv"}),
        )
        .unwrap_err()["message"],
        "Could not save relative.csv: the place to save is not a full path."
    );
    assert_eq!(
        h.invoke(
            "save_retry_list",
            json!({"id": "batch_unwatched", "path": path}),
        )
        .unwrap_err()["code"],
        "not_tracked"
    );
}

#[test]
fn cancel_shows_trillets_answer_or_its_error() {
    use trillet_sim::{Fault, FaultTarget};
    let h = harness(None);
    let control = h.sim.control();
    for id in ["batch_x", "batch_y", "batch_z"] {
        control.add_batch(
            BatchScript::new(40)
                .id(id)
                .started_ago(Duration::from_secs(60)),
        );
    }
    h.sign_in();
    h.invoke("track", json!({"text": "batch_x batch_y batch_z"}))
        .unwrap();
    h.wait_for_state(|s| {
        s["cards"]
            .as_array()
            .is_some_and(|c| c.len() == 3 && c.iter().all(|c| c["canCancel"] == true))
    });

    assert_eq!(
        h.invoke("cancel_batch", json!({"id": "batch_x"})),
        Ok(Value::Null)
    );
    let state = h.wait_for_state(|s| s["cards"][0]["state"] == "cancelled");
    let card = &state["cards"][0];
    assert_eq!(card["canCancel"], false);
    assert!(
        card["cancellationText"]
            .as_str()
            .unwrap()
            .starts_with("Cancelled from Batchwatch: "),
        "{card:#}"
    );

    control.set_fault(FaultTarget::Batch("batch_y".into()), Fault::ServerError);
    let error = h
        .invoke("cancel_batch", json!({"id": "batch_y"}))
        .unwrap_err();
    assert_eq!(error["code"], "server_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Trillet had a server error (500)"),
        "{error}"
    );
    control.remove_batch("batch_z");
    assert_eq!(
        h.invoke("cancel_batch", json!({"id": "batch_z"}))
            .unwrap_err()["code"],
        "not_found"
    );
    control.clear_all_faults();
    let state = h.invoke("get_state", json!({})).unwrap();
    assert_eq!(state["cards"][1]["canCancel"], true, "batch_y still runs");
    assert!(state["cards"][1]["cancellationText"].is_null());
}

#[test]
fn status_answers_a_watched_batch_from_memory_and_asks_about_others_without_adding_them() {
    let h = harness(None);
    h.sim
        .control()
        .add_batch(BatchScript::new(20).id("batch_other"));
    assert_eq!(
        h.invoke("status", json!({"id": "batch_a"})).unwrap_err()["code"],
        "no_credentials"
    );
    // A batch due but no credentials to poll it with: a lease is still granted (the poll that
    // cannot be sent does not hold the turn).
    h.invoke("track", json!({"text": "batch_a"})).unwrap();
    assert_eq!(h.invoke("lease", json!({})), Ok(Value::Null));
    assert_eq!(
        h.invoke("about", json!({})),
        Ok(
            json!({"apiBase": h.sim.base_url() + "/", "workspaceId": null, "workspaces": [], "credentials": "missing"})
        )
    );
    h.invoke(
        "save_credentials",
        json!({"apiKey": KEY, "workspaceId": "ws_cmd"}),
    )
    .unwrap();
    h.wait_for_state(|s| s["cards"][0]["total"] == 50);
    assert_eq!(
        h.invoke("about", json!({})).unwrap()["workspaceId"],
        "ws_cmd",
        "the workspace, never the key"
    );

    // Watched: from the last answer, no request. (The monitor's own poll may fall between the
    // two counts; it cannot fall in three tries running, a status that asks Trillet would.)
    let mut progress = Value::Null;
    let no_request = (0..3).any(|_| {
        let asked = h.sim.control().request_count("batch_a");
        progress = h.invoke("status", json!({"id": "batch_a"})).unwrap();
        h.sim.control().request_count("batch_a") == asked
    });
    assert!(no_request, "status of a watched batch asked Trillet");
    assert_eq!(progress["total"], 50, "{progress}");
    // With what the tray app saw of it, for the terminal to say the same recent-pace ETA.
    let answered = progress["answeredAtMs"]
        .as_u64()
        .expect("when it was heard from");
    assert!(answered.abs_diff(now_ms()) < 60_000, "{progress}");
    assert!(progress["samples"][0]["atMs"].is_u64(), "{progress}");

    // Not watched: asked of Trillet once, and not added.
    let other = h.invoke("status", json!({"id": "batch_other"})).unwrap();
    assert_eq!(other["total"], 20, "{other}");
    assert!(other.get("answeredAtMs").is_none() && other.get("samples").is_none());
    assert_eq!(h.sim.control().request_count("batch_other"), 1);
    let state = h.invoke("get_state", json!({})).unwrap();
    assert_eq!(
        state["cards"].as_array().map(Vec::len),
        Some(1),
        "not added"
    );
    assert_eq!(
        h.invoke("status", json!({"id": "batch_nowhere"}))
            .unwrap_err()["code"],
        "not_found"
    );

    // A lease is a slot in the same budget: granted while it has room.
    assert_eq!(h.invoke("lease", json!({})), Ok(Value::Null));
}

#[test]
fn clear_finished_stops_watching_only_the_batches_that_are_over() {
    let h = harness(None);
    h.sim
        .control()
        .add_batch(BatchScript::new(20).id("batch_done"));
    h.sim.control().finish_batch("batch_done");
    h.invoke(
        "save_credentials",
        json!({"apiKey": KEY, "workspaceId": "ws_cmd"}),
    )
    .unwrap();
    h.invoke("track", json!({"text": "batch_a batch_done"}))
        .unwrap();
    let state = h.wait_for_state(|s| {
        s["cards"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["id"] == "batch_done" && c["finished"] == true)
                && c.iter().any(|c| c["id"] == "batch_a" && c["total"] == 50)
        })
    });
    let running = state["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "batch_a")
        .unwrap();
    assert_eq!(running["finished"], false);
    assert_eq!(
        h.invoke("clear_finished", json!({})),
        Ok(json!({"cleared": 1}))
    );
    let state = h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 1));
    assert_eq!(state["cards"][0]["id"], "batch_a");
}

/// A retry from the window: the list the person was shown (the batch's own columns, each failed
/// number once) is the list started, once, and only with the fingerprint they reviewed; the new
/// batch is tracked and linked to its parent; the same list again is held back until forced; an
/// unknown outcome says so and holds the list back too.
#[test]
fn a_retry_is_shown_then_started_once_and_linked_to_its_batch() {
    let h = harness(None);
    let control = h.sim.control();
    control.add_agent(trillet_sim::Agent::ready("agent_sales", "Sales").in_workspace("ws_cmd"));
    h.finished_failing_batch("batch_bad");
    let posts = || {
        control
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    let pages = || {
        control
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/calls"))
            .count()
    };

    let agents = h.invoke("agents", json!({})).unwrap();
    assert_eq!(agents[0]["_id"], "agent_sales");

    let shown = h
        .invoke("prepare_retry", json!({"id": "batch_bad"}))
        .unwrap();
    assert_eq!(shown["fileName"], "batch_bad-retry.csv");
    assert_eq!(shown["retryOf"], "batch_bad");
    assert_eq!(shown["startable"], true);
    let rows = shown["report"]["rows"].as_u64().unwrap();
    assert!(rows > 200, "{shown}");
    assert_eq!(
        shown["report"]["columns"],
        json!(["phone_number", "name", "appointment_day"])
    );
    let fingerprint = shown["report"]["fingerprint"].clone();

    let question = h
        .invoke(
            "describe_start",
            json!({"calls": rows, "fileName": "batch_bad-retry.csv", "agentId": "agent_sales", "agentName": "Sales"}),
        )
        .unwrap();
    assert!(
        question
            .as_str()
            .unwrap()
            .ends_with("from batch_bad-retry.csv with the agent \"Sales\" (agent_sales) now?"),
        "{question}"
    );

    let retry = |extra: Value| {
        let mut args = json!({"id": "batch_bad", "agentId": "agent_sales", "agentName": "Sales"});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        h.invoke("start_retry", args)
    };
    // Only what was reviewed starts: without its fingerprint, nothing is sent.
    assert_eq!(retry(json!({})).unwrap_err()["code"], "changed");
    assert_eq!(posts(), 0);

    let pages_before = pages();
    let started = retry(json!({"fingerprint": fingerprint})).unwrap();
    let new_id = started["batchId"].as_str().unwrap().to_owned();
    assert_eq!(started["totalCalls"], rows);
    assert!(started["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("Started {new_id}: ")));
    assert_eq!(
        pages_before,
        pages(),
        "the list shown was the list started: no page asked again"
    );

    let uploads = control.uploads();
    assert_eq!(uploads.len(), 1);
    let uploaded = uploads[0].csv_text();
    let mut reader = csv::Reader::from_reader(uploaded.as_bytes());
    let numbers: std::collections::HashSet<String> =
        reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(numbers.len() as u64, rows, "each failed number once");

    // The new card: tracked at once, linked both ways.
    let state = h.wait_for_state(|s| {
        s["cards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == new_id.as_str())
    });
    let card = |id: &str| {
        state["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(card(&new_id)["retryOf"], "batch_bad");
    assert_eq!(
        card(&new_id)["launchText"],
        "batch_bad-retry.csv · agent Sales"
    );
    assert_eq!(card("batch_bad")["retries"], json!([new_id]));

    // A list started is gone: starting it again needs it shown again — never made behind the
    // person's back.
    assert_eq!(
        retry(json!({"fingerprint": fingerprint})).unwrap_err()["code"],
        "not_prepared"
    );
    // Shown again, the same list with the same agent is held back, nothing sent, until forced.
    h.invoke("prepare_retry", json!({"id": "batch_bad"}))
        .unwrap();
    let again = retry(json!({"fingerprint": fingerprint})).unwrap_err();
    assert_eq!(again["code"], "recent_start", "{again}");
    assert_eq!(posts(), 1);
    retry(json!({"fingerprint": fingerprint, "force": true})).unwrap();
    assert_eq!(posts(), 2);

    // A start whose answer never comes: said as it is, sent once, and held back afterwards.
    control.set_fault(
        trillet_sim::FaultTarget::Start,
        trillet_sim::Fault::DropConnection,
    );
    let busy = h
        .invoke(
            "prepare_retry",
            json!({"id": "batch_bad", "reason": "Number busy"}),
        )
        .unwrap();
    let busy_retry = json!({"reason": "Number busy", "fingerprint": busy["report"]["fingerprint"]});
    let unknown = retry(busy_retry.clone()).unwrap_err();
    assert_eq!(unknown["code"], "unknown_outcome", "{unknown}");
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("the batch may have started"));
    assert_eq!(posts(), 3);
    control.clear_all_faults();
    h.invoke(
        "prepare_retry",
        json!({"id": "batch_bad", "reason": "Number busy"}),
    )
    .unwrap();
    let held = retry(busy_retry).unwrap_err();
    assert_eq!(held["code"], "recent_start", "{held}");
    assert!(held["message"]
        .as_str()
        .unwrap()
        .contains("did not say whether it started"));
    assert_eq!(posts(), 3, "every start sent once");
}

#[test]
fn a_chosen_file_is_checked_and_started_with_a_schedule_and_refusals_say_why() {
    let h = harness(None);
    let control = h.sim.control();
    control.add_agent(trillet_sim::Agent::ready("agent_sales", "Sales").in_workspace("ws_cmd"));
    h.finished_failing_batch("batch_seed");
    let folder = tempfile::tempdir().unwrap();
    let good = folder.path().join("contacts.csv");
    std::fs::write(
        &good,
        "phone_number,first_name\n+15550000001,Ada\n+15550000001,Ada again\n",
    )
    .unwrap();
    let bad = folder.path().join("bad.csv");
    std::fs::write(&bad, "phone_number\n12345\n").unwrap();

    let checked = h.invoke("check_csv", json!({"path": good})).unwrap();
    assert_eq!(checked["fileName"], "contacts.csv");
    assert_eq!(
        checked["summary"],
        "2 rows, 1 distinct numbers (1 repeated: each is called again)"
    );
    assert_eq!(
        checked["report"]["preview"][0],
        json!(["+15550000001", "Ada"])
    );
    let fingerprint = checked["report"]["fingerprint"].clone();
    let refused = h.invoke("check_csv", json!({"path": bad})).unwrap();
    assert_eq!(refused["startable"], false);
    assert!(refused["badRowsText"]
        .as_str()
        .unwrap()
        .contains("line 2 \"12345\""));
    let missing = h
        .invoke("check_csv", json!({"path": folder.path().join("gone.csv")}))
        .unwrap_err();
    assert_eq!(missing["code"], "unreadable");

    let start = |args: Value| h.invoke("start_batch", args);
    let bad_start = start(json!({"path": bad, "agentId": "agent_sales"})).unwrap_err();
    assert_eq!(bad_start["code"], "bad_rows");
    // Past, or further ahead than a year (never "start now" for a time a clock cannot hold).
    for at in [1000, now_ms() + 400 * 24 * 3_600_000] {
        let refused = start(json!({"path": good, "agentId": "agent_sales", "scheduledAtMs": at, "fingerprint": fingerprint}))
            .unwrap_err();
        assert_eq!(refused["code"], "bad_time", "{refused}");
    }
    // A file that is not the one reviewed (changed on disk since): refused.
    let other = folder.path().join("other.csv");
    std::fs::write(&other, "phone_number\n+15550000009\n").unwrap();
    let changed =
        start(json!({"path": other, "agentId": "agent_sales", "fingerprint": fingerprint}))
            .unwrap_err();
    assert_eq!(changed["code"], "changed", "{changed}");
    assert!(control.uploads().is_empty(), "nothing sent");

    let at = now_ms() + 24 * 3_600_000;
    let started = start(
        json!({"path": good, "agentId": "agent_sales", "agentName": "Sales", "scheduledAtMs": at,
        "callbackAttempts": 2, "callbackGaps": ["4h"], "fingerprint": fingerprint}),
    )
    .unwrap();
    let id = started["batchId"].as_str().unwrap().to_owned();
    let upload = &control.uploads()[0];
    assert_eq!(upload.file_name.as_deref(), Some("contacts.csv"));
    assert_eq!(
        upload.scheduled_at.as_deref(),
        Some(batchwatch_core::launch::scheduled_at_text(at).as_str())
    );
    assert!(upload
        .smart_callback_config
        .as_deref()
        .unwrap()
        .contains("\"maxAttempts\":2"));
    let state = h.wait_for_state(|s| {
        s["cards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["startsText"].is_string())
    });
    let card = state["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert!(
        card["startsText"]
            .as_str()
            .unwrap()
            .starts_with("starts at "),
        "{card}"
    );
    assert_eq!(card["launchText"], "contacts.csv · agent Sales");
}

/// Two workspaces from the window's requests: each saved on its own (the first kept), batches
/// added to each, a rename that keeps the key, and one removed — its batches stop being
/// watched, the other's go on — with every answer free of both keys.
#[test]
fn workspaces_are_added_renamed_and_removed_one_at_a_time() {
    const OTHER_KEY: &str = "sk_second_workspace_key_31";
    let h = harness(None);
    h.sim.control().add_key(OTHER_KEY, "ws_two");
    h.sim
        .control()
        .add_batch(BatchScript::new(40).id("batch_two"));
    h.invoke(
        "save_credentials",
        json!({"apiKey": KEY, "workspaceId": "ws_cmd", "label": "Acme US"}),
    )
    .unwrap();
    let saved = h
        .invoke(
            "save_credentials",
            json!({"apiKey": OTHER_KEY, "workspaceId": "ws_two"}),
        )
        .unwrap();
    assert_eq!(
        saved["workspaces"],
        json!([{"id": "ws_cmd", "label": "Acme US"}, {"id": "ws_two", "label": "ws_two"}])
    );
    assert_eq!(
        saved["message"],
        "2 workspaces, each stored in your keychain."
    );
    assert_eq!(h.keychain.key_of("ws_cmd").as_deref(), Some(KEY));
    assert_eq!(h.keychain.key_of("ws_two").as_deref(), Some(OTHER_KEY));

    // A paste goes to the workspace named; one not stored is refused.
    h.invoke("track", json!({"text": "batch_a", "workspace": "ws_cmd"}))
        .unwrap();
    h.invoke("track", json!({"text": "batch_two", "workspace": "ws_two"}))
        .unwrap();
    let refused = h
        .invoke("track", json!({"text": "batch_x", "workspace": "ws_nope"}))
        .unwrap_err();
    assert_eq!(refused["code"], "unknown_workspace");
    let state = h.wait_for_state(|s| {
        s["cards"].as_array().is_some_and(|c| c.len() == 2)
            && s["cards"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["total"] != 0)
    });
    assert_eq!(state["workspaces"][0]["label"], "Acme US");
    assert_eq!(state["workspaces"][1]["label"], "ws_two");
    // Each asked with its own pair.
    let probe = Some("batch_batchwatch_credentials_check");
    for record in h.sim.control().requests() {
        if record.batch_id.as_deref() == probe {
            continue; // each check went with its own pair too, asking about no batch
        }
        let expected = match record.batch_id.as_deref() {
            Some("batch_two") => (OTHER_KEY, "ws_two"),
            _ => (KEY, "ws_cmd"),
        };
        assert_eq!(
            (record.api_key.as_deref(), record.workspace_id.as_deref()),
            (Some(expected.0), Some(expected.1)),
            "{record:?}"
        );
    }

    let renamed = h
        .invoke(
            "rename_workspace",
            json!({"workspaceId": "ws_two", "label": "Globex"}),
        )
        .unwrap();
    assert_eq!(
        renamed["workspaces"][1],
        json!({"id": "ws_two", "label": "Globex"})
    );
    assert_eq!(h.keychain.key_of("ws_two").as_deref(), Some(OTHER_KEY));

    let left = h
        .invoke("forget_credentials", json!({"workspaceId": "ws_two"}))
        .unwrap();
    assert_eq!(
        left["workspaces"],
        json!([{"id": "ws_cmd", "label": "Acme US"}])
    );
    assert_eq!(h.keychain.key_of("ws_two"), None);
    let state = h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 1));
    assert_eq!(state["cards"][0]["id"], "batch_a");
    assert!(state["banner"].is_null());
    let text = state.to_string();
    assert!(!text.contains(KEY) && !text.contains(OTHER_KEY));
}

/// A retry goes to its batch's own workspace — its failed calls, its agent — never the first
/// one's: the agents asked, the pages loaded and the one start sent all carry that pair.
#[test]
fn a_retry_is_started_in_its_batchs_own_workspace() {
    const OTHER_KEY: &str = "sk_retry_other_workspace_44";
    let h = harness(None);
    let control = h.sim.control();
    control.add_key(OTHER_KEY, "ws_two");
    control
        .add_agent(trillet_sim::Agent::ready("agent_two", "Two's caller").in_workspace("ws_two"));
    control.add_batch(trillet_sim::failing_batch("batch_two_bad"));
    h.sign_in();
    h.invoke(
        "save_credentials",
        json!({"apiKey": OTHER_KEY, "workspaceId": "ws_two", "label": "Two"}),
    )
    .unwrap();
    h.invoke(
        "track",
        json!({"text": "batch_two_bad", "workspace": "ws_two"}),
    )
    .unwrap();
    h.wait_for_state(|s| s["cards"][0]["state"] == "completed");

    let agents = h.invoke("agents", json!({"workspace": "ws_two"})).unwrap();
    assert_eq!(agents[0]["_id"], "agent_two");
    let shown = h
        .invoke("prepare_retry", json!({"id": "batch_two_bad"}))
        .unwrap();
    let question = h
        .invoke(
            "describe_start",
            json!({"calls": 3, "fileName": "batch_two_bad-retry.csv", "agentId": "agent_two", "agentName": "Two's caller", "workspace": "ws_two"}),
        )
        .unwrap();
    assert!(
        question.as_str().unwrap().starts_with("In Two: "),
        "{question}"
    );
    // The one start the person confirmed, of the list they were shown.
    let start = |shown: &Value| {
        h.invoke(
            "start_retry",
            json!({"id": "batch_two_bad", "agentId": "agent_two", "agentName": "Two's caller",
                   "fingerprint": shown["report"]["fingerprint"]}),
        )
    };
    let started = start(&shown).unwrap();
    let new_id = started["batchId"].as_str().unwrap().to_owned();
    let sent: Vec<_> = control
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.path.ends_with("/calls") || r.path.ends_with("/agents"))
        .collect();
    assert!(sent.iter().any(|r| r.method == "POST"), "{sent:?}");
    for r in &sent {
        assert_eq!(
            (r.api_key.as_deref(), r.workspace_id.as_deref()),
            (Some(OTHER_KEY), Some("ws_two")),
            "{r:?}"
        );
    }
    // The new batch is watched in that workspace too.
    let state = h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 2));
    let card = state["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == new_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(card["workspace"], "ws_two");

    // A list made while its workspace was stored is never started elsewhere once it is not.
    let again = h
        .invoke("prepare_retry", json!({"id": "batch_two_bad"}))
        .unwrap();
    h.invoke("forget_credentials", json!({"workspaceId": "ws_two"}))
        .unwrap();
    let posts = || {
        control
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    let before = posts();
    let refused = start(&again).unwrap_err();
    assert_eq!(refused["code"], "workspace_gone", "{refused}");
    assert_eq!(posts(), before, "nothing was sent");
}
