//! Polling: which batch is due and when (within the request budget, back-off and pauses), the
//! request sent for it, and what its answer means — progress kept (what it means for the batch
//! is [`Tracked::observe`]'s to say), a 429 pausing the key, a 401 stopping it.

use std::time::Duration;

use tokio::time::Instant;

use crate::api::{rate_limit_wait, ApiError};
use crate::change::credentials_rejected_notification;
use crate::events::{sentence, Event, EventKind};
use crate::model::BatchStatus;
use crate::schedule::jitter_seed;

use super::tracked::Save;
use super::*;

impl<S: TrilletApi> Task<S> {
    /// Whether a lane's key may be polled with: not refused.
    pub(super) fn polling_allowed(&self, lane: usize) -> bool {
        lane > 0 && self.lanes[lane].rejection.is_none()
    }

    /// When the next poll can go out, over every key.
    pub(super) fn next_poll_time(&mut self, now: Instant) -> Option<Instant> {
        (1..self.lanes.len())
            .filter_map(|lane| self.next_poll_time_on(lane, now))
            .min()
    }

    /// When the next poll can go out with one key: its most due batch, within its budget and
    /// after its pause.
    pub(super) fn next_poll_time_on(&mut self, lane: usize, now: Instant) -> Option<Instant> {
        if !self.polling_allowed(lane) {
            return None;
        }
        let due = self
            .batches
            .iter()
            .filter(|b| b.lane == Some(lane) && b.pollable() && b.in_flight.is_none())
            .map(|b| b.next_due)
            .min()?;
        let policy = self.poll_policy();
        let lane = &mut self.lanes[lane];
        let mut at = due.max(lane.budget.next_slot(now, &policy));
        if let Some(pause) = lane.rate_limit {
            at = at.max(pause.until);
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
            self.schedule_save(now);
            changed = true;
        }
        if self.save_at.is_some_and(|at| at <= now) {
            changed |= self.save_now();
        }
        for lane in &mut self.lanes {
            if lane.rate_limit.is_some_and(|pause| pause.until <= now) {
                lane.rate_limit = None;
                changed = true;
            }
        }
        // Held notifications are due once the quiet is over and no pause holds them; turned
        // off meanwhile, they are dropped (the person chose no notifications).
        if !self.held.is_empty() && !self.quiet_at(now_ms) && !self.settings.paused_at(now_ms) {
            let held = std::mem::take(&mut self.held);
            // Forgotten on disk before it is told: a crash between loses one summary rather
            // than telling it twice.
            self.save_now();
            if let Some(notification) = held.summary().filter(|_| self.settings.notifications) {
                let _ = self
                    .events
                    .send(MonitorEvent::QuietSummary { notification });
            }
        }
        changed | self.take_turns(now)
    }

    /// The due batch of a lane to poll first: never-fetched batches, then the longest overdue.
    pub(super) fn most_due(&self, lane: usize, now: Instant) -> Option<usize> {
        self.batches
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                b.lane == Some(lane) && b.pollable() && b.in_flight.is_none() && b.next_due <= now
            })
            .min_by_key(|(_, b)| (b.fetch != FetchStatus::Pending, b.next_due))
            .map(|(i, _)| i)
    }

    pub(super) fn send_poll(&mut self, index: usize, now: Instant) {
        let batch = &self.batches[index];
        let Some(watched) = batch.workspace.as_ref().and_then(|w| self.watched(Some(w))) else {
            return;
        };
        // Each batch is asked with its own workspace's pair, counted in its key's budget.
        let request = self.source.fetch(&watched.workspace.credentials, &batch.id);
        let lane = watched.lane;
        let asked = Self::asked(Some(&watched.workspace.credentials));
        self.lanes[lane].budget.record(now);
        let batch = &mut self.batches[index];
        let (id, generation) = (batch.id.clone(), batch.generation);
        let task = self.polls.spawn(async move {
            PollAnswer {
                id,
                generation,
                asked,
                result: request.await,
            }
        });
        batch.in_flight = Some(task.id());
    }

    /// A poll whose task died without an answer: its batch is no longer in flight and is
    /// tried again after a back-off, like any failure.
    pub(super) fn recover_lost_poll(&mut self, task: tokio::task::Id) -> bool {
        let policy = self.poll_policy();
        let Some(batch) = self.batches.iter_mut().find(|b| b.in_flight == Some(task)) else {
            return false; // untracked meanwhile
        };
        batch.in_flight = None;
        batch.consecutive_errors = batch.consecutive_errors.saturating_add(1);
        batch.next_due = Instant::now()
            + policy.backoff(batch.consecutive_errors, jitter_seed(batch.id.as_str()));
        true
    }

    pub(super) fn apply_poll(&mut self, answer: PollAnswer) -> bool {
        let now = Instant::now();
        let now_ms = (self.clock)();
        let Some(index) = self
            .batches
            .iter()
            .position(|b| b.id == answer.id && b.generation == answer.generation)
        else {
            return false; // untracked meanwhile
        };
        self.batches[index].in_flight = None;
        let lane = self.lane_still(&answer.asked);
        let Some(lane) = lane
            .filter(|_| self.still_asked_so(self.batches[index].workspace.as_ref(), &answer.asked))
        else {
            // Asked with credentials since replaced: whatever it says (404 from the old
            // workspace, 429 for the old key) is not about the new ones. Ask again.
            self.batches[index].next_due = now;
            return true;
        };
        let (running, queued) = self.budget_shares(lane);
        let policy = self.poll_policy();
        let failure_alert = self.settings.failure_alert_percent;
        let stall_after_ms = self.settings_in_force().stall_after_ms();

        match answer.result {
            Ok(progress) => {
                let batch = &mut self.batches[index];
                batch.next_due = now
                    + if progress.status == BatchStatus::Queued {
                        let until_start = batch
                            .launch
                            .as_ref()
                            .and_then(|l| l.scheduled_at_ms)
                            .map(|at| Duration::from_millis(at.saturating_sub(now_ms)));
                        policy.queued_wait(running, queued, until_start)
                    } else {
                        policy.interval(running, queued)
                    };
                let observed = batch.observe(progress, failure_alert, stall_after_ms, now_ms);
                if observed.save != Save::Nothing {
                    let every = u64::try_from(policy.window.as_millis()).unwrap_or(u64::MAX);
                    batch.sample(now_ms, every);
                }
                let id = batch.id.clone();
                let show = self.settings.notify_at(now_ms);
                let batch = &self.batches[index];
                let workspace = batch.workspace.as_ref().map(|w| w.as_str());
                let named = self.label_to_name(batch.workspace.as_ref());
                let (progress, launch) = (batch.last.as_deref(), batch.launch.as_deref());
                let choice = batch.notify;
                let payload = |kind, text: String| {
                    progress.map(|p| Event::of_batch(kind, &id, p, text, now_ms, workspace, launch))
                };
                let mut said = Vec::new();
                let quiet = self.quiet_at(now_ms);
                let mut held_any = false;
                if observed.started {
                    let text = progress.map_or_else(String::new, |p| {
                        format!("Batch {id} started — {}", crate::format::calls(p.total))
                    });
                    if let Some(payload) = payload(EventKind::Started, text) {
                        said.push(MonitorEvent::Started {
                            id: id.clone(),
                            payload,
                        });
                    }
                }
                let told = [
                    (observed.alert, EventKind::FailureRate),
                    (observed.stall, EventKind::Stalled),
                    (observed.finish, EventKind::Finished),
                ];
                for (notification, kind) in told {
                    let Some(mut notification) = notification else {
                        continue;
                    };
                    if let Some(label) = &named {
                        // With several workspaces, which one is part of the news.
                        notification.body = format!("{label}: {}", notification.body);
                    }
                    let text = sentence(&notification.title, &notification.body);
                    let Some(payload) = payload(kind, text) else {
                        continue;
                    };
                    let id = id.clone();
                    // The batch's own choice silences its notifications, never its hooks.
                    let mut show = show && progress.is_some_and(|p| choice.allows(kind, p));
                    if show && quiet {
                        // Told when the quiet ends; kept on disk before anything is sent.
                        self.held.hold(&notification, kind == EventKind::Finished);
                        held_any = true;
                        show = false;
                    }
                    said.push(match kind {
                        EventKind::FailureRate => MonitorEvent::FailureRateHigh {
                            id,
                            notification,
                            show,
                            payload,
                        },
                        EventKind::Stalled => MonitorEvent::Stalled {
                            id,
                            notification,
                            show,
                            payload,
                        },
                        _ => MonitorEvent::BatchFinished {
                            id,
                            notification,
                            show,
                            payload,
                        },
                    });
                }
                // "Announced" (and what quiet hours hold) reaches the disk, in one write, before
                // anything is told.
                match if held_any { Save::Now } else { observed.save } {
                    Save::Now => {
                        self.save_now();
                    }
                    Save::Soon => self.schedule_save(now),
                    Save::Nothing => {}
                }
                for event in said {
                    let _ = self.events.send(event);
                }
            }
            Err(ApiError::Unauthorized { status, message }) => {
                self.reject_credentials(lane, answer.asked.workspace.as_ref(), status, message);
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
                let pause = self.pause_for_rate_limit(lane, *retry_after, now, now_ms);
                // Said with the wait actually used, not the server's (perhaps absurd) one.
                let error = error.with_retry_after(pause.until.saturating_duration_since(now));
                let batch = &mut self.batches[index];
                batch.next_due = pause.until;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: pause.until_ms,
                };
            }
            Err(error) => {
                let batch = &mut self.batches[index];
                batch.consecutive_errors = batch.consecutive_errors.saturating_add(1);
                let wait = policy.backoff(batch.consecutive_errors, jitter_seed(batch.id.as_str()));
                batch.next_due = now + wait;
                batch.fetch = FetchStatus::Retrying {
                    code: error.code().into(),
                    message: error.to_string(),
                    retry_at_ms: now_ms.saturating_add(wait.as_millis() as u64),
                };
            }
        }
        true
    }

    /// 401: polling with this key stops until it is replaced (its workspaces only; the other
    /// keys go on). 403: the key is not allowed in that workspace, which alone stops. Said
    /// once.
    pub(super) fn reject_credentials(
        &mut self,
        lane: usize,
        workspace: Option<&WorkspaceId>,
        status: u16,
        message: String,
    ) {
        if lane == 0 {
            return; // another process's key: not this monitor's to stop
        }
        let rejection = Rejection {
            status,
            message: message.clone(),
        };
        // A 403 of a workspace polled with this key: that pairing's refusal.
        let pairing = (status == 403)
            .then(|| {
                self.workspaces
                    .iter()
                    .position(|w| Some(w.workspace.id()) == workspace && w.lane == lane)
            })
            .flatten();
        let (named, first) = match pairing {
            Some(i) if self.workspaces[i].refusal.is_none() => {
                self.workspaces[i].refusal = Some(rejection);
                self.assign_lanes();
                let w = &self.workspaces[i].workspace;
                (w.label.clone(), w.id().clone())
            }
            // A 403 about a pairing no longer polled here (removed, or another key now): not
            // this key's to stop for its other workspaces.
            None if status == 403 => return,
            None if self.lanes[lane].rejection.is_none() => {
                self.lanes[lane].rejection = Some(rejection);
                let first = self.workspaces.iter().find(|w| w.lane == lane);
                let Some(first) = first.map(|w| w.workspace.id().clone()) else {
                    return;
                };
                (self.labels_on(lane), first)
            }
            _ => {
                // Said already; a batch that got a lane meanwhile loses it.
                self.assign_lanes();
                return;
            }
        };
        let mut notification = credentials_rejected_notification(&message);
        if self.workspaces.len() > 1 {
            notification.body = format!("{named}: {}", notification.body);
        }
        let payload = Event::credentials_rejected(
            sentence(&notification.title, &notification.body),
            (self.clock)(),
            Some(first.as_str()),
        );
        let _ = self.events.send(MonitorEvent::CredentialsRejected {
            message,
            notification,
            payload,
        });
    }

    /// The wait a 429 earns: the server's word, within reason — an absurd Retry-After (or a
    /// reset_at in year 9999) must neither overflow the clock nor stop polling for years.
    pub(super) fn rate_limit_wait(&self, retry_after: Option<Duration>) -> Duration {
        let policy = self.poll_policy();
        rate_limit_wait(
            retry_after,
            policy.window,
            policy.backoff_cap.max(policy.window),
        )
    }

    /// 429: nothing is sent with the key until the wait is over (a later, longer pause extends
    /// it); the other keys go on. Returns the pause this answer asked for.
    pub(super) fn pause_for_rate_limit(
        &mut self,
        lane: usize,
        retry_after: Option<Duration>,
        now: Instant,
        now_ms: u64,
    ) -> RateLimit {
        let wait = self.rate_limit_wait(retry_after);
        let pause = RateLimit {
            until: now + wait,
            until_ms: now_ms.saturating_add(wait.as_millis() as u64),
        };
        let lane = &mut self.lanes[lane];
        if lane.rate_limit.is_none_or(|p| pause.until >= p.until) {
            log::warn!("rate-limited by Trillet: nothing is sent with this key for {wait:?}");
            lane.rate_limit = Some(pause);
        }
        pause
    }

    /// (running or not yet seen, queued) among a key's batches still polled: the shares of its
    /// request budget.
    pub(super) fn budget_shares(&self, lane: usize) -> (usize, usize) {
        let pollable = self
            .batches
            .iter()
            .filter(|b| b.lane == Some(lane) && b.pollable());
        let queued = pollable.clone().filter(|b| b.queued()).count();
        (pollable.count() - queued, queued)
    }
}
