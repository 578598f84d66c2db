//! The polling policy, as pure functions: how often each batch is polled within the key's
//! request budget, how long to back off after a failure, and when the next request may go.
//!
//! Trillet allows 60 requests a minute per key. Batchwatch plans for a smaller budget (50 by
//! default) so the user's own clicks never meet a 429. Two rules keep it there whatever the
//! number of batches: each batch's interval grows with the number of batches sharing the
//! budget, and [`RequestBudget`] — a sliding log of what was actually sent — refuses any
//! request that would exceed it (refreshes included), so a burst waits instead of failing.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The knobs of the polling policy; part of the user's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PollPolicy {
    /// Requests allowed per `window` for one key.
    pub budget: u32,
    /// The length of the budget's window (a minute; tests compress it).
    #[serde(with = "millis")]
    pub window: Duration,
    /// No batch is polled more often than this.
    #[serde(with = "millis")]
    pub floor: Duration,
    /// Longest wait after repeated failures.
    #[serde(with = "millis")]
    pub backoff_cap: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            budget: 50,
            window: Duration::from_secs(60),
            floor: Duration::from_secs(15),
            backoff_cap: Duration::from_secs(5 * 60),
        }
    }
}

/// Trillet's own limit, which no setting may reach.
pub const TRILLET_LIMIT_PER_MINUTE: u32 = 60;

/// A batch scheduled for later is asked about at most once in this many budget windows until
/// its start (15 minutes with Trillet's minute).
pub const SCHEDULED_RECHECK_WINDOWS: u32 = 15;

impl PollPolicy {
    /// The default budget at another pace: `floor` between two polls of a batch, the budget
    /// counted over `window`, back-off capped at five windows. The default policy is
    /// `paced(15 s, 60 s)`; tests and the terminal companion's hidden options shrink both
    /// together, which compresses time and keeps the schedule's shape.
    pub fn paced(floor: Duration, window: Duration) -> Self {
        Self {
            floor,
            window,
            backoff_cap: window.saturating_mul(5),
            ..Self::default()
        }
    }

    /// The policy with its values brought into their safe ranges.
    pub fn sanitized(self) -> Self {
        Self {
            budget: self.budget.clamp(1, TRILLET_LIMIT_PER_MINUTE - 5),
            window: self.window.max(Duration::from_millis(10)),
            floor: self.floor.max(Duration::from_millis(10)),
            backoff_cap: self.backoff_cap.max(self.floor),
        }
    }

    /// Interval between polls of a running batch when `running` batches are running and
    /// `queued` are waiting to start (each queued batch is polled half as often, so it costs
    /// half a share).
    pub fn interval(&self, running: usize, queued: usize) -> Duration {
        let p = self.sanitized();
        // Shares in halves so a queued batch counts 1/2 without floats.
        let half_shares = (2 * running + queued).max(1) as u128;
        let fair = p.window.as_nanos() * half_shares / (2 * u128::from(p.budget));
        Duration::from_nanos(fair.min(u128::from(u64::MAX)) as u64).max(p.floor)
    }

    /// Interval for a queued batch: twice a running one's.
    pub fn queued_interval(&self, running: usize, queued: usize) -> Duration {
        self.interval(running, queued) * 2
    }

    /// The wait before polling a queued batch again that starts `until_start` from now (when
    /// Batchwatch started it for later): its regular interval near its start, but no sooner
    /// than that and never more often than once every 15 windows (15 minutes) before — a
    /// campaign that starts tomorrow spends a few requests, not a share of the budget — with
    /// the last wait ending at its start.
    pub fn queued_wait(
        &self,
        running: usize,
        queued: usize,
        until_start: Option<Duration>,
    ) -> Duration {
        let regular = self.queued_interval(running, queued);
        let rarely = self.sanitized().window * SCHEDULED_RECHECK_WINDOWS;
        match until_start {
            Some(left) if left > regular => left.min(rarely).max(regular),
            _ => regular,
        }
    }

    /// What these settings mean for `batches` running batches, in words for the settings panel:
    /// "With 12 batches, each updates every 15 s."
    pub fn consequence(&self, batches: usize) -> String {
        let every = crate::format::duration(self.interval(batches, 0));
        match batches {
            0 | 1 => format!("A batch updates every {every}."),
            n => format!("With {n} batches, each updates every {every}."),
        }
    }

    /// Smallest gap between two requests: spreads the budget evenly over the window and its
    /// margin. (Over the bare window, a steady flow sits exactly at the budget, and any window
    /// the server counts holds one too many as soon as one arrival is a little late.)
    pub fn spacing(&self) -> Duration {
        let p = self.sanitized();
        (p.window + window_margin(p.window)) / p.budget
    }

    /// Wait after the `failures`-th consecutive failure of one batch: doubling from the floor,
    /// capped, then spread by ±20 % jitter (`jitter_seed` picks where) so batches that failed
    /// together do not retry together.
    pub fn backoff(&self, failures: u32, jitter_seed: u64) -> Duration {
        let p = self.sanitized();
        let exp = failures.saturating_sub(1).min(20);
        let base = p.floor.saturating_mul(1 << exp).min(p.backoff_cap);
        // A fraction in [-0.2, 0.2] from the seed.
        let unit = (splitmix(jitter_seed ^ u64::from(failures)) % 10_001) as f64 / 10_000.0;
        let factor = 0.8 + 0.4 * unit;
        base.mul_f64(factor).min(p.backoff_cap)
    }
}

/// A sliding log of requests sent for one key over the last window. Windows are closed at both
/// ends (a server counting `[now - window, now]` sees at most `budget`), and requests arrive a
/// little later than they are sent, each by its own delay — hence [`window_margin`].
#[derive(Debug, Clone)]
pub struct RequestBudget<T> {
    sent: VecDeque<T>,
}

impl<T> Default for RequestBudget<T> {
    fn default() -> Self {
        Self {
            sent: VecDeque::new(),
        }
    }
}

/// How far past a full window the next request waits, so no window the server counts holds one
/// too many: 2% of the window (1.2 s of Trillet's minute), at least 1 ms. A request sent just as
/// its slot frees may arrive sooner after the one a window before it than they were sent (that
/// one delayed on its way, this one not); a bare millisecond let a saturated key's worst minute
/// reach 51 of 50 at the simulator. The cost: a saturated key sends 2% fewer.
pub fn window_margin(window: Duration) -> Duration {
    (window / 50).max(Duration::from_millis(1))
}

/// Instants the budget can reason about: tokio's (in the monitor) or plain durations (in tests).
pub trait Moment: Copy + Ord + std::ops::Add<Duration, Output = Self> {}
impl<T: Copy + Ord + std::ops::Add<Duration, Output = T>> Moment for T {}

impl<T: Moment> RequestBudget<T> {
    /// The earliest moment, at or after `now`, when another request keeps within `policy`.
    pub fn next_slot(&mut self, now: T, policy: &PollPolicy) -> T {
        let p = policy.sanitized();
        while let Some(&oldest) = self.sent.front() {
            if oldest + p.window < now {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        let mut slot = now;
        if let Some(&last) = self.sent.back() {
            slot = slot.max(last + p.spacing());
        }
        if self.sent.len() >= p.budget as usize {
            let index = self.sent.len() - p.budget as usize;
            slot = slot.max(self.sent[index] + p.window + window_margin(p.window));
        }
        slot
    }

    /// Records a request sent at `at`.
    pub fn record(&mut self, at: T) {
        self.sent.push_back(at);
    }

    /// Requests recorded within the window ending at `now`.
    pub fn in_window(&self, now: T, policy: &PollPolicy) -> usize {
        let window = policy.sanitized().window;
        self.sent.iter().filter(|&&t| t + window >= now).count()
    }
}

/// A well-mixed 64-bit hash step (SplitMix64), for deterministic jitter.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A stable seed from a batch ID, so each batch has its own jitter.
pub fn jitter_seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u128::from(u64::MAX)) as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn interval_grid() {
        let p = PollPolicy::default();
        // (running, queued) → interval
        let cases = [
            ((0, 0), S(15)),
            ((1, 0), S(15)),
            ((12, 0), S(15)),
            ((13, 0), Duration::from_millis(15_600)),
            ((50, 0), S(60)),
            ((100, 0), S(120)),
            ((1000, 0), S(1200)),
            ((0, 2), S(15)),
            ((40, 20), S(60)),
        ];
        for ((running, queued), expected) in cases {
            assert_eq!(
                p.interval(running, queued),
                expected,
                "{running} running, {queued} queued"
            );
        }
        assert_eq!(p.queued_interval(40, 20), S(120));
        let tight = PollPolicy {
            budget: 10,
            floor: S(5),
            ..p
        };
        assert_eq!(tight.interval(1, 0), S(6));
        assert_eq!(tight.interval(20, 0), S(120));
    }

    #[test]
    fn a_batch_scheduled_for_later_is_asked_rarely_until_its_start() {
        let p = PollPolicy::default();
        let queued = p.queued_interval(1, 1);
        assert_eq!(queued, S(30));
        // (time until its start) → wait
        let cases = [
            (None, queued),
            (Some(S(0)), queued),
            (Some(S(20)), queued),
            (Some(S(10 * 60)), S(10 * 60)),
            (Some(S(24 * 3600)), S(15 * 60)),
        ];
        for (until_start, expected) in cases {
            assert_eq!(
                p.queued_wait(1, 1, until_start),
                expected,
                "{until_start:?}"
            );
        }
        // With time compressed (a one-second window), so is "rarely".
        let fast = PollPolicy {
            window: S(1),
            floor: Duration::from_millis(10),
            ..p
        };
        assert_eq!(fast.queued_wait(1, 1, Some(S(3600))), S(15));
    }

    #[test]
    fn the_steady_rate_never_exceeds_the_budget() {
        for budget in [1, 10, 50, 55] {
            let p = PollPolicy {
                budget,
                ..PollPolicy::default()
            };
            for n in [1usize, 7, 50, 51, 999, 1000, 5000] {
                let per_window = n as f64 * p.window.as_secs_f64() / p.interval(n, 0).as_secs_f64();
                assert!(
                    per_window <= f64::from(budget) + 1e-9,
                    "budget {budget}, {n} batches: {per_window}"
                );
            }
        }
    }

    #[test]
    fn consequences_read_plainly() {
        let p = PollPolicy::default();
        assert_eq!(p.consequence(1), "A batch updates every 15 s.");
        assert_eq!(
            p.consequence(12),
            "With 12 batches, each updates every 15 s."
        );
        assert_eq!(
            p.consequence(100),
            "With 100 batches, each updates every 2 min."
        );
        let slow = PollPolicy { budget: 10, ..p };
        assert_eq!(
            slow.consequence(12),
            "With 12 batches, each updates every 1 min."
        );
    }

    #[test]
    fn settings_cannot_reach_trillets_limit() {
        let p = PollPolicy {
            budget: 500,
            floor: Duration::ZERO,
            ..PollPolicy::default()
        }
        .sanitized();
        assert_eq!(p.budget, 55);
        assert!(p.floor > Duration::ZERO);
    }

    #[test]
    fn the_default_policy_is_the_default_pace() {
        assert_eq!(PollPolicy::paced(S(15), S(60)), PollPolicy::default());
        let fast = PollPolicy::paced(Duration::from_millis(250), S(1));
        assert_eq!(fast.backoff_cap, S(5));
        assert_eq!(fast.budget, PollPolicy::default().budget);
    }

    #[test]
    fn backoff_sequence_doubles_within_jitter_and_caps() {
        let p = PollPolicy::default();
        for seed in [0, 1, 42, u64::MAX, jitter_seed("batch_1")] {
            let mut previous_base = Duration::ZERO;
            for failures in 1..=12u32 {
                let base = S(15).saturating_mul(1 << (failures - 1)).min(S(300));
                let got = p.backoff(failures, seed);
                assert!(
                    got >= base.mul_f64(0.8) && got <= base.mul_f64(1.2).min(S(300)),
                    "failure {failures}: {got:?}"
                );
                assert!(base >= previous_base);
                previous_base = base;
            }
        }
        // Different batches spread out.
        let spread: std::collections::BTreeSet<_> = (0..20)
            .map(|i| p.backoff(3, jitter_seed(&format!("batch_{i}"))))
            .collect();
        assert!(spread.len() > 10);
    }

    #[test]
    fn budget_log_spaces_and_caps_requests() {
        let p = PollPolicy {
            budget: 5,
            window: S(60),
            ..PollPolicy::default()
        };
        let mut log = RequestBudget::<Duration>::default();
        let mut now = Duration::ZERO;
        let mut sent = vec![];
        // Ask for 12 requests as fast as the budget allows.
        for _ in 0..12 {
            let slot = log.next_slot(now, &p);
            now = slot;
            log.record(slot);
            sent.push(slot.as_secs());
        }
        // Spaced over the window and its margin (61.2 s / 5).
        assert_eq!(sent, vec![0, 12, 24, 36, 48, 61, 73, 85, 97, 110, 122, 134]);
        let sent_at: Vec<Duration> = {
            let mut log = RequestBudget::<Duration>::default();
            let mut now = Duration::ZERO;
            (0..12)
                .map(|_| {
                    now = log.next_slot(now, &p);
                    log.record(now);
                    now
                })
                .collect()
        };
        for (i, &t) in sent_at.iter().enumerate() {
            // Closed windows [t - 60 s, t].
            let in_window = sent_at[..=i].iter().filter(|&&s| s + S(60) >= t).count();
            assert!(in_window <= 5);
        }
        assert_eq!(log.in_window(*sent_at.last().unwrap(), &p), 5);
    }

    #[test]
    fn policy_round_trips_in_milliseconds() {
        let json = serde_json::to_string(&PollPolicy::default()).unwrap();
        assert_eq!(
            json,
            r#"{"budget":50,"window":60000,"floor":15000,"backoffCap":300000}"#
        );
        let partial: PollPolicy = serde_json::from_str(r#"{"budget":20}"#).unwrap();
        assert_eq!(
            partial,
            PollPolicy {
                budget: 20,
                ..PollPolicy::default()
            }
        );
    }
}
