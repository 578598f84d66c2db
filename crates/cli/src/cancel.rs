//! `batchwatch-cli cancel`: cancels a batch at Trillet after saying what that means — asked
//! on a terminal, or confirmed up front with `--yes` (a script cannot answer a question).

use std::io::{BufRead, IsTerminal, Write};

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
    if !yes && !confirmed(id)? {
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

/// Asks on the terminal. Without one (a pipe, a script), refuses: cancelling must be meant.
fn confirmed(id: &BatchId) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "{} Nothing was done: pass --yes to cancel without being asked.",
            warning(id)
        )));
    }
    eprint!("{} [y/N] ", warning(id));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Usage(format!("could not read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
