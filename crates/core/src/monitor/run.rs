//! The task's loop: it waits for the first of a command, a poll's answer, a user request's
//! answer or the next deadline, applies it, and publishes the view when something changed.
//! Commands from the handle (track, untrack, refresh, credentials, settings, user requests,
//! drill-downs) are taken here.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::batch_id::BatchId;
use crate::state_file::Settings;

use super::*;

/// How often the wall clock is asked again while notifications are held through quiet hours.
const QUIET_RECHECK: Duration = Duration::from_secs(60);

impl<S: TrilletApi> Task<S> {
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) {
        loop {
            // A lease asked for, a save or an answer may have made someone's turn come.
            if self.take_turns(Instant::now()) {
                self.publish();
            }
            let wake = self.next_wake();
            let changed = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.take_command(command),
                    None => break,
                },
                Some(joined) = self.polls.join_next(), if !self.polls.is_empty() => {
                    match joined {
                        Ok(answer) => self.apply_poll(answer),
                        // A fetch cannot panic by design; if one did, its batch is retried.
                        Err(e) => self.recover_lost_poll(e.id()),
                    }
                }
                Some(Ok(answer)) = self.user_requests.join_next(), if !self.user_requests.is_empty() => {
                    // (A panicked request drops its reply, which the caller reads as interrupted.)
                    self.apply_request_answer(answer)
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
        // The 429 pauses too: with nothing left to poll, their end must still reach the snapshot.
        let rate_limit_end = self
            .lanes
            .iter()
            .filter_map(|l| l.rate_limit.map(|pause| pause.until))
            .min();
        [
            self.next_poll_time(now),
            self.next_lease_time(now),
            self.save_at,
            self.pause_end(now),
            self.quiet_end(now),
            rate_limit_end,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether notifications are held at `now_ms` (the user's quiet hours, in their zone).
    pub(super) fn quiet_at(&self, now_ms: u64) -> bool {
        self.settings
            .quiet_hours
            .is_some_and(|q| q.is_quiet(now_ms, &self.zone))
    }

    /// When held notifications are due as a summary: the quiet's end, or at once when the
    /// quiet is over (turned off, or a restart after it ended); a pause's own end wakes the
    /// loop when one holds them. Never more than a minute away while quiet: the timer's clock
    /// stops while the machine sleeps and local time can jump (a DST change), so the wall
    /// clock is asked again each minute rather than trusted for hours.
    pub(super) fn quiet_end(&self, now: Instant) -> Option<Instant> {
        let now_ms = (self.clock)();
        if self.held.is_empty() || self.settings.paused_at(now_ms) {
            return None;
        }
        Some(match self.settings.quiet_hours {
            Some(q) if q.is_quiet(now_ms, &self.zone) => {
                let until_end = q.next_end_ms(now_ms, &self.zone).saturating_sub(now_ms);
                now + Duration::from_millis(until_end).min(QUIET_RECHECK)
            }
            _ => now,
        })
    }

    /// When a notification pause in force ends, so the view says so at that moment.
    pub(super) fn pause_end(&self, now: Instant) -> Option<Instant> {
        let until = self.settings.notifications_paused_until_ms?;
        Some(now + Duration::from_millis(until.saturating_sub((self.clock)())))
    }

    pub(super) fn take_command(&mut self, command: Command) -> bool {
        let now = Instant::now();
        match command {
            Command::Track(workspace, ids, reply) => {
                // Named and not polled here: kept with that name, waiting for its credentials.
                let workspace =
                    workspace.or_else(|| self.workspaces.first().map(|w| w.workspace.id().clone()));
                let lane = self
                    .watched(workspace.as_ref())
                    .and_then(Watched::polling_lane);
                let mut tracking = Tracking::default();
                // Each ID and the workspace it is watched in.
                let mut known: std::collections::HashMap<BatchId, Option<WorkspaceId>> = self
                    .batches
                    .iter()
                    .map(|b| (b.id.clone(), b.workspace.clone()))
                    .collect();
                for (id, launch) in ids {
                    if let Some(theirs) = known.get(&id).filter(
                        |theirs| matches!((theirs, &workspace), (Some(a), Some(b)) if a != b),
                    ) {
                        // One batch of each ID for now: the same ID asked in another workspace
                        // is said, never merged into the one watched.
                        tracking
                            .in_another_workspace
                            .push((id, theirs.clone().expect("filtered on Some")));
                    } else if known.contains_key(&id) {
                        if let Some(launch) = launch {
                            if let Some(b) = self.batches.iter_mut().find(|b| b.id == id) {
                                b.launch = Some(launch);
                            }
                        }
                        tracking.already.push(id);
                    } else if self.batches.len() >= MAX_TRACKED {
                        tracking.over_limit.push(id);
                    } else {
                        known.insert(id.clone(), workspace.clone());
                        let mut tracked = Tracked::new(id.clone(), now, self.next_generation);
                        tracked.launch = launch;
                        tracked.workspace = workspace.clone();
                        tracked.lane = lane;
                        self.batches.push(tracked);
                        self.next_generation += 1;
                        tracking.added.push(id);
                    }
                }
                let _ = reply.send(tracking);
            }
            Command::Untrack(id) => self.batches.retain(|b| b.id != id),
            Command::SetNotify(id, choice) => {
                if let Some(b) = self.batches.iter_mut().find(|b| b.id == id) {
                    if b.notify != choice {
                        b.notify = choice;
                        self.schedule_save(now);
                    }
                }
            }
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
            Command::SetWorkspaces(workspaces, move_all) => {
                if move_all {
                    for b in &mut self.batches {
                        b.workspace = None; // joins the first, below
                    }
                }
                self.set_workspaces(workspaces, now);
            }
            Command::UpdateSettings(change) => {
                // Decided once, on the settings in force. A start-up override of the schedule
                // stays in force (and unsaved) unless this changed the schedule.
                let mut settings = self.settings_in_force();
                change(&mut settings);
                if settings.poll != self.poll_policy() {
                    self.poll_override = None;
                }
                self.settings = Settings {
                    poll: match self.poll_override {
                        Some(_) => self.settings.poll,
                        None => settings.poll,
                    },
                    ..settings
                };
                // A shorter interval takes effect now rather than after the old one runs out.
                let soonest: Vec<Instant> = (0..self.lanes.len())
                    .map(|lane| {
                        let (running, queued) = self.budget_shares(lane);
                        now + self.poll_policy().interval(running, queued)
                    })
                    .collect();
                for b in &mut self.batches {
                    if let Some(lane) = b.lane {
                        b.next_due = b.next_due.min(soonest[lane]);
                    }
                }
            }
            Command::PauseNotifications(paused) => {
                let now_ms = (self.clock)();
                let paused = paused.unwrap_or(!self.settings.paused_at(now_ms));
                self.settings = self.settings.with_pause(paused, now_ms);
            }
            Command::Cancel(id, reply) => {
                self.send_cancel(id, reply, now);
                return false;
            }
            Command::Agents(workspace, reply) => {
                self.send_agents(workspace, reply, now);
                return false;
            }
            Command::Start(workspace, form, reply) => {
                self.send_start(workspace, *form, reply, now);
                return false;
            }
            Command::Calls(id, query, reply, slot) => {
                self.send_calls(id, query, reply, slot, now);
                return false;
            }
            Command::Lease(whose, reply) => {
                // A workspace not polled here (the other process's own credentials) takes the
                // keyless lane's budget.
                let lane = match whose {
                    LeaseFor::Workspace(workspace) => self.lane_of(workspace.as_ref()),
                    LeaseFor::Elsewhere => None,
                    LeaseFor::Batch(id) => self
                        .batches
                        .iter()
                        .find(|b| b.id == id)
                        .and_then(|b| b.lane),
                }
                .unwrap_or(0);
                if self.leases_waiting() < MAX_LEASES_WAITING {
                    self.lanes[lane].leases.push_back((now, reply));
                } else {
                    let _ = reply.send(Err(ActionError::Busy));
                }
                return false;
            }
            Command::KnownStatus(workspace, id, reply) => {
                let _ = reply.send(self.known_status(workspace.as_ref(), &id));
                return false;
            }
            Command::AskStatus(workspace, id, reply) => {
                self.send_status(workspace, id, reply, now);
                return false;
            }
            Command::CheckCredentials(candidate, reply) => {
                self.send_credentials_check(candidate, reply, now);
                return false;
            }
            Command::DrillDown(id, reply) => {
                let drilldown = self
                    .batches
                    .iter_mut()
                    .find(|b| b.id == id)
                    .map(|b| b.drilldown.get_or_insert_with(Default::default).clone());
                let _ = reply.send(drilldown.ok_or(ActionError::NotTracked(id)));
                return false;
            }
            Command::CloseDrillDown(id) => {
                if let Some(b) = self.batches.iter_mut().find(|b| b.id == id) {
                    b.drilldown = None;
                }
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
