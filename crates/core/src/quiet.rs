//! Quiet hours: a daily window of local time (20:00–08:00) when notifications wait, to arrive
//! as one summary when it ends — "While quiet: 3 batches finished" — losing nothing (what is
//! held is kept in the state database, so a restart inside the window still tells it). A
//! refused key is never held, hooks never are (they are for machines), and the tray shows
//! everything as it happens.

use serde::{Deserialize, Serialize};

use crate::change::NotificationContent;
use crate::format::TimeZone;

const DAY_MINUTES: u16 = 24 * 60;

/// From `from_min` to `to_min`, minutes after local midnight; across midnight when `to` is
/// earlier than `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuietHours {
    pub from_min: u16,
    pub to_min: u16,
}

impl QuietHours {
    /// "20:00-08:00" (also with an en dash), as the panel and the terminal write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = || {
            format!(
                "Quiet hours are two times of day, like 20:00-08:00 (you entered \"{}\").",
                text.trim()
            )
        };
        let (from, to) = text.trim().split_once(['-', '–']).ok_or_else(refuse)?;
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
        };
        let hours = Self {
            from_min: minute(from).ok_or_else(refuse)?,
            to_min: minute(to).ok_or_else(refuse)?,
        };
        if hours.from_min == hours.to_min {
            return Err("Quiet hours must start and end at different times.".into());
        }
        Ok(hours)
    }

    /// Read back from a file: in range, or none.
    pub fn valid(self) -> Option<Self> {
        (self.from_min < DAY_MINUTES && self.to_min < DAY_MINUTES && self.from_min != self.to_min)
            .then_some(self)
    }

    pub fn text(&self) -> String {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        format!("{}-{}", hm(self.from_min), hm(self.to_min))
    }

    fn contains_minute(&self, minute: u16) -> bool {
        if self.from_min < self.to_min {
            (self.from_min..self.to_min).contains(&minute)
        } else {
            minute >= self.from_min || minute < self.to_min
        }
    }

    /// Whether `now_ms` falls inside the window, in `zone`'s local time.
    pub fn is_quiet(&self, now_ms: u64, zone: &TimeZone) -> bool {
        let local = zoned(now_ms, zone);
        self.contains_minute(local.hour() as u16 * 60 + local.minute() as u16)
    }

    /// The next end of the window after `now_ms` (epoch ms), in `zone`'s local time.
    pub fn next_end_ms(&self, now_ms: u64, zone: &TimeZone) -> u64 {
        let local = zoned(now_ms, zone);
        let (h, m) = ((self.to_min / 60) as i8, (self.to_min % 60) as i8);
        let at = |date: jiff::civil::Date| {
            date.at(h, m, 0, 0)
                .to_zoned(zone.clone())
                .map(|z| u64::try_from(z.timestamp().as_millisecond()).unwrap_or(0))
                .unwrap_or(u64::MAX)
        };
        let today = at(local.date());
        if today > now_ms {
            today
        } else {
            local.date().tomorrow().map_or(u64::MAX, at)
        }
    }
}

fn zoned(ms: u64, zone: &TimeZone) -> jiff::Zoned {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(zone.clone())
}

/// The notifications held while quiet, as few facts as the summary needs: counts, whether one
/// was urgent, and the first few titles (so what is kept stays small however long the night).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Held {
    pub finished: u32,
    pub alerts: u32,
    pub urgent: bool,
    /// The first [`NAMED`] titles, in order.
    pub named: Vec<String>,
}

/// Titles a summary names; the rest are counted.
pub const NAMED: usize = 5;

impl Held {
    pub fn is_empty(&self) -> bool {
        self.finished == 0 && self.alerts == 0
    }

    /// Holds one notification: a batch's finish, or an alert (a stall, a failure rate).
    pub fn hold(&mut self, notification: &NotificationContent, finish: bool) {
        if finish {
            self.finished = self.finished.saturating_add(1);
        } else {
            self.alerts = self.alerts.saturating_add(1);
        }
        self.urgent |= notification.urgent;
        if self.named.len() < NAMED {
            self.named.push(notification.title.clone());
        }
    }

    /// The one notification they become: "While quiet: 3 batches finished, 1 alert" / "Batch
    /// a completed; Batch b failed; …; and 2 more".
    pub fn summary(&self) -> Option<NotificationContent> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        if self.finished > 0 {
            parts.push(crate::format::count(
                self.finished.into(),
                "batch finished",
                "batches finished",
            ));
        }
        if self.alerts > 0 {
            parts.push(crate::format::count(self.alerts.into(), "alert", "alerts"));
        }
        let total = u64::from(self.finished) + u64::from(self.alerts);
        let mut body = self.named.join("; ");
        if total > self.named.len() as u64 {
            body.push_str(&format!("; and {} more", total - self.named.len() as u64));
        }
        Some(NotificationContent {
            title: format!("While quiet: {}", parts.join(", ")),
            body,
            urgent: self.urgent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_text_round_trip_and_refuse_in_words() {
        let night = QuietHours::parse("20:00-08:00").unwrap();
        assert_eq!((night.from_min, night.to_min), (1200, 480));
        assert_eq!(night.text(), "20:00-08:00");
        assert_eq!(
            QuietHours::parse(" 9:30 – 12:05 ").unwrap().text(),
            "09:30-12:05"
        );
        for bad in [
            "",
            "20:00",
            "25:00-08:00",
            "20:60-08:00",
            "eight-nine",
            "20:00-20:00",
        ] {
            assert!(QuietHours::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            QuietHours::parse("soon").unwrap_err(),
            "Quiet hours are two times of day, like 20:00-08:00 (you entered \"soon\")."
        );
        assert_eq!(
            QuietHours {
                from_min: 2000,
                to_min: 1
            }
            .valid(),
            None
        );
    }

    #[test]
    fn the_window_wraps_midnight_and_ends_at_the_next_end() {
        let zone = TimeZone::fixed(jiff::tz::offset(1));
        // 2023-12-20 in UTC+1: 19:59, 20:00, 03:00 (next day), 08:00.
        let at = |h: u64, m: u64| 1_703_026_800_000 + (h * 60 + m) * 60_000;
        let night = QuietHours::parse("20:00-08:00").unwrap();
        assert!(!night.is_quiet(at(19, 59), &zone));
        assert!(night.is_quiet(at(20, 0), &zone));
        assert!(night.is_quiet(at(27, 0), &zone));
        assert!(!night.is_quiet(at(32, 0), &zone));
        assert_eq!(night.next_end_ms(at(20, 0), &zone), at(32, 0));
        assert_eq!(night.next_end_ms(at(27, 0), &zone), at(32, 0));
        let lunch = QuietHours::parse("12:00-13:00").unwrap();
        assert!(lunch.is_quiet(at(12, 30), &zone) && !lunch.is_quiet(at(13, 0), &zone));
        assert_eq!(lunch.next_end_ms(at(12, 30), &zone), at(13, 0));
    }

    #[test]
    fn held_notifications_become_one_summary() {
        let said = |title: &str, urgent| NotificationContent {
            title: title.into(),
            body: String::new(),
            urgent,
        };
        let mut held = Held::default();
        assert_eq!(held.summary(), None);
        for i in 0..6 {
            held.hold(&said(&format!("Batch b{i} completed"), false), true);
        }
        held.hold(
            &said("Batch x has made no progress for 15 min", true),
            false,
        );
        let summary = held.summary().unwrap();
        assert_eq!(summary.title, "While quiet: 6 batches finished, 1 alert");
        assert_eq!(
            summary.body,
            "Batch b0 completed; Batch b1 completed; Batch b2 completed; Batch b3 completed; Batch b4 completed; and 2 more"
        );
        assert!(summary.urgent);
    }
}
