//! The workspaces the monitor polls and the keys they use. Trillet's limit is the key's, so
//! each key has one lane — its request budget, its refusal (401), its 429 pause and the leases
//! waiting on it — and every workspace on that key shares it: two workspaces on one key share
//! its requests a minute, two keys each have theirs, and a fault of one key stops or pauses
//! only its own workspaces. A 403 is about one pairing (the key is not allowed in that
//! workspace): it stops that workspace alone.

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
    /// Trillet refused its key for this workspace (403): its batches are not polled until the
    /// pair changes or a check of it passes. (A refused key, 401, is its lane's.)
    pub(super) refusal: Option<Rejection>,
}

/// One key's share of Trillet: what is sent with it, and what Trillet said of it.
pub(super) struct Lane {
    /// `None` for the first lane: leases for a workspace this monitor does not poll.
    pub(super) key: Option<ApiKey>,
    pub(super) budget: RequestBudget<Instant>,
    /// Trillet refused the key (401): nothing is polled with it until it is replaced, or a
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

impl Watched {
    /// The lane its batches are polled on: none while Trillet refuses the pairing (403).
    pub(super) fn polling_lane(&self) -> Option<usize> {
        self.refusal.is_none().then_some(self.lane)
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

/// What a request was sent with: its answer teaches the lane of that key (and the workspace,
/// for a 403) as long as the key is still in use, whatever else changed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Asked {
    /// `None` for the keyless lane.
    pub(super) key: Option<ApiKey>,
    pub(super) workspace: Option<WorkspaceId>,
}

impl<S: TrilletApi> Task<S> {
    /// Polls these workspaces from now on. A key kept keeps its lane (its budget, pause and
    /// refusal: a key's fault is not cleared by adding another workspace), and a pair kept its
    /// 403; a new key gets a fresh lane; leases waiting on a key gone wait on the keyless lane.
    /// Batches from before workspaces join the first one, and every batch learns its lane.
    pub(super) fn set_workspaces(&mut self, workspaces: Vec<Workspace>, now: Instant) {
        let mut old: Vec<Lane> = std::mem::take(&mut self.lanes);
        let mut refusals: Vec<(Workspace, Rejection)> = std::mem::take(&mut self.workspaces)
            .into_iter()
            .filter_map(|w| Some((w.workspace, w.refusal?)))
            .collect();
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
            let refusal = refusals
                .iter()
                .position(|(w, _)| w.credentials == workspace.credentials)
                .map(|kept| refusals.swap_remove(kept).1);
            watched.push(Watched {
                workspace,
                lane: lane + 1,
                refusal,
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

    /// Each batch's lane, from its workspace: none when its workspace is not polled, or is
    /// refused (403) — so no poll of it is ever due.
    /// Each names its workspace with the one shared ID (read back from the state file, each
    /// had an ID of its own).
    pub(super) fn assign_lanes(&mut self) {
        for i in 0..self.batches.len() {
            let watched = self.batches[i]
                .workspace
                .as_ref()
                .and_then(|w| self.watched(Some(w)));
            let shared = watched.map(|w| w.workspace.id().clone());
            let lane = watched.and_then(Watched::polling_lane);
            let batch = &mut self.batches[i];
            batch.lane = lane;
            if shared.is_some() {
                batch.workspace = shared;
            }
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

    /// A workspace's state: its own 403, else its key's.
    pub(super) fn workspace_connection(&self, watched: &Watched) -> Connection {
        match &watched.refusal {
            Some(r) => Connection::CredentialsRejected {
                status: r.status,
                message: r.message.clone(),
            },
            None => self.lane_connection(watched.lane),
        }
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
        if let Some(w) = self.workspaces.iter().find(|w| w.refusal.is_some()) {
            let Connection::CredentialsRejected { status, message } = self.workspace_connection(w)
            else {
                unreachable!("the workspace has a refusal")
            };
            let message = match several {
                true => format!("{}: {message}", w.workspace.label),
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

    /// What a request sent now with `credentials` is tagged with (`None`: the keyless lane's).
    pub(super) fn asked(credentials: Option<&crate::credentials::Credentials>) -> Asked {
        Asked {
            key: credentials.map(|c| c.api_key.clone()),
            workspace: credentials.map(|c| c.workspace_id.clone()),
        }
    }

    /// The lane an answer teaches: the one of the key it was asked with, while that key is in
    /// use (the keyless lane for a request asked without one).
    pub(super) fn lane_still(&self, asked: &Asked) -> Option<usize> {
        self.lanes.iter().position(|l| l.key == asked.key)
    }

    /// Whether `asked` is still how a batch of `workspace` is asked: its answer is about the
    /// batch as polled now (not a 404 from another workspace, not another key's 429).
    pub(super) fn still_asked_so(&self, workspace: Option<&WorkspaceId>, asked: &Asked) -> bool {
        workspace.is_some_and(|w| {
            self.watched(Some(w)).is_some_and(|watched| {
                asked.workspace.as_ref() == Some(w)
                    && asked.key.as_ref() == Some(&watched.workspace.credentials.api_key)
            })
        })
    }
}
