//! What the user chose — how often to poll, and when to be told — with the rules the settings
//! panel checks before anything is stored. Kept in the state file beside the batches.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::schedule::{PollPolicy, TRILLET_LIMIT_PER_MINUTE};

/// The user's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub poll: PollPolicy,
    /// Desktop notifications at all.
    pub notifications: bool,
    /// Notifications are held until this moment (epoch ms): "pause for 1 hour". Kept across a
    /// restart, so quitting and starting again inside the hour does not resume them.
    pub notifications_paused_until_ms: Option<u64>,
    /// Also notify (once per batch) when a running batch's failure rate reaches this percent.
    /// Off by default: a campaign's normal failure rate is the user's to know.
    pub failure_alert_percent: Option<u8>,
    /// Notify (once per stall) when a running batch's ended calls have not moved for this many
    /// minutes of answers while calls still wait or run; 0 turns it off.
    pub stall_minutes: u16,
    /// Notifications ask for a sound (the desktop's sound theme plays it, where it has one).
    pub sounds: bool,
    /// A daily window when notifications wait, to arrive as one summary when it ends.
    pub quiet_hours: Option<crate::quiet::QuietHours>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll: PollPolicy::default(),
            notifications: true,
            notifications_paused_until_ms: None,
            failure_alert_percent: None,
            stall_minutes: DEFAULT_STALL_MINUTES,
            sounds: true,
            quiet_hours: None,
        }
    }
}

/// A quarter of an hour without a call ending, while calls wait: worth a look.
pub const DEFAULT_STALL_MINUTES: u16 = 15;

/// How long "Pause notifications" holds them.
pub const PAUSE_FOR: Duration = Duration::from_secs(60 * 60);

/// The interval floor a person may choose, in seconds.
pub const FLOOR_SECS: RangeInclusive<u64> = 5..=600;
/// The requests per minute a person may give Batchwatch: Trillet allows 60, and a few stay free
/// for the user's own clicks.
pub const BUDGET: RangeInclusive<u32> = 1..=(TRILLET_LIMIT_PER_MINUTE - 5);
/// The failure-rate threshold, in percent.
pub const FAILURE_ALERT_PERCENT: RangeInclusive<u8> = 1..=100;
/// The stall alert's minutes; 0 is off.
pub const STALL_MINUTES: RangeInclusive<u16> = 0..=240;

impl Settings {
    /// Whether a pause is in force at `now_ms`.
    pub fn paused_at(&self, now_ms: u64) -> bool {
        self.notifications_paused_until_ms
            .is_some_and(|until| now_ms < until)
    }

    /// How long a batch may make no progress before it is stalled, in ms (0: never): the stall
    /// minutes, a minute being the budget's window (always a minute, but where the start-up
    /// test hooks compress it, as they do the plot's minute).
    pub fn stall_after_ms(&self) -> u64 {
        let minute_ms = u64::try_from(self.poll.window.as_millis()).unwrap_or(u64::MAX);
        u64::from(self.stall_minutes).saturating_mul(minute_ms)
    }

    /// Whether a notification may be shown at `now_ms`.
    pub fn notify_at(&self, now_ms: u64) -> bool {
        self.notifications && !self.paused_at(now_ms)
    }

    /// Settings read back from the state file, held to the ranges the panel allows: a file
    /// edited by hand (or by anything else) cannot make Batchwatch poll faster than a person
    /// could choose. A value out of range takes its default; the budget's window is not a
    /// person's choice (only the start-up test hooks compress it), so it is always the minute.
    pub fn within_ranges(self) -> Self {
        let default = PollPolicy::default();
        let floor_secs = self.poll.floor.as_secs();
        let floor = if FLOOR_SECS.contains(&floor_secs) && self.poll.floor.subsec_nanos() == 0 {
            self.poll.floor
        } else {
            default.floor
        };
        let budget = if BUDGET.contains(&self.poll.budget) {
            self.poll.budget
        } else {
            default.budget
        };
        let longest_backoff = default.backoff_cap.max(floor);
        Self {
            poll: PollPolicy {
                budget,
                window: default.window,
                floor,
                backoff_cap: self.poll.backoff_cap.clamp(floor, longest_backoff),
            },
            failure_alert_percent: self
                .failure_alert_percent
                .filter(|p| FAILURE_ALERT_PERCENT.contains(p)),
            stall_minutes: if STALL_MINUTES.contains(&self.stall_minutes) {
                self.stall_minutes
            } else {
                DEFAULT_STALL_MINUTES
            },
            quiet_hours: self.quiet_hours.and_then(crate::quiet::QuietHours::valid),
            ..self
        }
    }

    /// The same settings, paused for [`PAUSE_FOR`] from `now_ms` (or resumed).
    pub fn with_pause(mut self, paused: bool, now_ms: u64) -> Self {
        self.notifications_paused_until_ms =
            paused.then(|| now_ms.saturating_add(PAUSE_FOR.as_millis() as u64));
        self
    }
}

/// The panel's editable fields, as the window sends them. Wide signed numbers, so whatever a
/// person types (negative, huge) arrives and is refused in words by [`SettingsForm::validate`]
/// rather than failing to parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsForm {
    pub floor_secs: i64,
    pub budget: i64,
    pub notifications: bool,
    pub failure_alert_percent: Option<i64>,
    /// (A form without it, from a window of the version before, keeps the default.)
    #[serde(default = "default_stall_minutes")]
    pub stall_minutes: i64,
    #[serde(default = "yes")]
    pub sounds: bool,
    /// "20:00-08:00", or none for off.
    #[serde(default)]
    pub quiet_hours: Option<String>,
}

fn default_stall_minutes() -> i64 {
    DEFAULT_STALL_MINUTES.into()
}

fn yes() -> bool {
    true
}

/// A field out of its range, said so the person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("Poll no more often than every {min}–{max} s (you entered {0} s).", min = FLOOR_SECS.start(), max = FLOOR_SECS.end())]
    Floor(i64),
    #[error("The request budget must be {min}–{max} requests a minute (you entered {0}); Trillet allows {TRILLET_LIMIT_PER_MINUTE}.", min = BUDGET.start(), max = BUDGET.end())]
    Budget(i64),
    #[error("The failure-rate threshold must be {min}–{max} % (you entered {0} %).", min = FAILURE_ALERT_PERCENT.start(), max = FAILURE_ALERT_PERCENT.end())]
    FailureAlert(i64),
    #[error("The stall alert must be {min}–{max} minutes, 0 for off (you entered {0}).", min = STALL_MINUTES.start(), max = STALL_MINUTES.end())]
    Stall(i64),
    #[error("{0}")]
    QuietHours(String),
}

impl SettingsForm {
    /// The form as it stands in `settings`.
    pub fn of(settings: &Settings) -> Self {
        Self {
            floor_secs: settings.poll.floor.as_secs_f64().round() as i64,
            budget: i64::from(settings.poll.budget),
            notifications: settings.notifications,
            failure_alert_percent: settings.failure_alert_percent.map(i64::from),
            stall_minutes: settings.stall_minutes.into(),
            sounds: settings.sounds,
            quiet_hours: settings.quiet_hours.map(|q| q.text()),
        }
    }

    /// The form's values in range, or which one is not.
    pub fn validate(self) -> Result<ValidSettingsForm, SettingsError> {
        let within = |value: i64, min: u64, max: u64| {
            u64::try_from(value)
                .ok()
                .filter(|v| (min..=max).contains(v))
        };
        let floor = within(self.floor_secs, *FLOOR_SECS.start(), *FLOOR_SECS.end())
            .ok_or(SettingsError::Floor(self.floor_secs))?;
        let budget = within(
            self.budget,
            (*BUDGET.start()).into(),
            (*BUDGET.end()).into(),
        )
        .ok_or(SettingsError::Budget(self.budget))?;
        let failure_alert_percent = match self.failure_alert_percent {
            None => None,
            Some(p) => Some(
                within(
                    p,
                    (*FAILURE_ALERT_PERCENT.start()).into(),
                    (*FAILURE_ALERT_PERCENT.end()).into(),
                )
                .ok_or(SettingsError::FailureAlert(p))?,
            ),
        };
        let stall_minutes = within(
            self.stall_minutes,
            (*STALL_MINUTES.start()).into(),
            (*STALL_MINUTES.end()).into(),
        )
        .ok_or(SettingsError::Stall(self.stall_minutes))?;
        // In range, so these conversions cannot fail.
        Ok(ValidSettingsForm {
            floor: Duration::from_secs(floor),
            budget: budget as u32,
            notifications: self.notifications,
            failure_alert_percent: failure_alert_percent.map(|p| p as u8),
            stall_minutes: stall_minutes as u16,
            sounds: self.sounds,
            quiet_hours: self
                .quiet_hours
                .as_deref()
                .map(crate::quiet::QuietHours::parse)
                .transpose()
                .map_err(SettingsError::QuietHours)?,
        })
    }
}

/// A [`SettingsForm`] whose values are all in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidSettingsForm {
    floor: Duration,
    budget: u32,
    notifications: bool,
    failure_alert_percent: Option<u8>,
    stall_minutes: u16,
    sounds: bool,
    quiet_hours: Option<crate::quiet::QuietHours>,
}

impl ValidSettingsForm {
    /// `settings` with this form's fields; the rest (the budget's window, the pause) is kept.
    pub fn applied_to(self, mut settings: Settings) -> Settings {
        settings.poll.floor = self.floor;
        settings.poll.budget = self.budget;
        settings.poll.backoff_cap = settings.poll.backoff_cap.max(settings.poll.floor);
        settings.notifications = self.notifications;
        settings.failure_alert_percent = self.failure_alert_percent;
        settings.stall_minutes = self.stall_minutes;
        settings.sounds = self.sounds;
        settings.quiet_hours = self.quiet_hours;
        settings
    }

    /// What this form would mean with `batches` batches polled: "With 12 batches, each updates
    /// every 15 s." Shown live as the person types.
    pub fn consequence(self, current: &Settings, batches: usize) -> String {
        self.applied_to(*current).poll.consequence(batches)
    }
}

/// The settings as the panel shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    #[serde(flatten)]
    pub form: SettingsForm,
    /// Only while a pause is in force.
    pub notifications_paused_until_ms: Option<u64>,
    /// "With 12 batches, each updates every 15 s."
    pub consequence: String,
}

/// What the panel shows at `now_ms`, with `batches` batches still polled.
pub fn settings_view(settings: &Settings, now_ms: u64, batches: usize) -> SettingsView {
    SettingsView {
        form: SettingsForm::of(settings),
        notifications_paused_until_ms: settings
            .notifications_paused_until_ms
            .filter(|_| settings.paused_at(now_ms)),
        consequence: settings.poll.consequence(batches),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SettingsForm {
        SettingsForm::of(&Settings::default())
    }

    #[test]
    fn stored_settings_are_held_to_the_panels_ranges() {
        let ok = Settings {
            poll: PollPolicy {
                budget: 30,
                floor: Duration::from_secs(60),
                ..PollPolicy::default()
            },
            failure_alert_percent: Some(40),
            ..Settings::default()
        };
        assert_eq!(ok.within_ranges(), ok, "in range: kept as stored");

        let hostile = Settings {
            poll: PollPolicy {
                budget: 55_000,
                window: Duration::from_millis(10),
                floor: Duration::from_millis(10),
                backoff_cap: Duration::from_secs(86_400 * 365),
            },
            notifications: false,
            notifications_paused_until_ms: Some(5),
            failure_alert_percent: Some(0),
            stall_minutes: 241,
            sounds: false,
            quiet_hours: Some(crate::quiet::QuietHours {
                from_min: 9999,
                to_min: 1,
            }),
        };
        let held = hostile.within_ranges();
        assert_eq!(held.poll, PollPolicy::default());
        assert_eq!(held.failure_alert_percent, None);
        assert_eq!(held.stall_minutes, DEFAULT_STALL_MINUTES);
        assert_eq!(held.quiet_hours, None, "an impossible window is no window");
        assert!(
            !held.notifications,
            "choices that cannot be out of range are kept"
        );
        assert_eq!(held.notifications_paused_until_ms, Some(5));
    }

    #[test]
    fn the_form_checks_each_range() {
        assert!(form().validate().is_ok());
        let cases = [
            (
                SettingsForm {
                    floor_secs: 4,
                    ..form()
                },
                SettingsError::Floor(4),
            ),
            (
                SettingsForm {
                    floor_secs: 601,
                    ..form()
                },
                SettingsError::Floor(601),
            ),
            (
                SettingsForm {
                    budget: 0,
                    ..form()
                },
                SettingsError::Budget(0),
            ),
            (
                SettingsForm {
                    budget: 56,
                    ..form()
                },
                SettingsError::Budget(56),
            ),
            (
                SettingsForm {
                    failure_alert_percent: Some(0),
                    ..form()
                },
                SettingsError::FailureAlert(0),
            ),
            (
                SettingsForm {
                    failure_alert_percent: Some(101),
                    ..form()
                },
                SettingsError::FailureAlert(101),
            ),
            (
                SettingsForm {
                    failure_alert_percent: Some(256),
                    ..form()
                },
                SettingsError::FailureAlert(256),
            ),
            (
                SettingsForm {
                    floor_secs: -15,
                    ..form()
                },
                SettingsError::Floor(-15),
            ),
            (
                SettingsForm {
                    budget: i64::MAX,
                    ..form()
                },
                SettingsError::Budget(i64::MAX),
            ),
            (
                SettingsForm {
                    stall_minutes: 241,
                    ..form()
                },
                SettingsError::Stall(241),
            ),
            (
                SettingsForm {
                    stall_minutes: -1,
                    ..form()
                },
                SettingsError::Stall(-1),
            ),
        ];
        for (form, error) in cases {
            assert_eq!(form.validate(), Err(error));
        }
        let off = SettingsForm {
            stall_minutes: 0,
            ..form()
        };
        assert_eq!(
            off.validate()
                .unwrap()
                .applied_to(Settings::default())
                .stall_minutes,
            0,
            "0 turns the stall alert off"
        );
        let from_before: SettingsForm = serde_json::from_value(serde_json::json!(
            {"floorSecs": 15, "budget": 50, "notifications": true, "failureAlertPercent": null}
        ))
        .unwrap();
        assert_eq!(
            from_before.stall_minutes, 15,
            "a form without it keeps the default"
        );
        assert_eq!(
            SettingsError::Budget(56).to_string(),
            "The request budget must be 1–55 requests a minute (you entered 56); Trillet allows 60."
        );
    }

    #[test]
    fn applying_keeps_the_window_and_the_pause() {
        let before = Settings::default().with_pause(true, 1_000);
        let after = SettingsForm {
            floor_secs: 30,
            budget: 20,
            notifications: false,
            failure_alert_percent: Some(25),
            stall_minutes: 30,
            sounds: false,
            quiet_hours: Some("22:00-07:30".into()),
        }
        .validate()
        .unwrap()
        .applied_to(before);
        assert_eq!(after.poll.floor, Duration::from_secs(30));
        assert_eq!(after.poll.budget, 20);
        assert!(!after.sounds);
        assert_eq!(after.quiet_hours.unwrap().text(), "22:00-07:30");
        assert_eq!(after.poll.window, before.poll.window);
        assert_eq!(after.notifications_paused_until_ms, Some(3_601_000));
        assert_eq!(after.failure_alert_percent, Some(25));
        assert!(!after.notifications);
    }

    #[test]
    fn the_consequence_follows_the_form() {
        let slow = SettingsForm {
            budget: 4,
            ..form()
        };
        // 12 batches sharing 4 requests a minute: each every 3 minutes.
        assert_eq!(
            slow.validate()
                .unwrap()
                .consequence(&Settings::default(), 12),
            "With 12 batches, each updates every 3 min."
        );
        assert_eq!(
            form()
                .validate()
                .unwrap()
                .consequence(&Settings::default(), 12),
            "With 12 batches, each updates every 15 s."
        );
    }

    #[test]
    fn a_pause_lasts_an_hour_and_then_ends() {
        let paused = Settings::default().with_pause(true, 10_000);
        assert!(!paused.notify_at(10_000 + PAUSE_FOR.as_millis() as u64 - 1));
        assert!(paused.notify_at(10_000 + PAUSE_FOR.as_millis() as u64));
        assert!(paused.with_pause(false, 20_000).notify_at(20_000));
        let off = Settings {
            notifications: false,
            ..Settings::default()
        };
        assert!(!off.notify_at(0));

        let view = settings_view(&paused, 10_001, 0);
        assert_eq!(view.notifications_paused_until_ms, Some(3_610_000));
        let later = settings_view(&paused, 3_610_000, 0);
        assert_eq!(
            later.notifications_paused_until_ms, None,
            "an ended pause is not shown"
        );
    }
}
