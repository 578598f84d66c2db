//! `batchwatch-cli cancel`: cancels a batch at Trillet after saying what that means — asked
//! on a terminal, or confirmed up front with `--yes` (a script cannot answer a question).

use batchwatch_core::{format, BatchId};

use batchwatch_core::monitor::TrilletApi;

use crate::exit::Failure;
use crate::patience::patiently;
use crate::resident::Leased;

/// What happens, said before it is done.
pub fn warning(id: &BatchId) -> String {
    format!(
        "Cancel batch {id}? Its waiting calls are dropped and never made; calls in progress finish. This cannot be undone."
    )
}

pub async fn run(source: &Leased, id: &BatchId, yes: bool) -> Result<(), Failure> {
    if !yes && !crate::ask::confirm(&warning(id), "pass --yes to cancel without being asked")? {
        return Err(Failure::Usage(format!("{id} was not cancelled")));
    }
    // A 429 means nothing was cancelled, so a short one is waited out and asked again.
    let outcome = patiently(id.as_str(), || {
        TrilletApi::cancel(source, source.client.credentials(), id)
    })
    .await
    .map_err(Failure::from_api)?;
    println!(
        "{id} cancelled: {}",
        format::cancelled_counts(&outcome.details)
    );
    Ok(())
}
