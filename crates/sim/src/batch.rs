//! The batch progress model: [`Batch`], the plan the simulator derives from a [`BatchScript`],
//! and the answers to "what does this batch look like at sim time t".
//!
//! Deterministic: per-call variation (duration, outcome, failure reason, phone number) comes from
//! a hash of (batch id, call index), never from a random source. Every call's start and end are
//! planned when the batch is added: calls run in `concurrency` lanes, the next waiting call taking
//! the first lane that frees up, so calls start in index order and the waiting calls are always
//! the highest indices. Cancel, abort and `finish_batch` re-plan from the script plus those events.
//! A status query is a few binary searches, not a walk over the calls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::script::BatchScript;

/// The error of a call cut short because its batch failed (`abort_at`).
const ABORTED_REASON: &str = "Batch failed";

/// The lifecycle status a batch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchStatus {
    Queued,
    Processing,
    Completed,
    Cancelled,
    Failed,
}

impl BatchStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }
}

/// The state of one call at one instant. `Cancelled` is a call dropped by cancel or abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    Waiting,
    Active,
    Completed,
    Failed,
    Cancelled,
}

impl CallState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Counters at one instant; `waiting + active + completed + failed + cancelled == total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    pub waiting: usize,
    pub active: usize,
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub total: usize,
}

/// Everything the status endpoint reports, times in sim ms.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub status: BatchStatus,
    pub progress: Progress,
    pub start_time: Option<i64>,
    pub last_ended: Option<i64>,
    pub completed_time: Option<i64>,
    /// Mean length of the ended calls (completed and failed), in seconds to one decimal.
    pub average_call_secs: f64,
}

impl Snapshot {
    pub(crate) fn is_complete(&self) -> bool {
        self.completed_time.is_some()
    }
}

/// One call as the API shows it at one instant, times in sim ms.
#[derive(Debug, Clone)]
pub(crate) struct CallView<'a> {
    pub index: usize,
    pub state: CallState,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub duration_secs: Option<i64>,
    pub error: Option<&'a str>,
}

/// Counters returned by a successful cancel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CancelReport {
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    /// Index into the script's failure reasons (`None`: the script has none).
    Failed(Option<usize>),
    /// Cut short by the batch's abort.
    Aborted,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    start: i64,
    end: i64,
    outcome: Outcome,
}

/// The plan of every call after the batch's events, plus the sorted indexes queries search.
#[derive(Debug)]
struct Plan {
    /// When the first call starts (or started).
    start: i64,
    /// By index; `start` is non-decreasing over `calls[..live]`.
    calls: Vec<Call>,
    /// Calls `live..` were dropped by a cancel or abort and never start.
    live: usize,
    /// When the drop happened (before it those calls count as waiting).
    dropped_at: Option<i64>,
    /// When an abort ended the batch as `failed`.
    aborted_at: Option<i64>,
    /// Live call indices sorted by (end, index).
    by_end: Vec<u32>,
    /// `ended_ms_prefix[k]` = total duration of `by_end[..k]`.
    ended_ms_prefix: Vec<i64>,
    /// Sorted end times of live failed calls.
    failed_ends: Vec<i64>,
}

/// A batch inside the simulator: its script, the events that happened to it, and the plan.
#[derive(Debug)]
pub(crate) struct Batch {
    id: String,
    script: BatchScript,
    seed: u64,
    planned_start: i64,
    cancelled_at: Option<i64>,
    finished_at: Option<i64>,
    plan: Plan,
}

impl Batch {
    /// Plans `script` as added at sim time `now` under `id`.
    pub(crate) fn new(id: String, script: BatchScript, now: i64) -> Self {
        let seed = fnv1a(id.as_bytes());
        let mut planned_start = now + millis(script.start_delay) - millis(script.started_ago);
        if script.finished {
            let calls = plan_calls(&script, seed, 0);
            let makespan = calls.iter().map(|c| c.end).max().unwrap_or(0);
            planned_start = now - makespan - 60_000;
        }
        let plan = build_plan(&script, seed, planned_start, None, None);
        Self {
            id,
            script,
            seed,
            planned_start,
            cancelled_at: None,
            finished_at: None,
            plan,
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn total(&self) -> usize {
        self.plan.calls.len()
    }

    pub(crate) fn snapshot(&self, t: i64) -> Snapshot {
        let p = &self.plan;
        let total = p.calls.len();
        let started = p.calls[..p.live].partition_point(|c| c.start <= t);
        let ended = p.by_end.partition_point(|&i| p.calls[i as usize].end <= t);
        let failed = p.failed_ends.partition_point(|&e| e <= t);
        let dropped = total - p.live;
        let cancelled = if p.dropped_at.is_some_and(|d| t >= d) {
            dropped
        } else {
            0
        };
        let progress = Progress {
            waiting: total - started - cancelled,
            active: started - ended,
            completed: ended - failed,
            failed,
            cancelled,
            total,
        };
        let last_ended = ended
            .checked_sub(1)
            .map(|k| p.calls[p.by_end[k] as usize].end);
        let average_call_secs = if ended == 0 {
            0.0
        } else {
            let mean_ms = p.ended_ms_prefix[ended] as f64 / ended as f64;
            (mean_ms / 100.0).round() / 10.0
        };
        let (status, completed_time) = self.lifecycle(t);
        Snapshot {
            status,
            progress,
            start_time: self.started_at().filter(|s| t >= *s),
            last_ended,
            completed_time,
            average_call_secs,
        }
    }

    /// Status and, once the batch is complete, when it completed.
    fn lifecycle(&self, t: i64) -> (BatchStatus, Option<i64>) {
        let p = &self.plan;
        let last_end = p.by_end.last().map(|&i| p.calls[i as usize].end);
        if let Some(a) = p.aborted_at.filter(|a| t >= *a) {
            return (BatchStatus::Failed, Some(a));
        }
        if let Some(c) = self.cancelled_at {
            let done = last_end.map_or(c, |e| e.max(c));
            return (BatchStatus::Cancelled, (t >= done).then_some(done));
        }
        if t < p.start {
            return (BatchStatus::Queued, None);
        }
        let done = last_end.unwrap_or(p.start);
        if t >= done {
            (BatchStatus::Completed, Some(done))
        } else {
            (BatchStatus::Processing, None)
        }
    }

    /// When processing began; `None` if the batch was stopped before it ever started.
    fn started_at(&self) -> Option<i64> {
        let p = &self.plan;
        let stop = [self.cancelled_at, p.aborted_at]
            .into_iter()
            .flatten()
            .min();
        match stop {
            Some(s) if s < p.start => None,
            _ => Some(p.start),
        }
    }

    /// Up to `n` most recently ended calls at `t`, newest first.
    pub(crate) fn recent_calls(&self, t: i64, n: usize) -> Vec<CallView<'_>> {
        let p = &self.plan;
        let ended = p.by_end.partition_point(|&i| p.calls[i as usize].end <= t);
        p.by_end[..ended]
            .iter()
            .rev()
            .take(n)
            .map(|&i| self.call(i as usize, t))
            .collect()
    }

    /// Call `index` (must be < total) as seen at `t`.
    pub(crate) fn call(&self, index: usize, t: i64) -> CallView<'_> {
        let p = &self.plan;
        let c = p.calls[index];
        let state = if index >= p.live {
            if p.dropped_at.is_some_and(|d| t >= d) {
                CallState::Cancelled
            } else {
                CallState::Waiting
            }
        } else if c.start > t {
            CallState::Waiting
        } else if c.end > t {
            CallState::Active
        } else if c.outcome == Outcome::Completed {
            CallState::Completed
        } else {
            CallState::Failed
        };
        let started = matches!(
            state,
            CallState::Active | CallState::Completed | CallState::Failed
        );
        let ended = matches!(state, CallState::Completed | CallState::Failed);
        let error = match (state, c.outcome) {
            (CallState::Failed, Outcome::Failed(Some(r))) => {
                Some(self.script.failure_reasons[r].as_str())
            }
            (CallState::Failed, Outcome::Failed(None)) => Some("Call failed"),
            (CallState::Failed, Outcome::Aborted) => Some(ABORTED_REASON),
            _ => None,
        };
        CallView {
            index,
            state,
            start: started.then_some(c.start),
            end: ended.then_some(c.end),
            duration_secs: ended.then_some((c.end - c.start + 500) / 1000),
            error,
        }
    }

    /// The call's job ID.
    pub(crate) fn job_id(&self, index: usize) -> String {
        format!("call_{}", index + 1)
    }

    /// The call's phone number: its CSV row's, else a deterministic `+1555` and seven digits.
    pub(crate) fn phone_number(&self, index: usize) -> String {
        if let Some(row) = self.row(index) {
            return row
                .iter()
                .find(|(column, _)| column == crate::upload::PHONE_COLUMN)
                .map(|(_, number)| number.trim().to_owned())
                .unwrap_or_default();
        }
        let digits = mix(call_hash(self.seed, index) ^ 4) % 10_000_000;
        format!("+1555{digits:07}")
    }

    /// The row of the campaign's CSV the call was made from, as `metadata` carries it: a name,
    /// the number, and a column of the user's own (with a comma now and then, for quoting).
    pub(crate) fn contact(&self, index: usize) -> (&'static str, String, &'static str) {
        const NAMES: [&str; 6] = [
            "Ada Okafor",
            "Bruno Lindqvist",
            "Chen Wei",
            "Dolores Ruiz",
            "Emeka Nwosu",
            "Farah Haddad",
        ];
        const DAYS: [&str; 3] = ["Monday", "Tuesday, after 2 pm", "Friday"];
        let h = mix(call_hash(self.seed, index) ^ 5);
        (
            NAMES[(h % NAMES.len() as u64) as usize],
            self.phone_number(index),
            DAYS[((h >> 8) % DAYS.len() as u64) as usize],
        )
    }

    /// The uploaded CSV row call `index` was made from, for a batch started by upload.
    pub(crate) fn row(&self, index: usize) -> Option<&crate::script::Row> {
        self.script.rows.as_ref().and_then(|rows| rows.get(index))
    }

    /// Indices of the calls whose state at `t` passes `keep`, in index order.
    pub(crate) fn calls_where<'a>(
        &'a self,
        t: i64,
        keep: impl Fn(CallState) -> bool + 'a,
    ) -> impl Iterator<Item = usize> + 'a {
        (0..self.total()).filter(move |&i| keep(self.call(i, t).state))
    }

    /// Cancels at `t`: waiting calls are dropped, active ones run to their end.
    /// `None` if the batch is already complete, cancelled or failed.
    pub(crate) fn cancel(&mut self, t: i64) -> Option<CancelReport> {
        let (status, _) = self.lifecycle(t);
        if !matches!(status, BatchStatus::Queued | BatchStatus::Processing) {
            return None;
        }
        self.cancelled_at = Some(t);
        self.replan();
        let progress = self.snapshot(t).progress;
        Some(CancelReport {
            completed: progress.completed,
            failed: progress.failed,
            cancelled: progress.cancelled,
            total: progress.total,
        })
    }

    /// Every call not yet ended ends at `t` with its planned outcome (dropped calls stay
    /// dropped). A queued or processing batch becomes `completed`; does nothing once complete.
    pub(crate) fn finish(&mut self, t: i64) {
        if self.snapshot(t).completed_time.is_some() {
            return;
        }
        self.finished_at = Some(t);
        self.replan();
    }

    fn replan(&mut self) {
        self.plan = build_plan(
            &self.script,
            self.seed,
            self.planned_start,
            self.cancelled_at,
            self.finished_at,
        );
    }
}

/// Start and end of every call, lanes taking the next call as they free up, from `start`.
fn plan_calls(script: &BatchScript, seed: u64, start: i64) -> Vec<Call> {
    let lanes = script.concurrency.clamp(1, script.total.max(1));
    let mut free: BinaryHeap<Reverse<(i64, usize)>> =
        (0..lanes).map(|lane| Reverse((start, lane))).collect();
    (0..script.total)
        .map(|index| {
            let Reverse((at, lane)) = free.pop().unwrap_or(Reverse((start, 0)));
            let (duration, outcome) = call_plan(script, seed, index);
            free.push(Reverse((at + duration, lane)));
            Call {
                start: at,
                end: at + duration,
                outcome,
            }
        })
        .collect()
}

/// The plan after the batch's events, applied in the only order they can happen:
/// abort (only if before any cancel or finish), then cancel, then finish.
fn build_plan(
    script: &BatchScript,
    seed: u64,
    planned_start: i64,
    cancelled_at: Option<i64>,
    finished_at: Option<i64>,
) -> Plan {
    let mut calls = plan_calls(script, seed, planned_start);
    let mut start = planned_start;
    let mut live = calls.len();
    let mut dropped_at = None;
    let aborted_at = script
        .abort_at
        .map(|d| planned_start + millis(d))
        .filter(|a| cancelled_at.is_none_or(|c| *a < c) && finished_at.is_none_or(|f| *a < f));
    if let Some(a) = aborted_at {
        live = calls.partition_point(|c| c.start <= a);
        for call in calls[..live].iter_mut().filter(|c| c.end > a) {
            call.end = a;
            call.outcome = Outcome::Aborted;
        }
        dropped_at = Some(a);
    }
    if let Some(c) = cancelled_at {
        live = calls[..live].partition_point(|call| call.start <= c);
        dropped_at = Some(dropped_at.map_or(c, |d: i64| d.min(c)));
    }
    if let Some(f) = finished_at {
        for call in calls[..live].iter_mut().filter(|c| c.end > f) {
            call.start = call.start.min(f);
            call.end = f;
        }
        start = start.min(f);
    }

    let mut by_end: Vec<u32> = (0..live as u32).collect();
    by_end.sort_unstable_by_key(|&i| (calls[i as usize].end, i));
    let mut ended_ms_prefix = Vec::with_capacity(live + 1);
    ended_ms_prefix.push(0);
    let mut sum = 0;
    for &i in &by_end {
        let c = calls[i as usize];
        sum += c.end - c.start;
        ended_ms_prefix.push(sum);
    }
    let mut failed_ends: Vec<i64> = calls[..live]
        .iter()
        .filter(|c| c.outcome != Outcome::Completed)
        .map(|c| c.end)
        .collect();
    failed_ends.sort_unstable();
    Plan {
        start,
        calls,
        live,
        dropped_at,
        aborted_at,
        by_end,
        ended_ms_prefix,
        failed_ends,
    }
}

/// Duration and outcome of call `index`, before any cancel/abort/finish.
fn call_plan(script: &BatchScript, seed: u64, index: usize) -> (i64, Outcome) {
    let h = call_hash(seed, index);
    let fails = unit(mix(h ^ 1)) < script.failure_rate;
    let base = script.call_duration.as_millis() as f64;
    let u = unit(mix(h ^ 2));
    let factor = if fails { 0.1 + 0.4 * u } else { 0.6 + 0.8 * u };
    let duration = ((base * factor) as i64).max(1);
    let outcome = if !fails {
        Outcome::Completed
    } else if script.failure_reasons.is_empty() {
        Outcome::Failed(None)
    } else {
        let pick = mix(h ^ 3) % script.failure_reasons.len() as u64;
        Outcome::Failed(Some(pick as usize))
    };
    (duration, outcome)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64's finaliser: a well-spread 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn call_hash(seed: u64, index: usize) -> u64 {
    mix(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// A hash mapped onto [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn batch(script: BatchScript) -> Batch {
        Batch::new("batch_test".into(), script, 0)
    }

    fn sum(p: &Progress) -> usize {
        p.waiting + p.active + p.completed + p.failed + p.cancelled
    }

    #[test]
    fn a_batch_moves_from_queued_through_processing_to_completed() {
        let b = batch(
            BatchScript::new(20)
                .concurrency(4)
                .start_delay(Duration::from_secs(10)),
        );
        let queued = b.snapshot(5 * S);
        assert_eq!(queued.status, BatchStatus::Queued);
        assert_eq!(queued.progress.waiting, 20);
        assert_eq!(queued.start_time, None);
        assert_eq!(queued.last_ended, None);

        let running = b.snapshot(10 * S);
        assert_eq!(running.status, BatchStatus::Processing);
        assert_eq!(running.progress.active, 4);
        assert_eq!(running.progress.waiting, 16);
        assert_eq!(running.start_time, Some(10 * S));
        assert_eq!(running.average_call_secs, 0.0);

        let mut last = running.progress;
        for t in (10..400).map(|s| s * S) {
            let snap = b.snapshot(t);
            assert_eq!(sum(&snap.progress), 20, "at {t}");
            assert!(snap.progress.active <= 4);
            assert!(snap.progress.completed >= last.completed);
            assert!(snap.progress.failed >= last.failed);
            last = snap.progress;
        }
        let done = b.snapshot(400 * S);
        assert_eq!(done.status, BatchStatus::Completed);
        assert_eq!(done.progress.completed + done.progress.failed, 20);
        assert_eq!(done.completed_time, done.last_ended);
        assert!(done.average_call_secs > 0.0);
    }

    #[test]
    fn the_plan_is_the_same_for_the_same_id() {
        let a = batch(BatchScript::new(50).failure_rate(0.3));
        let b = batch(BatchScript::new(50).failure_rate(0.3));
        for i in 0..50 {
            assert_eq!(a.call(i, 10_000 * S).error, b.call(i, 10_000 * S).error);
            assert_eq!(a.call(i, 10_000 * S).end, b.call(i, 10_000 * S).end);
            assert_eq!(a.phone_number(i), b.phone_number(i));
        }
        assert!(a.phone_number(3).starts_with("+1555"));
        assert_eq!(a.phone_number(3).len(), 12);
    }

    #[test]
    fn failure_rate_and_durations_follow_the_script() {
        let b = batch(
            BatchScript::new(1000)
                .concurrency(10)
                .failure_rate(0.2)
                .failure_reasons(["Number busy"]),
        );
        let end = b.snapshot(i64::MAX / 2);
        assert!((150..250).contains(&end.progress.failed), "{end:?}");
        for i in 0..1000 {
            let call = b.call(i, i64::MAX / 2);
            let secs = call.duration_secs.unwrap_or_default();
            match call.state {
                CallState::Completed => assert!((18..=42).contains(&secs), "{call:?}"),
                CallState::Failed => {
                    assert!((3..=15).contains(&secs), "{call:?}");
                    assert_eq!(call.error, Some("Number busy"));
                }
                other => panic!("call {i} still {other:?}"),
            }
        }
    }

    #[test]
    fn counters_match_the_per_call_states() {
        let b = batch(BatchScript::new(200).concurrency(7).failure_rate(0.3));
        for t in [0, 15 * S, 95 * S, 400 * S, 2000 * S] {
            let p = b.snapshot(t).progress;
            let count = |s| b.calls_where(t, |c| c == s).count();
            assert_eq!(count(CallState::Waiting), p.waiting, "at {t}");
            assert_eq!(count(CallState::Active), p.active, "at {t}");
            assert_eq!(count(CallState::Completed), p.completed, "at {t}");
            assert_eq!(count(CallState::Failed), p.failed, "at {t}");
        }
    }

    #[test]
    fn recent_calls_are_the_last_ten_ended_newest_first() {
        let b = batch(BatchScript::new(60).failure_rate(0.5));
        let t = 200 * S;
        let recent = b.recent_calls(t, 10);
        assert_eq!(recent.len(), 10);
        for pair in recent.windows(2) {
            assert!(pair[0].end >= pair[1].end);
        }
        assert_eq!(recent[0].end, b.snapshot(t).last_ended);
        assert!(b.recent_calls(0, 10).is_empty());
    }

    #[test]
    fn cancel_drops_waiting_calls_and_lets_active_ones_finish() {
        let mut b = batch(BatchScript::new(30).concurrency(3).failure_rate(0.0));
        let t = 45 * S;
        let before = b.snapshot(t).progress;
        let report = b.cancel(t).expect("running batch cancels");
        assert_eq!(report.cancelled, before.waiting);
        assert_eq!(report.completed, before.completed);
        assert_eq!(report.total, 30);

        let just_after = b.snapshot(t);
        assert_eq!(just_after.status, BatchStatus::Cancelled);
        assert_eq!(just_after.progress.waiting, 0);
        assert_eq!(just_after.progress.active, before.active);
        assert!(!just_after.is_complete());

        let later = b.snapshot(500 * S);
        assert!(later.is_complete());
        assert_eq!(later.progress.active, 0);
        assert_eq!(later.progress.completed, before.completed + before.active);
        assert_eq!(later.completed_time, later.last_ended);
        assert!(b.cancel(600 * S).is_none());
    }

    #[test]
    fn cancelling_a_queued_batch_completes_it_at_once() {
        let mut b = batch(BatchScript::new(10).start_delay(Duration::from_secs(60)));
        b.cancel(5 * S).expect("queued batch cancels");
        let snap = b.snapshot(5 * S);
        assert_eq!(snap.status, BatchStatus::Cancelled);
        assert_eq!(snap.completed_time, Some(5 * S));
        assert_eq!(snap.start_time, None);
        assert_eq!(snap.progress.cancelled, 10);
        assert_eq!(b.snapshot(100 * S).progress.active, 0);
    }

    #[test]
    fn abort_fails_the_batch_and_drops_the_rest() {
        let b = batch(
            BatchScript::new(40)
                .concurrency(4)
                .failure_rate(0.0)
                .abort_at(Duration::from_secs(50)),
        );
        let before = b.snapshot(49 * S);
        assert_eq!(before.status, BatchStatus::Processing);
        assert_eq!(before.progress.cancelled, 0);
        let after = b.snapshot(50 * S);
        assert_eq!(after.status, BatchStatus::Failed);
        assert_eq!(after.completed_time, Some(50 * S));
        assert_eq!(after.progress.waiting, 0);
        assert_eq!(after.progress.active, 0);
        assert!(after.progress.failed > 0);
        assert_eq!(sum(&after.progress), 40);
        let aborted = b.calls_where(50 * S, |s| s == CallState::Failed).next();
        assert_eq!(
            aborted.and_then(|i| b.call(i, 50 * S).error),
            Some(ABORTED_REASON)
        );
    }

    #[test]
    fn finish_ends_every_call_now() {
        let mut b = batch(BatchScript::new(100).failure_rate(0.1));
        b.finish(20 * S);
        let snap = b.snapshot(20 * S);
        assert_eq!(snap.status, BatchStatus::Completed);
        assert_eq!(snap.completed_time, Some(20 * S));
        assert_eq!(snap.progress.completed + snap.progress.failed, 100);
        assert!(snap.progress.failed > 0);
    }

    #[test]
    fn finished_and_started_ago_batches_are_over_when_added() {
        let done = Batch::new("d".into(), BatchScript::new(120).finished(), 0);
        let snap = done.snapshot(0);
        assert_eq!(snap.status, BatchStatus::Completed);
        assert!(snap.completed_time.is_some_and(|c| c <= -60 * S));
        assert!(snap.start_time.is_some_and(|s| s < 0));

        let half = Batch::new(
            "h".into(),
            BatchScript::new(10)
                .concurrency(1)
                .failure_rate(0.0)
                .started_ago(Duration::from_secs(150)),
            0,
        );
        let p = half.snapshot(0).progress;
        assert!(p.completed >= 3 && p.completed <= 8, "{p:?}");
    }

    #[test]
    fn an_empty_batch_completes_when_it_starts() {
        let b = batch(BatchScript::new(0));
        let snap = b.snapshot(0);
        assert_eq!(snap.status, BatchStatus::Completed);
        assert_eq!(snap.completed_time, Some(0));
    }
}
