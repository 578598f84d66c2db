//! What happened to a batch between two snapshots, and what (if anything) to tell the user.
//!
//! Both are pure functions tested as grids: "previous, current → change" and "change → words".

use crate::batch_id::BatchId;
use crate::figures::figures;
use crate::format;
use crate::model::{BatchProgress, BatchStatus};

/// What a notification says. Built by the pure functions here, sent by a
/// [`Notifier`](crate::notifier::Notifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationContent {
    pub title: String,
    pub body: String,
    /// Failures and rejected credentials stay on screen until seen.
    pub urgent: bool,
}

/// The difference between the last known snapshot of a batch and a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// No earlier snapshot. A batch first seen already finished is this, never a completion.
    FirstSeen,
    /// It left the queue and began calling.
    Started,
    /// Counters moved.
    Progressed,
    /// It finished with status `completed` (or finished with a status this build doesn't know).
    Completed,
    /// It finished with status `failed`.
    Failed,
    /// It was cancelled.
    Cancelled,
    Unchanged,
}

impl Change {
    /// The batch's run ended with this change: worth exactly one notification.
    pub fn ends_run(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

fn has_started(p: &BatchProgress) -> bool {
    !matches!(p.status, BatchStatus::Queued)
        && (p.start_time.is_some()
            || p.active > 0
            || p.completed > 0
            || p.failed > 0
            || matches!(p.status, BatchStatus::Processing))
}

/// `(previous, current) → change`.
pub fn detect(previous: Option<&BatchProgress>, current: &BatchProgress) -> Change {
    let Some(previous) = previous else {
        return Change::FirstSeen;
    };
    if previous.has_ended() {
        return Change::Unchanged;
    }
    if current.has_ended() {
        return match current.status {
            BatchStatus::Failed => Change::Failed,
            BatchStatus::Cancelled => Change::Cancelled,
            _ => Change::Completed,
        };
    }
    if !has_started(previous) && has_started(current) {
        return Change::Started;
    }
    let counters = |p: &BatchProgress| (p.waiting, p.active, p.completed, p.failed, p.total);
    if counters(previous) != counters(current) || previous.status != current.status {
        Change::Progressed
    } else {
        Change::Unchanged
    }
}

/// The notification for a change, or `None` when a change is not worth interrupting anyone.
/// `now_ms` only matters for a snapshot that lacks `completedTime`.
pub fn notification_for(
    id: &BatchId,
    change: Change,
    current: &BatchProgress,
    now_ms: u64,
) -> Option<NotificationContent> {
    let f = figures(current, now_ms);
    let duration = f
        .elapsed
        .map(|d| format!(" in {}", format::duration(d)))
        .unwrap_or_default();
    let outcome = format!("{} completed, {} failed", current.completed, current.failed);
    let (title, body, urgent) = match change {
        Change::Completed => (
            format!("Batch {id} completed"),
            format!("{outcome}{duration}"),
            false,
        ),
        Change::Failed => (
            format!("Batch {id} failed"),
            format!("{outcome} of {}{duration}", current.total),
            true,
        ),
        Change::Cancelled => {
            let not_made = f.size.saturating_sub(f.finished);
            (
                format!("Batch {id} cancelled"),
                format!("{outcome}; {} not made", format::calls(not_made)),
                false,
            )
        }
        _ => return None,
    };
    Some(NotificationContent {
        title,
        body,
        urgent,
    })
}

/// Finished calls a batch needs before its failure rate means anything: one failure among the
/// first three calls is not a campaign going wrong.
pub const FAILURE_ALERT_MIN_CALLS: u64 = 20;

/// The failure-rate alert for a running batch, when `threshold_percent` of its finished calls
/// (at least [`FAILURE_ALERT_MIN_CALLS`] of them) failed. The caller sends it once per batch.
pub fn failure_rate_alert(
    id: &BatchId,
    current: &BatchProgress,
    threshold_percent: u8,
) -> Option<NotificationContent> {
    // Wide enough that no counter a server sends can overflow.
    let (failed, finished) = (
        u128::from(current.failed),
        u128::from(current.completed) + u128::from(current.failed),
    );
    if current.has_ended()
        || finished < u128::from(FAILURE_ALERT_MIN_CALLS)
        || failed * 100 < u128::from(threshold_percent) * finished
    {
        return None;
    }
    let percent = failed * 100 / finished;
    Some(NotificationContent {
        title: format!("Batch {id}: {percent}% of calls are failing"),
        body: format!(
            "{} of {} finished calls failed (your alert is at {threshold_percent}%). The batch is still running.",
            current.failed, finished
        ),
        urgent: true,
    })
}

/// How long a running batch has made no progress at `now_ms` — no call ended since
/// `moved_at_ms` (the answer that last changed its completed and failed counts) while calls still
/// wait or are active — once that is at least `after_ms` (0: never; see
/// [`crate::settings::Settings::stall_after_ms`]). A queued batch, waiting for its start, is
/// never stalled.
pub fn stalled_for(
    current: &BatchProgress,
    moved_at_ms: Option<u64>,
    now_ms: u64,
    after_ms: u64,
) -> Option<std::time::Duration> {
    if after_ms == 0
        || current.status != BatchStatus::Processing
        || current.has_ended()
        || current.waiting.saturating_add(current.active) == 0
    {
        return None;
    }
    let since = now_ms.checked_sub(moved_at_ms?)?;
    (since >= after_ms).then(|| std::time::Duration::from_millis(since))
}

/// What the card and the tray row say of a stalled batch: "No progress for 22 min".
pub fn stall_text(stalled: std::time::Duration) -> String {
    format!("No progress for {}", format::duration(stalled))
}

/// The one notification of a stall.
pub fn stall_notification(
    id: &BatchId,
    current: &BatchProgress,
    stalled: std::time::Duration,
) -> NotificationContent {
    NotificationContent {
        title: format!(
            "Batch {id} has made no progress for {}",
            format::duration(stalled)
        ),
        body: format!(
            "{} waiting, {} active, and no call has ended since. The batch is still running.",
            current.waiting, current.active
        ),
        urgent: true,
    }
}

/// The one notification for rejected credentials.
pub fn credentials_rejected_notification(message: &str) -> NotificationContent {
    NotificationContent {
        title: "Trillet rejected your API key".to_owned(),
        body: format!(
            "Polling has stopped. Open Batchwatch and enter valid credentials. ({message})"
        ),
        urgent: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: u64 = 1_703_097_600_000;

    fn snap(status: BatchStatus, done: u64, failed: u64, total: u64) -> BatchProgress {
        let finished = matches!(
            status,
            BatchStatus::Completed | BatchStatus::Failed | BatchStatus::Cancelled
        );
        BatchProgress {
            is_complete: finished,
            waiting: if finished { 0 } else { total - done - failed },
            active: 0,
            completed: done,
            failed,
            total,
            start_time: (status != BatchStatus::Queued).then_some(START),
            last_completed_time: (done + failed > 0).then_some(START + 60_000),
            completed_time: finished.then_some(START + 3_720_000),
            average_call_duration: None,
            recent_calls: vec![],
            status,
        }
    }

    #[test]
    fn change_grid() {
        use BatchStatus::*;
        let queued = snap(Queued, 0, 0, 150);
        let running = snap(Processing, 10, 1, 150);
        let running_more = snap(Processing, 20, 2, 150);
        let done = snap(Completed, 145, 5, 150);
        let failed = snap(Failed, 30, 70, 150);
        let cancelled = snap(Cancelled, 40, 10, 150);
        let odd_finish = BatchProgress {
            is_complete: true,
            ..snap(Other("archived".into()), 150, 0, 150)
        };
        let odd_running = snap(Other("paused_by_carrier".into()), 10, 1, 150);
        let cases: Vec<(Option<&BatchProgress>, &BatchProgress, Change)> = vec![
            (None, &queued, Change::FirstSeen),
            (None, &done, Change::FirstSeen),
            (Some(&queued), &queued, Change::Unchanged),
            (Some(&queued), &running, Change::Started),
            (Some(&running), &running, Change::Unchanged),
            (Some(&running), &running_more, Change::Progressed),
            (Some(&running), &odd_running, Change::Progressed),
            (Some(&running), &done, Change::Completed),
            (Some(&queued), &done, Change::Completed),
            (Some(&running), &failed, Change::Failed),
            (Some(&running), &cancelled, Change::Cancelled),
            (Some(&running), &odd_finish, Change::Completed),
            (Some(&done), &done, Change::Unchanged),
            (Some(&done), &running, Change::Unchanged),
            (Some(&cancelled), &done, Change::Unchanged),
        ];
        for (i, (prev, cur, expected)) in cases.into_iter().enumerate() {
            assert_eq!(detect(prev, cur), expected, "case {i}");
        }
    }

    #[test]
    fn notification_grid() {
        let id = BatchId::parse("batch_123").unwrap();
        let done = snap(BatchStatus::Completed, 145, 5, 150);
        let failed = snap(BatchStatus::Failed, 30, 70, 150);
        let cancelled = snap(BatchStatus::Cancelled, 40, 10, 150);
        let running = snap(BatchStatus::Processing, 10, 1, 150);
        let cases: Vec<(Change, &BatchProgress, Option<(&str, &str, bool)>)> = vec![
            (
                Change::Completed,
                &done,
                Some((
                    "Batch batch_123 completed",
                    "145 completed, 5 failed in 1 h 2 min",
                    false,
                )),
            ),
            (
                Change::Failed,
                &failed,
                Some((
                    "Batch batch_123 failed",
                    "30 completed, 70 failed of 150 in 1 h 2 min",
                    true,
                )),
            ),
            (
                Change::Cancelled,
                &cancelled,
                Some((
                    "Batch batch_123 cancelled",
                    "40 completed, 10 failed; 100 calls not made",
                    false,
                )),
            ),
            (Change::FirstSeen, &done, None),
            (Change::Started, &running, None),
            (Change::Progressed, &running, None),
            (Change::Unchanged, &done, None),
        ];
        for (change, p, expected) in cases {
            let got = notification_for(&id, change, p, START);
            let got = got
                .as_ref()
                .map(|n| (n.title.as_str(), n.body.as_str(), n.urgent));
            assert_eq!(got, expected, "{change:?}");
        }
    }

    #[test]
    fn rejected_credentials_say_what_to_do() {
        let n = credentials_rejected_notification("Invalid API key");
        assert_eq!(n.title, "Trillet rejected your API key");
        assert!(n.body.contains("enter valid credentials") && n.body.contains("Invalid API key"));
        assert!(n.urgent);
    }

    #[test]
    fn a_cancelled_batch_settles_when_its_last_calls_end() {
        let mut cancelled = snap(BatchStatus::Cancelled, 30, 2, 100);
        cancelled.active = 4;
        assert!(cancelled.has_ended() && !cancelled.is_settled());
        cancelled.active = 0;
        assert!(cancelled.is_settled());
        assert!(snap(BatchStatus::Completed, 98, 2, 100).is_settled());
        assert!(!snap(BatchStatus::Processing, 10, 0, 100).is_settled());
    }

    #[test]
    fn failure_rate_alert_needs_enough_calls_and_a_running_batch() {
        let id = BatchId::parse("batch_x").unwrap();
        let running = |done, failed| snap(BatchStatus::Processing, done, failed, 100);
        // 19 finished calls: too few to judge, however bad.
        assert_eq!(failure_rate_alert(&id, &running(0, 19), 10), None);
        // 5 of 20 failed = 25 %: below 30, at 25, above 20.
        assert_eq!(failure_rate_alert(&id, &running(15, 5), 30), None);
        let alert = failure_rate_alert(&id, &running(15, 5), 25).expect("at the threshold");
        assert_eq!(alert.title, "Batch batch_x: 25% of calls are failing");
        assert_eq!(
            alert.body,
            "5 of 20 finished calls failed (your alert is at 25%). The batch is still running."
        );
        assert!(failure_rate_alert(&id, &running(15, 5), 20).is_some());
        // A finished batch has its own notification.
        let done = snap(BatchStatus::Completed, 50, 50, 100);
        assert_eq!(failure_rate_alert(&id, &done, 10), None);
        let mut absurd = running(0, 0);
        absurd.failed = u64::MAX;
        absurd.completed = u64::MAX;
        assert!(
            failure_rate_alert(&id, &absurd, 50).is_some(),
            "no overflow"
        );
    }
}
