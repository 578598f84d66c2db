//! Whatever numbers Trillet sends — counters at `u64::MAX`, times at 0 or in the far future,
//! an average call length of NaN or infinity — the figures, the change detection, the
//! notification texts and the window and tray views are computed without a panic (an overflow
//! in a debug build, a bad cast, a division by zero), and so is any paste.

use std::sync::Arc;

use batchwatch_core::change::{detect, failure_rate_alert, notification_for, Change};
use batchwatch_core::figures::{figures_seen, Seen};
use batchwatch_core::format::TimeZone;
use batchwatch_core::model::{BatchProgress, BatchStatus, RecentCall};
use batchwatch_core::monitor::{BatchSnapshot, Connection, FetchStatus, MonitorSnapshot};
use batchwatch_core::settings::Settings;
use batchwatch_core::view::{tray_view, window_view};
use batchwatch_core::{parse_pasted, BatchId};
use proptest::prelude::*;

/// Mostly the edges, sometimes anything.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(u64::MAX / 2),
        0u64..1_000_000,
        any::<u64>(),
    ]
}

fn millis() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        Just(Some(u64::MAX)),
        Just(Some(1_795_968_000_000)),
        any::<u64>().prop_map(Some),
    ]
}

fn seconds() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        Just(Some(f64::NAN)),
        Just(Some(f64::INFINITY)),
        Just(Some(f64::NEG_INFINITY)),
        Just(Some(-1.0)),
        Just(Some(1e308)),
        any::<f64>().prop_map(Some),
    ]
}

fn status() -> impl Strategy<Value = BatchStatus> {
    prop_oneof![
        Just(BatchStatus::Queued),
        Just(BatchStatus::Processing),
        Just(BatchStatus::Completed),
        Just(BatchStatus::Cancelled),
        Just(BatchStatus::Failed),
        "[a-z]{0,12}".prop_map(|s| BatchStatus::from_wire(&s)),
    ]
}

fn recent_call() -> impl Strategy<Value = RecentCall> {
    (millis(), millis(), seconds(), any::<bool>()).prop_map(|(done, failed, duration, error)| {
        RecentCall {
            job_id: "job".into(),
            status: if error { "failed" } else { "completed" }.into(),
            phone_number: Some("+15550100".into()),
            completed_at: done,
            failed_at: failed,
            duration,
            error: error.then(|| "Number busy".into()),
        }
    })
}

prop_compose! {
    fn progress()(
        status in status(),
        is_complete in any::<bool>(),
        counters in (count(), count(), count(), count(), count()),
        times in (millis(), millis(), millis()),
        average_call_duration in seconds(),
        recent_calls in proptest::collection::vec(recent_call(), 0..3),
    ) -> BatchProgress {
        let (waiting, active, completed, failed, total) = counters;
        let (start_time, last_completed_time, completed_time) = times;
        BatchProgress {
            status, is_complete, waiting, active, completed, failed, total,
            start_time, last_completed_time, completed_time, average_call_duration, recent_calls,
        }
    }
}

fn snapshot(id: &str, progress: BatchProgress, retry_at_ms: u64) -> BatchSnapshot {
    // Samples as far apart and as large as the counters go: the plot's arithmetic too.
    let samples = vec![
        batchwatch_core::figures::Sample {
            at_ms: 0,
            completed: u32::MAX,
            failed: 0,
        },
        batchwatch_core::figures::Sample::of(retry_at_ms, &progress),
    ];
    BatchSnapshot {
        samples: Arc::new(samples),
        id: BatchId::parse(id).unwrap(),
        progress: Some(Arc::new(progress)),
        last_updated_ms: Some(retry_at_ms),
        fetch: FetchStatus::Retrying {
            code: "network".into(),
            message: "no connection".into(),
            retry_at_ms,
        },
        cancellation: None,
        launch: None,
        // As far back as a clock goes: the stall's arithmetic too.
        moved_at_ms: Some(0),
        notify: Default::default(),
        workspace: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn figures_changes_and_texts_never_panic(
        previous in progress(),
        current in progress(),
        now_ms in count(),
        threshold in any::<u8>(),
        samples in proptest::collection::vec((count(), any::<u32>(), any::<u32>()), 0..4),
    ) {
        let id = BatchId::parse("batch_prop").unwrap();
        // Samples as the counters and clocks may be: the recent pace's arithmetic.
        let samples: Vec<_> = samples
            .into_iter()
            .map(|(at_ms, completed, failed)| batchwatch_core::figures::Sample { at_ms, completed, failed })
            .collect();
        let seen = Seen { samples: &samples, answered_at_ms: Some(now_ms / 2) };
        let f = figures_seen(&current, seen, now_ms);
        prop_assert!(!f.pace_is_recent || f.calls_per_minute.is_some_and(|c| c > 0.0), "{f:?}");
        prop_assert!((0.0..=100.0).contains(&f.percent), "{f:?}");
        prop_assert!(f.finished <= f.size && f.remaining <= f.size, "{f:?}");
        let change = detect(Some(&previous), &current);
        let _ = detect(None, &current);
        for change in [change, Change::Completed, Change::Failed, Change::Cancelled] {
            let _ = notification_for(&id, change, &current, now_ms);
        }
        let _ = failure_rate_alert(&id, &current, threshold);
    }

    #[test]
    fn window_and_tray_views_never_panic(
        a in progress(),
        b in progress(),
        now_ms in count(),
        until_ms in count(),
    ) {
        let view = MonitorSnapshot {
            now_ms,
            batches: vec![snapshot("batch_a", a, until_ms), snapshot("batch_b", b, now_ms)],
            connection: Connection::RateLimited { until_ms },
            workspaces: Vec::new(),
            settings: Settings::default(),
            sharing_budget: 0,
            state_problem: None,
        };
        let window = window_view(&view, &TimeZone::UTC);
        prop_assert_eq!(window.cards.len(), 2);
        let tray = tray_view(&view, &TimeZone::UTC);
        prop_assert!(!tray.label.is_empty());
        serde_json::to_string(&window).unwrap();
    }

    #[test]
    fn any_paste_parses_without_panic(text in "(?s).{0,400}") {
        let pasted = parse_pasted(&text).unwrap();
        // Every ID found is a valid one, and none is listed twice.
        let mut seen = std::collections::HashSet::new();
        for id in &pasted.accepted {
            prop_assert!(BatchId::parse(id.as_str()).is_ok());
            prop_assert!(seen.insert(id.as_str().to_owned()), "{} twice", id);
        }
    }

    #[test]
    fn pastes_of_ids_and_links_find_every_id(
        ids in proptest::collection::vec("[A-Za-z0-9_-]{1,20}", 1..30),
        separators in proptest::collection::vec(prop_oneof![
            Just(" "), Just(","), Just("\n"), Just(", "), Just("\t"), Just(" ; ")
        ], 30),
    ) {
        let mut text = String::new();
        for (i, id) in ids.iter().enumerate() {
            if i % 3 == 0 {
                text.push_str(&format!("https://app.trillet.ai/batch-calls/{id}"));
            } else {
                text.push_str(id);
            }
            text.push_str(separators[i]);
        }
        let pasted = parse_pasted(&text).unwrap();
        let mut expected: Vec<&str> = Vec::new();
        for id in &ids {
            if !expected.contains(&id.as_str()) {
                expected.push(id);
            }
        }
        let found: Vec<&str> = pasted.accepted.iter().map(|i| i.as_str()).collect();
        prop_assert_eq!(found, expected);
    }
}
