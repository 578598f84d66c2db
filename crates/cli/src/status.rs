//! `batchwatch-cli status`: one `GET …/status` per batch, printed as a line for people or a
//! JSON object per line for scripts.
//!
//! Every batch gets its line, even when its request failed, so output stays one line per batch;
//! the failures then decide the exit code: rejected credentials stop at once (3), an unknown
//! batch is 4, and a service that could not answer is 5.

use batchwatch_core::{ApiError, BatchId, TrilletClient};

use crate::exit::Failure;
use crate::patience::patiently;
use crate::summary::{self, JsonLine};

pub async fn run(client: &TrilletClient, ids: &[BatchId], json: bool) -> Result<(), Failure> {
    let width = ids.iter().map(|id| id.as_str().len()).max().unwrap_or(0);
    let mut not_found = Vec::new();
    let mut unreachable = Vec::new();
    for id in ids {
        match fetch(client, id).await {
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

async fn fetch(
    client: &TrilletClient,
    id: &BatchId,
) -> Result<batchwatch_core::BatchProgress, ApiError> {
    patiently(id.as_str(), || client.batch_progress(id)).await
}
