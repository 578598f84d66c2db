//! The tray app on a server: no display, no session bus, no keychain. It says once in its log
//! that there is no tray and no notification daemon, takes its credentials from
//! `TRILLET_API_KEY`/`TRILLET_WORKSPACE_ID` (writing them nowhere), goes on watching, its
//! hooks do the telling, and the terminal's control socket works as on a desktop.

use std::path::Path;
use std::time::{Duration, Instant};

use batchwatch_core::control::{Client, ClientKind, Endpoint, Request};
use batchwatch_test_support::server::ServerHome;
use trillet_sim::{BatchScript, RunningSim, SimConfig};

const KEY: &str = "sk_headless_secret_4242";
const WORKSPACE: &str = "ws_server";
const PATIENCE: Duration = Duration::from_secs(60);

fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_bytes_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            bytes.extend(all_bytes_under(&path));
        } else if let Ok(read) = std::fs::read(&path) {
            bytes.extend(read);
        }
    }
    bytes
}

#[test]
fn without_display_bus_or_keychain_it_watches_with_credentials_from_its_environment_and_hooks_tell()
{
    let sim = RunningSim::spawn(SimConfig {
        credentials: vec![(KEY.into(), WORKSPACE.into())],
        ..SimConfig::default()
    })
    .unwrap();
    sim.control().add_batch(
        BatchScript::new(20)
            .id("batch_server")
            .concurrency(2)
            .call_duration(Duration::from_secs(10_000)),
    );
    let server = ServerHome::new();
    let told = server.home.path().join("told.jsonl");
    server.write_hooks(&format!(
        "[[hook]]\non = [\"finished\"]\nrun = [\"/bin/sh\", \"-c\", 'cat >> \"$0\"; echo >> \"$0\"', \"{}\"]\n",
        told.display()
    ));
    let mut resident = server.start_resident(
        Path::new(env!("CARGO_BIN_EXE_batchwatch-resident")),
        &sim.base_url(),
        KEY,
        WORKSPACE,
    );

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = Endpoint::at(server.socket());
    let client = until("the control socket", || {
        tokio
            .block_on(Client::connect(&endpoint, ClientKind::Terminal))
            .ok()
    });
    let about = tokio.block_on(client.call(&Request::About {})).unwrap();
    assert_eq!(about["workspaceId"], WORKSPACE, "{about}");
    tokio
        .block_on(client.call(&Request::Track {
            text: "batch_server".into(),
            notify: None,
            workspace: None,
        }))
        .unwrap();
    // Seen running (answered with the environment's key), then it finishes.
    until("an answered poll", || {
        sim.control()
            .requests()
            .iter()
            .any(|r| r.batch_id.as_deref() == Some("batch_server") && r.status == 200)
            .then_some(())
    });
    sim.control().finish_batch("batch_server");
    let line = until("the hook's run", || {
        std::fs::read_to_string(&told)
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    let event: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(event["event"], "finished");
    assert_eq!(event["batchId"], "batch_server");
    assert_eq!(event["workspace"], WORKSPACE);

    let log = server.log();
    assert_eq!(log.matches("no tray: ").count(), 1, "{log}");
    assert_eq!(log.matches("no desktop notifications").count(), 1, "{log}");
    assert!(
        log.contains("credentials from the environment, for workspace ws_server"),
        "{log}"
    );
    assert!(
        resident.try_wait().unwrap().is_none(),
        "still watching: {log}"
    );

    // The key went nowhere but the requests: no file of the tray app holds it.
    let stored = all_bytes_under(server.home.path());
    assert!(
        !stored.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
        "the key is in a file under the tray app's folders"
    );

    // Stopped as systemd stops it.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(resident.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = until("the tray app to stop", || resident.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
}
