//! One tracked batch inside the task: its last snapshot, how its fetches went, when it is due,
//! what was already announced — and [`Tracked::observe`], the pure decision of what a fresh
//! answer means.

use std::sync::Arc;

use tokio::time::Instant;

use crate::batch_id::BatchId;
use crate::change::{detect, failure_rate_alert, notification_for, Change, NotificationContent};
use crate::failures::FailedCalls;
use crate::figures::Sample;
use crate::model::{BatchProgress, BatchStatus, CancelOutcome};
use crate::state_file::SavedBatch;

use super::*;

/// One tracked batch inside the task.
pub(super) struct Tracked {
    pub(super) id: BatchId,
    pub(super) last: Option<Arc<BatchProgress>>,
    pub(super) last_updated_ms: Option<u64>,
    pub(super) fetch: FetchStatus,
    /// Polls that failed in a row; sets the back-off.
    pub(super) consecutive_errors: u32,
    pub(super) next_due: Instant,
    /// Bumped on untrack/re-track, so a late answer for an old incarnation is dropped.
    pub(super) generation: u64,
    /// The poll in flight for this batch, if one is.
    pub(super) in_flight: Option<tokio::task::Id>,
    pub(super) finish_notified: bool,
    /// Cancels sent for this batch and not answered yet: a "cancelled" seen meanwhile is the
    /// user's own doing, not news to announce.
    pub(super) cancels_pending: u32,
    pub(super) failure_alerted: bool,
    pub(super) cancellation: Option<Arc<CancelOutcome>>,
    /// What Batchwatch knows of it when Batchwatch started it.
    pub(super) launch: Option<Arc<crate::launch::Launch>>,
    /// The failed calls paged in for an open drill-down; gone when it closes or the batch is
    /// untracked. Locked while a page loads, so two quick "more"s never fetch the same page.
    pub(super) drilldown: Option<Arc<tokio::sync::Mutex<FailedCalls>>>,
    /// The counters at most once a spacing (a minute), the last hour of them: the plot.
    pub(super) samples: Arc<Vec<Sample>>,
    /// When an answer last moved its status or its ended calls (epoch ms): a stall is counted
    /// from here.
    pub(super) moved_at_ms: Option<u64>,
    /// The current stall was announced; cleared when the counters move again.
    pub(super) stall_alerted: bool,
    /// When its notifications are shown (its card's choice); hooks run whatever it is.
    pub(super) notify: crate::notify_choice::NotifyChoice,
    /// The workspace it is asked in (`None` until there is one to join, for a batch saved
    /// before workspaces).
    pub(super) workspace: Option<crate::credentials::WorkspaceId>,
    /// Its workspace's lane (none while its workspace is not polled): cached from `workspace`.
    pub(super) lane: Option<usize>,
}

/// Samples kept: an hour of one a minute, and the one before as the first bar's start.
pub(super) const SAMPLES_KEPT: usize = 61;

/// What a fresh answer means for its batch, decided without I/O.
#[derive(Debug, PartialEq)]
pub(super) struct Observed {
    /// The end of the run, to announce: given once per batch, never for a batch first seen
    /// already ended, never for the user's own cancel.
    pub(super) finish: Option<NotificationContent>,
    /// The failure-rate alert, given once per batch.
    pub(super) alert: Option<NotificationContent>,
    /// The stall alert, given once per stall.
    pub(super) stall: Option<NotificationContent>,
    /// It left the queue with this answer (an event for hooks, no notification). Once: the
    /// answer that says so is saved before it is told, and is the "before" of the next start.
    pub(super) started: bool,
    pub(super) save: Save,
}

/// How soon the state file must hear of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Save {
    /// Before anything is announced: a kill or a logout right after a notification must not
    /// bring it back at the next start.
    Now,
    /// With the next debounced save.
    Soon,
    /// Not at all: the answer is the one already kept, and nothing a restart needs changed.
    /// (Only when it was received is new, and a restart polls at once anyway.)
    Nothing,
}

impl Tracked {
    pub(super) fn new(id: BatchId, now: Instant, generation: u64) -> Self {
        Self {
            id,
            last: None,
            last_updated_ms: None,
            fetch: FetchStatus::Pending,
            consecutive_errors: 0,
            next_due: now,
            generation,
            in_flight: None,
            finish_notified: false,
            cancels_pending: 0,
            failure_alerted: false,
            cancellation: None,
            launch: None,
            drilldown: None,
            samples: Arc::default(),
            moved_at_ms: None,
            stall_alerted: false,
            notify: Default::default(),
            workspace: None,
            lane: None,
        }
    }

    pub(super) fn restored(saved: SavedBatch, now: Instant) -> Self {
        let mut t = Self::new(saved.id, now, 0);
        t.last = saved.last;
        t.last_updated_ms = saved.last_updated_ms;
        t.finish_notified = saved.finish_notified;
        t.failure_alerted = saved.failure_alerted;
        t.cancellation = saved.cancellation;
        t.launch = saved.launch;
        t.samples = saved.samples;
        t.moved_at_ms = saved.moved_at_ms;
        t.stall_alerted = saved.stall_alerted;
        t.notify = saved.notify;
        t.workspace = saved.workspace;
        if saved.not_found {
            t.fetch = FetchStatus::NotFound {
                message: "Trillet has no batch with this ID in this workspace.".into(),
            };
        }
        t
    }

    /// Takes a poll's answer: keeps it as the batch's snapshot and says what it means — the
    /// finish to announce, the failure-rate alert that is due, how soon to save. The flags that
    /// make each happen once are set here, so the caller only sends what it is given.
    /// `failure_alert` is the user's threshold in percent, if they set one; `stall_after_ms` how
    /// long without progress makes a stall (0: off).
    pub(super) fn observe(
        &mut self,
        progress: BatchProgress,
        failure_alert: Option<u8>,
        stall_after_ms: u64,
        now_ms: u64,
    ) -> Observed {
        // The same answer as the one kept (and kept on disk: a batch Trillet did not know is
        // saved as such, so hearing of it again is news for the file).
        let same = self.last.as_deref() == Some(&progress)
            && !matches!(self.fetch, FetchStatus::NotFound { .. });
        let flags_before = (
            self.finish_notified,
            self.failure_alerted,
            self.stall_alerted,
        );
        // Progress is a call ending, or the run changing state (a queued batch starting): a
        // stall is counted from the last answer that brought either.
        let moved = self.last.as_deref().is_none_or(|was| {
            was.status != progress.status || was.ended_calls() != progress.ended_calls()
        });
        if moved || self.moved_at_ms.is_none() {
            self.moved_at_ms = Some(now_ms);
            self.stall_alerted = false;
        }
        let stall = crate::change::stalled_for(&progress, self.moved_at_ms, now_ms, stall_after_ms)
            .filter(|_| !self.stall_alerted)
            .map(|stalled| crate::change::stall_notification(&self.id, &progress, stalled));
        self.stall_alerted |= stall.is_some();
        let change = detect(self.last.as_deref(), &progress);
        let alert = failure_alert
            .filter(|_| !self.failure_alerted)
            .and_then(|threshold| failure_rate_alert(&self.id, &progress, threshold));
        self.failure_alerted |= alert.is_some();
        if change == Change::FirstSeen && progress.has_ended() {
            // Ended before we ever saw it running: nothing to announce, ever.
            self.finish_notified = true;
        }
        if change == Change::Cancelled && self.cancels_pending > 0 {
            // Seen before the DELETE's own answer: the user's doing, not news.
            self.finish_notified = true;
        }
        let started = change == Change::Started;
        let finish = if change.ends_run() && !self.finish_notified {
            self.finish_notified = true;
            notification_for(&self.id, change, &progress, now_ms)
        } else {
            None
        };
        self.last = Some(Arc::new(progress));
        self.last_updated_ms = Some(now_ms);
        self.fetch = FetchStatus::Live;
        self.consecutive_errors = 0;
        // A flag a restart needs (announced, alerted) changed: it reaches the disk before
        // anything is said, and before a crash could make the next start say it again.
        let save = if started
            || (
                self.finish_notified,
                self.failure_alerted,
                self.stall_alerted,
            ) != flags_before
        {
            Save::Now
        } else if same {
            Save::Nothing
        } else {
            Save::Soon
        };
        Observed {
            finish,
            alert,
            stall,
            started,
            save,
        }
    }

    /// Still worth polling: not settled (a cancelled batch's last calls may still be ending)
    /// and not unknown to Trillet.
    pub(super) fn pollable(&self) -> bool {
        !self.last.as_deref().is_some_and(BatchProgress::is_settled)
            && !matches!(self.fetch, FetchStatus::NotFound { .. })
    }

    pub(super) fn queued(&self) -> bool {
        self.last
            .as_deref()
            .is_some_and(|p| p.status == BatchStatus::Queued)
    }

    pub(super) fn saved(&self) -> SavedBatch {
        SavedBatch {
            id: self.id.clone(),
            last: self.last.clone(),
            last_updated_ms: self.last_updated_ms,
            finish_notified: self.finish_notified,
            not_found: matches!(self.fetch, FetchStatus::NotFound { .. }),
            failure_alerted: self.failure_alerted,
            cancellation: self.cancellation.clone(),
            launch: self.launch.clone(),
            samples: self.samples.clone(),
            moved_at_ms: self.moved_at_ms,
            stall_alerted: self.stall_alerted,
            notify: self.notify,
            workspace: self.workspace.clone(),
        }
    }

    /// Samples the counters of the answer just kept, if the last sample is at least `every_ms`
    /// old (a minute in production): the throughput plot's points. Called for changed answers
    /// only, which are saved anyway, so a sample costs no write of its own.
    pub(super) fn sample(&mut self, now_ms: u64, every_ms: u64) -> bool {
        let Some(p) = self.last.as_deref() else {
            return false;
        };
        if self
            .samples
            .last()
            .is_some_and(|s| now_ms.saturating_sub(s.at_ms) < every_ms)
        {
            return false;
        }
        let samples = Arc::make_mut(&mut self.samples);
        samples.push(Sample::of(now_ms, p));
        let excess = samples.len().saturating_sub(SAMPLES_KEPT);
        samples.drain(..excess);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_795_968_000_000;
    /// The user's failure-rate alert, in percent.
    const ALERT_AT: Option<u8> = Some(25);

    /// The answers a poll may bring.
    #[derive(Debug, Clone, Copy)]
    enum Answer {
        Queued,
        Running,
        /// Still running, half of its finished calls failed (past the alert).
        FailingFast,
        Completed,
        Failed,
        Cancelled,
    }

    fn progress(answer: Answer) -> BatchProgress {
        let (status, completed, failed, ended) = match answer {
            Answer::Queued => (BatchStatus::Queued, 0, 0, false),
            Answer::Running => (BatchStatus::Processing, 30, 2, false),
            Answer::FailingFast => (BatchStatus::Processing, 20, 20, false),
            Answer::Completed => (BatchStatus::Completed, 90, 10, true),
            Answer::Failed => (BatchStatus::Failed, 40, 60, true),
            Answer::Cancelled => (BatchStatus::Cancelled, 30, 2, true),
        };
        BatchProgress {
            status,
            is_complete: ended,
            waiting: 0,
            active: 0,
            completed,
            failed,
            total: 100,
            start_time: Some(NOW_MS - 600_000),
            last_completed_time: None,
            completed_time: ended.then_some(NOW_MS),
            average_call_duration: None,
            recent_calls: Vec::new(),
        }
    }

    /// What the batch knew before the answer.
    #[derive(Debug, Clone, Copy)]
    enum Before {
        Unseen,
        /// Seen waiting in the queue.
        Queued,
        Running,
        /// Running, and the user's cancel is on its way.
        CancelSent,
        /// Running, and the failure-rate alert was given.
        Alerted,
        /// Ended, and its end was announced.
        Announced,
    }

    fn tracked(before: Before) -> Tracked {
        let mut t = Tracked::new(BatchId::parse("batch_grid").unwrap(), Instant::now(), 1);
        match before {
            Before::Unseen => {}
            Before::Queued => t.last = Some(Arc::new(progress(Answer::Queued))),
            Before::Running => t.last = Some(Arc::new(progress(Answer::Running))),
            Before::CancelSent => {
                t.last = Some(Arc::new(progress(Answer::Running)));
                t.cancels_pending = 1;
            }
            Before::Alerted => {
                t.last = Some(Arc::new(progress(Answer::FailingFast)));
                t.failure_alerted = true;
            }
            Before::Announced => {
                t.last = Some(Arc::new(progress(Answer::Completed)));
                t.finish_notified = true;
            }
        }
        t
    }

    /// The default stall alert, in ms.
    const FIFTEEN_MIN: u64 = 15 * 60_000;

    /// A running batch whose ended calls stay at `ended` while 45 wait and 5 are active.
    fn busy(ended: u64) -> BatchProgress {
        BatchProgress {
            waiting: 45,
            active: 5,
            completed: ended,
            failed: 0,
            ..progress(Answer::Running)
        }
    }

    /// The stall alert: said once the ended calls have not moved for the user's minutes of
    /// answers while calls wait, once however long it lasts and across a restart; cleared when
    /// a call ends, and said again for the next stall; never when off, for a batch with nothing
    /// left to call, or for a queued batch (nor at the start of one that waited long).
    #[tokio::test(start_paused = true)]
    async fn a_stall_is_said_once_clears_when_a_call_ends_and_survives_a_restart() {
        let at = |minute: u64| NOW_MS + minute * 60_000;
        let id = || BatchId::parse("batch_stall").unwrap();
        let mut t = Tracked::new(id(), Instant::now(), 1);
        assert_eq!(t.observe(busy(10), None, FIFTEEN_MIN, at(0)).stall, None);
        assert_eq!(t.observe(busy(10), None, FIFTEEN_MIN, at(14)).stall, None);
        let seen = t.observe(busy(10), None, FIFTEEN_MIN, at(15));
        let said = seen.stall.expect("stalled after 15 min of answers");
        assert_eq!(
            said.title,
            "Batch batch_stall has made no progress for 15 min"
        );
        assert!(
            said.body.starts_with("45 waiting, 5 active"),
            "{}",
            said.body
        );
        assert_eq!(seen.save, Save::Now, "on disk before it is said");
        assert_eq!(
            t.observe(busy(10), None, FIFTEEN_MIN, at(40)).stall,
            None,
            "once a stall"
        );

        let mut restarted = Tracked::restored(t.saved(), Instant::now());
        assert_eq!(
            restarted.observe(busy(10), None, FIFTEEN_MIN, at(41)).stall,
            None,
            "nor after a restart"
        );
        let moved = restarted.observe(busy(11), None, FIFTEEN_MIN, at(42));
        assert_eq!(
            (moved.stall, moved.save),
            (None, Save::Now),
            "cleared, and that saved"
        );
        assert_eq!(
            restarted.observe(busy(11), None, FIFTEEN_MIN, at(56)).stall,
            None
        );
        assert!(
            restarted
                .observe(busy(11), None, FIFTEEN_MIN, at(57))
                .stall
                .is_some(),
            "the next stall"
        );

        let mut off = Tracked::new(id(), Instant::now(), 1);
        off.observe(busy(10), None, 0, at(0));
        assert_eq!(
            off.observe(busy(10), None, 0, at(500)).stall,
            None,
            "0 is off"
        );

        let mut nothing_left = Tracked::new(id(), Instant::now(), 1);
        let idle = || BatchProgress {
            waiting: 0,
            active: 0,
            ..busy(10)
        };
        nothing_left.observe(idle(), None, FIFTEEN_MIN, at(0));
        assert_eq!(
            nothing_left
                .observe(idle(), None, FIFTEEN_MIN, at(100))
                .stall,
            None
        );

        let queued = || BatchProgress {
            waiting: 50,
            ..progress(Answer::Queued)
        };
        let mut scheduled = Tracked::new(id(), Instant::now(), 1);
        scheduled.observe(queued(), None, FIFTEEN_MIN, at(0));
        assert_eq!(
            scheduled
                .observe(queued(), None, FIFTEEN_MIN, at(120))
                .stall,
            None,
            "queued"
        );
        assert_eq!(
            scheduled.observe(busy(0), None, FIFTEEN_MIN, at(121)).stall,
            None,
            "its start is progress"
        );
        assert_eq!(
            scheduled.observe(busy(0), None, FIFTEEN_MIN, at(135)).stall,
            None
        );
        assert!(scheduled
            .observe(busy(0), None, FIFTEEN_MIN, at(136))
            .stall
            .is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn observe_grid_announces_each_end_once_and_saves_before_telling() {
        use Answer as A;
        use Before as B;
        use Save::{Now, Soon};
        // (before, answer) → (the finish announced, by its title's last word; alert; save).
        // "Now" whenever a flag a restart needs changed, said or not (an end first seen, the
        // user's own cancel), and for a start, whose answer is what a restart compares with.
        let grid = [
            (B::Unseen, A::Queued, None, false, Soon),
            (B::Unseen, A::Running, None, false, Soon),
            (B::Queued, A::Queued, None, false, Save::Nothing),
            (B::Queued, A::Running, None, false, Now),
            (B::Queued, A::Completed, Some("completed"), false, Now),
            (B::Unseen, A::FailingFast, None, true, Now),
            (B::Unseen, A::Completed, None, false, Now),
            (B::Unseen, A::Failed, None, false, Now),
            (B::Unseen, A::Cancelled, None, false, Now),
            (B::Running, A::Running, None, false, Save::Nothing),
            (B::Running, A::FailingFast, None, true, Now),
            (B::Running, A::Completed, Some("completed"), false, Now),
            (B::Running, A::Failed, Some("failed"), false, Now),
            (B::Running, A::Cancelled, Some("cancelled"), false, Now),
            (B::CancelSent, A::Cancelled, None, false, Now),
            (B::CancelSent, A::Completed, Some("completed"), false, Now),
            (B::Alerted, A::FailingFast, None, false, Save::Nothing),
            (B::Alerted, A::Failed, Some("failed"), false, Now),
            (B::Announced, A::Completed, None, false, Save::Nothing),
        ];
        for (before, answer, finish, alert, save) in grid {
            let mut t = tracked(before);
            let seen = t.observe(progress(answer), ALERT_AT, 0, NOW_MS);
            let case = format!("{before:?} then {answer:?}");
            assert_eq!(
                seen.finish
                    .as_ref()
                    .and_then(|n| n.title.rsplit(' ').next()),
                finish,
                "{case}"
            );
            assert_eq!(seen.alert.is_some(), alert, "{case}");
            assert_eq!(
                seen.started,
                matches!((before, answer), (B::Queued, A::Running)),
                "{case}"
            );
            assert_eq!(seen.save, save, "{case}");
            assert_eq!(t.fetch, FetchStatus::Live, "{case}");
            assert_eq!(t.last.as_deref(), Some(&progress(answer)), "{case}");

            // The same answer again is never news, and costs the disk nothing.
            let again = t.observe(progress(answer), ALERT_AT, 0, NOW_MS);
            assert_eq!((again.finish, again.alert), (None, None), "{case}, twice");
            assert!(!again.started, "{case}, twice");
            assert_eq!(again.save, Save::Nothing, "{case}, twice");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_threshold_means_no_alert() {
        let mut t = tracked(Before::Running);
        let seen = t.observe(progress(Answer::FailingFast), None, 0, NOW_MS);
        assert_eq!(seen.alert, None);
        assert!(!t.failure_alerted);
    }

    #[test]
    fn counters_are_sampled_at_most_once_a_spacing_and_an_hour_is_kept() {
        let mut batch = Tracked::new(BatchId::parse("batch_plot").unwrap(), Instant::now(), 1);
        assert!(
            !batch.sample(NOW_MS, 60_000),
            "nothing to sample before an answer"
        );
        batch.observe(progress(Answer::Running), None, 0, NOW_MS);
        assert!(batch.sample(NOW_MS, 60_000));
        assert!(!batch.sample(NOW_MS + 59_999, 60_000), "within the minute");
        assert!(batch.sample(NOW_MS + 60_000, 60_000));
        for minute in 2..=200u64 {
            batch.sample(NOW_MS + minute * 60_000, 60_000);
        }
        assert_eq!(
            batch.samples.len(),
            SAMPLES_KEPT,
            "an hour and the minute before"
        );
        assert_eq!(batch.samples.last().unwrap().at_ms, NOW_MS + 200 * 60_000);
        assert_eq!(batch.samples[0].completed, 30);
        // Kept across a restart.
        let again = Tracked::restored(batch.saved(), Instant::now());
        assert_eq!(again.samples, batch.samples);
    }
}
