//! Polling: which batch is due and when (within the request budget, back-off and pauses), the
//! request sent for it, and what its answer means — progress kept, a finish announced once,
//! the failure-rate alert, a 429 pausing the key, a 401 stopping it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{rate_limit_wait, ApiError};
use crate::change::{
    credentials_rejected_notification, detect, failure_rate_alert, is_final, notification_for,
    Change,
};
use crate::model::BatchStatus;
use crate::schedule::jitter_seed;

use super::*;

impl<S: TrilletApi> Task<S> {
    pub(super) fn polling_allowed(&self) -> bool {
        matches!(
            self.connection,
            Connection::Ready | Connection::RateLimited { .. }
        )
    }

    pub(super) fn next_poll_time(&mut self, now: Instant) -> Option<Instant> {
        if !self.polling_allowed() {
            return None;
        }
        let due = self
            .batches
            .iter()
            .filter(|b| b.pollable() && !b.in_flight)
            .map(|b| b.next_due)
            .min()?;
        let mut at = due.max(self.budget.next_slot(now, &self.settings.poll));
        if let Some(until) = self.rate_limited_until {
            at = at.max(until);
        }
        Some(at)
    }

    pub(super) fn on_timer(&mut self) -> bool {
        let now = Instant::now();
        let mut changed = false;
        let now_ms = (self.clock)();
        if self
            .settings
            .notifications_paused_until_ms
            .is_some_and(|until| until <= now_ms)
        {
            // The hour is over: forget it, so neither the view nor the file still says "paused".
            self.settings.notifications_paused_until_ms = None;
            self.stored_settings.notifications_paused_until_ms = None;
            self.schedule_save(now);
            changed = true;
        }
        if self.save_at.is_some_and(|at| at <= now) {
            changed |= self.save_now();
        }
        if self.rate_limited_until.is_some_and(|until| until <= now) {
            self.rate_limited_until = None;
            if matches!(self.connection, Connection::RateLimited { .. }) {
                self.connection = Connection::Ready;
                changed = true;
            }
        }
        while let Some(at) = self.next_poll_time(now) {
            if at > now {
                break;
            }
            let Some(index) = self.most_due(now) else {
                break;
            };
            self.send_request(index, now);
            changed = true;
        }
        changed
    }

    /// The due batch to poll first: never-fetched batches, then the longest overdue.
    pub(super) fn most_due(&self, now: Instant) -> Option<usize> {
        self.batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.pollable() && !b.in_flight && b.next_due <= now)
            .min_by_key(|(_, b)| (b.fetch != FetchStatus::Pending, b.next_due))
            .map(|(i, _)| i)
    }

    pub(super) fn send_request(&mut self, index: usize, now: Instant) {
        let Some(credentials) = self.credentials.clone() else {
            return;
        };
        self.budget.record(now);
        let batch = &mut self.batches[index];
        batch.in_flight = true;
        let request = self.source.fetch(&credentials, &batch.id);
        let (id, generation, credentials_generation) = (
            batch.id.clone(),
            batch.generation,
            self.credentials_generation,
        );
        let task = self.in_flight.spawn({
            let id = id.clone();
            async move {
                Answer {
                    id,
                    generation,
                    credentials_generation,
                    result: request.await,
                }
            }
        });
        self.requests.insert(task.id(), (id, generation));
    }

    /// A request whose task died without an answer: its batch is no longer in flight and is
    /// tried again after a back-off, like any failure.
    pub(super) fn recover_lost_request(&mut self, task: tokio::task::Id) -> bool {
        let Some((id, generation)) = self.requests.remove(&task) else {
            return false;
        };
        let policy = self.settings.poll;
        if let Some(batch) = self
            .batches
            .iter_mut()
            .find(|b| b.id == id && b.generation == generation)
        {
            batch.in_flight = false;
            batch.failures += 1;
            batch.next_due =
                Instant::now() + policy.backoff(batch.failures, jitter_seed(batch.id.as_str()));
        }
        true
    }

    pub(super) fn apply(&mut self, answer: Answer) -> bool {
        let now = Instant::now();
        let now_ms = (self.clock)();
        let Some(index) = self
            .batches
            .iter()
            .position(|b| b.id == answer.id && b.generation == answer.generation)
        else {
            return false; // untracked meanwhile
        };
        self.batches[index].in_flight = false;
        if answer.credentials_generation != self.credentials_generation {
            // Asked with credentials since replaced: whatever it says (404 from the old
            // workspace, 429 for the old key) is not about the new ones. Ask again.
            self.batches[index].next_due = now;
            return true;
        }
        let (running, queued) = self.load();
        let policy = self.settings.poll;
        let failure_alert = self.settings.failure_alert_percent;

        match answer.result {
            Ok(progress) => {
                let batch = &mut self.batches[index];
                let change = detect(batch.last.as_deref(), &progress);
                let alert = failure_alert
                    .filter(|_| !batch.failure_alerted)
                    .and_then(|threshold| failure_rate_alert(&batch.id, &progress, threshold));
                let alerted_now = alert.is_some();
                if let Some(notification) = alert {
                    batch.failure_alerted = true;
                    let _ = self.events.send(MonitorEvent::FailureRateHigh {
                        id: batch.id.clone(),
                        notification,
                    });
                }
                let progress = Arc::new(progress);
                if change == Change::FirstSeen && is_final(&progress) {
                    // Finished before we ever saw it running: nothing to announce, ever.
                    batch.finish_notified = true;
                }
                if change == Change::Cancelled && batch.cancels_pending > 0 {
                    // Seen before the DELETE's own answer: the user's doing, not news.
                    batch.finish_notified = true;
                }
                let announce = change.is_finish() && !batch.finish_notified;
                if announce {
                    batch.finish_notified = true;
                    if let Some(notification) =
                        notification_for(&batch.id, change, &progress, now_ms)
                    {
                        let _ = self.events.send(MonitorEvent::BatchFinished {
                            id: batch.id.clone(),
                            change,
                            progress: progress.clone(),
                            notification,
                        });
                    }
                }
                batch.next_due = now
                    + if progress.status == BatchStatus::Queued {
                        policy.queued_interval(running, queued)
                    } else {
                        policy.interval(running, queued)
                    };
                batch.last = Some(progress);
                batch.last_updated_ms = Some(now_ms);
                batch.fetch = FetchStatus::Live;
                batch.failures = 0;
                if announce || alerted_now {
                    // "Announced" reaches the disk now, not after the debounce, so a kill or a
                    // logout right after the notification cannot bring it back at the next start.
                    self.save_now();
                } else {
                    self.schedule_save(now);
                }
            }
            Err(ApiError::Unauthorized { status, message }) => {
                self.reject_credentials(status, message);
            }
            Err(error @ ApiError::NotFound { .. }) => {
                self.batches[index].fetch = FetchStatus::NotFound {
                    message: error.to_string(),
                };
                self.schedule_save(now);
            }
            Err(error @ ApiError::RateLimited { .. }) => {
                let ApiError::RateLimited { retry_after, .. } = &error else {
                    unreachable!()
                };
                let (until, until_ms) = self.pause_for_rate_limit(*retry_after, now, now_ms);
                // Said with the wait actually used, not the server's (perhaps absurd) one.
                let error = error.with_retry_after(until.saturating_duration_since(now));
                let batch = &mut self.batches[index];
                batch.next_due = until;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: until_ms,
                };
            }
            Err(error) => {
                let batch = &mut self.batches[index];
                batch.failures += 1;
                let wait = policy.backoff(batch.failures, jitter_seed(batch.id.as_str()));
                batch.next_due = now + wait;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: now_ms + wait.as_millis() as u64,
                };
            }
        }
        true
    }

    /// 401/403: polling stops until new credentials; said once.
    pub(super) fn reject_credentials(&mut self, status: u16, message: String) {
        if !matches!(self.connection, Connection::CredentialsRejected { .. }) {
            self.connection = Connection::CredentialsRejected {
                status,
                message: message.clone(),
            };
            let notification = credentials_rejected_notification(&message);
            let _ = self.events.send(MonitorEvent::CredentialsRejected {
                message,
                notification,
            });
        }
    }

    /// 429: nothing is sent until the wait is over. Returns when that is.
    pub(super) fn pause_for_rate_limit(
        &mut self,
        retry_after: Option<Duration>,
        now: Instant,
        now_ms: u64,
    ) -> (Instant, u64) {
        let policy = self.settings.poll;
        // The server's word, within reason: an absurd Retry-After (or a reset_at in year 9999)
        // must neither overflow the clock nor stop polling for years.
        let longest = policy.backoff_cap.max(policy.window);
        let wait = rate_limit_wait(retry_after, policy.window, longest);
        let until = now + wait;
        let until_ms = now_ms.saturating_add(wait.as_millis() as u64);
        if self.rate_limited_until.is_none_or(|u| until >= u) {
            self.rate_limited_until = Some(until);
            if matches!(
                self.connection,
                Connection::Ready | Connection::RateLimited { .. }
            ) {
                self.connection = Connection::RateLimited { until_ms };
            }
        }
        let _ = self.events.send(MonitorEvent::RateLimited { until_ms });
        (until, until_ms)
    }

    /// (running or not yet seen, queued) among the batches still polled.
    pub(super) fn load(&self) -> (usize, usize) {
        let pollable = self.batches.iter().filter(|b| b.pollable());
        let queued = pollable.clone().filter(|b| b.queued()).count();
        (pollable.count() - queued, queued)
    }
}
