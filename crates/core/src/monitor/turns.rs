//! Each key's budget, shared by the monitor's polls and other processes' leases (the terminal
//! asking Trillet beside the tray app, [`MonitorHandle::lease`]): the one place that decides
//! whose turn comes next.

use tokio::time::Instant;

use super::*;

/// Who sends the next request a key's budget has room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The oldest lease waiting on this lane.
    Lease(usize),
    /// The batch at this index.
    Poll(usize),
}

impl<S: TrilletApi> Task<S> {
    /// Gives every turn the budgets have room for now; whether a poll went out (the view then
    /// shows it in flight).
    pub(super) fn take_turns(&mut self, now: Instant) -> bool {
        let mut polled = false;
        for lane in 0..self.lanes.len() {
            while let Some(turn) = self.next_turn(lane, now) {
                match turn {
                    Turn::Lease(lane) => self.grant_lease(lane, now),
                    Turn::Poll(index) => {
                        self.send_poll(index, now);
                        polled = true;
                    }
                }
            }
        }
        polled
    }

    /// Whose turn it is now on one key, if anyone's. Turns go in the order asked — a lease
    /// asked before the due poll was due goes first — so neither the polls nor the other
    /// process starve. A poll takes its turn only when it can be sent (the key not refused);
    /// without one, leases go on alone.
    fn next_turn(&mut self, lane: usize, now: Instant) -> Option<Turn> {
        let poll = self
            .next_poll_time_on(lane, now)
            .filter(|at| *at <= now)
            .and_then(|_| self.most_due(lane, now));
        let lease = self
            .next_lease_time_on(lane, now)
            .is_some_and(|at| at <= now);
        match poll {
            Some(index)
                if !(lease && self.lease_asked_before(lane, self.batches[index].next_due)) =>
            {
                Some(Turn::Poll(index))
            }
            _ => lease.then_some(Turn::Lease(lane)),
        }
    }

    /// When the first waiting lease of any key can be granted.
    pub(super) fn next_lease_time(&mut self, now: Instant) -> Option<Instant> {
        (0..self.lanes.len())
            .filter_map(|lane| self.next_lease_time_on(lane, now))
            .min()
    }

    /// When the first lease waiting on a key can be granted: the next slot in its budget,
    /// after any 429 pause (a request sent during one would only earn another).
    fn next_lease_time_on(&mut self, lane: usize, now: Instant) -> Option<Instant> {
        let policy = self.poll_policy();
        let lane = &mut self.lanes[lane];
        lane.leases.retain(|(_, l)| !l.is_closed());
        if lane.leases.is_empty() {
            return None;
        }
        let slot = lane.budget.next_slot(now, &policy);
        Some(lane.rate_limit.map_or(slot, |pause| slot.max(pause.until)))
    }

    /// Whether the oldest lease waiting on a key asked before `due` (a poll's due time).
    fn lease_asked_before(&self, lane: usize, due: Instant) -> bool {
        self.lanes[lane]
            .leases
            .front()
            .is_some_and(|(since, _)| *since <= due)
    }

    /// Grants the oldest lease waiting on a key whose client still waits, counted as a request
    /// sent now (one whose client went takes no slot).
    fn grant_lease(&mut self, lane: usize, now: Instant) {
        let lane = &mut self.lanes[lane];
        while let Some((_, lease)) = lane.leases.pop_front() {
            if !lease.is_closed() {
                lane.budget.record(now);
                let _ = lease.send(Ok(()));
                return;
            }
        }
    }

    /// Leases waiting, over every key.
    pub(super) fn leases_waiting(&self) -> usize {
        self.lanes.iter().map(|l| l.leases.len()).sum()
    }
}
