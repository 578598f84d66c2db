//! The workspaces the monitor polls and the keys they use. Trillet's limit is the key's, so
//! each key has one lane — its request budget, its refusal (401/403), its 429 pause and the
//! leases waiting on it — and every workspace on that key shares it: two workspaces on one key
//! share its requests a minute, two keys each have theirs, and a fault of one key stops or
//! pauses only its own workspaces.

use std::collections::VecDeque;

use tokio::time::Instant;

use crate::credentials::ApiKey;
use crate::schedule::RequestBudget;
use crate::workspace::Workspace;

use super::*;

/// A workspace being polled, on its key's lane.
pub(super) struct Watched {
    pub(super) workspace: Workspace,
    pub(super) lane: usize,
}

/// One key's share of Trillet: what is sent with it, and what Trillet said of it.
pub(super) struct Lane {
    /// `None` for the first lane: leases for a workspace this monitor does not poll.
    pub(super) key: Option<ApiKey>,
    pub(super) budget: RequestBudget<Instant>,
    /// Trillet refused the key (401/403): nothing is polled with it until it is replaced, or a
    /// check of it passes.
    pub(super) rejection: Option<Rejection>,
    /// A 429 in force: nothing is sent with the key until it is over.
    pub(super) rate_limit: Option<RateLimit>,
    /// Other processes waiting for room in the key's budget (see [`MonitorHandle::lease`]),
    /// first come first served; at most [`MAX_LEASES_WAITING`] over all lanes.
    pub(super) leases: VecDeque<(Instant, Reply<()>)>,
}

impl Lane {
    pub(super) fn new(key: Option<ApiKey>) -> Self {
        Self {
            key,
            budget: RequestBudget::default(),
            rejection: None,
            rate_limit: None,
            leases: VecDeque::new(),
        }
    }
}

/// Why Trillet refused a key.
pub(super) struct Rejection {
    pub(super) status: u16,
    pub(super) message: String,
}

/// A 429 pause, on both clocks: tokio's to wait on, the wall clock's to show.
#[derive(Clone, Copy)]
pub(super) struct RateLimit {
    pub(super) until: Instant,
    pub(super) until_ms: u64,
}

/// What a request was sent with: an answer teaches its lane only while the workspaces it was
/// asked under are still the ones in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Asked {
    pub(super) generation: u64,
    pub(super) lane: usize,
}

impl<S: TrilletApi> Task<S> {
    /// Polls these workspaces from now on. A key kept keeps its lane (its budget, pause and
    /// refusal: a key's fault is not cleared by adding another workspace); a new key gets a
    /// fresh one; leases waiting on a key gone wait on the keyless lane. Batches from before
    /// workspaces join the first one, and every batch learns its lane.
    pub(super) fn set_workspaces(&mut self, workspaces: Vec<Workspace>, now: Instant) {
        let mut old: Vec<Lane> = std::mem::take(&mut self.lanes);
        let mut keyless = old.remove(0);
        let mut lanes = vec![];
        let mut watched = Vec::with_capacity(workspaces.len());
        for workspace in workspaces {
            let key = &workspace.credentials.api_key;
            let lane = match lanes
                .iter()
                .position(|l: &Lane| l.key.as_ref() == Some(key))
            {
                Some(lane) => lane,
                None => {
                    let lane = match old.iter().position(|l| l.key.as_ref() == Some(key)) {
                        Some(kept) => old.swap_remove(kept),
                        None => Lane::new(Some(key.clone())),
                    };
                    lanes.push(lane);
                    lanes.len() - 1
                }
            };
            watched.push(Watched {
                workspace,
                lane: lane + 1,
            });
        }
        for gone in old {
            keyless.leases.extend(gone.leases);
        }
        keyless
            .leases
            .make_contiguous()
            .sort_by_key(|(since, _)| *since);
        self.lanes = std::iter::once(keyless).chain(lanes).collect();
        self.workspaces = watched;
        self.credentials_generation += 1;

        let first = self.workspaces.first().map(|w| w.workspace.id().clone());
        let mut adopted = false;
        for b in &mut self.batches {
            if b.workspace.is_none() && first.is_some() {
                b.workspace = first.clone();
                adopted = true;
            }
            // "Not found" may have been another workspace's answer: ask again.
            if matches!(b.fetch, FetchStatus::NotFound { .. }) {
                b.fetch = FetchStatus::Pending;
                b.next_due = now;
            }
        }
        self.assign_lanes();
        if adopted {
            self.schedule_save(now);
        }
    }

    /// Each batch's lane, from its workspace (none when its workspace is not polled).
    pub(super) fn assign_lanes(&mut self) {
        for i in 0..self.batches.len() {
            let lane = self.lane_of(self.batches[i].workspace.as_ref());
            self.batches[i].lane = lane;
        }
    }

    /// The workspace meant: the one named, else the first.
    pub(super) fn watched(&self, workspace: Option<&WorkspaceId>) -> Option<&Watched> {
        match workspace {
            Some(id) => self.workspaces.iter().find(|w| w.workspace.id() == id),
            None => self.workspaces.first(),
        }
    }

    pub(super) fn lane_of(&self, workspace: Option<&WorkspaceId>) -> Option<usize> {
        self.watched(workspace).map(|w| w.lane)
    }

    /// A lane's state, from its refusal and its pause.
    pub(super) fn lane_connection(&self, lane: usize) -> Connection {
        let lane = &self.lanes[lane];
        match (&lane.rejection, lane.rate_limit) {
            (Some(r), _) => Connection::CredentialsRejected {
                status: r.status,
                message: r.message.clone(),
            },
            (None, Some(pause)) => Connection::RateLimited {
                until_ms: pause.until_ms,
            },
            (None, None) => Connection::Ready,
        }
    }

    /// The state of all keys together, as one line shows it: a refusal first (naming its
    /// workspaces when there are several), then a pause, else ready.
    pub(super) fn connection(&self) -> Connection {
        if self.workspaces.is_empty() {
            return Connection::NoCredentials;
        }
        let several = self.workspaces.len() > 1;
        let keyed = 1..self.lanes.len();
        if let Some(lane) = keyed.clone().find(|l| self.lanes[*l].rejection.is_some()) {
            let Connection::CredentialsRejected { status, message } = self.lane_connection(lane)
            else {
                unreachable!("the lane has a refusal")
            };
            let message = match several {
                true => format!("{}: {message}", self.labels_on(lane)),
                false => message,
            };
            return Connection::CredentialsRejected { status, message };
        }
        keyed
            .filter_map(|l| self.lanes[l].rate_limit)
            .max_by_key(|p| p.until_ms)
            .map_or(Connection::Ready, |p| Connection::RateLimited {
                until_ms: p.until_ms,
            })
    }

    /// "Acme US, Acme EU": the workspaces on a lane.
    pub(super) fn labels_on(&self, lane: usize) -> String {
        self.workspaces
            .iter()
            .filter(|w| w.lane == lane)
            .map(|w| w.workspace.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The label to name a batch's workspace by in what is told, when there are several.
    pub(super) fn label_to_name(&self, workspace: Option<&WorkspaceId>) -> Option<String> {
        (self.workspaces.len() > 1)
            .then(|| self.watched(workspace).map(|w| w.workspace.label.clone()))
            .flatten()
    }

    /// What a request sent now on `lane` is tagged with.
    pub(super) fn asked(&self, lane: usize) -> Asked {
        Asked {
            generation: self.credentials_generation,
            lane,
        }
    }

    /// The lane an answer teaches, if its workspaces are still the ones in force.
    pub(super) fn lane_still(&self, asked: Asked) -> Option<usize> {
        (asked.generation == self.credentials_generation).then_some(asked.lane)
    }
}
