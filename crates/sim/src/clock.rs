//! The simulator's clock: sim time runs at `speed` times real time, plus whatever tests add with
//! `advance`. Every batch time, rate-limit window and request record is in sim milliseconds
//! since the sim started; JSON timestamps are those plus the real epoch time at start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Sim time never goes backwards: real time only grows and `advance` only adds.
#[derive(Debug)]
pub(crate) struct SimClock {
    started: Instant,
    epoch_ms_at_start: i64,
    speed: f64,
    /// Total of all `advance` calls, in nanoseconds of sim time.
    offset_ns: AtomicU64,
}

impl SimClock {
    /// `speed` must be finite and positive (checked by the caller).
    pub(crate) fn new(speed: f64) -> Self {
        Self {
            started: Instant::now(),
            epoch_ms_at_start: real_epoch_ms(),
            speed,
            offset_ns: AtomicU64::new(0),
        }
    }

    /// Sim milliseconds elapsed since the simulator started.
    pub(crate) fn now(&self) -> i64 {
        let real = self.started.elapsed().as_secs_f64() * self.speed * 1000.0;
        let offset = self.offset_ns.load(Ordering::SeqCst) / 1_000_000;
        (real as i64).saturating_add(offset as i64)
    }

    pub(crate) fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Epoch milliseconds (the JSON timestamp) of a sim instant.
    pub(crate) fn wall_ms(&self, sim_ms: i64) -> i64 {
        self.epoch_ms_at_start + sim_ms
    }

    /// How long, in real time, `sim_ms` of sim time takes to pass.
    pub(crate) fn real_duration(&self, sim_ms: i64) -> Duration {
        // A tiny speed can make this longer than a Duration holds.
        Duration::try_from_secs_f64(sim_ms.max(0) as f64 / 1000.0 / self.speed)
            .unwrap_or(Duration::MAX)
    }
}

/// The real wall clock, in epoch milliseconds.
pub(crate) fn real_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_adds_sim_time_and_wall_time_follows() {
        let clock = SimClock::new(1.0);
        let before = clock.now();
        clock.advance(Duration::from_secs(90));
        let after = clock.now();
        assert!(after - before >= 90_000, "{before} -> {after}");
        assert!(after - before < 91_000, "{before} -> {after}");
        assert_eq!(clock.wall_ms(after) - clock.wall_ms(before), after - before);
    }

    #[test]
    fn speed_scales_real_time() {
        let clock = SimClock::new(1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() >= 20_000);
        assert_eq!(clock.real_duration(60_000), Duration::from_millis(60));
    }
}
