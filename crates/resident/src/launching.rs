//! Starting batches for the window: the file's check, the agents, a batch's failed calls made
//! into a retry list, the question asked before a start, and the start itself — sent once,
//! through the monitor's budget, written down in the ledger first, and the new batch tracked
//! with what Batchwatch knows of it.
//!
//! The file to start is always one the person chose in the desktop's dialog (or dropped on
//! the window): the window process passes its path, the page never names one.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use batchwatch_core::control::StartChoice;
use batchwatch_core::launch::csv_check::{self, CsvReport};
use batchwatch_core::launch::{self, CsvSource, Launch, StartForm};
use batchwatch_core::model::Agent;
use batchwatch_core::monitor::{wall_clock_ms, ActionError};
use batchwatch_core::retry_list;
use batchwatch_core::state_file::ledger::{Claim, Ledger, Settled};
use batchwatch_core::BatchId;
use serde::Serialize;

use crate::error::CommandError;
use crate::state::AppState;

/// Retry lists shown to a person and not started yet, kept so the list started is the one
/// they confirmed (and its pages are not asked for twice).
const PREPARED_KEPT: usize = 8;

/// What the ledger and the prepared retry lists live in.
pub struct Launching {
    ledger: Option<Ledger>,
    /// The demo's ledger lives in a folder of its own, gone with the demo.
    _demo_folder: Option<tempfile::TempDir>,
    prepared: Mutex<VecDeque<Prepared>>,
}

struct Prepared {
    id: BatchId,
    /// The workspace its batch is asked in: where the list came from, and where it is started.
    workspace: Option<batchwatch_core::WorkspaceId>,
    reason: Option<String>,
    name: String,
    csv: Vec<u8>,
    report: CsvReport,
}

impl Launching {
    /// The person's ledger, in their state database.
    pub fn for_user() -> Self {
        Self {
            ledger: Ledger::for_user(),
            _demo_folder: None,
            prepared: Mutex::default(),
        }
    }

    /// The demo's: kept in a folder of its own that goes with it (the demo keeps nothing).
    pub fn for_demo() -> Self {
        let folder = tempfile::Builder::new()
            .prefix("batchwatch-demo-")
            .tempdir()
            .ok();
        Self {
            ledger: folder
                .as_ref()
                .map(|f| Ledger::at(f.path().join("state.db"))),
            _demo_folder: folder,
            prepared: Mutex::default(),
        }
    }

    /// A ledger at `path` (tests).
    pub fn at(path: PathBuf) -> Self {
        Self {
            ledger: Some(Ledger::at(path)),
            _demo_folder: None,
            prepared: Mutex::default(),
        }
    }

    fn keep(&self, prepared: Prepared) {
        let mut kept = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|p| !(p.id == prepared.id && p.reason == prepared.reason));
        if kept.len() >= PREPARED_KEPT {
            kept.pop_front();
        }
        kept.push_back(prepared);
    }

    fn prepared(&self, id: &BatchId, reason: &Option<String>) -> Option<Prepared> {
        let kept = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|p| &p.id == id && &p.reason == reason)
            .map(|p| Prepared {
                id: p.id.clone(),
                workspace: p.workspace.clone(),
                reason: p.reason.clone(),
                name: p.name.clone(),
                csv: p.csv.clone(),
                report: p.report.clone(),
            })
    }

    fn forget(&self, id: &BatchId, reason: &Option<String>) {
        let mut kept = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|p| !(&p.id == id && &p.reason == reason));
    }
}

/// A file's check as the panel shows it: the figures and every sentence about them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    pub file_name: String,
    pub report: CsvReport,
    /// "1,240 rows, 1,234 distinct numbers (6 repeated: each is called again)".
    pub summary: String,
    pub repeats_text: Option<String>,
    pub bad_rows_text: Option<String>,
    /// Trillet would take it as it is.
    pub startable: bool,
    /// For a retry: the batch whose failed calls these are.
    pub retry_of: Option<String>,
    /// For a retry: the agent that called them the first time, when Batchwatch started it.
    pub agent_id: Option<String>,
}

impl Checked {
    fn of(file_name: String, report: CsvReport) -> Self {
        Self {
            file_name,
            summary: report.summary(),
            repeats_text: report.repeats_text(),
            bad_rows_text: report.bad_rows_text(),
            startable: report.is_startable(),
            report,
            retry_of: None,
            agent_id: None,
        }
    }
}

/// A start that went through.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub batch_id: String,
    pub total_calls: Option<u64>,
    /// "Started batch_x: 1,240 calls with the agent Sales." for the panel.
    pub message: String,
}

impl AppState {
    /// The file the person chose, checked (off the async thread: up to 20 MB are read).
    pub(crate) async fn check_csv(&self, path: PathBuf) -> Result<Checked, CommandError> {
        let checked_path = path.clone();
        let report = tokio::task::spawn_blocking(move || csv_check::check_file(&checked_path))
            .await
            .map_err(|e| {
                CommandError::Launch("unreadable", format!("The file could not be read ({e})."))
            })?
            .map_err(|e| CommandError::Launch(e.code(), e.to_string()))?;
        Ok(Checked::of(CsvSource::File(path).file_name(), report))
    }

    /// A workspace's agents (the first's when none is named), ready ones first.
    pub(crate) async fn agents(&self, workspace: Option<&str>) -> Result<Vec<Agent>, CommandError> {
        let workspace = self.workspace_named(workspace)?;
        Ok(launch::ready_first(
            self.monitor.agents_in(workspace).await?,
        ))
    }

    /// A tracked batch's failed calls (one reason's when given) as the list a retry starts:
    /// every page loaded within the budget, the batch's own columns, each number once.
    pub(crate) async fn prepare_retry(
        &self,
        id: BatchId,
        reason: Option<String>,
    ) -> Result<Checked, CommandError> {
        let failed = self.monitor.all_failed_calls(id.clone()).await?;
        let list = retry_list::upload_csv(failed.calls(), reason.as_deref());
        if list.rows == 0 {
            let which = reason
                .as_deref()
                .map_or(String::new(), |r| format!(" for “{r}”"));
            return Err(CommandError::Launch(
                "nothing_to_retry",
                format!("{id} has no failed calls{which} to start again."),
            ));
        }
        let name = retry_list::upload_file_name(&id, reason.as_deref());
        let report = csv_check::check_bytes(&name, list.csv.as_bytes())
            .map_err(|e| CommandError::Launch(e.code(), e.to_string()))?;
        let view = self.monitor.snapshot();
        let parent = view.batches.iter().find(|b| b.id == id);
        let parent_agent = parent.and_then(|b| b.launch.as_ref().map(|l| l.agent_id.clone()));
        let workspace = parent.and_then(|b| b.workspace.clone());
        let mut checked = Checked::of(name.clone(), report.clone());
        if let Some(stop) = failed.stopped_early {
            checked.summary.push_str(&format!(" ({})", stop.sentence()));
        }
        checked.retry_of = Some(id.to_string());
        checked.agent_id = parent_agent;
        self.launching.keep(Prepared {
            id,
            workspace,
            reason,
            name,
            csv: list.csv.into_bytes(),
            report,
        });
        Ok(checked)
    }

    /// The question before a start, in the core's words.
    pub(crate) fn describe_start(
        &self,
        calls: u64,
        file_name: &str,
        choice: &StartChoice,
    ) -> Result<String, CommandError> {
        let agent = Agent {
            id: choice.agent_id.clone(),
            name: choice.agent_name.clone(),
            status: "ready".into(),
        };
        let callbacks = choice
            .callbacks()
            .map_err(|e| CommandError::Launch("invalid_callbacks", e))?;
        let question = launch::confirm_text(
            calls,
            file_name,
            &agent,
            choice.scheduled_at_ms,
            callbacks.as_ref(),
            &batchwatch_core::format::TimeZone::system(),
            wall_clock_ms(),
        );
        // With several workspaces, which one is part of the question.
        let view = self.monitor.snapshot();
        let named = self.workspace_named(choice.workspace.as_deref())?;
        let label = (view.workspaces.len() > 1)
            .then(|| {
                let id = named.as_ref().or(view.workspaces.first().map(|w| &w.id))?;
                view.workspaces.iter().find(|w| &w.id == id)
            })
            .flatten()
            .map(|w| w.label.clone());
        Ok(match label {
            Some(label) => format!("In {label}: {question}"),
            None => question,
        })
    }

    /// Starts the file at `path` (checked again: it may have changed since it was shown).
    pub(crate) async fn start_file(
        &self,
        path: PathBuf,
        choice: StartChoice,
    ) -> Result<Started, CommandError> {
        let checked = self.check_csv(path.clone()).await?;
        if let Some(bad) = checked.bad_rows_text {
            return Err(CommandError::Launch(
                "bad_rows",
                format!("{}: {bad}. Nothing was sent.", checked.file_name),
            ));
        }
        self.start(CsvSource::File(path), checked.report, choice, None)
            .await
    }

    /// Starts the retry list the person was shown for `id`.
    pub(crate) async fn start_retry(
        &self,
        id: BatchId,
        reason: Option<String>,
        choice: StartChoice,
    ) -> Result<Started, CommandError> {
        // Only a list the person was shown: one gone (Batchwatch restarted, or more were opened
        // since) is not made again behind their back.
        let prepared = self.launching.prepared(&id, &reason).ok_or_else(|| {
            CommandError::Launch(
                "not_prepared",
                format!("The list of {id}'s failed calls is no longer at hand; open Retry again to see it before it is started."),
            )
        })?;
        // Started where its batch is asked, as the list was made: one whose workspace is gone
        // meanwhile (removed, or the batch cleared with it) is refused, never sent elsewhere.
        let workspace = prepared
            .workspace
            .filter(|w| {
                self.monitor
                    .snapshot()
                    .workspaces
                    .iter()
                    .any(|s| &s.id == w)
            })
            .ok_or_else(|| {
                CommandError::Launch(
                    "workspace_gone",
                    format!("The workspace {id} runs in is no longer stored; nothing was sent."),
                )
            })?;
        let started = self
            .start(
                CsvSource::Bytes {
                    name: prepared.name,
                    bytes: prepared.csv,
                },
                prepared.report,
                choice,
                Some((id.clone(), workspace)),
            )
            .await;
        if started.is_ok() {
            self.launching.forget(&id, &reason);
        }
        started
    }

    async fn start(
        &self,
        file: CsvSource,
        report: CsvReport,
        choice: StartChoice,
        // The batch it retries, and the workspace that batch is asked in.
        retry: Option<(BatchId, batchwatch_core::WorkspaceId)>,
    ) -> Result<Started, CommandError> {
        let now = wall_clock_ms();
        // A retry goes where its batch runs (its failed calls, its agent); a file where chosen.
        // Decided before anything is written down, so a refusal here holds nothing back.
        let (retry_of, workspace) = match retry {
            Some((parent, workspace)) => (Some(parent), Some(workspace)),
            None => (None, self.workspace_named(choice.workspace.as_deref())?),
        };
        if let Some(at) = choice.scheduled_at_ms {
            launch::check_start_time(at, now, &batchwatch_core::format::TimeZone::system())
                .map_err(|why| {
                    CommandError::Launch("bad_time", format!("That start time {why}."))
                })?;
        }
        // What the person reviewed is what is sent.
        if choice.fingerprint.as_deref() != Some(report.fingerprint.as_str()) {
            return Err(CommandError::Launch(
                "changed",
                format!(
                    "{} is not what you reviewed (it changed, or was never reviewed); nothing was sent. Review it again.",
                    file.file_name()
                ),
            ));
        }
        let callbacks = choice
            .callbacks()
            .map_err(|e| CommandError::Launch("invalid_callbacks", e))?;
        let ledger = self.launching.ledger.as_ref().ok_or_else(|| {
            CommandError::Launch(
                "ledger",
                "There is no home folder to keep the record of starts in; nothing was sent.".into(),
            )
        })?;
        let entry = match ledger
            .claim(&report.fingerprint, &choice.agent_id, now, choice.force)
            .map_err(|e| CommandError::Launch("ledger", e))?
        {
            Claim::Recorded(entry) => entry,
            Claim::HeldBack(recent) => {
                return Err(CommandError::Launch(
                    "recent_start",
                    recent.refusal(now, "choose “Start anyway” if that is what you want"),
                ))
            }
        };
        let file_name = file.file_name();
        let form = StartForm {
            file,
            agent_id: choice.agent_id.clone(),
            scheduled_at_ms: choice.scheduled_at_ms,
            callbacks,
        };
        let outcome = self.monitor.start_in(workspace.clone(), form).await;
        let settled = match &outcome {
            Ok(answer) => Settled::Started(answer.batch_id.clone()),
            Err(ActionError::OutcomeUnknown(_)) => Settled::Unknown,
            Err(_) => Settled::NotStarted,
        };
        if let Err(e) = ledger.settle(entry, &settled) {
            log::warn!("{e}");
        }
        let answer = outcome.inspect_err(|e| log::warn!("a start from the window failed: {e}"))?;
        log::info!("started a batch of {} calls from the window", report.rows);
        let launch = Launch {
            agent_id: choice.agent_id.clone(),
            agent_name: choice.agent_name.clone(),
            file_name,
            started_at_ms: now,
            scheduled_at_ms: choice.scheduled_at_ms,
            retry_of,
        };
        let tracking = self
            .monitor
            .track_launched(workspace, answer.batch_id.clone(), launch)
            .answer()
            .await;
        let calls = answer.total_calls.unwrap_or(report.rows);
        let mut message = format!(
            "Started {}: {} with the agent {}.",
            answer.batch_id,
            batchwatch_core::format::calls(calls),
            choice.agent_name
        );
        if let Some(over) = tracking.over_limit_sentence() {
            message.push_str(&format!(" {over}"));
        }
        Ok(Started {
            batch_id: answer.batch_id.to_string(),
            total_calls: answer.total_calls,
            message,
        })
    }
}
