//! The tray app as the terminal companion's way to Trillet: when a resident runs (and has
//! credentials), `status` asks through it and spends none of the key's budget of its own;
//! `watch`, `failed` and `cancel` take a slot in its budget before each request they send
//! ([`SharedBudget`]), so the two together stay within one limit; `add` hands batches to it,
//! starting it hidden when none runs. `--standalone` skips it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use batchwatch_core::control::{
    connect_or_start, CallError, Client, ClientKind, ConnectError, Endpoint, Request,
};
use batchwatch_core::model::{CallsPage, CallsQuery, CancelOutcome};
use batchwatch_core::monitor::TrilletApi;
use batchwatch_core::{ApiBase, ApiError, BatchId, BatchProgress, Credentials, TrilletClient};

use crate::exit::Failure;

/// The running resident, or `None` when none answers.
pub async fn running() -> Option<Client> {
    match Client::connect(&Endpoint::for_user(false), ClientKind::Terminal).await {
        Ok(client) => Some(client),
        Err(ConnectError::NotRunning) => None,
        Err(e) => {
            eprintln!("batchwatch-cli: the tray app did not answer ({e}); asking Trillet directly");
            None
        }
    }
}

/// Whether the tray app asks as we would: the same API base, with credentials of its own for
/// the same workspace as ours (when we have any). Only then may it answer `status` for us or
/// lend us its budget; anything else, or no answer, is no.
pub async fn asks_as_we_do(resident: &Client, base: &ApiBase, workspace: Option<&str>) -> bool {
    let Ok(about) = resident.call(&Request::About {}).await else {
        return false;
    };
    let same_base = about["apiBase"].as_str() == Some(base.as_str());
    let theirs: Vec<&str> = about["workspaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["id"].as_str())
        .collect();
    same_base && !theirs.is_empty() && workspace.is_none_or(|ours| theirs.contains(&ours))
}

/// How long a tray app that has just started is given to read the keychain.
const KEYCHAIN_READ: Duration = Duration::from_secs(10);

/// The workspaces the tray app polls, as (ID, label), the first stored first — once it has
/// read the keychain (a tray app just started for us is still reading it), or after
/// [`KEYCHAIN_READ`].
pub async fn workspaces(resident: &Client) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + KEYCHAIN_READ;
    let about = loop {
        let Ok(about) = resident.call(&Request::About {}).await else {
            return Vec::new();
        };
        if about["credentials"] != "checking" || tokio::time::Instant::now() >= deadline {
            break about;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    about["workspaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| {
            Some((
                w["id"].as_str()?.to_owned(),
                w["label"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The resident, started hidden (in the tray, no window) when none runs.
pub async fn running_or_started() -> Result<Client, Failure> {
    connect_or_start(&Endpoint::for_user(false), ClientKind::Terminal, false, &[])
        .await
        .map_err(|e| Failure::Unreachable(format!("could not reach the Batchwatch tray app: {e}")))
}

/// A resident's refusal as the terminal's failure (and exit code).
pub fn failure(error: CallError) -> Failure {
    match error {
        CallError::Gone => Failure::Unreachable(error.to_string()),
        CallError::Failed(f) => match f.code.as_str() {
            "unauthorized" => Failure::Rejected(f.message),
            "not_found" => Failure::UnknownBatch(f.message),
            "invalid_batch_id" | "paste_too_large" => Failure::Usage(f.message),
            "unknown_workspace" => Failure::Workspace(f.message),
            _ => Failure::Unreachable(f.message),
        },
    }
}

/// The tray app's request budget, when one runs: each request this process sends first waits
/// for a slot there (the tray app's own polls give way in turn).
#[derive(Clone, Default)]
pub struct SharedBudget(Option<(Arc<Client>, String)>);

impl SharedBudget {
    /// The running tray app's budget, when it spends the same key's (same base and
    /// workspace as `client`'s); none with `--standalone`, when none runs, or for another key.
    pub async fn find(standalone: bool, base: &ApiBase, client: &TrilletClient) -> Self {
        if standalone {
            return Self(None);
        }
        let Some(resident) = running().await else {
            return Self(None);
        };
        let workspace = client.credentials().workspace_id.as_str();
        if !asks_as_we_do(&resident, base, Some(workspace)).await {
            return Self(None);
        }
        Self(Some((Arc::new(resident), workspace.to_owned())))
    }

    /// Waits for a slot. A tray app that stops meanwhile leaves this process on its own.
    pub async fn take_slot(&self) {
        let Some((resident, workspace)) = &self.0 else {
            return;
        };
        let lease = Request::Lease {
            workspace: Some(workspace.clone()),
        };
        loop {
            match resident.call(&lease).await {
                Ok(_) | Err(CallError::Gone) => return,
                // Too many waiting: wait our turn to ask again.
                Err(CallError::Failed(_)) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// `request`, sent once a slot is ours.
    pub fn before<T>(
        &self,
        request: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let budget = self.clone();
        async move {
            budget.take_slot().await;
            request.await
        }
    }
}

/// The port `watch`'s monitor polls through: Trillet, each request after a slot in the tray
/// app's budget.
pub struct Leased {
    pub client: TrilletClient,
    pub budget: SharedBudget,
}

impl TrilletApi for Leased {
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static {
        self.budget.before(self.client.fetch(credentials, id))
    }

    fn cancel(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
        self.budget.before(self.client.cancel(credentials, id))
    }

    fn calls(
        &self,
        credentials: &Credentials,
        id: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
        self.budget
            .before(self.client.calls(credentials, id, query))
    }
}
