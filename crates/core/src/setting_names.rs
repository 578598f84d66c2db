//! The settings panel's fields by the names the terminal uses (`batchwatch-cli settings set
//! stall-minutes 20`): each name's value as the panel holds it, its range in words, and a
//! value typed for it put into a [`SettingsForm`] — whose own checks then say what is out of
//! range, in the same words the panel shows.

use crate::settings::{SettingsForm, BUDGET, FAILURE_ALERT_PERCENT, FLOOR_SECS, STALL_MINUTES};

/// One setting as the terminal lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Named {
    pub name: &'static str,
    pub value: String,
    /// The values it takes, in words: "5–600 (seconds)", "on or off".
    pub range: String,
    /// What it does, as the panel says it.
    pub about: &'static str,
}

/// Every name, in the panel's order.
pub const NAMES: [&str; 7] = [
    "poll-every",
    "requests-per-minute",
    "notifications",
    "failure-alert",
    "stall-minutes",
    "sounds",
    "quiet-hours",
];

/// The form's settings by name.
pub fn list(form: &SettingsForm) -> Vec<Named> {
    let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
    let range = |r: std::ops::RangeInclusive<u64>, unit: &str| {
        format!("{}–{} ({unit})", r.start(), r.end())
    };
    vec![
        Named {
            name: "poll-every",
            value: form.floor_secs.to_string(),
            range: range(*FLOOR_SECS.start()..=*FLOOR_SECS.end(), "seconds"),
            about: "Poll each batch at most this often.",
        },
        Named {
            name: "requests-per-minute",
            value: form.budget.to_string(),
            range: range(
                u64::from(*BUDGET.start())..=u64::from(*BUDGET.end()),
                "of Trillet's 60",
            ),
            about: "Requests a minute for all batches together.",
        },
        Named {
            name: "notifications",
            value: on_off(form.notifications),
            range: "on or off".into(),
            about: "Notify when a batch finishes.",
        },
        Named {
            name: "failure-alert",
            value: form
                .failure_alert_percent
                .map_or_else(|| "off".to_owned(), |p| p.to_string()),
            range: format!(
                "{}–{} (percent), or off",
                FAILURE_ALERT_PERCENT.start(),
                FAILURE_ALERT_PERCENT.end()
            ),
            about: "Also notify when a running batch's failure rate reaches this.",
        },
        Named {
            name: "stall-minutes",
            value: form.stall_minutes.to_string(),
            range: format!(
                "{}–{} (minutes; 0 is off)",
                STALL_MINUTES.start(),
                STALL_MINUTES.end()
            ),
            about: "Also notify when a running batch makes no progress for this long.",
        },
        Named {
            name: "sounds",
            value: on_off(form.sounds),
            range: "on or off".into(),
            about: "Play a sound with notifications.",
        },
        Named {
            name: "quiet-hours",
            value: form.quiet_hours.clone().unwrap_or_else(|| "off".to_owned()),
            range: "HH:MM-HH:MM in local time, or off".into(),
            about: "Hold notifications then; one summary when it ends.",
        },
    ]
}

/// `form` with `name` set to `value` as typed. A value of the wrong kind (a word for a
/// number) or an unknown name is said here; a number out of range by the form's validation.
pub fn set(mut form: SettingsForm, name: &str, value: &str) -> Result<SettingsForm, String> {
    let value = value.trim();
    let number = |what: &str| {
        value
            .parse::<i64>()
            .map_err(|_| format!("{name} takes {what}, not \"{value}\""))
    };
    let switch = || match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{name} is on or off, not \"{value}\"")),
    };
    match name {
        "poll-every" => form.floor_secs = number("a number of seconds")?,
        "requests-per-minute" => form.budget = number("a number of requests")?,
        "notifications" => form.notifications = switch()?,
        "failure-alert" => {
            form.failure_alert_percent = if value.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(number("a percentage or off")?)
            }
        }
        "stall-minutes" => {
            form.stall_minutes = if value.eq_ignore_ascii_case("off") {
                0
            } else {
                number("a number of minutes or off")?
            }
        }
        "sounds" => form.sounds = switch()?,
        "quiet-hours" => {
            form.quiet_hours = (!value.eq_ignore_ascii_case("off")).then(|| value.to_owned())
        }
        _ => {
            return Err(format!(
                "there is no setting \"{name}\"; the settings are {}",
                NAMES.join(", ")
            ))
        }
    }
    form.clone().validate().map_err(|e| e.to_string())?;
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn every_name_is_listed_and_set_back_to_what_it_shows() {
        let form = SettingsForm::of(&Settings::default());
        let listed = list(&form);
        assert_eq!(listed.iter().map(|n| n.name).collect::<Vec<_>>(), NAMES);
        for named in &listed {
            assert_eq!(
                set(form.clone(), named.name, &named.value),
                Ok(form.clone()),
                "{}",
                named.name
            );
        }
        assert_eq!(listed[4].value, "15");
        assert_eq!(listed[4].range, "0–240 (minutes; 0 is off)");
    }

    #[test]
    fn values_are_read_as_typed_and_refused_in_words() {
        let form = SettingsForm::of(&Settings::default());
        let set_to = |name, value| set(form.clone(), name, value);
        assert_eq!(
            set_to("quiet-hours", "20:00-08:00")
                .unwrap()
                .quiet_hours
                .as_deref(),
            Some("20:00-08:00")
        );
        assert_eq!(set_to("quiet-hours", "off").unwrap().quiet_hours, None);
        assert!(set_to("quiet-hours", "late")
            .unwrap_err()
            .starts_with("Quiet hours are two times of day"));
        assert_eq!(set_to("stall-minutes", "30").unwrap().stall_minutes, 30);
        assert_eq!(set_to("stall-minutes", "off").unwrap().stall_minutes, 0);
        assert_eq!(
            set_to("failure-alert", "25").unwrap().failure_alert_percent,
            Some(25)
        );
        assert_eq!(
            set_to("failure-alert", "OFF")
                .unwrap()
                .failure_alert_percent,
            None
        );
        assert!(!set_to("sounds", "off").unwrap().sounds);
        assert!(!set_to("notifications", "no").unwrap().notifications);
        assert_eq!(
            set_to("stall-minutes", "241").unwrap_err(),
            "The stall alert must be 0–240 minutes, 0 for off (you entered 241)."
        );
        assert_eq!(
            set_to("requests-per-minute", "56").unwrap_err(),
            "The request budget must be 1–55 requests a minute (you entered 56); Trillet allows 60."
        );
        assert_eq!(
            set_to("poll-every", "soon").unwrap_err(),
            "poll-every takes a number of seconds, not \"soon\""
        );
        assert_eq!(
            set_to("sounds", "loud").unwrap_err(),
            "sounds is on or off, not \"loud\""
        );
        assert!(set_to("volume", "3")
            .unwrap_err()
            .starts_with("there is no setting \"volume\"; the settings are poll-every, "));
    }
}
