//! `batchwatch-cli status`: one `GET …/status` per batch, printed as a line for people or a
//! JSON object per line for scripts.
//!
//! Every batch gets its line, even when its request failed, so output stays one line per batch;
//! the failures then decide the exit code: rejected credentials stop at once (3), an unknown
//! batch is 4, and a service that could not answer is 5.

use batchwatch_core::control::{CallError, Client, Request};
use batchwatch_core::{ApiError, BatchId, BatchProgress, TrilletClient};

use crate::exit::Failure;
use crate::patience::patiently;
use crate::summary::{self, JsonLine};

/// Where the answers come from: Trillet directly, or the running tray app (which answers a
/// batch it tracks from memory and asks Trillet about any other within its own budget).
pub enum Source<'a> {
    Trillet(&'a TrilletClient),
    TrayApp(&'a Client),
}

/// Whether the tray app can answer for us: it runs and has credentials of its own.
pub async fn tray_app_can_answer(client: &Client) -> bool {
    !matches!(
        client.call(&Request::GetState {}).await,
        Ok(state) if state["status"]["credentials"]["state"] != "stored"
    )
}

pub async fn run(source: Source<'_>, ids: &[BatchId], json: bool) -> Result<(), Failure> {
    let width = ids.iter().map(|id| id.as_str().len()).max().unwrap_or(0);
    let mut not_found = Vec::new();
    let mut unreachable = Vec::new();
    for id in ids {
        let fetched = match &source {
            Source::Trillet(client) => fetch(client, id).await,
            Source::TrayApp(resident) => match through(resident, id).await {
                Ok(progress) => Ok(progress),
                // The tray app's refusal in the terminal's own words and exit code.
                Err(Err(failure)) => return Err(failure),
                Err(Ok(api)) => Err(api),
            },
        };
        match fetched {
            Ok(progress) => {
                let now = batchwatch_core::monitor::wall_clock_ms();
                if json {
                    println!("{}", JsonLine::new(id, &progress, now).to_line());
                } else {
                    println!("{}", summary::human_line(id, &progress, now, width));
                }
            }
            Err(e @ ApiError::Unauthorized { .. }) => return Err(Failure::Rejected(e.to_string())),
            // A wait too long to sit out: asking about the next batch would only earn another.
            Err(e @ ApiError::RateLimited { .. }) => return Err(Failure::from_api(e)),
            Err(e) => {
                if json {
                    let line = serde_json::json!({
                        "batchId": id,
                        "error": {"code": e.code(), "message": e.to_string()},
                    });
                    println!("{line}");
                } else {
                    println!("{:<width$}  error: {e}", id.as_str());
                }
                if matches!(e, ApiError::NotFound { .. }) {
                    not_found.push(id.as_str());
                } else {
                    unreachable.push(id.as_str());
                }
            }
        }
    }
    if !not_found.is_empty() {
        return Err(Failure::UnknownBatch(format!(
            "Trillet has no batch with this ID in this workspace: {}",
            not_found.join(", ")
        )));
    }
    if !unreachable.is_empty() {
        return Err(Failure::Unreachable(format!(
            "could not get the status of {}; try again later",
            unreachable.join(", ")
        )));
    }
    Ok(())
}

/// One batch through the tray app: its progress; an answer from Trillet the tray app passed on
/// (`Err(Ok)`, shown on the batch's line as a direct request's would be); or a failure of the
/// tray app itself (`Err(Err)`).
async fn through(
    resident: &Client,
    id: &BatchId,
) -> Result<BatchProgress, Result<ApiError, Failure>> {
    let answer = resident
        .call(&Request::Status {
            id: id.as_str().to_owned(),
        })
        .await;
    match answer {
        Ok(value) => serde_json::from_value(value).map_err(|e| {
            Err(Failure::Unreachable(format!(
                "the tray app answered what this batchwatch-cli cannot read ({e}); try --standalone"
            )))
        }),
        Err(CallError::Failed(f)) if f.code == "not_found" => {
            Err(Ok(ApiError::NotFound { message: f.message }))
        }
        Err(e) => Err(Err(crate::resident::failure(e))),
    }
}

async fn fetch(
    client: &TrilletClient,
    id: &BatchId,
) -> Result<batchwatch_core::BatchProgress, ApiError> {
    patiently(id.as_str(), || client.batch_progress(id)).await
}
