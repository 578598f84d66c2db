//! The tray app as the terminal companion's way to Trillet: when a resident runs (and has
//! credentials), `status` asks through it and spends none of the key's budget of its own;
//! `add` hands batches to it, starting it hidden when none runs. `--standalone` skips it.

use std::process::Stdio;

use batchwatch_core::control::{
    connect_or_start, CallError, Client, ClientKind, ConnectError, Endpoint,
};

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

/// The resident, started hidden (in the tray, no window) when none runs.
pub async fn running_or_started() -> Result<Client, Failure> {
    connect_or_start(
        &Endpoint::for_user(false),
        ClientKind::Terminal,
        false,
        Stdio::null(),
    )
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
            _ => Failure::Unreachable(f.message),
        },
    }
}
