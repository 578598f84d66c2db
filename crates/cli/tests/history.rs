//! `batchwatch-cli history` against a real state database, as the tray app leaves it: the
//! finished batches, newest first — also one no longer tracked — and never a running one.

mod support;

use std::sync::Arc;

use batchwatch_core::state_file::{SavedBatch, SavedState, StateFile};
use batchwatch_core::{BatchId, BatchProgress};
use support::{cli, run, without_keychain};

fn progress(status: &str, completed: u64, completed_time: Option<u64>) -> BatchProgress {
    serde_json::from_value(serde_json::json!({
        "status": status, "isComplete": status == "completed", "waiting": if status == "processing" { 10 } else { 0 },
        "active": 0, "completed": completed, "failed": 5, "total": completed + 5 + if status == "processing" { 10 } else { 0 },
        "startTime": 1_703_097_600_000u64, "completedTime": completed_time,
    }))
    .unwrap()
}

fn batch(id: &str, p: BatchProgress) -> SavedBatch {
    SavedBatch {
        id: BatchId::parse(id).unwrap(),
        last: Some(Arc::new(p)),
        last_updated_ms: Some(1_703_101_200_000),
        finish_notified: true,
        not_found: false,
        failure_alerted: false,
        cancellation: None,
        launch: None,
        samples: Default::default(),
        moved_at_ms: None,
        stall_alerted: false,
        notify: Default::default(),
        workspace: None,
    }
}

#[test]
fn history_lists_finished_batches_newest_first_and_never_a_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = cli(&["history"]);
    without_keychain(&mut command, dir.path());
    let out = run(command);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "No finished batches yet.");

    let file = StateFile::new(dir.path().join("batchwatch/state.db"));
    file.load(0);
    let mut state = SavedState {
        // Tracked (and recorded) newer first: the listing's order is by when each finished,
        // not by when it was written.
        batches: vec![
            batch(
                "batch_newer",
                progress("completed", 145, Some(1_703_103_600_000)),
            ),
            batch(
                "batch_older",
                progress("completed", 95, Some(1_703_100_000_000)),
            ),
            batch("batch_running", progress("processing", 40, None)),
        ],
        ..SavedState::default()
    };
    file.save(&state).unwrap();
    // The older one leaves the tracked list; its record stays.
    state.batches.remove(1);
    file.save(&state).unwrap();

    let mut command = cli(&["history"]);
    without_keychain(&mut command, dir.path());
    let out = run(command);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    assert!(
        lines[0].starts_with("batch_newer ") && lines[0].contains("completed"),
        "{out:#?}"
    );
    assert!(lines[0].contains("145 completed · 5 failed"), "{out:#?}");
    // 145 of the 150 ended calls.
    assert!(lines[0].contains("  97% succeeded  finished "), "{out:#?}");
    assert!(lines[1].starts_with("batch_older "), "{out:#?}");
    assert!(!out.stdout.contains("batch_running"));

    let mut command = cli(&["history", "--json"]);
    without_keychain(&mut command, dir.path());
    let out = run(command);
    out.assert_code(0);
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["batchId"], "batch_newer");
    assert_eq!(first["finishedAt"], 1_703_103_600_000u64);
    assert_eq!(first["completed"], 145);
    assert_eq!(first["successPercent"], 96.7);
}

#[test]
fn records_are_deleted_by_id_or_all_and_an_unknown_id_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(dir.path().join("batchwatch/state.db"));
    file.load(0);
    let state = SavedState {
        batches: vec![
            batch(
                "batch_one",
                progress("completed", 95, Some(1_703_100_000_000)),
            ),
            batch(
                "batch_two",
                progress("completed", 145, Some(1_703_103_600_000)),
            ),
            batch(
                "batch_three",
                progress("completed", 45, Some(1_703_104_600_000)),
            ),
        ],
        ..SavedState::default()
    };
    file.save(&state).unwrap();
    let history = |args: &[&str]| {
        let mut command = cli(args);
        without_keychain(&mut command, dir.path());
        run(command)
    };

    // IDs as every command takes them: a link, commas.
    let out = history(&[
        "history",
        "--delete",
        "https://app.trillet.ai/batch-calls/batch_two,batch_unknown",
    ]);
    out.assert_code(4);
    assert_eq!(out.stdout, "Deleted batch_two from the record.\n");
    assert!(
        out.stderr.contains("not in the record: batch_unknown"),
        "{out:#?}"
    );
    let out = history(&["history"]);
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(listed, ["batch_three", "batch_one"], "{out:#?}");

    // A malformed ID deletes nothing, not even the good one beside it.
    let out = history(&["history", "--delete", "batch_one", "../etc"]);
    out.assert_code(2);
    assert!(out.stderr.contains("bad batch ID \"../etc\""), "{out:#?}");
    assert_eq!(history(&["history"]).stdout.lines().count(), 2);

    let out = history(&["history", "--clear"]);
    out.assert_code(0);
    assert_eq!(out.stdout, "Deleted 2 finished batches from the record.\n");
    assert_eq!(
        history(&["history"]).stdout.trim(),
        "No finished batches yet."
    );
    // The tray app's list is not the record: the batches are still tracked.
    assert_eq!(file.load(1).state.batches.len(), 3);
}

/// A batch and the retries Batchwatch started from it are one campaign: a line of its own that
/// adds up the attempts, and in `--json` each record names the batch it retries and its
/// campaign's first batch.
#[test]
fn a_campaign_gets_a_line_adding_up_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(dir.path().join("batchwatch/state.db"));
    file.load(0);
    let launched = |id: &str, p: BatchProgress, retry_of: Option<&str>| SavedBatch {
        launch: Some(Arc::new(batchwatch_core::launch::Launch {
            agent_id: "agent_1".into(),
            agent_name: "Sales".into(),
            file_name: "contacts.csv".into(),
            started_at_ms: 1_703_097_600_000,
            scheduled_at_ms: None,
            retry_of: retry_of.map(|p| BatchId::parse(p).unwrap()),
        })),
        ..batch(id, p)
    };
    // 95 + 5 failed of 100; the 5 retried: 3 reached, 2 failed again.
    let mut retry = progress("completed", 3, Some(1_703_103_600_000));
    retry.failed = 2;
    retry.total = 5;
    let state = SavedState {
        batches: vec![
            launched(
                "batch_first",
                progress("completed", 95, Some(1_703_100_000_000)),
                None,
            ),
            launched("batch_again", retry, Some("batch_first")),
            batch(
                "batch_alone",
                progress("completed", 10, Some(1_703_090_000_000)),
            ),
        ],
        ..SavedState::default()
    };
    file.save(&state).unwrap();

    let mut command = cli(&["history"]);
    without_keychain(&mut command, dir.path());
    let out = run(command);
    out.assert_code(0);
    assert_eq!(
        out.stdout.lines().last(),
        Some("Campaign batch_first: 98 of 100 reached over 2 attempts, 2 still unreached"),
        "{out:#?}"
    );
    let mut command = cli(&["history", "--json"]);
    without_keychain(&mut command, dir.path());
    let out = run(command);
    out.assert_code(0);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = |id: &str| lines.iter().find(|l| l["batchId"] == id).unwrap();
    assert_eq!(line("batch_again")["retryOf"], "batch_first");
    assert_eq!(line("batch_again")["campaign"], "batch_first");
    assert_eq!(line("batch_first")["campaign"], "batch_first");
    assert!(line("batch_alone").get("campaign").is_none());
    assert_eq!(lines.len(), 3, "records only: no line of another shape");
}

/// With records from several workspaces, each line starts with its workspace ("-" for one
/// from before workspaces), and `--json` carries it; with one workspace there is no column.
#[test]
fn history_shows_the_workspace_column_when_the_record_spans_several() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(dir.path().join("batchwatch/state.db"));
    file.load(0);
    let in_workspace = |id: &str, at: u64, workspace: Option<&str>| SavedBatch {
        workspace: workspace.map(|w| batchwatch_core::WorkspaceId::new(w).unwrap()),
        ..batch(id, progress("completed", 95, Some(at)))
    };
    let history = |args: &[&str]| {
        let mut command = cli(args);
        without_keychain(&mut command, dir.path());
        run(command)
    };
    file.save(&SavedState {
        batches: vec![in_workspace("batch_us", 1_703_100_000_000, Some("ws_us"))],
        ..SavedState::default()
    })
    .unwrap();
    let out = history(&["history"]);
    assert!(out.stdout.starts_with("batch_us "), "{out:#?}");

    file.save(&SavedState {
        batches: vec![
            in_workspace("batch_us", 1_703_100_000_000, Some("ws_us")),
            in_workspace("batch_globex", 1_703_103_600_000, Some("ws_globex")),
            in_workspace("batch_before", 1_703_090_000_000, None),
        ],
        ..SavedState::default()
    })
    .unwrap();
    let out = history(&["history"]);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ws_globex  batch_globex "), "{out:#?}");
    assert!(lines[1].starts_with("ws_us      batch_us "), "{out:#?}");
    assert!(lines[2].starts_with("-          batch_before "), "{out:#?}");
    let out = history(&["history", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["workspace"], "ws_globex");
}
