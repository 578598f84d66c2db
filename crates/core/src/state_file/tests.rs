//! The store against real database files in throw-away folders.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::*;

#[cfg(unix)]
#[test]
fn only_its_owner_can_read_the_database_or_list_the_folder_batchwatch_made() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = dir.path().join("new/batchwatch/state.db");
    let file = StateFile::new(&fresh);
    file.load(0);
    file.save(&sample()).unwrap();
    assert_eq!(mode(&fresh), 0o600);
    assert_eq!(
        mode(&fresh.with_file_name("state.db-wal")),
        0o600,
        "the journal too"
    );
    assert_eq!(mode(fresh.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
}

fn sample() -> SavedState {
    let progress: BatchProgress =
        serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
    SavedState {
        schema: SCHEMA_VERSION,
        batches: vec![
            SavedBatch {
                id: BatchId::parse("batch_b").unwrap(),
                last: Some(Arc::new(progress)),
                last_updated_ms: Some(1_703_101_200_000),
                finish_notified: false,
                not_found: false,
                failure_alerted: true,
                cancellation: None,
                launch: None,
                samples: Arc::new(vec![
                    Sample {
                        at_ms: 1_703_101_140_000,
                        completed: 90,
                        failed: 4,
                    },
                    Sample {
                        at_ms: 1_703_101_200_000,
                        completed: 95,
                        failed: 5,
                    },
                ]),
                moved_at_ms: Some(1_703_101_140_000),
                stall_alerted: true,
                notify: crate::notify_choice::NotifyChoice::Never,
                workspace: None,
            },
            SavedBatch {
                id: BatchId::parse("batch_a").unwrap(),
                last: None,
                last_updated_ms: None,
                finish_notified: true,
                not_found: true,
                failure_alerted: false,
                cancellation: Some(Arc::new(CancelOutcome {
                    batch_id: "batch_a".into(),
                    status: crate::model::BatchStatus::Cancelled,
                    message: Some("Batch call cancelled successfully".into()),
                    details: crate::model::CancelDetails {
                        completed_calls: 3,
                        failed_calls: 1,
                        cancelled_calls: 6,
                        total_calls: 10,
                    },
                })),
                // A batch Batchwatch started: its agent, file and the batch it retries.
                launch: Some(Arc::new(crate::launch::Launch {
                    agent_id: "agent_1".into(),
                    agent_name: "Sales".into(),
                    file_name: "batch_0-retry.csv".into(),
                    started_at_ms: 1_703_104_000_000,
                    scheduled_at_ms: Some(1_703_108_000_000),
                    retry_of: Some(BatchId::parse("batch_0").unwrap()),
                })),
                samples: Arc::default(),
                moved_at_ms: None,
                stall_alerted: false,
                notify: Default::default(),
                workspace: None,
            },
        ],
        settings: Settings {
            notifications: false,
            notifications_paused_until_ms: Some(1_703_104_800_000),
            failure_alert_percent: Some(30),
            stall_minutes: 45,
            sounds: false,
            quiet_hours: Some(crate::quiet::QuietHours {
                from_min: 1200,
                to_min: 480,
            }),
            poll: crate::schedule::PollPolicy {
                floor: std::time::Duration::from_secs(45),
                budget: 20,
                ..Default::default()
            },
        },
        held: crate::quiet::Held {
            finished: 2,
            alerts: 1,
            urgent: true,
            named: vec!["Batch a completed".into(), "Batch b failed".into()],
        },
    }
}

#[test]
fn round_trip_keeps_order_snapshots_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state.db");
    let file = StateFile::new(&path);
    assert!(file.load(1).problem.is_none());
    file.save(&sample()).unwrap();
    // Read by another handle, as after a restart.
    let loaded = StateFile::new(&path).load(1);
    assert_eq!(loaded.problem, None);
    assert_eq!(loaded.state, sample());
}

#[test]
fn only_what_changed_is_written_and_an_identical_save_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let file = StateFile::new(&path);
    file.load(1);
    let mut state = sample();
    file.save(&state).unwrap();
    assert_eq!(file.writes(), 1);

    // The same state again: no transaction at all.
    file.save(&state).unwrap();
    assert_eq!(file.writes(), 1);

    // One batch's flag: one write, and the other row untouched (its seq, its text).
    state.batches[1].finish_notified = false;
    file.save(&state).unwrap();
    assert_eq!(file.writes(), 2);
    let reread = StateFile::new(&path).load(1).state;
    assert_eq!(reread, state);

    // Removing the first batch rewrites no other row; order is kept.
    let removed = state.batches.remove(0);
    file.save(&state).unwrap();
    state.batches.push(removed);
    file.save(&state).unwrap();
    let reread = StateFile::new(&path).load(1).state;
    let ids: Vec<&str> = reread.batches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        ["batch_a", "batch_b"],
        "a batch tracked again goes last"
    );
    assert_eq!(file.writes(), 4);
}

#[test]
fn missing_database_is_empty_without_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = StateFile::new(dir.path().join("state.db")).load(1);
    assert_eq!(loaded.state, SavedState::default());
    assert!(loaded.problem.is_none() && loaded.writable);
}

#[test]
fn a_damaged_or_newer_database_is_moved_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    fs::write(&path, b"this is not a database, it only says so").unwrap();
    let loaded = StateFile::new(&path).load(1234);
    let problem = loaded.problem.expect("reported");
    assert!(
        problem.message.contains("is damaged"),
        "{}",
        problem.message
    );
    let aside = dir.path().join("state.db.corrupt-1234");
    assert_eq!(problem.moved_to.as_deref(), Some(aside.as_path()));
    assert_eq!(
        fs::read(&aside).unwrap(),
        b"this is not a database, it only says so",
        "kept, byte for byte"
    );
    assert!(loaded.writable && loaded.state.batches.is_empty());

    let newer = dir.path().join("newer.db");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let problem = StateFile::new(&newer).load(5).problem.expect("reported");
    assert!(
        problem.message.contains("newer Batchwatch (format 99)"),
        "{}",
        problem.message
    );
    assert!(dir.path().join("newer.db.corrupt-5").exists());
}

#[test]
fn the_old_state_json_is_imported_once_and_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("state.json");
    fs::write(&json, serde_json::to_vec_pretty(&sample()).unwrap()).unwrap();
    // As the earlier version left it: readable by every user of the machine.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&json, fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("state.db");
    let loaded = StateFile::new(&path).load(1);
    assert_eq!(loaded.problem, None);
    assert_eq!(loaded.state, sample());
    assert!(!json.exists());
    let imported = dir.path().join("state.json.imported");
    assert_eq!(
        fs::metadata(&imported).unwrap().permissions().mode() & 0o777,
        0o600,
        "the imported file is its owner's alone"
    );
    // In the database now: a second start reads it from there.
    assert_eq!(StateFile::new(&path).load(2).state, sample());
}

#[test]
fn a_damaged_old_file_is_moved_aside_and_reported_not_imported() {
    for (content, phrase) in [
        (&b"{\"schema\":1,\"batches\":[{\"id\":"[..], "is damaged"),
        (
            b"{\"schema\":1,\"batches\":[{\"id\":\"../etc\"}]}",
            "is damaged",
        ),
        (b"{\"schema\":99}", "newer Batchwatch"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("state.json");
        fs::write(&json, content).unwrap();
        let loaded = StateFile::new(dir.path().join("state.db")).load(1234);
        let problem = loaded.problem.expect("reported");
        assert!(problem.message.contains(phrase), "{}", problem.message);
        let aside = dir.path().join("state.json.corrupt-1234");
        assert_eq!(fs::read(&aside).unwrap(), content, "kept, byte for byte");
        assert!(loaded.writable && loaded.state.batches.is_empty());
    }
}

#[test]
fn old_files_missing_fields_take_defaults() {
    let state: SavedState =
        serde_json::from_str(r#"{"schema":1,"batches":[{"id":"b1"}]}"#).unwrap();
    assert_eq!(state.settings, Settings::default());
    assert!(!state.batches[0].finish_notified);
}

#[test]
fn a_finished_batch_stays_in_the_record_after_it_leaves_the_tracked_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let file = StateFile::new(&path);
    file.load(1);
    let mut state = sample();
    // batch_b runs; batch_a has no snapshot: nothing is in the record yet.
    file.save(&state).unwrap();
    assert!(file.history().unwrap().is_empty());

    let mut done = (**state.batches[0].last.as_ref().unwrap()).clone();
    done.status = crate::model::BatchStatus::Completed;
    done.is_complete = true;
    done.waiting = 0;
    done.active = 0;
    done.completed_time = Some(1_703_105_000_000);
    state.batches[0].last = Some(Arc::new(done.clone()));
    file.save(&state).unwrap();
    state.batches.remove(0);
    file.save(&state).unwrap();

    let record = StateFile::new(&path).history().unwrap();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].id.as_str(), "batch_b");
    assert_eq!(record[0].finished_at_ms, Some(1_703_105_000_000));
    assert_eq!(record[0].last, done);
    assert!(
        StateFile::new(dir.path().join("none.db"))
            .history()
            .unwrap()
            .is_empty(),
        "no database is no record, and none is made"
    );
    assert!(!dir.path().join("none.db").exists());
}

/// Deleting from the record, as `batchwatch-cli history --delete` does beside a running tray
/// app: the tray app's open database and its next saves do not bring the record back.
#[test]
fn records_are_deleted_one_by_one_or_all_and_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let running_app = StateFile::new(&path);
    running_app.load(1);
    let mut state = sample();
    let mut done = (**state.batches[0].last.as_ref().unwrap()).clone();
    done.status = crate::model::BatchStatus::Completed;
    done.is_complete = true;
    done.completed_time = Some(1_703_105_000_000);
    let finished = |id: &str, at: u64| SavedBatch {
        id: BatchId::parse(id).unwrap(),
        last: Some(Arc::new(crate::model::BatchProgress {
            completed_time: Some(at),
            ..done.clone()
        })),
        ..state.batches[0].clone()
    };
    state.batches = vec![
        finished("batch_one", 1_703_105_000_000),
        finished("batch_two", 1_703_106_000_000),
        finished("batch_three", 1_703_107_000_000),
    ];
    running_app.save(&state).unwrap();
    let ids = |file: &StateFile| -> Vec<String> {
        file.history()
            .unwrap()
            .iter()
            .map(|f| f.id.to_string())
            .collect()
    };
    let terminal = StateFile::new(&path);
    assert_eq!(ids(&terminal), ["batch_three", "batch_two", "batch_one"]);

    let asked = [
        BatchId::parse("batch_two").unwrap(),
        BatchId::parse("batch_never").unwrap(),
    ];
    let deleted = terminal.forget_history(Some(&asked)).unwrap();
    assert_eq!(deleted, [asked[0].clone()], "only what was in the record");
    assert_eq!(ids(&terminal), ["batch_three", "batch_one"]);
    // The tray app saves again — batch_two's row too, heard from again with the same final
    // answer: the record stays deleted, and the batch itself stays tracked.
    state.batches[1].last_updated_ms = Some(1_703_109_000_000);
    running_app.save(&state).unwrap();
    assert_eq!(ids(&terminal), ["batch_three", "batch_one"]);
    assert_eq!(running_app.load(2).state.batches.len(), 3);

    // Another program writing the database past the wait: said as busy, not as damage.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let busy = terminal.forget_history(None).unwrap_err();
    assert!(
        busy.ends_with("is busy (another program is writing it); try again."),
        "{busy}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        ids(&terminal),
        ["batch_three", "batch_one"],
        "nothing deleted"
    );

    let deleted = terminal.forget_history(None).unwrap();
    assert_eq!(deleted.len(), 2);
    assert!(ids(&terminal).is_empty());
    let none = StateFile::new(dir.path().join("none.db"));
    assert_eq!(none.forget_history(None).unwrap(), []);
    assert!(!dir.path().join("none.db").exists(), "none is made");
}

/// Which tables a save wrote, seen from inside the database: triggers another connection puts
/// there fire for the app's writes too.
fn audit_writes(path: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "CREATE TABLE audit (what TEXT);
         CREATE TRIGGER batches_i AFTER INSERT ON batches BEGIN INSERT INTO audit VALUES ('batches'); END;
         CREATE TRIGGER batches_u AFTER UPDATE ON batches BEGIN INSERT INTO audit VALUES ('batches'); END;
         CREATE TRIGGER history_i AFTER INSERT ON history BEGIN INSERT INTO audit VALUES ('history'); END;",
    )
    .unwrap();
    db
}

fn audited(db: &rusqlite::Connection) -> Vec<String> {
    let mut rows = db.prepare("SELECT what FROM audit").unwrap();
    let seen = rows
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    db.execute("DELETE FROM audit", []).unwrap();
    seen
}

/// A changed answer, a new plot sample, or both are one row written — that batch's, no other;
/// the same answer parsed again (a new allocation, equal contents) writes nothing.
#[test]
fn a_changed_answer_and_its_sample_are_one_row_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let file = StateFile::new(&path);
    file.load(1);
    let mut state = sample();
    let other = state.batches[0].clone();
    state.batches.push(SavedBatch {
        id: BatchId::parse("batch_other").unwrap(),
        ..other
    });
    file.save(&state).unwrap();
    let audit = audit_writes(&path);

    let mut answer = (**state.batches[0].last.as_ref().unwrap()).clone();
    state.batches[0].last = Some(Arc::new(answer.clone()));
    let writes = file.writes();
    file.save(&state).unwrap();
    assert_eq!(
        file.writes(),
        writes,
        "the same answer again writes nothing"
    );
    assert!(audited(&audit).is_empty());

    answer.completed += 1;
    state.batches[0].last = Some(Arc::new(answer));
    Arc::make_mut(&mut state.batches[0].samples).push(Sample {
        at_ms: 1_703_101_260_000,
        completed: 96,
        failed: 5,
    });
    file.save(&state).unwrap();
    assert_eq!(audited(&audit), ["batches"]);
    assert_eq!(StateFile::new(&path).load(1).state, state);

    // A plot emptied reads back empty; a batch untracked takes its row, plot and all.
    state.batches[0].samples = Arc::default();
    file.save(&state).unwrap();
    assert_eq!(audited(&audit), ["batches"]);
    assert_eq!(StateFile::new(&path).load(1).state, state);
    state.batches.remove(0);
    file.save(&state).unwrap();
    assert_eq!(StateFile::new(&path).load(1).state, state);
}

/// A database as a Batchwatch of schema `version` left it, holding `rows`.
fn a_database_of_format(path: &Path, version: usize, rows: &str) {
    let mut db = rusqlite::Connection::open(path).unwrap();
    let transaction = db.transaction().unwrap();
    for migration in &schema::MIGRATIONS[..version] {
        migration.apply(&transaction).unwrap();
    }
    transaction
        .pragma_update(None, "user_version", version)
        .unwrap();
    transaction.execute_batch(rows).unwrap();
    transaction.commit().unwrap();
}

/// A database of the format before the plot had its own table keeps its plots, through the
/// table and back into the row.
#[test]
fn a_format_3_database_keeps_its_plots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    a_database_of_format(
        &path,
        3,
        r#"INSERT INTO batches (seq, id, samples)
            VALUES (1, 'batch_plotted', '[{"atMs":60000,"completed":3,"failed":1}]');"#,
    );
    let loaded = StateFile::new(&path).load(1);
    assert!(loaded.problem.is_none(), "{:?}", loaded.problem);
    assert_eq!(
        *loaded.state.batches[0].samples,
        [Sample {
            at_ms: 60_000,
            completed: 3,
            failed: 1
        }]
    );
    let db = rusqlite::Connection::open(&path).unwrap();
    let plots: i64 = db
        .query_row("SELECT count(*) FROM plots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        plots, 0,
        "the plots' table is emptied once they are in their rows"
    );
}

/// A plot the format-5 table kept that cannot be read costs that plot only.
#[test]
fn an_unreadable_plot_of_format_5_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    a_database_of_format(
        &path,
        5,
        r#"INSERT INTO batches (seq, id) VALUES (1, 'batch_good'), (2, 'batch_bad');
        INSERT INTO plots (id, samples) VALUES
            ('batch_good', '[{"atMs":60000,"completed":3,"failed":1}]'),
            ('batch_bad', 'not json');"#,
    );
    let loaded = StateFile::new(&path).load(1);
    assert!(loaded.problem.is_none(), "{:?}", loaded.problem);
    let samples: Vec<usize> = loaded
        .state
        .batches
        .iter()
        .map(|b| b.samples.len())
        .collect();
    assert_eq!(samples, [1, 0]);
}

/// A list that names a batch twice (an old file can) still lets another batch go: the one
/// untracked is deleted, not kept because the count of batches still tracked came out whole.
#[test]
fn a_batch_named_twice_does_not_keep_an_untracked_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let file = StateFile::new(&path);
    file.load(1);
    let mut state = sample();
    let first = state.batches[0].clone();
    state.batches.truncate(1);
    state.batches.push(SavedBatch {
        id: BatchId::parse("batch_untracked").unwrap(),
        ..first.clone()
    });
    file.save(&state).unwrap();

    state.batches[1] = first;
    file.save(&state).unwrap();
    let ids: Vec<String> = StateFile::new(&path)
        .load(1)
        .state
        .batches
        .iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(ids, [state.batches[0].id.to_string()]);
}

/// Counters an earlier version kept in 64 bits read back, held at the largest 32 bits hold.
#[test]
fn a_sample_counter_past_32_bits_reads_back_held() {
    let sample: Sample =
        serde_json::from_str(r#"{"atMs":1,"completed":5000000000,"failed":7}"#).unwrap();
    assert_eq!((sample.completed, sample.failed), (u32::MAX, 7));
}
