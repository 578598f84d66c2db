//! The command line: clap's description of every subcommand and option, and turning the batch
//! ID arguments into validated [`BatchId`]s.
//!
//! Secrets are never read through clap: `TRILLET_API_KEY` stays out of `--help` and out of
//! clap's error messages, and is read by `config` alone.

use std::time::Duration;

use batchwatch_core::{parse_pasted, BatchId};
use clap::{Args, Parser, Subcommand};

use crate::exit::Failure;

/// Watch Trillet AI batch calls from a terminal.
#[derive(Debug, Parser)]
#[command(name = "batchwatch-cli", version, about, propagate_version = true)]
pub struct Cli {
    /// The Trillet API base URL (https, or http to loopback only — for a simulator).
    #[arg(
        long,
        global = true,
        env = "BATCHWATCH_API_BASE",
        hide_env_values = true
    )]
    pub api_base: Option<String>,

    /// Ask Trillet directly even when the tray app runs (which otherwise answers `status`
    /// for us, within its own request budget).
    #[arg(long, global = true)]
    pub standalone: bool,

    /// The Trillet workspace ID a command is for; needed when several are stored (asked for on
    /// a terminal, refused otherwise).
    #[arg(long, global = true, value_name = "ID")]
    pub workspace: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hand batches to the tray app to watch (starting it, hidden, if it is not running).
    Add(AddArgs),
    /// Show each batch's progress once.
    Status(StatusArgs),
    /// Follow batches live until they finish (or Ctrl-C).
    Watch(WatchArgs),
    /// List a batch's failed calls, grouped by reason (or only their numbers, or a CSV to
    /// upload again as a new batch).
    Failed(FailedArgs),
    /// Cancel a batch: waiting calls are dropped, calls in progress finish. Cannot be undone.
    Cancel(CancelArgs),
    /// The workspace's call agents: ID, name, status (ready ones first).
    Agents(AgentsArgs),
    /// Start a batch from a CSV (phone_number and any columns of your own), after saying how
    /// many calls, by which agent and when. Prints the new batch ID; the tray app watches it.
    Start(StartArgs),
    /// Start a batch's failed calls again as a new batch (their own CSV columns, each number
    /// once).
    Retry(RetryArgs),
    /// The record of finished batches the tray app keeps, newest first.
    History(HistoryArgs),
    /// Every setting of the window's panel with its value and range, and the hooks with each
    /// one's last failure; `settings set NAME VALUE` changes one (through the tray app when it
    /// runs, which applies it at once).
    Settings {
        #[command(subcommand)]
        action: Option<SettingsAction>,
    },
    /// Store, remove or describe the credentials kept in your keychain.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Print the completions for SHELL (bash, zsh, fish, …), e.g.
    /// `batchwatch-cli completions bash > ~/.local/share/bash-completion/completions/batchwatch-cli`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), as `man` reads it; the package installs it.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum SettingsAction {
    /// Change one setting, e.g. `settings set stall-minutes 20` or `settings set sounds off`.
    Set {
        /// poll-every, requests-per-minute, notifications, failure-alert, stall-minutes, sounds.
        name: String,
        value: String,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// One JSON object per batch and line: the API's fields, `batchId`, `percent`,
    /// `finishedAt` (epoch ms).
    #[arg(long, conflicts_with_all = ["delete", "clear"])]
    pub json: bool,
    /// Delete these batches' records (a batch still in the tray app's list keeps its card).
    #[arg(long, value_name = "ID", num_args = 1.., conflicts_with = "clear")]
    pub delete: Vec<String>,
    /// Delete every record.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Batch IDs, or links ending in /batch-calls/<ID>; `-` reads them from stdin.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// When their notifications are shown: always, only when calls failed, or never (hooks
    /// run either way). Batches already watched take it too.
    #[arg(long, value_enum)]
    pub notify: Option<NotifyArg>,
}

/// `--notify`'s values, as the card's menu offers them.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NotifyArg {
    Always,
    Failures,
    Never,
}

impl From<NotifyArg> for batchwatch_core::notify_choice::NotifyChoice {
    fn from(arg: NotifyArg) -> Self {
        match arg {
            NotifyArg::Always => Self::Always,
            NotifyArg::Failures => Self::Failures,
            NotifyArg::Never => Self::Never,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Batch IDs, or links ending in /batch-calls/<ID>; commas and spaces separate several.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,

    /// One JSON object per batch and line, with the API's fields as received.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FailedArgs {
    /// The batch ID, or a link ending in /batch-calls/<ID>.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Print only the failed numbers, one a line, each once.
    #[arg(long, conflicts_with = "json")]
    pub numbers: bool,

    /// Print the groups as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// Print a retry list to upload as a new batch: a CSV of the failed calls' own columns
    /// (the batch's CSV rows, phone_number first), then error and ended_at; each number once.
    #[arg(long, conflicts_with_all = ["json", "numbers"])]
    pub csv: bool,

    /// Only the calls that failed for this reason, as the window groups them ("Number busy").
    #[arg(long, value_name = "REASON", requires = "csv")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The batch ID, or a link ending in /batch-calls/<ID>.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Cancel without asking (needed when not run from a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// One JSON object per agent and line: `id`, `name`, `status`.
    #[arg(long)]
    pub json: bool,
}

/// What every start asks: the agent, when, callbacks, and the confirmations.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The agent that places the calls: its ID, or its exact name.
    #[arg(long, value_name = "NAME_OR_ID")]
    pub agent: String,

    /// When to start: "YYYY-MM-DD HH:MM" in your time zone, or ISO-8601 with an offset;
    /// without it the batch starts at once.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Call a number that did not answer again, up to N times (Trillet's smart callbacks).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub callbacks: Option<u32>,

    /// The wait before each callback, e.g. 4h, 1d or 1d2h: once for all, or once per
    /// callback (4 hours when not given).
    #[arg(long, value_name = "GAP", requires = "callbacks", num_args = 1..)]
    pub callback_gap: Vec<String>,

    /// Start without asking (needed when not run from a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Start even though the same file was started with the same agent in the last 10 minutes.
    #[arg(long)]
    pub force: bool,

    /// Print Trillet's answer as one JSON object (with `batchId`) instead of the ID alone.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The CSV file: a phone_number column in international format (+1234567890), at most
    /// 20 MB, UTF-8.
    #[arg(value_name = "FILE.csv")]
    pub file: std::path::PathBuf,

    #[command(flatten)]
    pub launch: LaunchArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The batch whose failed calls to start again (ID or link).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Only the calls that failed for this reason, as the window groups them ("Number busy").
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,

    #[command(flatten)]
    pub launch: LaunchArgs,
}

/// Exactly one batch ID, pasted in any form `batch_ids` accepts.
pub fn one_batch_id(arg: &str) -> Result<BatchId, Failure> {
    let mut ids = batch_ids(&[arg.to_owned()])?;
    if ids.len() > 1 {
        return Err(Failure::Usage(format!(
            "one batch ID, please (got {})",
            ids.len()
        )));
    }
    Ok(ids.remove(0))
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Batch IDs, or links ending in /batch-calls/<ID>; commas and spaces separate several.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,

    /// Exit when every batch has finished: 0 if all completed, 1 if any failed or was cancelled.
    #[arg(long)]
    pub until_done: bool,

    /// Shortest time between two polls of one batch. Hidden: tests compress time with it.
    #[arg(
        long,
        hide = true,
        env = "BATCHWATCH_POLL_FLOOR_MS",
        default_value_t = 15_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub poll_floor_ms: u64,

    /// The span the request budget (50 requests) is counted over; Trillet's limit is per
    /// minute. Hidden: tests shrink it together with the floor so pacing keeps its shape.
    #[arg(
        long,
        hide = true,
        env = "BATCHWATCH_BUDGET_WINDOW_MS",
        default_value_t = 60_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub budget_window_ms: u64,
}

impl WatchArgs {
    pub fn poll_floor(&self) -> Duration {
        Duration::from_millis(self.poll_floor_ms)
    }

    pub fn budget_window(&self) -> Duration {
        Duration::from_millis(self.budget_window_ms)
    }
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store a workspace's API key (read without echo, or from a pipe) in your keychain, with
    /// `--workspace ID` (asked for when missing and stdin is a terminal); the other workspaces
    /// stay as they are.
    Set {
        /// What to call the workspace (e.g. "Acme US"); kept as it was when absent.
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// Remove the workspace named with `--workspace ID` (the only one when one is stored),
    /// and stop watching its batches — asked first while the tray app still watches running
    /// ones.
    Clear {
        /// Remove it without asking, even with running batches.
        #[arg(long)]
        yes: bool,
    },
    /// Give the workspace named with `--workspace ID` (the only one when one is stored) another
    /// label; its key stays as it is.
    Rename {
        /// The new label, e.g. "Acme US".
        label: String,
    },
    /// List every stored workspace (ID, label, where it comes from) — never a key.
    Show,
}

/// Reads the ID arguments as the app's "add batches" box reads a paste: any rejected token
/// refuses the whole command, so a typo is never silently skipped.
pub fn batch_ids(args: &[String]) -> Result<Vec<BatchId>, Failure> {
    let parsed = parse_pasted(&args.join("\n")).map_err(|e| Failure::Usage(e.to_string()))?;
    if !parsed.rejected.is_empty() {
        let reasons: Vec<String> = parsed
            .rejected
            .iter()
            .map(|r| format!("{:?}: {}", r.token, r.reason))
            .collect();
        return Err(Failure::Usage(format!(
            "bad batch ID {}",
            reasons.join("; bad batch ID ")
        )));
    }
    if parsed.accepted.is_empty() {
        return Err(Failure::Usage("no batch ID given".to_owned()));
    }
    Ok(parsed.accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ids_in_any_pasted_form_are_accepted_in_order_without_duplicates() {
        let ids = batch_ids(&strings(&[
            "batch_1,batch_2",
            "https://api.trillet.ai/v1/api/batch-calls/batch_3/status",
            "batch_1",
        ]))
        .unwrap();
        let ids: Vec<&str> = ids.iter().map(BatchId::as_str).collect();
        assert_eq!(ids, ["batch_1", "batch_2", "batch_3"]);
    }

    #[test]
    fn a_rejected_token_is_a_usage_error_naming_it_and_why() {
        let err = batch_ids(&strings(&["batch_1", "junk!"])).unwrap_err();
        assert_eq!(err.code(), 2);
        let text = err.to_string();
        assert!(text.contains("\"junk!\""), "{text}");
        assert!(text.contains("contains '!'"), "{text}");
        assert_eq!(batch_ids(&strings(&[" , "])).unwrap_err().code(), 2);
    }
}
