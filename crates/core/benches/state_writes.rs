//! What the state database costs the disk, printed as figures (not assertions): bytes written
//! for saves that change nothing, and per changed answer (one batch's snapshot), with 10 and
//! with 1,000 tracked batches, each with a full hour of plot samples — beside what the whole-file JSON rewrite of earlier versions
//! wrote per save. Bytes are read from `/proc/self/io` (`wchar`: what was handed to write(2),
//! journal and checkpoints included). Run with `cargo bench -p batchwatch-core --bench
//! state_writes`.

use std::sync::Arc;

use batchwatch_core::figures::Sample;
use batchwatch_core::state_file::{SavedBatch, SavedState, StateFile};
use batchwatch_core::BatchId;

mod common;
use common::full_snapshot;

/// A running batch's hour of plot samples, a minute apart, ending at `minute`.
fn an_hour_of_samples(minute: u64) -> Vec<Sample> {
    (minute.saturating_sub(60)..=minute)
        .map(|m| Sample {
            at_ms: 1_703_097_600_000 + m * 60_000,
            completed: m as u32 * 3,
            failed: m as u32 / 4,
        })
        .collect()
}

fn state(n: usize) -> SavedState {
    SavedState {
        batches: (0..n)
            .map(|i| SavedBatch {
                id: BatchId::parse(&format!("batch_{i:04}")).unwrap(),
                last: Some(Arc::new(full_snapshot(i, 95, 5000))),
                last_updated_ms: Some(1_703_101_200_000),
                finish_notified: false,
                not_found: false,
                failure_alerted: false,
                cancellation: None,
                launch: None,
                samples: Arc::new(an_hour_of_samples(60)),
                moved_at_ms: None,
                stall_alerted: false,
                notify: Default::default(),
                workspace: None,
            })
            .collect(),
        ..SavedState::default()
    }
}

fn written() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    // On the disk the app uses, not a tmpfs (which writes nothing to count).
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    for n in [10usize, 1000] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let file = StateFile::new(dir.path().join("state.db"));
        file.load(0);
        let mut current = state(n);
        file.save(&current).unwrap();

        let before = written();
        let started = std::time::Instant::now();
        for _ in 0..100 {
            // As the monitor hands it over: every batch made again, sharing its values.
            let again = SavedState {
                batches: current.batches.to_vec(),
                ..SavedState::default()
            };
            file.save(&again).unwrap();
        }
        let unchanged_us = started.elapsed().as_secs_f64() * 1e6 / 100.0;
        let unchanged = written() - before;

        let changes = 2_000;
        let started = std::time::Instant::now();
        let before = written();
        for k in 0..changes {
            let i = k % n;
            current.batches[i].last = Some(Arc::new(full_snapshot(i, 96 + k as u64, 5000)));
            // A sample at most once a minute: every 4th answer of 10 batches polled every
            // 15 s; every answer of 1,000, each asked every 20 minutes.
            if n > 10 || k % 4 == 0 {
                current.batches[i].samples = Arc::new(an_hour_of_samples(61 + k as u64));
            }
            file.save(&current).unwrap();
        }
        let per_change = (written() - before) / changes as u64;
        let save_ms = started.elapsed().as_secs_f64() * 1e3 / changes as f64;
        let json = serde_json::to_vec_pretty(&current).unwrap().len() as u64;
        // A day of running batches at the default pace: each of 10 batches answers (changed)
        // every 15 s; 1,000 share 50 requests a minute.
        let answers_a_day: u64 = if n == 10 {
            10 * 4 * 60 * 24
        } else {
            50 * 60 * 24
        };
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        println!(
            "{n} batches: 100 unchanged saves wrote {unchanged} bytes, {unchanged_us:.0} µs each; a changed answer writes {per_change} bytes ({:.1} KiB) in {save_ms:.2} ms, {:.0} MiB a day of running batches ({answers_a_day} answers); the JSON file rewritten whole was {json} bytes a save, {:.0} MiB a day",
            per_change as f64 / 1024.0,
            mib(per_change * answers_a_day),
            mib(json * answers_a_day),
        );
    }
}
