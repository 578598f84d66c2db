//! How a run ends when it does not simply succeed: the [`Failure`] kinds and their exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; with `watch --until-done`, every batch completed |
//! | 1 | `watch --until-done`: a batch failed or was cancelled; `cancel`: Trillet refused (the batch had already finished); `start`, `retry`: Trillet refused the batch (its words are shown) |
//! | 2 | usage or configuration: bad ID, no credentials, insecure API base, keychain unusable; `start`, `retry`: a file or agent refused before sending, no confirmation, the same start within 10 minutes — nothing was sent |
//! | 3 | Trillet rejected the credentials (401/403) |
//! | 4 | a batch is unknown to Trillet (404) |
//! | 5 | `status`, `failed`, `cancel`, `agents`: Trillet could not be reached or answered badly (worth retrying later); `start`, `retry`: not started (Trillet unreachable, a redirect, a rate limit longer than a minute) |
//! | 6 | `start`, `retry`: **the outcome is unknown** — Trillet may have started the batch (no answer, a dropped connection, a 5xx, an answer that could not be read). Do not simply run it again: check the dashboard |
//! | 130 | `watch` was interrupted with Ctrl-C before every batch finished |
//!
//! Without `--until-done`, a watch that sees every batch finish exits 0 whatever the outcome:
//! it did what was asked (show them until the end). `--until-done` is the scripting form whose
//! code is the outcome. An unknown batch (4) and rejected credentials (3) count in both forms.
//!
//! Messages are plain sentences: `main` prints them as one `batchwatch-cli: …` line.

use batchwatch_core::{format, ApiError, BatchStatus};

use crate::watch::{Ending, Final};

/// A run that ends with a non-zero exit code, and the line to print for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Unsuccessful(String),
    #[error("{0}")]
    Usage(String),
    /// No workspace could be picked (several stored and none named, or one not stored): a
    /// usage error no other source may paper over.
    #[error("{0}")]
    Workspace(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    UnknownBatch(String),
    #[error("{0}")]
    Unreachable(String),
    /// A start whose outcome is unknown: the batch may have started.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Ctrl-C: the person chose to stop; nothing more needs saying.
    #[error("interrupted")]
    Interrupted,
}

impl Failure {
    /// The failure of a one-shot request (`status`, `failed`, `cancel`).
    pub fn from_api(error: ApiError) -> Self {
        let text = error.to_string();
        match error {
            ApiError::Unauthorized { .. } => Self::Rejected(text),
            ApiError::NotFound { .. } => Self::UnknownBatch(text),
            ApiError::Refused { .. } => Self::Unsuccessful(text),
            ApiError::RateLimited { retry_after, .. } => {
                let now = batchwatch_core::monitor::wall_clock_ms();
                let wait = retry_after.unwrap_or(crate::patience::RATE_LIMIT_FALLBACK);
                let again = now.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                Self::Unreachable(format!(
                    "rate-limited by Trillet; try again after {}",
                    format::local_moment(again, now)
                ))
            }
            _ => Self::Unreachable(text),
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            Self::Unsuccessful(_) => 1,
            Self::Usage(_) | Self::Workspace(_) => 2,
            Self::Rejected(_) => 3,
            Self::UnknownBatch(_) => 4,
            Self::Unreachable(_) => 5,
            Self::OutcomeUnknown(_) => 6,
            // 128 + SIGINT, as a shell reports a program stopped by Ctrl-C: never 0, so a
            // script cannot mistake an interrupted watch for a finished one.
            Self::Interrupted => 130,
        }
    }

    /// The line to print on stderr, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            Self::Interrupted => None,
            other => Some(other.to_string()),
        }
    }
}

/// The exit of a `watch` that ended as `ending`.
pub fn from_watch(ending: Ending, until_done: bool) -> Result<(), Failure> {
    let ends = match ending {
        Ending::Rejected(error) => return Err(Failure::Rejected(error.to_string())),
        Ending::Stopped => return Err(Failure::Interrupted),
        Ending::AllFinished(ends) => ends,
    };
    let unknown: Vec<&str> = ends
        .iter()
        .filter(|(_, end)| *end == Final::NotFound)
        .map(|(id, _)| id.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::UnknownBatch(format!(
            "Trillet has no batch with this ID in this workspace: {}",
            unknown.join(", ")
        )));
    }
    let unsuccessful: Vec<String> = ends
        .iter()
        .filter_map(|(id, end)| match end {
            Final::Ended(p) if p.status == BatchStatus::Failed => Some(format!("{id} failed")),
            Final::Ended(p) if p.status == BatchStatus::Cancelled => {
                Some(format!("{id} was cancelled"))
            }
            _ => None,
        })
        .collect();
    if until_done && !unsuccessful.is_empty() {
        return Err(Failure::Unsuccessful(unsuccessful.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::{ApiError, BatchId, BatchProgress};

    fn ended(id: &str, status: &str) -> (BatchId, Final) {
        let progress: BatchProgress = serde_json::from_value(serde_json::json!({
            "status": status, "isComplete": true,
        }))
        .unwrap();
        (BatchId::parse(id).unwrap(), Final::Ended(progress))
    }

    #[test]
    fn watch_endings_table() {
        let all = |ends: Vec<(BatchId, Final)>| Ending::AllFinished(ends);
        let rejected = Ending::Rejected(ApiError::Unauthorized {
            status: 401,
            message: "Invalid API key".into(),
        });
        let gone = (BatchId::parse("gone").unwrap(), Final::NotFound);
        let cases: Vec<(Ending, bool, Option<u8>, &str)> = vec![
            (
                all(vec![ended("a", "completed"), ended("b", "completed")]),
                true,
                None,
                "",
            ),
            (
                all(vec![ended("a", "completed"), ended("b", "failed")]),
                true,
                Some(1),
                "b failed",
            ),
            (
                all(vec![ended("c", "cancelled")]),
                true,
                Some(1),
                "c was cancelled",
            ),
            (all(vec![ended("b", "failed")]), false, None, ""),
            (
                all(vec![ended("a", "failed"), gone.clone()]),
                true,
                Some(4),
                "gone",
            ),
            (all(vec![gone]), false, Some(4), "gone"),
            (rejected.clone(), true, Some(3), "Invalid API key"),
            (rejected, false, Some(3), "rejected"),
            (Ending::Stopped, true, Some(130), ""),
            (Ending::Stopped, false, Some(130), ""),
        ];
        for (ending, until_done, code, text) in cases {
            let label = format!("{ending:?} until_done={until_done}");
            let result = from_watch(ending, until_done);
            assert_eq!(result.as_ref().err().map(Failure::code), code, "{label}");
            if let Err(failure) = result {
                assert!(failure.to_string().contains(text), "{label}: {failure}");
            }
        }
    }

    #[test]
    fn each_kind_has_its_documented_code() {
        let table = [
            (Failure::Unsuccessful(String::new()), 1),
            (Failure::Usage(String::new()), 2),
            (Failure::Rejected(String::new()), 3),
            (Failure::UnknownBatch(String::new()), 4),
            (Failure::Unreachable(String::new()), 5),
            (Failure::OutcomeUnknown(String::new()), 6),
            (Failure::Interrupted, 130),
        ];
        for (failure, code) in table {
            assert_eq!(failure.code(), code, "{failure:?}");
        }
        assert_eq!(Failure::Interrupted.message(), None);
        assert_eq!(
            Failure::Usage("no batch ID given".into())
                .message()
                .as_deref(),
            Some("no batch ID given")
        );
    }
}
