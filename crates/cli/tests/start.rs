//! `batchwatch-cli agents`, `start` and `retry` end to end: the real binary against the
//! simulator, every exit status, and the rule above all others — a start reaches Trillet at
//! most once, and only after it was confirmed.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{cli_on, run, sim};
use trillet_sim::{Agent, Fault, FaultTarget, RunningSim};

/// Sim speed at which time stands still.
const FROZEN: f64 = 1e-9;
const CSV: &str = "phone_number,first_name\n+15550000001,Ada\n+15550000002,Bo\n";

struct Setup {
    sim: RunningSim,
    home: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let sim = sim(FROZEN);
        sim.control().add_agent(
            Agent::ready("agent_survey", "Survey")
                .status("draft")
                .in_workspace(support::WORKSPACE),
        );
        sim.control()
            .add_agent(Agent::ready("agent_sales", "Sales").in_workspace(support::WORKSPACE));
        Self {
            sim,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The binary on the simulator, its state database (the ledger of starts) in a home of
    /// its own.
    fn cli(&self, args: &[&str]) -> Command {
        let mut command = cli_on(&self.sim, args);
        command
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"));
        command
    }

    fn csv(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn starts_sent(&self) -> usize {
        self.sim
            .control()
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/api/batch-calls")
            .count()
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn agents_lists_ready_ones_first_as_text_or_json() {
    let setup = Setup::new();
    let listed = run(setup.cli(&["agents"]));
    listed.assert_code(0);
    assert_eq!(
        listed.stdout,
        "agent_sales\tSales\tready\nagent_survey\tSurvey\tdraft\n"
    );
    let json = run(setup.cli(&["agents", "--json"]));
    json.assert_code(0);
    let first: Value = serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"id": "agent_sales", "name": "Sales", "status": "ready"})
    );
    setup
        .sim
        .control()
        .set_fault(FaultTarget::Agents, Fault::ServerError);
    run(setup.cli(&["agents"]))
        .assert_code(5)
        .assert_error_line("server error");
}

#[test]
fn start_prints_the_new_batch_id_alone_and_uploads_the_file_once() {
    let setup = Setup::new();
    let file = setup.csv("contacts.csv", CSV);
    let started = run(setup.cli(&["start", text(&file), "--agent", "Sales", "--yes"]));
    started.assert_code(0);
    let id = started.stdout.trim();
    assert_eq!(started.stdout, format!("{id}\n"));
    let uploads = setup.sim.control().uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].batch_id.as_deref(), Some(id));
    assert_eq!(uploads[0].agent_id.as_deref(), Some("agent_sales"));
    assert_eq!(uploads[0].file_name.as_deref(), Some("contacts.csv"));
    assert_eq!(uploads[0].csv_text(), CSV);
    assert_eq!(uploads[0].scheduled_at, None);

    // Another file, as JSON: Trillet's answer with batchId.
    let other = setup.csv("other.csv", "phone_number\n+15550000009\n");
    let json = run(setup.cli(&[
        "start",
        text(&other),
        "--agent",
        "agent_sales",
        "--yes",
        "--json",
    ]));
    json.assert_code(0);
    let answer: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(answer["totalCalls"], 1);
    assert_eq!(answer["message"], "Batch calls initiated successfully");
    assert!(answer["batchId"].as_str().unwrap().starts_with("batch_"));
    assert_eq!(setup.starts_sent(), 2);
}

#[test]
fn a_scheduled_start_with_callbacks_sends_them_as_documented() {
    let setup = Setup::new();
    // Noon UTC, thirty days on (a start may be at most a year ahead).
    let day = 24 * 3_600_000;
    let at = trillet_sim::scheduled_at_text(
        (i64::try_from(setup.sim.control().now_ms()).unwrap() / day + 30) * day + day / 2,
    );
    let file = setup.csv("contacts.csv", CSV);
    let started = run(setup.cli(&[
        "start",
        text(&file),
        "--agent",
        "Sales",
        "--at",
        &at,
        "--callbacks",
        "2",
        "--callback-gap",
        "1d2h",
        "--yes",
    ]));
    started.assert_code(0);
    let upload = &setup.sim.control().uploads()[0];
    assert_eq!(upload.scheduled_at.as_deref(), Some(at.as_str()));
    assert_eq!(
        upload.smart_callback_config.as_deref(),
        Some(
            r#"{"enabled":true,"maxAttempts":2,"gaps":[{"days":1,"hours":2},{"days":1,"hours":2}]}"#
        )
    );
}

/// Each mistake is exit 2 with a sentence, and no start reached Trillet.
#[test]
fn refused_before_sending_is_exit_2_and_nothing_is_sent() {
    let setup = Setup::new();
    let good = setup.csv("contacts.csv", CSV);
    let bad = setup.csv(
        "bad.csv",
        "phone_number,name\n+15550000001,A\n555-0100,B\n+15550000003,C\n",
    );
    let no_column = setup.csv("nocolumn.csv", "phone,name\n+15550000001,A\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["start", text(&bad), "--agent", "Sales", "--yes"],
            "line 3 \"555-0100\"",
        ),
        (
            vec!["start", text(&no_column), "--agent", "Sales", "--yes"],
            "no phone_number column",
        ),
        (
            vec!["start", "/nonexistent/c.csv", "--agent", "Sales", "--yes"],
            "no such file",
        ),
        (
            vec!["start", text(&good), "--agent", "Nobody", "--yes"],
            "no agent \"Nobody\"",
        ),
        (
            vec![
                "start",
                text(&good),
                "--agent",
                "Sales",
                "--at",
                "2001-01-01 09:00",
                "--yes",
            ],
            "in the past",
        ),
        (
            vec![
                "start",
                text(&good),
                "--agent",
                "Sales",
                "--callbacks",
                "2",
                "--callback-gap",
                "soon",
                "--yes",
            ],
            "not a gap",
        ),
        // No terminal to ask on, and no --yes.
        (vec!["start", text(&good), "--agent", "Sales"], "pass --yes"),
    ];
    for (args, part) in cases {
        run(setup.cli(&args)).assert_code(2).assert_error_line(part);
    }
    assert_eq!(setup.starts_sent(), 0);
    let question = run(setup.cli(&["start", text(&good), "--agent", "Sales"]));
    assert!(
        question
            .stderr
            .contains("2 rows, 2 distinct numbers. Start 2 calls from contacts.csv with the agent \"Sales\" (agent_sales) now?"),
        "{question:#?}"
    );
}

#[test]
fn an_unknown_outcome_is_exit_6_and_the_same_start_is_held_back_until_forced() {
    let setup = Setup::new();
    let file = setup.csv("contacts.csv", CSV);
    let args = ["start", text(&file), "--agent", "Sales", "--yes"];
    setup
        .sim
        .control()
        .set_fault(FaultTarget::Start, Fault::DropConnection);
    run(setup.cli(&args)).assert_code(6).assert_error_line(
        "the batch may have started. Check the dashboard before starting it again.",
    );
    assert_eq!(setup.starts_sent(), 1);
    // It did start, unseen: the ledger keeps a second one from calling everyone again.
    assert!(setup.sim.control().uploads()[0].batch_id.is_some());
    setup.sim.control().clear_all_faults();
    run(setup.cli(&args))
        .assert_code(2)
        .assert_error_line("did not say whether it started");
    assert_eq!(setup.starts_sent(), 1);

    let mut forced = args.to_vec();
    forced.push("--force");
    run(setup.cli(&forced)).assert_code(0);
    assert_eq!(setup.starts_sent(), 2);
    // And a start that went through holds the file back too.
    run(setup.cli(&args))
        .assert_code(2)
        .assert_error_line("This file was started with this agent");
    assert_eq!(setup.starts_sent(), 2);
}

#[test]
fn every_answer_has_its_exit_status_and_one_request() {
    let cases: Vec<(Fault, i32, &str)> = vec![
        (Fault::ServerError, 6, "server error (500"),
        (Fault::MalformedJson, 6, "could not be read"),
        (
            Fault::Refused {
                status: 400,
                error: "CSV validation failed: row 1".into(),
            },
            1,
            "Trillet refused the batch: CSV validation failed: row 1",
        ),
        (
            Fault::Refused {
                status: 401,
                error: "Invalid API key".into(),
            },
            3,
            "Invalid API key",
        ),
        (
            Fault::Redirect {
                status: 302,
                location: "https://elsewhere.example/".into(),
            },
            5,
            "nothing started",
        ),
        (
            Fault::TooManyRequests {
                retry_after_secs: Some(3600),
                reset_in_secs: None,
            },
            5,
            "try again after",
        ),
    ];
    for (fault, code, part) in cases {
        let setup = Setup::new();
        let file = setup.csv("contacts.csv", CSV);
        setup.sim.control().set_fault(FaultTarget::Start, fault);
        run(setup.cli(&["start", text(&file), "--agent", "Sales", "--yes"]))
            .assert_code(code)
            .assert_error_line(part);
        assert_eq!(setup.starts_sent(), 1, "{part}");
    }
}

#[test]
fn a_short_rate_limit_is_the_one_start_sent_again() {
    let setup = Setup::new();
    let file = setup.csv("contacts.csv", CSV);
    setup.sim.control().set_fault(
        FaultTarget::Start,
        Fault::TooManyRequests {
            retry_after_secs: Some(1),
            reset_in_secs: None,
        },
    );
    let control = setup.sim.control();
    // Cleared once the first start has been *answered* 429: a request is logged when it
    // arrives, before its fault is decided, so clearing on arrival could let it through.
    let clear = std::thread::spawn(move || {
        support::wait_until("the first start answered 429", || {
            control
                .requests()
                .iter()
                .any(|r| r.method == "POST" && r.status == 429)
        });
        control.clear_all_faults();
    });
    let started = run(setup.cli(&["start", text(&file), "--agent", "Sales", "--yes"]));
    clear.join().unwrap();
    started.assert_code(0);
    // Sent again only after answers that took nothing (a slow clearing of the fault costs a
    // resend more, never a second batch), and one batch started.
    let statuses: Vec<u16> = setup
        .sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert!(statuses.len() >= 2, "{statuses:?}");
    let (last, before) = statuses.split_last().unwrap();
    assert_eq!(*last, 200, "{statuses:?}");
    assert!(before.iter().all(|s| *s == 429), "{statuses:?}");
    let started_batches = setup
        .sim
        .control()
        .uploads()
        .iter()
        .filter(|u| u.batch_id.is_some())
        .count();
    assert_eq!(started_batches, 1);
    assert!(
        started.stderr.contains("rate limit was reached"),
        "{started:#?}"
    );
}

#[test]
fn retry_starts_exactly_the_failed_numbers_with_their_own_columns() {
    let setup = Setup::new();
    setup
        .sim
        .control()
        .add_batch(trillet_sim::failing_batch("batch_bad"));
    let retried = run(setup.cli(&["retry", "batch_bad", "--agent", "Sales", "--yes"]));
    retried.assert_code(0);
    let new_id = retried.stdout.trim().to_owned();
    let upload = setup
        .sim
        .control()
        .uploads()
        .into_iter()
        .find(|u| u.batch_id.as_deref() == Some(&new_id))
        .expect("the retry was uploaded");
    assert_eq!(upload.file_name.as_deref(), Some("batch_bad-retry.csv"));

    let failed = run(setup.cli(&["failed", "--numbers", "batch_bad"]));
    let expected: HashSet<&str> = failed.stdout.lines().collect();
    let csv = upload.csv_text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["phone_number", "name", "appointment_day"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let numbers: HashSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(numbers, expected);
    assert_eq!(rows.len(), expected.len(), "each number once");
    assert!(rows.iter().all(|r| !r.get(1).unwrap().is_empty()));

    // One reason's group only.
    let busy = run(setup.cli(&[
        "retry",
        "batch_bad",
        "--reason",
        "Number busy",
        "--agent",
        "Sales",
        "--yes",
        "--json",
    ]));
    busy.assert_code(0);
    let answer: Value = serde_json::from_str(busy.stdout.trim()).unwrap();
    assert!(answer["totalCalls"].as_u64().unwrap() < expected.len() as u64);

    run(setup.cli(&[
        "retry",
        "batch_bad",
        "--reason",
        "Nothing like it",
        "--agent",
        "Sales",
        "--yes",
    ]))
    .assert_code(2)
    .assert_error_line("no failed calls for \"Nothing like it\"");
    // A batch Trillet does not know: exit 4, and no start.
    let before = setup.starts_sent();
    run(setup.cli(&["retry", "batch_nobody", "--agent", "Sales", "--yes"]))
        .assert_code(4)
        .assert_error_line("no batch with this ID");
    assert_eq!(setup.starts_sent(), before);
}
