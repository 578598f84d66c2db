//! The task's loop: it waits for the first of a command, a poll's answer, a user request's
//! answer or the next deadline, applies it, and publishes the view when something changed.
//! Commands from the handle (track, untrack, refresh, credentials, settings, user requests)
//! are taken here.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::batch_id::BatchId;
use crate::state_file::Settings;

use super::*;

impl<S: TrilletApi> Task<S> {
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) {
        let mut next_generation = 1;
        loop {
            let wake = self.next_wake();
            let changed = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command, &mut next_generation),
                    None => break,
                },
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    match joined {
                        Ok((task, answer)) => {
                            self.requests.remove(&task);
                            self.apply(answer)
                        }
                        // A fetch cannot panic by design; if one did, its batch is retried.
                        Err(e) => self.recover_lost_request(e.id()),
                    }
                }
                Some(Ok(answer)) = self.actions.join_next(), if !self.actions.is_empty() => {
                    // (A panicked action drops its reply, which the caller reads as interrupted.)
                    self.apply_action(answer)
                }
                () = sleep_or_forever(wake) => self.on_timer(),
            };
            if changed {
                self.publish();
            }
        }
        let _ = self.save_now();
    }

    /// The earliest moment something is due: a poll (within budget and pauses) or a save.
    pub(super) fn next_wake(&mut self) -> Option<Instant> {
        let now = Instant::now();
        [self.next_poll_time(now), self.save_at, self.pause_end(now)]
            .into_iter()
            .flatten()
            .min()
    }

    /// When a notification pause in force ends, so the view says so at that moment.
    pub(super) fn pause_end(&self, now: Instant) -> Option<Instant> {
        let until = self.settings.notifications_paused_until_ms?;
        Some(now + Duration::from_millis(until.saturating_sub((self.clock)())))
    }

    pub(super) fn handle(&mut self, command: Command, next_generation: &mut u64) -> bool {
        let now = Instant::now();
        match command {
            Command::Track(ids, reply) => {
                let mut tracking = Tracking::default();
                let mut known: std::collections::HashSet<BatchId> =
                    self.batches.iter().map(|b| b.id.clone()).collect();
                for id in ids {
                    if known.contains(&id) {
                        tracking.already.push(id);
                    } else if self.batches.len() >= MAX_TRACKED {
                        tracking.over_limit.push(id);
                    } else {
                        known.insert(id.clone());
                        self.batches
                            .push(Tracked::new(id.clone(), now, *next_generation));
                        *next_generation += 1;
                        tracking.added.push(id);
                    }
                }
                let _ = reply.send(tracking);
            }
            Command::Untrack(id) => self.batches.retain(|b| b.id != id),
            Command::Refresh(target) => {
                for b in &mut self.batches {
                    if target.as_ref().is_none_or(|t| *t == b.id) {
                        if target.is_some() && matches!(b.fetch, FetchStatus::NotFound { .. }) {
                            // Asked by name: maybe it exists now.
                            b.fetch = FetchStatus::Pending;
                        }
                        b.next_due = b.next_due.min(now);
                    }
                }
            }
            Command::SetCredentials(credentials) => {
                self.credentials_generation += 1;
                // "Not found" may have been the old workspace's answer: ask again.
                for b in &mut self.batches {
                    if matches!(b.fetch, FetchStatus::NotFound { .. }) {
                        b.fetch = FetchStatus::Pending;
                        b.next_due = now;
                    }
                }
                self.connection = match credentials {
                    Some(_) => Connection::Ready,
                    None => Connection::NoCredentials,
                };
                self.credentials = credentials;
                self.rate_limited_until = None;
            }
            Command::UpdateSettings(change) => {
                // Decided once, on the settings in force; the stored ones take the result, except
                // a start-up override of the schedule, which stays unsaved unless this changed it.
                let before = self.settings.poll;
                change(&mut self.settings);
                let stored_poll = if self.settings.poll == before {
                    self.stored_settings.poll
                } else {
                    self.settings.poll
                };
                self.stored_settings = Settings {
                    poll: stored_poll,
                    ..self.settings
                };
                // A shorter interval takes effect now rather than after the old one runs out.
                let (running, queued) = self.load();
                let soonest = now + self.settings.poll.interval(running, queued);
                for b in &mut self.batches {
                    b.next_due = b.next_due.min(soonest);
                }
            }
            Command::Cancel(id, reply) => {
                self.send_cancel(id, reply, now);
                return false;
            }
            Command::Calls(id, query, reply) => {
                self.send_calls(id, query, reply, now);
                return false;
            }
        }
        self.schedule_save(now);
        true
    }
}

async fn sleep_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
