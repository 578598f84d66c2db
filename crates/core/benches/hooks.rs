//! Bursts through the hooks, three hooks an event (two commands and a webhook on loopback), as
//! figures (not assertions):
//! - 200 batches finishing within one minute (one finish every 300 ms — four times what the
//!   key's 50 requests a minute could even observe): how long until every run is done after
//!   the last finish, the most that ran at once, runs dropped (none expected), the time to
//!   queue an event, and this process's peak memory;
//! - the same 200 finishes handed over at once (600 runs): what the bound of 256 waiting keeps.
//!
//! Run with `cargo bench -p batchwatch-core --bench hooks`.

use std::time::{Duration, Instant};

use batchwatch_core::batch_id::BatchId;
use batchwatch_core::events::{Event, EventKind};
use batchwatch_core::hooks::{Bounds, HookRunner};
use batchwatch_core::model::BatchProgress;

const BATCHES: usize = 200;

fn peak_rss_kib() -> u64 {
    batchwatch_test_support::server::peak_rss_kib(std::process::id())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let out = dir.path().join("runs");
    let receiver = batchwatch_test_support::net::PostReceiver::start();
    let url = receiver.url.clone();
    let path = dir.path().join("hooks.toml");
    std::fs::write(
        &path,
        format!(
            "[[hook]]\non = [\"finished\"]\nrun = [\"/bin/sh\", \"-c\", 'cat > /dev/null; echo $BATCHWATCH_BATCH_ID >> \"$0\"', \"{out}\"]\n\n\
             [[hook]]\non = [\"finished\"]\nrun = [\"/bin/sh\", \"-c\", 'cat > /dev/null; echo $BATCHWATCH_BATCH_ID >> \"$0\"', \"{out}\"]\n\n\
             [[hook]]\non = [\"finished\"]\nwebhook = \"{url}\"\n",
            out = out.display()
        ),
    )
    .unwrap();
    let progress: BatchProgress = serde_json::from_str(
        r#"{"status":"completed","isComplete":true,"completed":145,"failed":5,"total":150}"#,
    )
    .unwrap();
    let before = peak_rss_kib();
    runtime.block_on(async {
        for (label, spacing) in [
            ("over a minute", Duration::from_millis(300)),
            ("all at once", Duration::ZERO),
        ] {
            let _ = std::fs::remove_file(&out);
            let posted_before = receiver.bodies().len();
            let (runner, status) = HookRunner::spawn(path.clone(), Bounds::default());
            let started = Instant::now();
            let mut queue_ns = 0u128;
            for i in 0..BATCHES {
                let id = BatchId::parse(&format!("batch_{i}")).unwrap();
                let event = Event::of_batch(
                    EventKind::Finished,
                    &id,
                    &progress,
                    format!("Batch {id} completed — 145 completed, 5 failed"),
                    1_703_097_600_000,
                    Some("ws_1"),
                    None,
                );
                let t = Instant::now();
                runner.on_event(event);
                queue_ns += t.elapsed().as_nanos();
                if !spacing.is_zero() {
                    tokio::time::sleep(spacing).await;
                }
            }
            let last_handed = Instant::now();
            loop {
                let ran = std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0);
                let dropped = status.borrow().dropped as usize;
                let done = ran + (receiver.bodies().len() - posted_before) + dropped;
                if done >= 3 * BATCHES && runner.busy() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            println!(
                "hooks, {BATCHES} finishes {label} × 3 hooks = {} runs: all done {:.2} s after the last finish ({:.1} s in all); at most {} at once; {} dropped; queueing an event took {:.1} µs on average; peak RSS so far {} KiB (before: {} KiB)",
                3 * BATCHES,
                last_handed.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64(),
                runner.peak_running(),
                status.borrow().dropped,
                queue_ns as f64 / BATCHES as f64 / 1000.0,
                peak_rss_kib(),
                before
            );
        }
    });
}
