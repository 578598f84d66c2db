//! Words and numbers as Batchwatch shows them, in one place so the window, the tray, the
//! notifications and the terminal say the same thing the same way.

use std::time::Duration;

/// "45 s", "14 min", "1 h 2 min", "2 d 3 h" — rounded to what a person needs: seconds only
/// under a minute, then whole minutes, then whole hours past a day.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    if secs < 60 {
        // The common case (a call's length), thousands of times per window view: built by
        // hand, as `format!` costs several times more here.
        let mut text = String::with_capacity(4);
        if secs >= 10 {
            text.push(char::from(b'0' + (secs / 10) as u8));
        }
        text.push(char::from(b'0' + (secs % 10) as u8));
        text.push_str(" s");
        return text;
    }
    let minutes = (secs + 30) / 60;
    if minutes < 24 * 60 {
        return match (minutes / 60, minutes % 60) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        };
    }
    let hours = (minutes + 30) / 60;
    match (hours / 24, hours % 24) {
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// A duration the API gives in seconds ("duration", "averageCallDuration"), as [`duration`]
/// words; `None` for what is no duration (negative, NaN, or past what a clock can hold), which
/// a server may send and must not crash anyone.
pub fn seconds(secs: f64) -> Option<String> {
    Duration::try_from_secs_f64(secs.round()).ok().map(duration)
}

/// A batch's counters as the window, the tray and the terminal say them:
/// `95 completed · 5 failed · 5 active · 45 waiting`.
pub fn counts(p: &crate::model::BatchProgress) -> String {
    format!(
        "{} completed · {} failed · {} active · {} waiting",
        p.completed, p.failed, p.active, p.waiting
    )
}

/// How long a batch took, or how long it has to go: `took 4 min`, `ETA 30 min`, `ETA unknown`,
/// `not started yet`, `never started`.
pub fn timing(p: &crate::model::BatchProgress, f: &crate::figures::Figures) -> String {
    if p.has_ended() {
        return match f.elapsed {
            Some(elapsed) => format!("took {}", duration(elapsed)),
            None => "never started".to_owned(),
        };
    }
    if p.start_time.is_none() {
        return "not started yet".to_owned();
    }
    match f.eta {
        Some(eta) => format!("ETA {}", duration(eta)),
        None => "ETA unknown".to_owned(),
    }
}

/// How an ended batch went: `95% succeeded` (completed of the calls that ended; a batch with
/// none ended says nothing).
pub fn success(f: &crate::figures::Figures) -> Option<String> {
    f.success_percent
        .map(|p| format!("{} succeeded", percent(p)))
}

/// A percentage for labels: whole numbers, except that anything short of done stays below
/// 100 and anything started stays above 0.
pub fn percent(p: f64) -> String {
    let rounded = p.round();
    let shown = if rounded >= 100.0 && p < 100.0 {
        99.0
    } else if rounded <= 0.0 && p > 0.0 {
        1.0
    } else {
        rounded
    };
    format!("{shown:.0}%")
}

/// The zone times are shown in: `TimeZone::system()` (it reads `TZ`, else the system's zone
/// database) in the programs, a fixed one in tests.
pub use jiff::tz::TimeZone;

/// A moment as a clock in `zone` shows it, "HH:MM" with the zone's abbreviation when it has
/// one: "22:32 IST".
pub fn clock_time_in(epoch_ms: u64, zone: &TimeZone) -> String {
    zoned_text(epoch_ms, zone, "%H:%M %Z")
}

/// [`clock_time_in`] to the second, for a retry a few seconds away: "22:32:03 IST".
pub fn clock_seconds_in(epoch_ms: u64, zone: &TimeZone) -> String {
    zoned_text(epoch_ms, zone, "%H:%M:%S %Z")
}

/// A moment in the person's zone, with its date when it is not within the next 20 hours of
/// `now_ms` (a wait of ten years should not read as "at 17:02").
pub fn local_moment(epoch_ms: u64, now_ms: u64) -> String {
    moment_in(epoch_ms, now_ms, &TimeZone::system())
}

pub fn moment_in(epoch_ms: u64, now_ms: u64, zone: &TimeZone) -> String {
    const SOON_MS: u64 = 20 * 3600 * 1000;
    if epoch_ms.saturating_sub(now_ms) < SOON_MS {
        clock_time_in(epoch_ms, zone)
    } else {
        zoned_text(epoch_ms, zone, "%Y-%m-%d %H:%M %Z")
    }
}

/// A line of either log — the tray app's and the window's write the same: the local time to the
/// millisecond with its offset (sortable, and unambiguous across a clock change), the level,
/// where it came from, the message.
/// `2026-12-05T19:31:07.123+01:00 INFO batchwatch_core::monitor: …`
pub fn log_line(
    epoch_ms: u64,
    zone: &TimeZone,
    level: log::Level,
    target: &str,
    message: &std::fmt::Arguments<'_>,
) -> String {
    let stamp = zoned_text(epoch_ms, zone, "%Y-%m-%dT%H:%M:%S%.3f%:z");
    format!("{stamp} {level} {target}: {message}")
}

/// [`log_line`] now, in the system's zone.
pub fn log_line_now(level: log::Level, target: &str, message: &std::fmt::Arguments<'_>) -> String {
    log_line(
        crate::monitor::wall_clock_ms(),
        &TimeZone::system(),
        level,
        target,
        message,
    )
}

fn zoned_text(epoch_ms: u64, zone: &TimeZone, pattern: &str) -> String {
    let zoned = i64::try_from(epoch_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|at| at.to_zoned(zone.clone()));
    match zoned {
        Some(at) => at.strftime(pattern).to_string().trim_end().to_owned(),
        None => "a time past the calendar's end".to_owned(),
    }
}

/// What a cancel did, from Trillet's counts: "1993 waiting calls dropped; 3 completed and 0
/// failed before that (of 2000)." — the window's card and the terminal say it alike.
pub fn cancelled_counts(d: &crate::model::CancelDetails) -> String {
    let dropped = match d.cancelled_calls {
        1 => "1 waiting call".to_owned(),
        n => format!("{n} waiting calls"),
    };
    format!(
        "{dropped} dropped; {} completed and {} failed before that (of {}).",
        d.completed_calls, d.failed_calls, d.total_calls
    )
}

/// "1 call", "2 calls".
pub fn calls(n: u64) -> String {
    count(n, "call", "calls")
}

/// "1 batch", "3 batches".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_carries_local_time_with_its_offset() {
        let zone = TimeZone::fixed(jiff::tz::offset(1));
        let line = log_line(
            1_764_963_067_123,
            &zone,
            log::Level::Warn,
            "batchwatch_core::monitor",
            &format_args!("paused for {} s", 30),
        );
        assert_eq!(
            line,
            "2025-12-05T20:31:07.123+01:00 WARN batchwatch_core::monitor: paused for 30 s"
        );
    }

    #[test]
    fn seconds_from_the_api_never_panic() {
        assert_eq!(seconds(41.6).as_deref(), Some("42 s"));
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(f64::NAN), None);
        assert_eq!(seconds(1e300), None);
    }

    #[test]
    fn every_second_under_a_minute_reads_plainly() {
        for secs in 0..60 {
            assert_eq!(duration(Duration::from_secs(secs)), format!("{secs} s"));
        }
        assert_eq!(duration(Duration::from_millis(59_400)), "59 s");
        assert_eq!(duration(Duration::from_millis(59_600)), "1 min");
    }

    #[test]
    fn duration_table() {
        let cases = [
            (0, "0 s"),
            (45, "45 s"),
            (59, "59 s"),
            (60, "1 min"),
            (89, "1 min"),
            (90, "2 min"),
            (14 * 60, "14 min"),
            (3569, "59 min"),
            (3570, "1 h"),
            (3600, "1 h"),
            (3720, "1 h 2 min"),
            (86_369, "23 h 59 min"),
            (86_399, "1 d"),
            (86_400, "1 d"),
            (3 * 86_400 + 5 * 3600, "3 d 5 h"),
        ];
        for (secs, text) in cases {
            assert_eq!(duration(Duration::from_secs(secs)), text, "{secs} s");
        }
    }

    #[test]
    fn percent_table() {
        let cases = [
            (0.0, "0%"),
            (0.2, "1%"),
            (62.4, "62%"),
            (66.7, "67%"),
            (99.6, "99%"),
            (100.0, "100%"),
        ];
        for (p, text) in cases {
            assert_eq!(percent(p), text, "{p}");
        }
    }

    #[test]
    fn local_times_follow_the_zone_including_half_hours() {
        use jiff::tz::TimeZone;
        let at = 1_795_968_000_000 + 3_723_000; // 17:02:03 UTC
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(clock_time_in(at, &kolkata), "22:32 IST");
        assert_eq!(clock_time_in(at, &TimeZone::UTC), "17:02 UTC");
        assert_eq!(
            clock_time_in(u64::MAX, &kolkata),
            "a time past the calendar's end"
        );
        assert_eq!(moment_in(at, at - 60_000, &kolkata), "22:32 IST");
        let ten_years = 315_360_000_000;
        assert_eq!(
            moment_in(at + ten_years, at, &kolkata),
            "2036-11-26 22:32 IST"
        );
    }

    #[test]
    fn clock_time_and_calls() {
        assert_eq!(calls(1), "1 call");
        assert_eq!(calls(0), "0 calls");
    }
}
