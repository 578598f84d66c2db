//! What one batch may say: each card's (and `batchwatch-cli add --notify`'s) choice of when
//! its notifications are shown. It silences notifications only — hooks are for machines and
//! run on every event whatever a batch's choice.

use serde::{Deserialize, Serialize};

use crate::events::EventKind;
use crate::model::{BatchProgress, BatchStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyChoice {
    /// Every notification of the batch (the default).
    #[default]
    Always,
    /// Its finish only when calls failed (or the batch did); its alerts as usual.
    Failures,
    /// None at all: a test batch.
    Never,
}

impl NotifyChoice {
    pub const ALL: [Self; 3] = [Self::Always, Self::Failures, Self::Never];

    pub fn name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Failures => "failures",
            Self::Never => "never",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether a notification of `event` about the batch as of `progress` may be shown.
    pub fn allows(self, event: EventKind, progress: &BatchProgress) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Failures => {
                event != EventKind::Finished
                    || progress.failed > 0
                    || progress.status == BatchStatus::Failed
            }
        }
    }

    /// Stored as NULL when it is the default, so rows of earlier versions read as they were.
    pub fn stored(self) -> Option<&'static str> {
        (self != Self::Always).then(|| self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(status: BatchStatus, failed: u64) -> BatchProgress {
        BatchProgress {
            status,
            is_complete: true,
            waiting: 0,
            active: 0,
            completed: 10,
            failed,
            total: 10 + failed,
            start_time: None,
            last_completed_time: None,
            completed_time: None,
            average_call_duration: None,
            recent_calls: vec![],
        }
    }

    #[test]
    fn choice_grid() {
        use EventKind::*;
        use NotifyChoice::*;
        let clean = finished(BatchStatus::Completed, 0);
        let some_failed = finished(BatchStatus::Completed, 3);
        let failed = finished(BatchStatus::Failed, 0);
        let cases = [
            (Always, Finished, &clean, true),
            (Always, Stalled, &clean, true),
            (Failures, Finished, &clean, false),
            (Failures, Finished, &some_failed, true),
            (Failures, Finished, &failed, true),
            (Failures, Stalled, &clean, true),
            (Failures, FailureRate, &clean, true),
            (Never, Finished, &some_failed, false),
            (Never, Stalled, &clean, false),
            (Never, FailureRate, &clean, false),
        ];
        for (choice, event, progress, shown) in cases {
            assert_eq!(
                choice.allows(event, progress),
                shown,
                "{choice:?} {event:?}"
            );
        }
        for choice in NotifyChoice::ALL {
            assert_eq!(NotifyChoice::from_name(choice.name()), Some(choice));
        }
        assert_eq!(Always.stored(), None);
        assert_eq!(Never.stored(), Some("never"));
    }
}
