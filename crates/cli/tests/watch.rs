//! `batchwatch-cli watch` end to end: the real binary polls the simulator on loopback until the
//! batches finish, with pacing compressed (`support::FAST`) so each run takes a second or two.

mod support;

use std::time::Duration;

use batchwatch_core::{ApiBase, BatchId, Credentials, TrilletClient};
use support::{cli, cli_on, run, run_with, sim, start_with, wait_until, FAST, KEY, WORKSPACE};
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim};

const LIMIT: Duration = Duration::from_secs(20);

/// `watch --until-done <ids> --poll-floor-ms 200 --budget-window-ms 1000` against `sim`.
fn watch_until_done(sim: &RunningSim, ids: &[&str]) -> std::process::Command {
    let mut args = vec!["watch", "--until-done"];
    args.extend_from_slice(ids);
    args.extend_from_slice(&FAST);
    cli_on(sim, &args)
}

/// A batch that completes about 1.5 s after it is added at sim speed 1: two rounds of calls
/// lasting 0.3–0.7 s each, none failing.
fn quick(id: &str) -> BatchScript {
    BatchScript::new(6)
        .id(id)
        .concurrency(3)
        .call_duration(Duration::from_millis(500))
        .failure_rate(0.0)
}

/// A batch that will not finish during a test.
fn long(id: &str) -> BatchScript {
    BatchScript::new(100)
        .id(id)
        .call_duration(Duration::from_secs(60))
}

#[test]
fn completed_batches_exit_0_after_showing_progress_lines() {
    let sim = sim(1.0);
    sim.control().add_batch(quick("batch_a"));
    sim.control().add_batch(quick("batch_bb").concurrency(6));
    let out = run_with(watch_until_done(&sim, &["batch_a", "batch_bb"]), "", LIMIT);
    out.assert_code(0);
    assert_eq!(out.stderr, "", "{out:#?}");
    // Plain lines (no terminal here): a first look and the completion of each batch.
    assert!(out.stdout.contains("batch_a   processing"), "{out:#?}");
    assert!(
        out.stdout.contains("batch_a   completed   100%"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("batch_bb  completed   100%"),
        "{out:#?}"
    );
    // Finished batches are not polled again, and polling kept to the compressed budget.
    let polls = sim.control().request_count("batch_a");
    assert!((2..=15).contains(&polls), "batch_a polled {polls} times");
    let busiest = sim
        .control()
        .max_requests_in_window(KEY, Duration::from_secs(1));
    assert!(busiest <= 12, "{busiest} requests within one second");
}

#[test]
fn a_failed_batch_exits_1() {
    let sim = sim(1.0);
    sim.control().add_batch(
        BatchScript::new(20)
            .id("batch_doomed")
            .concurrency(2)
            .call_duration(Duration::from_secs(2))
            .abort_at(Duration::from_millis(800)),
    );
    sim.control().add_batch(quick("batch_fine"));
    let out = run_with(
        watch_until_done(&sim, &["batch_doomed", "batch_fine"]),
        "",
        LIMIT,
    );
    out.assert_code(1).assert_error_line("batch_doomed failed");
    assert!(out.stdout.contains("batch_doomed  failed"), "{out:#?}");
    assert!(out.stdout.contains("batch_fine    completed"), "{out:#?}");
}

#[test]
fn a_batch_cancelled_while_watched_exits_1_and_plain_watch_exits_0() {
    let sim = sim(1.0);
    sim.control().add_batch(long("batch_stop"));
    let watching = start_with(watch_until_done(&sim, &["batch_stop"]), "");
    wait_until("the watch has polled once", || {
        sim.control().request_count("batch_stop") >= 1
    });
    let client = TrilletClient::new(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(KEY, WORKSPACE).unwrap(),
    );
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(client.cancel_batch(&BatchId::parse("batch_stop").unwrap()))
        .expect("the batch cancels");
    assert_eq!(outcome.status.as_str(), "cancelled");

    let out = watching.finish(LIMIT);
    out.assert_code(1)
        .assert_error_line("batch_stop was cancelled");
    assert!(out.stdout.contains("batch_stop  cancelled"), "{out:#?}");

    // Without --until-done the watch has done its job once everything has finished.
    let mut args = vec!["watch", "batch_stop"];
    args.extend_from_slice(&FAST);
    let out = run(cli_on(&sim, &args));
    out.assert_code(0);
    assert!(out.stdout.contains("batch_stop  cancelled"), "{out:#?}");
}

#[test]
fn an_unknown_batch_exits_4() {
    let sim = sim(1.0);
    sim.control().add_batch(quick("batch_real"));
    let out = run_with(
        watch_until_done(&sim, &["batch_real", "batch_ghost"]),
        "",
        LIMIT,
    );
    out.assert_code(4).assert_error_line("batch_ghost");
    assert!(
        out.stdout
            .contains("batch_ghost  Trillet has no batch with this ID"),
        "{out:#?}"
    );
    // The other batch was still followed to its end, and the unknown one asked about once.
    assert!(out.stdout.contains("batch_real   completed"), "{out:#?}");
    assert_eq!(sim.control().request_count("batch_ghost"), 1);
}

#[test]
fn a_revoked_key_stops_at_once_with_exit_3() {
    let sim = sim(1.0);
    sim.control().add_batch(long("batch_x"));
    sim.control().add_batch(long("batch_y"));
    let watching = start_with(watch_until_done(&sim, &["batch_x", "batch_y"]), "");
    wait_until("both batches were polled", || {
        sim.control().request_count("batch_y") >= 1
    });
    sim.control().revoke_key(KEY);
    let out = watching.finish(LIMIT);
    out.assert_code(3)
        .assert_error_line("rejected the API key or workspace ID (401)");
    // One refused request ended it: nothing was retried with the refused key.
    let refused = sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(refused, 1);
}

#[test]
fn bad_ids_and_missing_credentials_exit_2() {
    let sim = sim(1.0);
    run(watch_until_done(&sim, &["batch_ok", "batch?x"]))
        .assert_code(2)
        .assert_error_line("\"batch?x\"");

    let home = tempfile::tempdir().unwrap();
    let mut command = cli(&["watch", "--until-done", "batch_ok"]);
    command.env("BATCHWATCH_API_BASE", sim.base_url());
    support::without_keychain(&mut command, home.path());
    run(command)
        .assert_code(2)
        .assert_error_line("keychain cannot be reached");
    assert_eq!(sim.control().requests().len(), 0);
}

#[test]
fn server_errors_are_shown_and_outlived() {
    let sim = sim(1.0);
    sim.control().add_batch(quick("batch_flaky"));
    let target = FaultTarget::Batch("batch_flaky".into());
    sim.control().set_fault(target.clone(), Fault::ServerError);
    let watching = start_with(watch_until_done(&sim, &["batch_flaky"]), "");
    // Counted from answered requests, so the second 500 has surely been sent when cleared.
    wait_until("two polls have failed", || {
        let requests = sim.control().requests();
        requests.iter().filter(|r| r.status == 500).count() >= 2
    });
    sim.control().clear_fault(target);
    let out = watching.finish(LIMIT);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("batch_flaky  Trillet had a server error (500)"),
        "{out:#?}"
    );
    // The monitor backs off: each wait is at least the floor's share of the last (±20 % jitter).
    let waits: Vec<f64> = out
        .stdout
        .lines()
        .filter_map(|l| l.split("retrying in ").nth(1))
        .filter_map(|w| w.trim_end_matches(" s").parse().ok())
        .collect();
    assert!(waits.len() >= 2, "{out:#?}");
    assert!(waits[1] > waits[0], "backs off: {waits:?}");
    assert!(
        out.stdout.contains("batch_flaky  completed   100%"),
        "{out:#?}"
    );
}

#[test]
fn ctrl_c_ends_the_watch_with_130_and_no_error_line() {
    let sim = sim(1.0);
    sim.control().add_batch(long("batch_forever"));
    let mut args = vec!["watch", "batch_forever"];
    args.extend_from_slice(&FAST);
    let watching = start_with(cli_on(&sim, &args), "");
    wait_until("the watch has polled once", || {
        sim.control().request_count("batch_forever") >= 1
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &watching.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = watching.finish(LIMIT);
    out.assert_code(130);
    assert_eq!(out.stderr, "", "{out:#?}");
    assert!(out.stdout.contains("batch_forever  processing"), "{out:#?}");
}
