//! Asking the person before an action that cannot be undone (a cancel, a start): on a
//! terminal, a yes/no question; without one (a pipe, a script), no action at all — the
//! command must then say `--yes` up front.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::Failure;

/// `question [y/N]` on the terminal; `Ok(true)` only for a yes. Without a terminal, refuses
/// with `question` and `without_terminal` (what to pass to go ahead).
pub fn confirm(question: &str, without_terminal: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "{question} Nothing was done: {without_terminal}."
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Usage(format!("could not read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
