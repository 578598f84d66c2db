//! Figures derived from one progress snapshot: percent done, remaining calls, elapsed time,
//! observed throughput and ETA.
//!
//! Pure functions of the snapshot and "now" (passed in, never read from the system clock), each
//! defined for the edge cases a live service produces: a total of 0, a batch not started yet,
//! counters that add up to more than the total, and a finished batch.
//!
//! The ETA comes from the pace calls have been ending at, not from `averageCallDuration`: calls
//! run concurrently, so the average call length says little about how fast the batch drains.
//! The pace is the recent one the card's plot shows — calls ended over the last
//! [`RECENT_PACE_MS`] before the last answer, from the batch's samples ([`figures_seen`]) — so a
//! campaign that slows down (numbers that no longer answer, a lowered concurrency) gets a later
//! ETA at once instead of one anchored to its fast start. Without samples (the terminal, a
//! batch just added: [`figures`]) the pace is the whole run's, between `startTime` and
//! `lastCompletedTime`.

use std::time::Duration;

use crate::model::{BatchProgress, EpochMillis};

/// A running batch's counters at one moment: what the recent pace and the throughput plot are
/// made of (the state file keeps them, the figures own them). An hour of them is kept for
/// every tracked batch, so the counters take 32 bits (four billion calls), not 64: 16 bytes a
/// sample, not 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub at_ms: u64,
    #[serde(deserialize_with = "at_most_u32")]
    pub completed: u32,
    #[serde(deserialize_with = "at_most_u32")]
    pub failed: u32,
}

/// A counter written as 64 bits (by an earlier version), kept at the largest 32 bits hold.
fn at_most_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = <u64 as serde::Deserialize>::deserialize(d)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

impl Sample {
    /// The counters of `progress` at `at_ms` (a count past 32 bits is kept at the largest).
    pub fn of(at_ms: u64, progress: &BatchProgress) -> Self {
        let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            at_ms,
            completed: narrow(progress.completed),
            failed: narrow(progress.failed),
        }
    }

    /// Calls ended by then, whichever way.
    pub fn finished(&self) -> u64 {
        u64::from(self.completed) + u64::from(self.failed)
    }
}

/// How far back the recent pace looks: the last ten minutes of the plot.
pub const RECENT_PACE_MS: u64 = 10 * 60_000;

/// Everything the window, tray and terminal show beside the raw counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Ended calls (completed + failed) over the batch size, 0–100.
    pub percent: f64,
    /// Calls that ended, successfully or not.
    pub finished: u64,
    /// Calls still to end (waiting + active), 0 once the batch is complete.
    pub remaining: u64,
    /// The size used as 100 %: `total`, or the sum of the counters where that is larger.
    pub size: u64,
    /// Since `startTime`, up to `completedTime` for a finished batch; `None` before the start.
    pub elapsed: Option<Duration>,
    /// Calls ended per minute: lately when the samples tell, else over the whole run; `None`
    /// until a call has ended.
    pub calls_per_minute: Option<f64>,
    /// `calls_per_minute` is the recent pace (from the samples), not the whole run's.
    pub pace_is_recent: bool,
    /// Time left at the observed pace; `Some(ZERO)` when complete, `None` when it cannot be known.
    pub eta: Option<Duration>,
    /// Completed calls over ended calls, 0–100; `None` until a call has ended.
    pub success_percent: Option<f64>,
}

/// What the monitor saw of a batch lately, for the recent pace: its counters sampled over the
/// last hour (oldest first) and when its last answer came — both on this machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    pub samples: &'a [Sample],
    pub answered_at_ms: Option<EpochMillis>,
}

/// Computes [`Figures`] for `progress` as seen at `now_ms`, at the whole run's pace.
pub fn figures(progress: &BatchProgress, now_ms: EpochMillis) -> Figures {
    figures_seen(progress, Seen::default(), now_ms)
}

/// [`figures`], at the recent pace when what was `seen` of the batch tells it.
pub fn figures_seen(progress: &BatchProgress, seen: Seen<'_>, now_ms: EpochMillis) -> Figures {
    // Saturating: the counters are the server's word, and any u64 must give figures.
    let finished = progress.ended_calls();
    let counted = finished
        .saturating_add(progress.active)
        .saturating_add(progress.waiting);
    let size = progress.total.max(counted);
    let remaining = if progress.is_complete {
        0
    } else {
        size - finished
    };
    let percent = if size == 0 {
        if progress.is_complete {
            100.0
        } else {
            0.0
        }
    } else {
        (finished as f64 / size as f64 * 100.0).clamp(0.0, 100.0)
    };

    let elapsed = progress.start_time.map(|start| {
        let end = if progress.is_complete {
            progress.completed_time.unwrap_or(now_ms)
        } else {
            now_ms
        };
        Duration::from_millis(end.saturating_sub(start))
    });

    let active_span_ms = match (progress.start_time, progress.last_completed_time) {
        (Some(start), Some(last)) if last > start => Some(last - start),
        _ => None,
    };
    let recent = if progress.is_complete {
        None
    } else {
        recent_pace(finished, seen)
    };
    let calls_per_minute = match (recent, active_span_ms) {
        (Some(pace), _) => Some(pace.calls_per_ms * 60_000.0),
        (None, Some(span)) if finished > 0 => Some(finished as f64 * 60_000.0 / span as f64),
        _ => None,
    };

    let eta = if progress.is_complete {
        Some(Duration::ZERO)
    } else if remaining == 0 {
        None
    } else {
        recent
            .and_then(|pace| pace.time_left(remaining, now_ms))
            .or_else(|| eta(progress, finished, remaining, now_ms))
    };

    Figures {
        percent,
        finished,
        remaining,
        size,
        elapsed,
        calls_per_minute,
        pace_is_recent: recent.is_some(),
        eta,
        success_percent: (finished > 0)
            .then(|| (progress.completed as f64 / finished as f64 * 100.0).clamp(0.0, 100.0)),
    }
}

/// The recent pace: calls ended per millisecond, up to the last answer.
#[derive(Debug, Clone, Copy)]
struct RecentPace {
    calls_per_ms: f64,
    answered_at_ms: EpochMillis,
}

impl RecentPace {
    /// Time left at this pace, less what has passed since the answer it was measured to (so
    /// the ETA counts down between answers rather than creeping up); `None` once that is
    /// used up (slower than the pace lately: the whole run's stall rule takes over).
    fn time_left(self, remaining: u64, now_ms: EpochMillis) -> Option<Duration> {
        let since = now_ms.saturating_sub(self.answered_at_ms) as f64;
        let left = remaining as f64 / self.calls_per_ms - since;
        (left > 0.0).then(|| Duration::from_millis(left.round() as u64))
    }
}

/// The pace from the newest sample at least [`RECENT_PACE_MS`] before the last answer (else
/// the oldest, once there are two) to the counters of that answer. Measured to the answer, not
/// to now: the counters are that answer's, and the gap between answers grows with the number
/// of batches. A stall still slows it, as the answers that say "no change" keep coming. `None`
/// without such a sample, or when no call ended since it (the whole run's pace is used then).
fn recent_pace(finished: u64, seen: Seen<'_>) -> Option<RecentPace> {
    let answered_at_ms = seen.answered_at_ms?;
    let samples = seen.samples;
    let base = samples
        .iter()
        .rev()
        .find(|s| s.at_ms <= answered_at_ms && answered_at_ms - s.at_ms >= RECENT_PACE_MS)
        .or_else(|| samples.first().filter(|_| samples.len() >= 2))?;
    let span = answered_at_ms
        .checked_sub(base.at_ms)
        .filter(|ms| *ms > 0)?;
    let ended = finished.saturating_sub(base.finished());
    (ended > 0).then(|| RecentPace {
        calls_per_ms: ended as f64 / span as f64,
        answered_at_ms,
    })
}

fn eta(p: &BatchProgress, finished: u64, remaining: u64, now_ms: EpochMillis) -> Option<Duration> {
    let (start, last) = (p.start_time?, p.last_completed_time?);
    if finished == 0 || last <= start {
        return None;
    }
    // Time left at the pace seen up to the last completion, minus what has passed since.
    let ms_per_call = (last - start) as f64 / finished as f64;
    let since_last = now_ms.saturating_sub(last) as f64;
    let left = remaining as f64 * ms_per_call - since_last;
    if left > 0.0 {
        return Some(Duration::from_millis(left.round() as u64));
    }
    // Slower than the pace so far (a stall): fall back to the pace over the whole run to now,
    // which keeps growing while nothing completes instead of claiming "any second now".
    let whole_run = now_ms.saturating_sub(start) as f64 / finished as f64;
    Some(Duration::from_millis(
        (remaining as f64 * whole_run).round() as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BatchStatus;

    const START: u64 = 1_703_097_600_000;
    const MIN: u64 = 60_000;

    fn progress(
        waiting: u64,
        active: u64,
        completed: u64,
        failed: u64,
        total: u64,
    ) -> BatchProgress {
        BatchProgress {
            status: BatchStatus::Processing,
            is_complete: false,
            waiting,
            active,
            completed,
            failed,
            total,
            start_time: Some(START),
            last_completed_time: Some(START + 60 * MIN),
            completed_time: None,
            average_call_duration: Some(45.2),
            recent_calls: vec![],
        }
    }

    #[test]
    fn reference_example_is_66_7_percent() {
        let p: BatchProgress =
            serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
        let f = figures(&p, START + 60 * MIN);
        assert_eq!(format!("{:.1}", f.percent), "66.7");
        assert_eq!(f.finished, 100);
        assert_eq!(f.remaining, 50);
        assert_eq!(f.elapsed, Some(Duration::from_secs(3600)));
        // 100 calls in 60 min → 50 left ≈ 30 min.
        assert_eq!(f.eta, Some(Duration::from_secs(30 * 60)));
        assert_eq!(
            f.calls_per_minute.map(|c| format!("{c:.3}")),
            Some("1.667".into())
        );
        // 95 of the 100 ended calls completed.
        assert_eq!(f.success_percent, Some(95.0));
        let none_ended = BatchProgress {
            completed: 0,
            failed: 0,
            ..p.clone()
        };
        assert_eq!(figures(&none_ended, START).success_percent, None);
    }

    #[test]
    fn edge_case_table() {
        struct Case {
            name: &'static str,
            p: BatchProgress,
            now: u64,
            percent: f64,
            remaining: u64,
            elapsed: Option<u64>,
            eta: Option<u64>,
        }
        let not_started = BatchProgress {
            status: BatchStatus::Queued,
            start_time: None,
            last_completed_time: None,
            ..progress(150, 0, 0, 0, 150)
        };
        let started_nothing_done = BatchProgress {
            last_completed_time: None,
            ..progress(145, 5, 0, 0, 150)
        };
        let finished = BatchProgress {
            status: BatchStatus::Completed,
            is_complete: true,
            completed_time: Some(START + 62 * MIN),
            last_completed_time: Some(START + 62 * MIN),
            ..progress(0, 0, 145, 5, 150)
        };
        let empty_complete = BatchProgress {
            is_complete: true,
            start_time: None,
            last_completed_time: None,
            ..progress(0, 0, 0, 0, 0)
        };
        let cancelled = BatchProgress {
            status: BatchStatus::Cancelled,
            is_complete: true,
            completed_time: Some(START + 30 * MIN),
            ..progress(0, 0, 40, 10, 150)
        };
        let cases = vec![
            Case {
                name: "not started",
                p: not_started,
                now: START,
                percent: 0.0,
                remaining: 150,
                elapsed: None,
                eta: None,
            },
            Case {
                name: "started, no completion yet",
                p: started_nothing_done,
                now: START + MIN,
                percent: 0.0,
                remaining: 150,
                elapsed: Some(60),
                eta: None,
            },
            Case {
                name: "total 0, running",
                p: progress(0, 0, 0, 0, 0),
                now: START + 60 * MIN,
                percent: 0.0,
                remaining: 0,
                elapsed: Some(3600),
                eta: None,
            },
            Case {
                name: "total 0, complete",
                p: empty_complete,
                now: START,
                percent: 100.0,
                remaining: 0,
                elapsed: None,
                eta: Some(0),
            },
            // Counters above total: the counters win, percent never passes 100.
            Case {
                name: "counts above total",
                p: progress(10, 0, 80, 10, 50),
                now: START + 60 * MIN,
                percent: 90.0,
                remaining: 10,
                elapsed: Some(3600),
                eta: Some(400),
            },
            Case {
                name: "finished: elapsed stops at completedTime",
                p: finished,
                now: START + 500 * MIN,
                percent: 100.0,
                remaining: 0,
                elapsed: Some(62 * 60),
                eta: Some(0),
            },
            Case {
                name: "cancelled part way",
                p: cancelled,
                now: START + 40 * MIN,
                percent: 100.0 / 3.0,
                remaining: 0,
                elapsed: Some(30 * 60),
                eta: Some(0),
            },
            // 100 done in 60 min, 50 left → 30 min at that pace; 10 min already passed.
            Case {
                name: "time since last completion counts",
                p: progress(45, 5, 95, 5, 150),
                now: START + 70 * MIN,
                percent: 200.0 / 3.0,
                remaining: 50,
                elapsed: Some(70 * 60),
                eta: Some(20 * 60),
            },
            // Stalled 60 min past the expected end: pace over the whole 150 min run, 1.5 min/call.
            Case {
                name: "stalled",
                p: progress(45, 5, 95, 5, 150),
                now: START + 200 * MIN,
                percent: 200.0 / 3.0,
                remaining: 50,
                elapsed: Some(200 * 60),
                eta: Some(100 * 60),
            },
            Case {
                name: "clock behind start",
                p: progress(45, 5, 95, 5, 150),
                now: START - MIN,
                percent: 200.0 / 3.0,
                remaining: 50,
                elapsed: Some(0),
                eta: Some(30 * 60),
            },
        ];
        for c in cases {
            let f = figures(&c.p, c.now);
            assert!(
                (f.percent - c.percent).abs() < 1e-9,
                "{}: percent {}",
                c.name,
                f.percent
            );
            assert_eq!(f.remaining, c.remaining, "{}: remaining", c.name);
            assert_eq!(
                f.elapsed.map(|d| d.as_secs()),
                c.elapsed,
                "{}: elapsed",
                c.name
            );
            assert_eq!(f.eta.map(|d| d.as_secs()), c.eta, "{}: eta", c.name);
        }
    }

    /// The samples, with the last answer at `minute`.
    fn seen(samples: &[Sample], minute: u64) -> Seen<'_> {
        Seen {
            samples,
            answered_at_ms: Some(START + minute * MIN),
        }
    }

    fn sample(minute: u64, completed: u32, failed: u32) -> Sample {
        Sample {
            at_ms: START + minute * MIN,
            completed,
            failed,
        }
    }

    /// 100 calls ended in the first 60 minutes (whole-run pace: 30 min for the 50 left), but
    /// only 10 in the last ten: the recent pace, one a minute, says 50 min.
    #[test]
    fn a_batch_that_slowed_down_gets_the_eta_of_its_recent_pace() {
        let p = progress(45, 5, 95, 5, 150);
        let samples: Vec<Sample> = (0..=60u32)
            .map(|m| {
                let ended = if m <= 50 { m * 90 / 50 } else { 90 + (m - 50) };
                sample(u64::from(m), ended - ended / 20, ended / 20)
            })
            .collect();
        assert_eq!(samples[50].completed + samples[50].failed, 90);
        let now = START + 60 * MIN;
        assert_eq!(figures(&p, now).eta, Some(Duration::from_secs(30 * 60)));
        let f = figures_seen(&p, seen(&samples, 60), now);
        assert_eq!(f.eta, Some(Duration::from_secs(50 * 60)));
        assert!(f.pace_is_recent);
        assert_eq!(
            f.calls_per_minute.map(|c| format!("{c:.3}")),
            Some("1.000".into())
        );
        // Two minutes on with no answer yet (many batches share the budget): the ETA counts
        // down from that answer, it does not creep up while the counters wait.
        let later = figures_seen(&p, seen(&samples, 60), now + 2 * MIN);
        assert_eq!(later.eta, Some(Duration::from_secs(48 * 60)));
        assert_eq!(later.calls_per_minute, f.calls_per_minute);
    }

    /// Samples without the moment of the last answer say no pace: the whole run's.
    #[test]
    fn samples_without_an_answer_time_give_the_whole_runs_pace() {
        let p = progress(45, 5, 95, 5, 150);
        let samples = [sample(40, 80, 2), sample(59, 95, 5)];
        let f = figures_seen(
            &p,
            Seen {
                samples: &samples,
                answered_at_ms: None,
            },
            START + 60 * MIN,
        );
        assert!(!f.pace_is_recent);
        assert_eq!(f.eta, Some(Duration::from_secs(30 * 60)));
    }

    /// A young batch has no sample ten minutes old: the oldest of two or more is the base.
    #[test]
    fn a_young_batch_measures_from_its_first_sample() {
        let p = BatchProgress {
            last_completed_time: Some(START + 4 * MIN),
            ..progress(120, 10, 18, 2, 150)
        };
        // 20 ended now, 8 at minute 1: 12 in 4 minutes, 3 a minute, 130 left → 43 min 20 s.
        let f = figures_seen(
            &p,
            seen(&[sample(1, 8, 0), sample(3, 13, 1)], 5),
            START + 5 * MIN,
        );
        assert_eq!(f.eta, Some(Duration::from_secs(2600)));
        // One sample is no pace yet: the whole run's (20 in 4 min, 12 s a call) less the
        // minute since the last completion: 1,560 s − 60 s.
        let f = figures_seen(&p, seen(&[sample(1, 8, 0)], 5), START + 5 * MIN);
        assert!(!f.pace_is_recent);
        assert_eq!(f.eta, Some(Duration::from_secs(1500)));
    }

    /// Nothing ended since the base sample: no recent pace, and the whole run's grows with the
    /// stall as before; samples "from the future" (the clock went back) are no base either.
    #[test]
    fn a_stall_or_a_clock_that_went_back_falls_back_to_the_whole_run() {
        let p = progress(45, 5, 95, 5, 150);
        let stalled = [sample(40, 95, 5), sample(60, 95, 5)];
        let f = figures_seen(&p, seen(&stalled, 200), START + 200 * MIN);
        assert!(!f.pace_is_recent);
        assert_eq!(f.eta, Some(Duration::from_secs(100 * 60)));

        let future = [sample(300, 10, 0), sample(301, 20, 0)];
        let f = figures_seen(&p, seen(&future, 60), START + 60 * MIN);
        assert!(!f.pace_is_recent);
        assert_eq!(f.eta, Some(Duration::from_secs(30 * 60)));
    }

    /// A finished batch has no pace to speak of: its ETA is zero, whatever the samples say.
    #[test]
    fn a_finished_batch_ignores_its_samples() {
        let p = BatchProgress {
            status: BatchStatus::Completed,
            is_complete: true,
            completed_time: Some(START + 62 * MIN),
            ..progress(0, 0, 145, 5, 150)
        };
        let f = figures_seen(
            &p,
            seen(&[sample(0, 0, 0), sample(30, 80, 2)], 62),
            START + 70 * MIN,
        );
        assert_eq!(f.eta, Some(Duration::ZERO));
        assert!(!f.pace_is_recent);
    }
}
