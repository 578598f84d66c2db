//! Requests made for the user — a cancel, a page of failed calls, a check of new credentials —
//! sent within the monitor's budget (with its own credentials but for the check); their answers
//! teach the monitor too (a 429 pauses polling, a 401 stops it) before the caller gets its reply.

use std::sync::Arc;

use tokio::time::Instant;

use crate::api::ApiError;
use crate::batch_id::BatchId;
use crate::credentials::Credentials;
use crate::model::{BatchProgress, CallsPage, CallsQuery, CancelOutcome};

use super::*;

/// The batch asked about to check new credentials when none is tracked yet.
const CREDENTIALS_PROBE_ID: &str = "batch_batchwatch_credentials_check";

impl<S: TrilletApi> Task<S> {
    /// What a request on the user's behalf about a tracked batch needs: that batch tracked,
    /// and what [`Self::may_ask`] asks.
    pub(super) fn user_request_allowed(
        &mut self,
        id: &BatchId,
        slot: Slot,
        now: Instant,
    ) -> Result<(Credentials, Asked), ActionError> {
        let Some(batch) = self.batches.iter().find(|b| &b.id == id) else {
            return Err(ActionError::NotTracked(id.clone()));
        };
        // Asked in its own workspace, never the first one's by default.
        let workspace = batch.workspace.clone().ok_or(ActionError::NoCredentials)?;
        self.may_ask(Some(workspace), slot, now)
    }

    /// What any request on someone's behalf needs: the workspace's credentials, and no 429
    /// pause of its key in force (asking during one would only earn another). It counts in
    /// the key's budget.
    fn may_ask(
        &mut self,
        workspace: In,
        slot: Slot,
        now: Instant,
    ) -> Result<(Credentials, Asked), ActionError> {
        let watched = self
            .watched(workspace.as_ref())
            .ok_or(ActionError::NoCredentials)?;
        let (credentials, lane) = (watched.workspace.credentials.clone(), watched.lane);
        if let Some(pause) = self.lanes[lane].rate_limit.filter(|p| p.until > now) {
            return Err(ActionError::RateLimited(pause.until - now));
        }
        // Not held back by the budget: the budget leaves room under Trillet's limit for
        // clicks, and recording them makes the polling that follows give way. (A leased one
        // was counted when its slot was given.)
        if slot == Slot::Click {
            self.lanes[lane].budget.record(now);
        }
        let asked = Self::asked(Some(&credentials));
        Ok((credentials, asked))
    }

    pub(super) fn send_cancel(&mut self, id: BatchId, reply: Reply<CancelOutcome>, now: Instant) {
        let (credentials, asked) = match self.user_request_allowed(&id, Slot::Click, now) {
            Ok(c) => c,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let Some(batch) = self.batches.iter_mut().find(|b| b.id == id) else {
            return; // user_request_allowed found it
        };
        // Counted now, not when the answer comes: a poll that sees "cancelled" before the
        // DELETE's answer must not announce the user's own doing back to them.
        batch.cancels_pending += 1;
        let generation = batch.generation;
        let request = self.source.cancel(&credentials, &id);
        self.user_requests.spawn(async move {
            RequestAnswer::Cancel {
                id,
                generation,
                asked,
                result: request.await,
                reply,
            }
        });
    }

    /// Asks Trillet whether new credentials are good before they are stored: about a tracked
    /// batch, or — with none yet — about one that cannot exist (Trillet checks the key before the
    /// ID, so a good key earns a 404 and a bad one a 401). Counted in the budget.
    pub(super) fn send_credentials_check(
        &mut self,
        candidate: Credentials,
        reply: Reply<()>,
        now: Instant,
    ) {
        // One of its own workspace's batches (or of none yet, which join the first): another
        // workspace's ID is none of its business.
        let probe = match self.batches.iter().find(|b| {
            b.workspace
                .as_ref()
                .is_none_or(|w| *w == candidate.workspace_id)
        }) {
            Some(own) => own.id.clone(),
            None => BatchId::parse(CREDENTIALS_PROBE_ID).expect("the probe is a valid batch ID"),
        };
        // Counted in the budget of its key, when the key is one in use.
        let lane =
            (1..self.lanes.len()).find(|l| self.lanes[*l].key.as_ref() == Some(&candidate.api_key));
        if let Some(lane) = lane {
            self.lanes[lane].budget.record(now);
        }
        let asked = Self::asked(Some(&candidate));
        let request = self.source.fetch(&candidate, &probe);
        self.user_requests.spawn(async move {
            RequestAnswer::CredentialsCheck {
                asked,
                result: request.await.map(drop),
                reply,
            }
        });
    }

    /// A client's question about one batch, from memory: a tracked batch's last answer (the
    /// one of the workspace asked about, when one is named), else `NotTracked` (the caller may
    /// then ask Trillet, [`Self::send_status`], after a lease).
    pub(super) fn known_status(
        &self,
        workspace: Option<&WorkspaceId>,
        id: &BatchId,
    ) -> Result<Arc<BatchProgress>, ActionError> {
        self.batches
            .iter()
            .find(|b| &b.id == id && workspace.is_none_or(|w| b.workspace.as_ref() == Some(w)))
            .and_then(|b| b.last.clone())
            .ok_or_else(|| ActionError::NotTracked(id.clone()))
    }

    /// Asks Trillet about one batch for a client, which took its slot in the budget first (a
    /// lease); the batch is not added.
    pub(super) fn send_status(
        &mut self,
        workspace: In,
        id: BatchId,
        reply: Reply<Arc<BatchProgress>>,
        now: Instant,
    ) {
        let (credentials, asked) = match self.may_ask(workspace, Slot::Leased, now) {
            Ok(c) => c,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let request = self.source.fetch(&credentials, &id);
        self.user_requests.spawn(async move {
            RequestAnswer::Status {
                asked,
                result: request.await,
                reply,
            }
        });
    }

    pub(super) fn send_agents(
        &mut self,
        workspace: In,
        reply: Reply<Vec<crate::model::Agent>>,
        now: Instant,
    ) {
        match self.may_ask(workspace, Slot::Click, now) {
            Ok((credentials, asked)) => {
                let request = self.source.agents(&credentials);
                self.user_requests.spawn(async move {
                    RequestAnswer::Agents {
                        asked,
                        result: request.await,
                        reply,
                    }
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Sends a start, once. What it answers is never a reason to send it again: the reply
    /// carries whatever came back.
    pub(super) fn send_start(
        &mut self,
        workspace: In,
        form: crate::launch::StartForm,
        reply: Reply<crate::model::StartAnswer>,
        now: Instant,
    ) {
        match self.may_ask(workspace, Slot::Click, now) {
            Ok((credentials, asked)) => {
                let request = self.source.start(&credentials, form);
                self.user_requests.spawn(async move {
                    RequestAnswer::Start {
                        asked,
                        result: request.await,
                        reply,
                    }
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    pub(super) fn send_calls(
        &mut self,
        id: BatchId,
        query: CallsQuery,
        reply: Reply<CallsPage>,
        slot: Slot,
        now: Instant,
    ) {
        match self.user_request_allowed(&id, slot, now) {
            Ok((credentials, asked)) => {
                let request = self.source.calls(&credentials, &id, query);
                self.user_requests.spawn(async move {
                    RequestAnswer::Calls {
                        asked,
                        result: request.await,
                        reply,
                    }
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Learns what a user request's answer says about the key (a 429 pauses polling too; a 401
    /// stops it), keeps a cancel's answer on its batch, then replies.
    pub(super) fn apply_request_answer(&mut self, answer: RequestAnswer) -> bool {
        match answer {
            RequestAnswer::CredentialsCheck {
                asked,
                result,
                reply,
            } => {
                // Only a refusal disproves them ("offline" does not). A key in use that passes
                // is no longer refused (its workspaces are polled again), nor is the pairing
                // it was checked for.
                let mut changed = false;
                if matches!(result, Ok(()) | Err(ApiError::NotFound { .. })) {
                    changed = self.accept_again(&asked);
                }
                let _ = reply.send(match result {
                    Err(error @ ApiError::Unauthorized { .. }) => Err(ActionError::Api(error)),
                    _ => Ok(()),
                });
                changed
            }
            RequestAnswer::Calls {
                asked,
                result,
                reply,
            } => self.learn_and_reply(asked, result, reply),
            RequestAnswer::Status {
                asked,
                result,
                reply,
            } => self.learn_and_reply(asked, result.map(Arc::new), reply),
            RequestAnswer::Agents {
                asked,
                result,
                reply,
            } => self.learn_and_reply(asked, result, reply),
            RequestAnswer::Start {
                asked,
                result,
                reply,
            } => {
                use crate::launch::StartFailure;
                let known_refusal = match &result {
                    Err(StartFailure::NotStarted(e)) => Some(e),
                    _ => None,
                };
                let changed = self.learn_from(known_refusal, &asked);
                let _ = reply.send(result.map_err(|failure| match failure {
                    StartFailure::NotStarted(e) => self.action_error(e),
                    unknown @ StartFailure::Unknown(_) => ActionError::OutcomeUnknown(unknown),
                }));
                changed
            }
            RequestAnswer::Cancel {
                id,
                generation,
                asked,
                result,
                reply,
            } => {
                let mut changed = self.learn_from(result.as_ref().err(), &asked);
                changed |= self.apply_cancel(&id, generation, &result);
                let _ = reply.send(result.map_err(|e| self.action_error(e)));
                changed
            }
        }
    }

    /// Learns what a plain request's answer says about the key, then replies with it.
    fn learn_and_reply<T>(
        &mut self,
        asked: Asked,
        result: Result<T, ApiError>,
        reply: Reply<T>,
    ) -> bool {
        let changed = self.learn_from(result.as_ref().err(), &asked);
        let _ = reply.send(result.map_err(|e| self.action_error(e)));
        changed
    }

    /// A user request's error as the person reads it: a 429 says the wait actually used (the
    /// one clamp), not the server's word, which may be years.
    pub(super) fn action_error(&self, error: ApiError) -> ActionError {
        match error {
            ApiError::RateLimited { retry_after, .. } => {
                ActionError::RateLimited(self.rate_limit_wait(retry_after))
            }
            other => ActionError::Api(other),
        }
    }

    /// A check that passed: its key's refusal (401) and its pairing's (403) are over.
    fn accept_again(&mut self, asked: &Asked) -> bool {
        let mut changed = false;
        if let Some(lane) = self.lane_still(asked).filter(|l| *l > 0) {
            changed |= self.lanes[lane].rejection.take().is_some();
        }
        for w in &mut self.workspaces {
            if Some(w.workspace.id()) == asked.workspace.as_ref()
                && Some(&w.workspace.credentials.api_key) == asked.key.as_ref()
            {
                changed |= w.refusal.take().is_some();
            }
        }
        if changed {
            self.assign_lanes();
        }
        changed
    }

    /// What a user request's error says about its key, if it was asked with one still in use.
    pub(super) fn learn_from(&mut self, error: Option<&ApiError>, asked: &Asked) -> bool {
        let Some(lane) = self.lane_still(asked) else {
            return false;
        };
        match error {
            Some(ApiError::Unauthorized { status, message }) => {
                self.reject_credentials(lane, asked.workspace.as_ref(), *status, message.clone());
                true
            }
            Some(ApiError::RateLimited { retry_after, .. }) => {
                self.pause_for_rate_limit(lane, *retry_after, Instant::now(), (self.clock)());
                true
            }
            _ => false,
        }
    }

    /// Keeps Trillet's answer to a cancel on the batch, whose end (the user's own doing) is then
    /// not announced. A cancelled batch is polled again at once, so its card shows the final
    /// state; after a refused cancel, its end is announced as any other.
    pub(super) fn apply_cancel(
        &mut self,
        id: &BatchId,
        generation: u64,
        result: &Result<CancelOutcome, ApiError>,
    ) -> bool {
        let now = Instant::now();
        let Some(batch) = self
            .batches
            .iter_mut()
            .find(|b| &b.id == id && b.generation == generation)
        else {
            return false; // untracked meanwhile
        };
        batch.cancels_pending = batch.cancels_pending.saturating_sub(1);
        match result {
            Ok(outcome) => {
                batch.finish_notified = true;
                batch.cancellation = Some(Arc::new(outcome.clone()));
                batch.next_due = now;
                self.save_now();
                true
            }
            Err(error) => {
                if matches!(error, ApiError::Refused { .. }) {
                    // "Already finished" (409): the card is behind; bring it up to date.
                    batch.next_due = now;
                }
                false
            }
        }
    }
}
