//! What a start sends (`POST /v1/api/batch-calls`, multipart) and how one that gave no batch
//! ended: [`StartForm`] with its [`CsvSource`] and [`SmartCallbacks`], and [`StartFailure`] —
//! not started, or an outcome that is not known (the batch may have started).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ApiError;

/// What a start sends: the CSV, the agent, and optionally when and with which callbacks.
#[derive(Debug, Clone)]
pub struct StartForm {
    pub file: CsvSource,
    pub agent_id: String,
    /// When the batch starts (epoch ms); `None`: at once.
    pub scheduled_at_ms: Option<u64>,
    pub callbacks: Option<SmartCallbacks>,
}

/// Where the CSV comes from: a file the person chose (streamed from disk as it is sent), or
/// one Batchwatch made (a retry list) under the name it is sent with.
#[derive(Debug, Clone)]
pub enum CsvSource {
    File(PathBuf),
    Bytes { name: String, bytes: Vec<u8> },
}

impl CsvSource {
    /// The file name Trillet is told.
    pub fn file_name(&self) -> String {
        match self {
            Self::File(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "batch.csv".to_owned()),
            Self::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Trillet's smart callbacks: call a number again that did not answer, up to `max_attempts`
/// times, after these gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmartCallbacks {
    pub max_attempts: u32,
    pub gaps: Vec<Gap>,
}

/// The most callback attempts Batchwatch asks for.
pub const MAX_CALLBACK_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub days: u32,
    pub hours: u32,
}

impl Gap {
    /// `1d2h`, `2d`, `4h` (at most 30 days), or why not.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = || format!("{text:?} is not a gap between calls: write it as 1d2h, 2d or 4h");
        let text = text.trim();
        let (days, rest) = match text.split_once('d') {
            Some((d, rest)) => (d.parse::<u32>().map_err(|_| refuse())?, rest),
            None => (0, text),
        };
        let hours = match rest.strip_suffix('h') {
            Some(h) => h.parse::<u32>().map_err(|_| refuse())?,
            None if rest.is_empty() && text.contains('d') => 0,
            None => return Err(refuse()),
        };
        if days == 0 && hours == 0 {
            return Err(format!("{text:?} is no gap at all: give at least 1h"));
        }
        if days * 24 + hours > 30 * 24 {
            return Err(format!("{text:?} is longer than 30 days"));
        }
        Ok(Self { days, hours })
    }
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.days, self.hours) {
            (0, h) => write!(f, "{h} h"),
            (d, 0) => write!(f, "{d} d"),
            (d, h) => write!(f, "{d} d {h} h"),
        }
    }
}

impl SmartCallbacks {
    /// `attempts` with `gaps`: none means 4 hours before each, one is used before each, else
    /// one gap per attempt.
    pub fn new(attempts: u32, gaps: Vec<Gap>) -> Result<Self, String> {
        if !(1..=MAX_CALLBACK_ATTEMPTS).contains(&attempts) {
            return Err(format!(
                "callbacks: give 1 to {MAX_CALLBACK_ATTEMPTS} attempts, not {attempts}"
            ));
        }
        let gaps = match gaps.len() {
            0 => vec![Gap { days: 0, hours: 4 }; attempts as usize],
            1 => vec![gaps[0]; attempts as usize],
            n if n == attempts as usize => gaps,
            n => {
                return Err(format!(
                    "callbacks: {attempts} attempts take one gap or {attempts} gaps, not {n}"
                ))
            }
        };
        Ok(Self {
            max_attempts: attempts,
            gaps,
        })
    }

    /// The documented JSON string: `{"enabled":true,"maxAttempts":n,"gaps":[{"days":d,"hours":h}]}`.
    pub fn to_form_value(&self) -> String {
        serde_json::json!({
            "enabled": true,
            "maxAttempts": self.max_attempts,
            "gaps": self.gaps,
        })
        .to_string()
    }

    /// "2 callbacks, 4 h apart" / "2 callbacks after 4 h, then 1 d".
    pub fn describe(&self) -> String {
        let attempts = crate::format::count(u64::from(self.max_attempts), "callback", "callbacks");
        let first = self.gaps[0];
        if self.gaps.iter().all(|g| *g == first) {
            return format!("{attempts}, {first} apart");
        }
        let gaps: Vec<String> = self.gaps.iter().map(Gap::to_string).collect();
        format!("{attempts} after {}", gaps.join(", then "))
    }
}

/// A moment as `scheduledAt` spells it: UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn scheduled_at_text(epoch_ms: u64) -> String {
    let at = i64::try_from(epoch_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A start that did not give a batch ID.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartFailure {
    /// Trillet said no (or the request never left): nothing started. A 429 may be sent again
    /// after its wait; anything else once its cause is fixed.
    #[error("{0}")]
    NotStarted(ApiError),
    /// Trillet may have started the batch. Never sent again on its own.
    #[error("{}", unknown_sentence(.0))]
    Unknown(ApiError),
}

fn unknown_sentence(error: &ApiError) -> String {
    let what = match error {
        ApiError::Timeout(_) | ApiError::Network(_) => "Trillet did not answer".to_owned(),
        ApiError::Server { status, message } => {
            format!("Trillet answered with a server error ({status}: {message})")
        }
        other => format!("Trillet's answer could not be read ({other})"),
    };
    format!("{what}; the batch may have started. Check the dashboard before starting it again.")
}

impl StartFailure {
    pub fn error(&self) -> &ApiError {
        match self {
            Self::NotStarted(e) | Self::Unknown(e) => e,
        }
    }

    /// `unknown_outcome`, or the error's own code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotStarted(e) => e.code(),
            Self::Unknown(_) => "unknown_outcome",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_callbacks() {
        assert_eq!(Gap::parse("1d2h"), Ok(Gap { days: 1, hours: 2 }));
        assert_eq!(Gap::parse("2d"), Ok(Gap { days: 2, hours: 0 }));
        assert_eq!(Gap::parse("4h"), Ok(Gap { days: 0, hours: 4 }));
        for bad in ["", "0h", "4", "h", "1x", "31d", "-1h"] {
            assert!(Gap::parse(bad).is_err(), "{bad}");
        }
        let two = SmartCallbacks::new(2, vec![]).unwrap();
        assert_eq!(
            two.to_form_value(),
            r#"{"enabled":true,"maxAttempts":2,"gaps":[{"days":0,"hours":4},{"days":0,"hours":4}]}"#
        );
        assert_eq!(two.describe(), "2 callbacks, 4 h apart");
        let mixed = SmartCallbacks::new(
            2,
            vec![Gap::parse("4h").unwrap(), Gap::parse("1d").unwrap()],
        )
        .unwrap();
        assert_eq!(mixed.describe(), "2 callbacks after 4 h, then 1 d");
        assert!(SmartCallbacks::new(0, vec![]).is_err());
        assert!(SmartCallbacks::new(11, vec![]).is_err());
        assert!(SmartCallbacks::new(3, vec![Gap::parse("1h").unwrap(); 2]).is_err());
    }

    #[test]
    fn an_unknown_outcome_says_the_batch_may_have_started() {
        let unknown = StartFailure::Unknown(ApiError::Timeout(std::time::Duration::from_secs(20)));
        assert_eq!(
            unknown.to_string(),
            "Trillet did not answer; the batch may have started. Check the dashboard before starting it again."
        );
        assert_eq!(unknown.code(), "unknown_outcome");
    }
}
