//! What the resident does with each request from a window or a terminal. Thin: each
//! validates its input, talks to the monitor or the keychain port, and answers. None returns
//! the API key — there is no request that could.

use std::sync::Arc;

use batchwatch_core::autostart::current_program;
use batchwatch_core::batch_id::RejectedToken;
use batchwatch_core::control::start::program_beside;
use batchwatch_core::control::{Failure, Handler, Peer, Request, Secret, StatusAnswer};
use batchwatch_core::monitor::ActionError;
use batchwatch_core::retry_list::retry_csv;
use batchwatch_core::secret_store::KeychainError;
use batchwatch_core::settings::SettingsForm;
use batchwatch_core::workspace::{choose, ChooseError, Workspace};
use batchwatch_core::{parse_pasted, ApiError, BatchId, Credentials, WorkspaceId};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::CommandError;
use crate::payload::{tray_label_view, window_payload};
use crate::state::AppState;
use crate::status::CredentialsStatus;

/// What `track` did with the pasted text.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    pub added: Vec<String>,
    /// Already tracked; ignored.
    pub already: Vec<String>,
    pub rejected: Vec<RejectedToken>,
    /// Valid IDs not added because the monitor tracks its most already.
    pub over_limit: Vec<String>,
    /// The sentence for `over_limit`, when there is one.
    pub over_limit_message: Option<String>,
}

impl Handler for AppState {
    fn handle(
        self: Arc<Self>,
        peer: Peer,
        request: Request,
    ) -> batchwatch_core::control::server::Reply {
        Box::pin(async move {
            let answer = self.answer(&peer, request).await;
            answer.map_err(|e| Failure::new(e.code(), e.to_string()))
        })
    }

    /// Brought up to date first: with no client listening, views were not serialized.
    fn views(&self) -> watch::Receiver<Arc<str>> {
        let current = serde_json::to_string(&self.window_state()).unwrap_or_default();
        self.views.send_replace(Arc::from(current));
        self.views.subscribe()
    }

    fn gone(&self, peer: &Peer) {
        self.windows.release(peer);
    }
}

fn json<T: Serialize>(value: T) -> Result<Value, CommandError> {
    Ok(serde_json::to_value(value).unwrap_or_default())
}

impl AppState {
    async fn answer(&self, peer: &Peer, request: Request) -> Result<Value, CommandError> {
        match request {
            Request::GetState {} => Ok(self.window_state()),
            // Served by the connection itself; asked here only by a confused client.
            Request::Subscribe {} => Ok(Value::Null),
            Request::ClaimWindow {} => {
                json(serde_json::json!({ "granted": self.windows.claim(peer) }))
            }
            Request::Track {
                text,
                notify,
                workspace,
            } => json(self.track(&text, notify, workspace.as_deref()).await?),
            Request::SetNotify { id, notify } => {
                self.monitor.set_notify(batch_id(&id)?, notify);
                Ok(Value::Null)
            }
            Request::Agents { workspace } => json(self.agents(workspace.as_deref()).await?),
            Request::CheckCsv { path } => json(self.check_csv(path).await?),
            Request::PrepareRetry { id, reason } => {
                json(self.prepare_retry(batch_id(&id)?, reason).await?)
            }
            Request::DescribeStart {
                calls,
                file_name,
                choice,
            } => json(self.describe_start(calls, &file_name, &choice)?),
            Request::StartBatch { path, choice } => json(self.start_file(path, choice).await?),
            Request::StartRetry { id, reason, choice } => {
                json(self.start_retry(batch_id(&id)?, reason, choice).await?)
            }
            Request::TrackStarted {
                id,
                launch,
                workspace,
            } => {
                let workspace = self.workspace_named(workspace.as_deref())?;
                let tracking = self
                    .monitor
                    .track_launched(workspace, batch_id(&id)?, launch)
                    .answer()
                    .await;
                if let Some(sentence) = tracking.over_limit_sentence() {
                    return Err(CommandError::OverLimit(sentence));
                }
                log::info!("tracking a batch started from Batchwatch");
                Ok(Value::Null)
            }
            Request::Untrack { id } => {
                self.monitor.untrack(batch_id(&id)?);
                Ok(Value::Null)
            }
            Request::ClearFinished {} => {
                let view = self.monitor.snapshot();
                let finished = view.batches.iter().filter(|b| {
                    b.progress
                        .as_deref()
                        .is_some_and(batchwatch_core::BatchProgress::is_settled)
                });
                let mut cleared = 0;
                for batch in finished {
                    self.monitor.untrack(batch.id.clone());
                    cleared += 1;
                }
                json(serde_json::json!({ "cleared": cleared }))
            }
            Request::Refresh { id } => {
                let id = id.as_deref().map(batch_id).transpose()?;
                self.monitor.refresh(id);
                Ok(Value::Null)
            }
            Request::SaveCredentials {
                api_key,
                workspace_id,
                label,
            } => json(
                self.save_credentials(api_key, &workspace_id, label.as_deref())
                    .await?,
            ),
            Request::RenameWorkspace {
                workspace_id,
                label,
            } => json(self.rename_workspace(&workspace_id, &label).await?),
            Request::ForgetCredentials { workspace_id } => {
                json(self.forget_credentials(workspace_id.as_deref()).await?)
            }
            Request::RetryKeychain {} => {
                if self.is_demo() {
                    return Err(CommandError::DemoMode);
                }
                crate::keychain::read(self).await;
                json(self.status.borrow().credentials.clone())
            }
            Request::PauseNotifications { paused } => {
                self.monitor.pause_notifications(paused);
                Ok(Value::Null)
            }
            Request::SaveSettings { form } => {
                let form = form.validate()?;
                self.monitor
                    .update_settings(move |s| *s = form.applied_to(*s));
                Ok(Value::Null)
            }
            Request::PreviewSettings { form } => json(self.preview_settings(form)?),
            Request::SetStartAtLogin { enabled } => json(self.set_start_at_login(enabled)?),
            Request::FailedCalls { id, more } => {
                json(self.monitor.failed_calls(batch_id(&id)?, more).await?)
            }
            Request::CloseFailedCalls { id } => {
                self.monitor.close_failed_calls(batch_id(&id)?);
                Ok(Value::Null)
            }
            Request::SaveRetryList { id, reason, path } => {
                json(self.save_retry_list(batch_id(&id)?, reason, path).await?)
            }
            Request::CancelBatch { id } => {
                self.cancel(batch_id(&id)?).await?;
                Ok(Value::Null)
            }
            Request::Status { id, workspace } => {
                let id = batch_id(&id)?;
                let workspace = self.workspace_named(workspace.as_deref())?;
                let progress = self.monitor.status_in(workspace, id.clone()).await?;
                // A watched batch brings what the monitor saw lately: the recent pace.
                let snapshot = self.monitor.snapshot();
                let watched = snapshot.batches.iter().find(|b| b.id == id);
                json(StatusAnswer {
                    progress: (*progress).clone(),
                    samples: watched.map(|b| b.samples.to_vec()).unwrap_or_default(),
                    answered_at_ms: watched.and_then(|b| b.last_updated_ms),
                    launch: watched.and_then(|b| b.launch.as_deref().cloned()),
                })
            }
            Request::About {} => {
                let view = self.monitor.snapshot();
                let workspaces: Vec<Value> = view
                    .workspaces
                    .iter()
                    .map(|w| serde_json::json!({ "id": w.id, "label": w.label }))
                    .collect();
                json(serde_json::json!({
                    "apiBase": self.api_base.as_str(),
                    "workspaceId": view.workspaces.first().map(|w| &w.id),
                    "workspaces": workspaces,
                    // "checking" while the keychain has not answered yet (just started).
                    "credentials": self.status.borrow().credentials.state,
                }))
            }
            Request::Lease { workspace } => {
                // One not polled here (or unreadable) takes a budget apart from every key's.
                match workspace.map(|w| WorkspaceId::new(&w)) {
                    Some(Err(_)) => self.monitor.lease_elsewhere().await?,
                    Some(Ok(w)) => self.monitor.lease_in(Some(w)).await?,
                    None => self.monitor.lease().await?,
                }
                Ok(Value::Null)
            }
            Request::Quit {} => {
                self.quit.cancel();
                Ok(Value::Null)
            }
        }
    }

    /// The whole window payload, for a window that has just opened.
    pub fn window_state(&self) -> Value {
        let view = self.monitor.snapshot();
        let status = self.status.borrow().clone();
        let tray = tray_label_view(&view, &status);
        serde_json::to_value(window_payload(&view, &status, tray)).unwrap_or_default()
    }

    /// Starts watching every batch ID (or link) in `text`; the monitor says which were added.
    async fn track(
        &self,
        text: &str,
        notify: Option<batchwatch_core::notify_choice::NotifyChoice>,
        workspace: Option<&str>,
    ) -> Result<TrackOutcome, CommandError> {
        let pasted = parse_pasted(text)?;
        let view = self.monitor.snapshot();
        if workspace.is_none() && view.workspaces.len() > 1 {
            // Never guessed: the window and the terminal name one when there are several.
            return Err(CommandError::Workspace(
                ChooseError::Several(
                    view.workspaces
                        .iter()
                        .map(|w| w.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .to_string(),
            ));
        }
        let workspace = self.workspace_named(workspace)?;
        let tracking = if pasted.accepted.is_empty() {
            Default::default()
        } else {
            self.monitor
                .track_in(workspace, pasted.accepted)
                .answer()
                .await
        };
        if !tracking.added.is_empty() {
            log::info!("tracking {} new batch(es)", tracking.added.len());
        }
        if let Some(choice) = notify {
            // Asked for by name: the batches already watched take the choice too.
            for id in tracking.added.iter().chain(&tracking.already) {
                self.monitor.set_notify(id.clone(), choice);
            }
        }
        let names = |ids: &[BatchId]| ids.iter().map(ToString::to_string).collect();
        let mut rejected = pasted.rejected;
        let view = self.monitor.snapshot();
        rejected.extend(tracking.in_another_workspace.iter().map(|(id, theirs)| {
            let label = view
                .workspaces
                .iter()
                .find(|w| w.id == *theirs)
                .map_or(theirs.as_str(), |w| w.label.as_str());
            RejectedToken {
                token: id.to_string(),
                reason: format!(
                    "already watched in {label}; Batchwatch watches one batch of each ID at a time"
                ),
            }
        }));
        Ok(TrackOutcome {
            added: names(&tracking.added),
            already: names(&tracking.already),
            rejected,
            over_limit: names(&tracking.over_limit),
            over_limit_message: tracking.over_limit_sentence(),
        })
    }

    /// A workspace a client named, checked against those polled (`None`: the first).
    pub(crate) fn workspace_named(
        &self,
        named: Option<&str>,
    ) -> Result<Option<WorkspaceId>, CommandError> {
        let Some(named) = named.map(str::trim) else {
            return Ok(None);
        };
        let view = self.monitor.snapshot();
        match view.workspaces.iter().find(|w| w.id.as_str() == named) {
            Some(w) => Ok(Some(w.id.clone())),
            None => Err(CommandError::Workspace(
                ChooseError::Unknown {
                    named: named.to_owned(),
                    choices: view
                        .workspaces
                        .iter()
                        .map(|w| w.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .to_string(),
            )),
        }
    }

    /// Checks a workspace's credentials with Trillet, stores them in the keychain (adding the
    /// workspace, or replacing the one with its ID; the others stay) and polls with them.
    async fn save_credentials(
        &self,
        api_key: Secret,
        workspace_id: &str,
        label: Option<&str>,
    ) -> Result<CredentialsStatus, CommandError> {
        if self.is_demo() {
            return Err(CommandError::DemoMode);
        }
        self.not_from_environment()?;
        let _turn = self.credentials_turn.lock().await;
        let credentials = Credentials::new(api_key.expose(), workspace_id)?;
        drop(api_key);
        let secrets = self.secrets.clone().ok_or(CommandError::DemoMode)?;
        let stored = keychain_call(&secrets, |s| s.workspaces()).await?;
        let workspace = batchwatch_core::workspace::to_store(
            &stored,
            credentials.clone(),
            label,
            batchwatch_core::monitor::wall_clock_ms(),
        )
        .map_err(|e| CommandError::Workspace(format!("Check the workspace: {e}.")))?;

        // A 401/403 means these are wrong: say so and keep what was stored before. Any other
        // answer (including "offline") does not disprove them. Asked by the monitor, within
        // the key's budget.
        match self.monitor.check_credentials(credentials.clone()).await {
            Err(ActionError::Api(ApiError::Unauthorized { message, .. })) => {
                return Err(CommandError::CredentialsRejected(message));
            }
            Err(e) => log::warn!("the new credentials could not be checked: {e}"),
            Ok(()) => {}
        }

        keychain_call(&secrets, move |s| s.save(&workspace)).await?;
        let (workspaces, status) = crate::keychain::stored_now(&secrets).await?;
        log::info!(
            "credentials stored for workspace {}",
            credentials.workspace_id
        );
        self.monitor.set_workspaces(workspaces);
        self.status.send_modify(|s| s.credentials = status.clone());
        Ok(status)
    }

    /// Credentials given in the environment are the environment's to change.
    fn not_from_environment(&self) -> Result<(), CommandError> {
        if self.status.borrow().credentials.state == "environment" {
            return Err(CommandError::CredentialsFromEnvironment);
        }
        Ok(())
    }

    /// Gives a stored workspace another label; its key and place stay.
    async fn rename_workspace(
        &self,
        workspace_id: &str,
        label: &str,
    ) -> Result<CredentialsStatus, CommandError> {
        self.not_from_environment()?;
        let secrets = self.secrets.clone().ok_or(CommandError::DemoMode)?;
        let _turn = self.credentials_turn.lock().await;
        let stored = keychain_call(&secrets, |s| s.workspaces()).await?;
        let before = choose(&stored, Some(workspace_id))
            .map_err(|e| CommandError::Workspace(e.to_string()))?;
        let renamed = Workspace::new(before.credentials.clone(), Some(label), before.added_at_ms)
            .map_err(|e| CommandError::Workspace(format!("Check the workspace: {e}.")))?;
        keychain_call(&secrets, move |s| s.save(&renamed)).await?;
        let (workspaces, status) = crate::keychain::stored_now(&secrets).await?;
        self.monitor.set_workspaces(workspaces);
        self.status.send_modify(|s| s.credentials = status.clone());
        Ok(status)
    }

    /// Removes one workspace from the keychain and stops watching its batches (the others go
    /// on), or — none named — every workspace, which stops polling (the batches stay).
    async fn forget_credentials(
        &self,
        workspace: Option<&str>,
    ) -> Result<CredentialsStatus, CommandError> {
        self.not_from_environment()?;
        let secrets = self.secrets.clone().ok_or(CommandError::DemoMode)?;
        let _turn = self.credentials_turn.lock().await;
        let stored = keychain_call(&secrets, |s| s.workspaces()).await?;
        let gone: Vec<WorkspaceId> = match workspace.map(str::trim) {
            None => {
                // Everything of ours, also what could not be read.
                keychain_call(&secrets, |s| s.delete_all()).await?;
                stored.iter().map(|w| w.id().clone()).collect()
            }
            Some(named) => {
                // One no longer stored still takes its batches with it.
                let id = WorkspaceId::new(named)?;
                let removing = id.clone();
                keychain_call(&secrets, move |s| s.delete(&removing)).await?;
                vec![id]
            }
        };
        if workspace.is_some() {
            // Its batches go with it: nothing could ask about them any more.
            let view = self.monitor.snapshot();
            for b in view
                .batches
                .iter()
                .filter(|b| b.workspace.as_ref().is_some_and(|w| gone.contains(w)))
            {
                self.monitor.untrack(b.id.clone());
            }
        }
        let (left, status) = crate::keychain::stored_now(&secrets).await?;
        self.monitor.set_workspaces(left);
        self.status.send_modify(|s| s.credentials = status.clone());
        log::info!("{} workspace(s) removed from the keychain", gone.len());
        Ok(status)
    }

    /// What the panel's fields would mean, said before they are saved: "With 12 batches,
    /// each updates every 15 s." — or why they cannot be saved.
    fn preview_settings(&self, form: SettingsForm) -> Result<String, CommandError> {
        let form = form.validate()?;
        let view = self.monitor.snapshot();
        Ok(form.consequence(&view.settings, view.sharing_budget))
    }

    /// Writes or removes the autostart entry (Batchwatch starts hidden, in the tray, at
    /// login).
    fn set_start_at_login(&self, enabled: bool) -> Result<bool, CommandError> {
        if self.is_demo() {
            return Err(CommandError::DemoMode);
        }
        let autostart = self.autostart.as_ref().ok_or_else(|| {
            CommandError::Autostart(
                "Batchwatch cannot tell where your desktop keeps autostart entries (neither XDG_CONFIG_HOME nor HOME is an absolute path).".into(),
            )
        })?;
        // `batchwatch --hidden`, as a person would type it: it becomes the resident. (An
        // AppImage names itself, as `current_program` knows.)
        let program = || match program_beside(crate::window::WINDOW) {
            Some(beside) if std::env::var_os("APPIMAGE").is_none() => Ok(beside),
            _ => current_program(),
        };
        let done = if enabled {
            program().and_then(|program| autostart.enable(&program))
        } else {
            autostart.disable()
        };
        done.map_err(|e| CommandError::Autostart(format!("{} ({e})", autostart.path().display())))?;
        log::info!(
            "start at login {}",
            if enabled { "enabled" } else { "disabled" }
        );
        let enabled = autostart.is_enabled();
        self.status.send_modify(|s| s.start_at_login = enabled);
        Ok(enabled)
    }

    /// Loads every failed call of `id` and writes the retry list to `path`. The answer says
    /// how many calls it lists, and when paging stopped early (the list is then partial).
    async fn save_retry_list(
        &self,
        id: BatchId,
        reason: Option<String>,
        path: std::path::PathBuf,
    ) -> Result<SavedRetryList, CommandError> {
        let failed = self.monitor.all_failed_calls(id.clone()).await?;
        let list = retry_csv(
            failed.calls(),
            reason.as_deref(),
            &batchwatch_core::format::TimeZone::system(),
        );
        let (written, csv) = (path.clone(), list.csv);
        tokio::task::spawn_blocking(move || batchwatch_core::retry_list::save(&written, &csv))
            .await
            .map_err(|e| e.to_string())
            .and_then(|saved| saved.map_err(|e| e.to_string()))
            .map_err(|reason| CommandError::SaveFailed {
                path: path.display().to_string(),
                reason,
            })?;
        log::info!("retry list of {id}: {} calls saved", list.rows);
        let calls = batchwatch_core::format::calls(list.rows as u64);
        let mut message = format!("Saved {calls} to {}", path.display());
        if let Some(stop) = failed.stopped_early {
            message.push_str(&format!(" ({})", stop.sentence()));
        }
        Ok(SavedRetryList {
            rows: list.rows,
            path: path.display().to_string(),
            message,
        })
    }

    /// Cancels a batch at Trillet. The card then shows Trillet's answer; errors come back as
    /// they are, for the card to show.
    async fn cancel(&self, id: BatchId) -> Result<(), CommandError> {
        let outcome = self.monitor.cancel(id.clone()).await.inspect_err(|e| {
            log::warn!("cancelling {id} failed: {e}");
        })?;
        log::info!(
            "batch {id} cancelled: {} waiting calls dropped",
            outcome.details.cancelled_calls
        );
        Ok(())
    }
}

/// What the window shows once a retry list is saved.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SavedRetryList {
    rows: usize,
    path: String,
    /// "Saved 12 calls to /home/…/batch_x-failed-calls.csv"
    message: String,
}

fn batch_id(id: &str) -> Result<BatchId, CommandError> {
    BatchId::parse(id)
        .map_err(|e| CommandError::InvalidBatchId(format!("{id:?} is not a batch ID: it {e}")))
}

/// A keychain call off the async threads (the Secret Service may prompt, or be slow).
async fn keychain_call<T: Send + 'static>(
    secrets: &std::sync::Arc<dyn batchwatch_core::secret_store::SecretStore>,
    call: impl FnOnce(&dyn batchwatch_core::secret_store::SecretStore) -> Result<T, KeychainError>
        + Send
        + 'static,
) -> Result<T, KeychainError> {
    let secrets = secrets.clone();
    tokio::task::spawn_blocking(move || call(secrets.as_ref()))
        .await
        .map_err(|e| KeychainError::Other(e.to_string()))?
}
