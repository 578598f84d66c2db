//! The key's budget shared by the monitor's polls and other processes' leases (the terminal
//! asking Trillet beside the tray app, [`MonitorHandle::lease`]): the one place that decides
//! whose turn comes next.

use tokio::time::Instant;

use super::*;

/// Who sends the next request the budget has room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The oldest waiting lease.
    Lease,
    /// The batch at this index.
    Poll(usize),
}

impl<S: TrilletApi> Task<S> {
    /// Gives every turn the budget has room for now; whether a poll went out (the view then
    /// shows it in flight).
    pub(super) fn take_turns(&mut self, now: Instant) -> bool {
        let mut polled = false;
        while let Some(turn) = self.next_turn(now) {
            match turn {
                Turn::Lease => self.grant_lease(now),
                Turn::Poll(index) => {
                    self.send_poll(index, now);
                    polled = true;
                }
            }
        }
        polled
    }

    /// Whose turn it is now, if anyone's. Turns go in the order asked — a lease asked before
    /// the due poll was due goes first — so neither the polls nor the other process starve. A
    /// poll takes its turn only when it can be sent (usable credentials); without one, leases
    /// go on alone.
    fn next_turn(&mut self, now: Instant) -> Option<Turn> {
        let poll = self
            .next_poll_time(now)
            .filter(|at| *at <= now)
            .and_then(|_| self.most_due(now));
        let lease = self.next_lease_time(now).is_some_and(|at| at <= now);
        match poll {
            Some(index) if !(lease && self.lease_asked_before(self.batches[index].next_due)) => {
                Some(Turn::Poll(index))
            }
            _ => lease.then_some(Turn::Lease),
        }
    }

    /// When the first waiting lease can be granted: the next slot in the budget, after any 429
    /// pause (a request sent during one would only earn another).
    pub(super) fn next_lease_time(&mut self, now: Instant) -> Option<Instant> {
        self.leases.retain(|(_, l)| !l.is_closed());
        if self.leases.is_empty() {
            return None;
        }
        let slot = self.budget.next_slot(now, &self.poll_policy());
        Some(self.rate_limit.map_or(slot, |pause| slot.max(pause.until)))
    }

    /// Whether the oldest waiting lease asked before `due` (a poll's due time).
    fn lease_asked_before(&self, due: Instant) -> bool {
        self.leases.front().is_some_and(|(since, _)| *since <= due)
    }

    /// Grants the oldest waiting lease whose client still waits, counted as a request sent
    /// now (one whose client went takes no slot).
    fn grant_lease(&mut self, now: Instant) {
        while let Some((_, lease)) = self.leases.pop_front() {
            if !lease.is_closed() {
                self.budget.record(now);
                let _ = lease.send(Ok(()));
                return;
            }
        }
    }
}
