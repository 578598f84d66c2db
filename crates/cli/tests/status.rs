//! `batchwatch-cli status` end to end: the real binary against the simulator on loopback.

mod support;

use std::time::Duration;

use batchwatch_core::{ApiBase, BatchId, BatchProgress, Credentials, TrilletClient};
use serde_json::Value;
use support::{cli, cli_on, round1, run, sim, without_keychain, KEY, WORKSPACE};
use trillet_sim::BatchScript;

/// Sim speed at which time stands still: only `advance` moves it, so two reads agree.
const FROZEN: f64 = 1e-9;

/// What the simulator answers for `id`, read through the core client.
fn direct(sim: &trillet_sim::RunningSim, id: &str) -> BatchProgress {
    let client = TrilletClient::new(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(KEY, WORKSPACE).unwrap(),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(client.batch_progress(&BatchId::parse(id).unwrap()))
        .unwrap()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

#[test]
fn json_has_the_api_fields_as_received_plus_figures() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(150).id("batch_running"));
    control.add_batch(
        BatchScript::new(40)
            .id("batch_queued")
            .start_delay(Duration::from_secs(3600)),
    );
    control.advance(Duration::from_secs(150));

    let out = run(cli_on(
        &sim,
        &["status", "--json", "batch_running", "batch_queued"],
    ));
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "{out:#?}");

    let running = &lines[0];
    let truth = direct(&sim, "batch_running");
    assert!(truth.completed > 0 && truth.completed < 150, "{truth:?}");
    assert_eq!(running["batchId"], "batch_running");
    assert_eq!(running["status"], "processing");
    assert_eq!(running["isComplete"], false);
    assert_eq!(running["completed"], truth.completed);
    assert_eq!(running["failed"], truth.failed);
    assert_eq!(running["active"], truth.active);
    assert_eq!(running["waiting"], truth.waiting);
    assert_eq!(running["total"], 150);
    assert_eq!(running["startTime"], truth.start_time.unwrap());
    assert_eq!(running["completedTime"], Value::Null);
    let recent = running["recent_calls"]
        .as_array()
        .expect("recent_calls is a list");
    assert!(
        !recent.is_empty() && recent[0]["jobId"].is_string(),
        "{recent:?}"
    );
    let expected = round1(100.0 * (truth.completed + truth.failed) as f64 / 150.0);
    assert!(running["percent"].is_number(), "{running}");
    assert_eq!(running["percent"].as_f64(), Some(expected));
    assert!(
        running["etaSeconds"].as_u64().is_some_and(|s| s > 0),
        "{running}"
    );

    let queued = &lines[1];
    assert_eq!(queued["batchId"], "batch_queued");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["percent"].as_f64(), Some(0.0));
    assert_eq!(queued["etaSeconds"], Value::Null);
    assert_eq!(queued["startTime"], Value::Null);
}

#[test]
fn human_lines_name_each_batch_with_its_percent() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(150).id("batch_one"));
    control.add_batch(BatchScript::new(20).id("b2").finished());
    control.advance(Duration::from_secs(150));
    let one = direct(&sim, "batch_one");
    // The window's words for a percent: whole numbers.
    let percent_one =
        batchwatch_core::format::percent(100.0 * (one.completed + one.failed) as f64 / 150.0);

    // Links and comma lists are accepted like the app's paste box accepts them.
    let link = format!("{}/v1/api/batch-calls/batch_one/status", sim.base_url());
    let out = run(cli_on(&sim, &["status", &link, "b2,batch_one"]));
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    assert!(lines[0].starts_with("batch_one  processing  "), "{out:#?}");
    assert!(lines[0].contains(&percent_one), "{percent_one} in {out:#?}");
    assert!(
        lines[0].contains(&format!("  {} completed · ", one.completed)),
        "{out:#?}"
    );
    assert!(lines[0].contains("ETA "), "{out:#?}");
    // IDs are padded so the columns line up.
    assert!(
        lines[1].starts_with("b2         completed   100%"),
        "{out:#?}"
    );
    assert!(lines[1].contains("took "), "{out:#?}");
}

#[test]
fn an_unknown_batch_still_gets_its_line_and_exits_4() {
    let sim = sim(FROZEN);
    sim.control()
        .add_batch(BatchScript::new(5).id("batch_known"));
    let out = run(cli_on(&sim, &["status", "batch_missing", "batch_known"]));
    out.assert_code(4)
        .assert_error_line("no batch with this ID")
        .assert_error_line("batch_missing");
    assert!(out.stdout.contains("batch_missing  error: "), "{out:#?}");
    assert!(out.stdout.contains("batch_known  "), "{out:#?}");

    let out = run(cli_on(&sim, &["status", "--json", "batch_missing"]));
    out.assert_code(4);
    let line: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(line["batchId"], "batch_missing");
    assert_eq!(line["error"]["code"], "not_found");
}

#[test]
fn usage_and_configuration_mistakes_exit_2_with_one_plain_line() {
    let sim = sim(FROZEN);

    let out = run(cli_on(&sim, &["status", "batch_ok", "not/a/batch"]));
    out.assert_code(2).assert_error_line("\"not/a/batch\"");

    let mut insecure = cli_on(&sim, &["status", "batch_ok"]);
    insecure.env("BATCHWATCH_API_BASE", "http://api.example.com");
    run(insecure)
        .assert_code(2)
        .assert_error_line("must use https");

    let out = run(cli_on(
        &sim,
        &["--api-base", "ftp://127.0.0.1", "status", "batch_ok"],
    ));
    out.assert_code(2).assert_error_line("ftp://127.0.0.1");

    let mut half = cli_on(&sim, &["status", "batch_ok"]);
    half.env_remove("TRILLET_WORKSPACE_ID");
    run(half)
        .assert_code(2)
        .assert_error_line("TRILLET_API_KEY is set but TRILLET_WORKSPACE_ID is not");

    let mut bad_key = cli_on(&sim, &["status", "batch_ok"]);
    bad_key.env("TRILLET_API_KEY", format!("{KEY} x"));
    run(bad_key)
        .assert_code(2)
        .assert_error_line("TRILLET_API_KEY is unusable");

    // clap's own usage errors keep clap's exit code.
    let out = run(cli(&["status"]));
    out.assert_code(2);
    assert!(out.stderr.contains("Usage"), "{out:#?}");
    assert_eq!(sim.control().requests().len(), 0, "nothing reached Trillet");
}

#[test]
fn without_credentials_or_keychain_status_exits_2_saying_what_to_do() {
    let sim = sim(FROZEN);
    let home = tempfile::tempdir().unwrap();
    let mut command = cli(&["status", "batch_ok"]);
    command.env("BATCHWATCH_API_BASE", sim.base_url());
    without_keychain(&mut command, home.path());
    let out = run(command);
    out.assert_code(2)
        .assert_error_line("D-Bus")
        .assert_error_line("TRILLET_API_KEY");
    assert_eq!(sim.control().requests().len(), 0);
}

#[test]
fn environment_credentials_need_no_keychain_and_rejection_exits_3() {
    let sim = sim(FROZEN);
    sim.control().add_batch(BatchScript::new(5).id("batch_env"));
    let home = tempfile::tempdir().unwrap();
    let mut command = cli_on(&sim, &["status", "batch_env"]);
    without_keychain(&mut command, home.path());
    run(command).assert_code(0);

    sim.control().revoke_key(KEY);
    let mut command = cli_on(&sim, &["status", "batch_env"]);
    without_keychain(&mut command, home.path());
    run(command)
        .assert_code(3)
        .assert_error_line("rejected the API key");
}
