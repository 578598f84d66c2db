//! The tray app under a burst of finishes with hooks, as figures (not assertions): 200 batches
//! finishing at once, three hooks each (two `sh -c` commands and a webhook on loopback), the
//! real resident binary on a server-like session (no display, no bus), its schedule compressed
//! so the key's budget window is 2 s instead of a minute — the 200 finishes are seen within
//! about four windows, the fastest the budget lets any number of finishes be seen. Prints the
//! time from the finishes to every run done, and the tray app's peak RSS (VmHWM) before and
//! after. Run with `cargo bench -p batchwatch-resident --bench hooks_burst`.

use std::time::{Duration, Instant};

use batchwatch_core::control::{Client, ClientKind, Endpoint, Request};
use batchwatch_test_support::net::PostReceiver;
use batchwatch_test_support::server::{peak_rss_kib, ServerHome};
use trillet_sim::{BatchScript, RunningSim, SimConfig};

const BATCHES: usize = 200;
const KEY: &str = "sk_burst_bench";

fn main() {
    // The simulator's minute (its rate limit's window) is the compressed budget window.
    let sim = RunningSim::spawn(SimConfig {
        speed: 30.0,
        credentials: vec![(KEY.into(), "ws_bench".into())],
        ..SimConfig::default()
    })
    .unwrap();
    let ids: Vec<String> = (0..BATCHES)
        .map(|i| {
            sim.control().add_batch(
                BatchScript::new(20)
                    .id(format!("batch_{i:03}"))
                    .concurrency(2)
                    .call_duration(Duration::from_secs(10_000_000)),
            )
        })
        .collect();
    let server = ServerHome::new();
    let runs = server.home.path().join("runs");
    let receiver = PostReceiver::start();
    let command = format!(
        "run = [\"/bin/sh\", \"-c\", 'cat > /dev/null; echo $BATCHWATCH_BATCH_ID >> \"$0\"', \"{}\"]",
        runs.display()
    );
    server.write_hooks(&format!(
        "[[hook]]\non = [\"finished\"]\n{command}\n\n[[hook]]\non = [\"finished\"]\n{command}\n\n\
         [[hook]]\non = [\"finished\"]\nwebhook = \"{}\"\n",
        receiver.url
    ));
    let mut resident = server.start_resident(
        std::path::Path::new(env!("CARGO_BIN_EXE_batchwatch-resident")),
        &sim.base_url(),
        KEY,
        "ws_bench",
    );
    let pid = resident.id();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = Endpoint::at(server.socket());
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        if let Ok(client) = tokio.block_on(Client::connect(&endpoint, ClientKind::Terminal)) {
            break client;
        }
        assert!(Instant::now() < deadline, "the tray app did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    tokio
        .block_on(client.call(&Request::Track {
            text: ids.join("\n"),
            notify: None,
            workspace: None,
        }))
        .unwrap();
    // Every batch seen running first (a batch first seen finished is no event).
    let answered = |id: &str| {
        sim.control()
            .requests()
            .iter()
            .any(|r| r.batch_id.as_deref() == Some(id) && r.status == 200)
    };
    while !ids.iter().all(|id| answered(id)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = peak_rss_kib(pid);
    let started = Instant::now();
    for id in &ids {
        sim.control().finish_batch(id);
    }
    loop {
        let ran = std::fs::read_to_string(&runs).map_or(0, |t| t.lines().count());
        if ran >= 2 * BATCHES && receiver.bodies().len() >= BATCHES {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {ran} command runs and {} posts",
            receiver.bodies().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained = started.elapsed();
    let log = server.log();
    println!(
        "tray app, {BATCHES} finishes at once × 3 hooks (budget window 2 s): every run done {:.1} s \
         after the finishes; {} dropped; peak RSS {} KiB (before the finishes: {} KiB)",
        drained.as_secs_f64(),
        log.matches("is dropped").count(),
        peak_rss_kib(pid),
        before
    );
    let _ = resident.kill();
    let _ = resident.wait();
}
