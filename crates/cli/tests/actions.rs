//! `batchwatch-cli failed` and `cancel` end to end: the real binary against the simulator.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use support::{cli_on, run, sim};
use trillet_sim::{BatchScript, Fault, FaultTarget};

/// Sim speed at which time stands still.
const FROZEN: f64 = 1e-9;

#[test]
fn failed_lists_every_page_grouped_or_just_the_numbers() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_bad"));

    let json = run(cli_on(&sim, &["failed", "--json", "batch_bad"]));
    json.assert_code(0);
    let view: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    let failed = view["total"].as_u64().unwrap();
    assert!(failed > 200, "{failed}");
    assert_eq!(view["loaded"], failed, "every page");
    assert_eq!(view["hasMore"], false);
    let counted: u64 = view["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, failed);
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/calls"))
        .count() as u64;
    assert_eq!(pages, failed.div_ceil(100));

    let numbers = run(cli_on(&sim, &["failed", "--numbers", "batch_bad"]));
    numbers.assert_code(0);
    let lines: Vec<&str> = numbers.stdout.lines().collect();
    let unique: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(lines.len(), unique.len(), "each number once");
    assert!(lines.iter().all(|n| n.starts_with('+')), "{lines:?}");
    assert!(!lines.is_empty());

    let text = run(cli_on(&sim, &["failed", "batch_bad"]));
    text.assert_code(0);
    assert!(
        text.stdout
            .starts_with(&format!("batch_bad: All {failed} failed calls\n")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("\nNumber busy × "), "{}", text.stdout);

    run(cli_on(&sim, &["failed", "batch_unknown"]))
        .assert_code(4)
        .assert_error_line("no batch with this ID");

    // The retry list: the batch's own CSV columns (phone_number first), then error and
    // ended_at, a row per number, each number once — the same numbers as --numbers.
    let mut command = cli_on(&sim, &["failed", "--csv", "batch_bad"]);
    command.env("TZ", "Asia/Kolkata");
    let csv = run(command);
    csv.assert_code(0);
    let mut rows = csv.stdout.lines();
    assert_eq!(
        rows.next(),
        Some("phone_number,name,appointment_day,error,ended_at"),
        "{}",
        csv.stdout
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), unique.len(), "a row per number");
    let csv_numbers: HashSet<&str> = rows.iter().filter_map(|r| r.split(',').next()).collect();
    assert_eq!(csv_numbers, unique);
    assert!(
        rows.iter().any(|r| r.contains(",\"Tuesday, after 2 pm\",")),
        "a cell with a comma is quoted: {rows:?}"
    );
    assert!(
        rows.iter().all(|r| r.ends_with("+05:30")),
        "local ISO-8601: {rows:?}"
    );

    // One group only, by the name the window gives it.
    let busy = run(cli_on(
        &sim,
        &["failed", "--csv", "--reason", "Number busy", "batch_bad"],
    ));
    busy.assert_code(0);
    let busy_rows: Vec<&str> = busy.stdout.lines().skip(1).collect();
    assert!(
        !busy_rows.is_empty() && busy_rows.len() < rows.len(),
        "{busy_rows:?}"
    );
    assert!(
        busy_rows.iter().all(|r| r.contains(",Number busy,")),
        "{busy_rows:?}"
    );
}

#[test]
fn cancel_asks_to_be_meant_then_says_what_trillet_did() {
    let sim = sim(FROZEN);
    let control = sim.control();
    for id in ["batch_run", "batch_flaky"] {
        control.add_batch(
            BatchScript::new(100)
                .id(id)
                .concurrency(5)
                .started_ago(Duration::from_secs(120)),
        );
    }
    let deletes = || {
        control
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
    };

    // Not from a terminal and no --yes: nothing is done.
    run(cli_on(&sim, &["cancel", "batch_run"]))
        .assert_code(2)
        .assert_error_line("pass --yes");
    assert_eq!(deletes(), 0);

    let done = run(cli_on(&sim, &["cancel", "--yes", "batch_run"]));
    done.assert_code(0);
    assert!(
        done.stdout.starts_with("batch_run cancelled: ")
            && done.stdout.contains("waiting calls dropped"),
        "{done:#?}"
    );
    run(cli_on(&sim, &["status", "--json", "batch_run"])).assert_code(0);
    assert_eq!(deletes(), 1);

    // Again: Trillet refuses (409), which is not success.
    run(cli_on(&sim, &["cancel", "--yes", "batch_run"]))
        .assert_code(1)
        .assert_error_line("refused");
    run(cli_on(&sim, &["cancel", "--yes", "batch_none"]))
        .assert_code(4)
        .assert_error_line("no batch with this ID");
    control.set_fault(FaultTarget::Batch("batch_flaky".into()), Fault::ServerError);
    run(cli_on(&sim, &["cancel", "--yes", "batch_flaky"]))
        .assert_code(5)
        .assert_error_line("server error (500)");
}

#[test]
fn failed_calls_are_listed_in_the_local_zone() {
    let sim = sim(FROZEN);
    sim.control()
        .add_batch(trillet_sim::failing_batch("batch_zone"));
    // A zone with a half-hour offset, as TZ sets it for one command.
    let mut command = cli_on(&sim, &["failed", "batch_zone"]);
    command.env("TZ", "Asia/Kolkata");
    let out = run(command);
    out.assert_code(0);
    let times: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  +"))
        .collect();
    assert!(!times.is_empty(), "{out:#?}");
    assert!(times.iter().all(|l| l.contains(" IST")), "{times:?}");
}
