//! The window's commands on Tauri's mock runtime, against a real monitor and the Trillet
//! simulator, with an in-memory keychain double (the real keychain is proven in
//! `batchwatch-core`'s tests and the desktop smoke test). Asserts the exact JSON the window
//! receives, errors included, and that no answer ever carries the API key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batchwatch::state::AppState;
use batchwatch::status::{AppStatus, CredentialsStatus, NotificationsStatus};
use batchwatch_core::monitor::{Monitor, MonitorConfig};
use batchwatch_core::secret_store::{KeychainError, SecretStore};
use batchwatch_core::{ApiBase, Credentials, TrilletClient};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow, WebviewWindowBuilder};
use trillet_sim::{BatchScript, RunningSim, SimConfig};

const KEY: &str = "sk_tauri_command_secret_77";

/// A keychain that keeps one item in memory, or fails every call with `failure`.
#[derive(Default)]
struct MemoryKeychain {
    item: Mutex<Option<Credentials>>,
    failure: Option<KeychainError>,
}

impl SecretStore for MemoryKeychain {
    fn load(&self) -> Result<Option<Credentials>, KeychainError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => Ok(self.item.lock().unwrap().clone()),
        }
    }
    fn save(&self, credentials: &Credentials) -> Result<(), KeychainError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => {
                *self.item.lock().unwrap() = Some(credentials.clone());
                Ok(())
            }
        }
    }
    fn delete(&self) -> Result<(), KeychainError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => {
                *self.item.lock().unwrap() = None;
                Ok(())
            }
        }
    }
}

struct Harness {
    webview: WebviewWindow<MockRuntime>,
    app: tauri::App<MockRuntime>,
    keychain: Arc<MemoryKeychain>,
    sim: RunningSim,
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

    let app = batchwatch::with_commands(mock_builder())
        .build(mock_context(noop_assets()))
        .unwrap();
    let config = MonitorConfig::new(TrilletClient::unauthenticated(api_base.clone()), None);
    let (monitor, _events) = tauri::async_runtime::block_on(async { Monitor::spawn(config) });
    let (status, _) = tokio::sync::watch::channel(AppStatus {
        demo: false,
        credentials: CredentialsStatus::missing(),
        notifications: NotificationsStatus {
            available: true,
            paused: false,
            message: None,
        },
    });
    app.manage(AppState {
        monitor,
        secrets: Some(keychain.clone() as Arc<dyn SecretStore>),
        api_base,
        status,
        demo: None,
        credentials_turn: Default::default(),
    });
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    Harness {
        webview,
        app,
        keychain,
        sim,
    }
}

impl Harness {
    /// Calls a command as the window would; `Ok` or `Err` JSON, exactly as the window sees it.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let response = get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap());
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
            "rejected": [{"token": "junk!", "reason": "not a batch ID: it contains '!'; a batch ID has only letters, digits, '_' and '-'"}]
        })
    );
    let state = h.wait_for_state(|s| s["cards"].as_array().is_some_and(|c| c.len() == 2));
    assert_eq!(state["cards"][0]["id"], "batch_a");
    assert_eq!(state["cards"][0]["statusText"], "checking…");
    assert_eq!(state["banner"]["code"], "no_credentials");
    let again = h.invoke("track", json!({"text": "batch_a"})).unwrap();
    assert_eq!(
        again,
        json!({"added": [], "already": ["batch_a"], "rejected": []})
    );
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
    assert!(
        h.keychain.item.lock().unwrap().is_none(),
        "a rejected key is not stored"
    );

    let saved = h
        .invoke(
            "save_credentials",
            json!({"apiKey": KEY, "workspaceId": "ws_cmd"}),
        )
        .unwrap();
    assert_eq!(
        saved,
        json!({"state": "stored", "workspaceId": "ws_cmd", "message": "Stored in your keychain.", "problem": null})
    );
    assert_eq!(
        h.keychain
            .item
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.api_key.expose_for_header()),
        Some(KEY)
    );

    // The monitor now polls with them: the card fills in from the simulator.
    let state = h.wait_for_state(|s| s["cards"][0]["total"] == 50);
    assert_eq!(state["status"]["credentials"]["state"], "stored");
    assert!(state["banner"].is_null());
    assert!(h.sim.control().request_count("batch_a") >= 2);

    let forgotten = h.invoke("forget_credentials", json!({})).unwrap();
    assert_eq!(forgotten["state"], "missing");
    assert!(h.keychain.item.lock().unwrap().is_none());
    let state = h.wait_for_state(|s| s["banner"]["code"] == "no_credentials");
    assert!(!state.to_string().contains(KEY));
    drop(h.app);
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

#[test]
fn pausing_notifications_shows_in_the_state() {
    let h = harness(None);
    assert_eq!(
        h.invoke("set_notifications_paused", json!({"paused": true})),
        Ok(Value::Null)
    );
    let state = h.invoke("get_state", json!({})).unwrap();
    assert_eq!(
        state["status"]["notifications"],
        json!({"available": true, "paused": true, "message": null})
    );
}
