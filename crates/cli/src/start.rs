//! `batchwatch-cli agents`, `start FILE.csv` and `retry ID`: starting batches from the terminal.
//!
//! A start is checked, asked and written down before it is sent, and sent once:
//! 1. the file is checked (or the retry list made and checked) — refused here, exit 2, with
//!    nothing sent, when Trillet would refuse it;
//! 2. the agent is found in the workspace's list, by ID or exact name;
//! 3. the person confirms how many calls, by which agent, when (`--yes` for scripts);
//! 4. the same file with the same agent started in the last 10 minutes is held back
//!    (`--force` past it), and the start is written down in the ledger;
//! 5. it is sent, within the tray app's budget when one runs; only a 429 is sent again;
//! 6. the new batch ID goes to stdout, and to the tray app when one runs, which watches it.
//!
//! An outcome after which the batch may have started is exit 6, never a second request.

use std::io::Write;

use batchwatch_core::control::Request;
use batchwatch_core::launch::csv_check::{self, CsvReport};
use batchwatch_core::launch::{
    self, CsvSource, Gap, Launch, SmartCallbacks, StartFailure, StartForm,
};
use batchwatch_core::model::{Agent, StartAnswer};
use batchwatch_core::monitor::wall_clock_ms;
use batchwatch_core::state_file::ledger::{Claim, Ledger, Settled};
use batchwatch_core::{format, ApiError, BatchId};

use crate::args::LaunchArgs;
use crate::exit::Failure;
use crate::patience::patiently;
use crate::resident::Leased;

/// What `--at` and `--callbacks` ask, read before anything else is done.
pub struct When {
    pub at_ms: Option<u64>,
    pub callbacks: Option<SmartCallbacks>,
}

/// Reads `--at`, `--callbacks` and `--callback-gap` (a usage error names what is wrong).
pub fn when(args: &LaunchArgs) -> Result<When, Failure> {
    let at_ms = args
        .at
        .as_deref()
        .map(|text| launch::parse_start_time(text, &format::TimeZone::system(), wall_clock_ms()))
        .transpose()
        .map_err(Failure::Usage)?;
    let callbacks = match args.callbacks {
        None => None,
        Some(n) => {
            let gaps = args
                .callback_gap
                .iter()
                .map(|g| Gap::parse(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Failure::Usage)?;
            Some(SmartCallbacks::new(n, gaps).map_err(Failure::Usage)?)
        }
    };
    Ok(When { at_ms, callbacks })
}

/// The file's check, as the terminal says it: a file Trillet would refuse is exit 2.
pub fn checked_file(path: &std::path::Path) -> Result<CsvReport, Failure> {
    let report = csv_check::check_file(path).map_err(|e| Failure::Usage(e.to_string()))?;
    refuse_bad_rows(&report, &path.display().to_string())?;
    Ok(report)
}

fn refuse_bad_rows(report: &CsvReport, name: &str) -> Result<(), Failure> {
    match report.bad_rows_text() {
        Some(text) => Err(Failure::Usage(format!(
            "{name}: {text}. Nothing was sent: fix those rows and start it again."
        ))),
        None => Ok(()),
    }
}

/// `agents`: the list, ready agents first.
pub async fn agents(source: &Leased, json: bool) -> Result<(), Failure> {
    let agents = launch::ready_first(fetch_agents(source).await?);
    let mut out = std::io::stdout().lock();
    for agent in &agents {
        let line = if json {
            serde_json::json!({"id": agent.id, "name": agent.name, "status": agent.status})
                .to_string()
        } else {
            format!("{}\t{}\t{}", agent.id, agent.name, agent.status)
        };
        let _ = writeln!(out, "{line}");
    }
    if agents.is_empty() && !json {
        eprintln!("batchwatch-cli: this workspace has no call agents");
    }
    Ok(())
}

async fn fetch_agents(source: &Leased) -> Result<Vec<Agent>, Failure> {
    patiently("the agents", || {
        let client = source.client.clone();
        source.budget.before(async move { client.agents().await })
    })
    .await
    .map_err(Failure::from_api)
}

/// `retry`: the batch's failed calls (one reason's with `reason`) as the CSV to start.
pub async fn retry_list(
    source: &Leased,
    id: &BatchId,
    reason: Option<&str>,
) -> Result<(CsvSource, CsvReport), Failure> {
    let failed = crate::failed::load(source, id).await?;
    let list = batchwatch_core::retry_list::upload_csv(failed.calls(), reason);
    if list.rows == 0 {
        let which = reason.map_or(String::new(), |r| format!(" for {r:?}"));
        return Err(Failure::Usage(format!(
            "{id} has no failed calls{which} to start again; nothing was sent"
        )));
    }
    let name = batchwatch_core::retry_list::upload_file_name(id, reason);
    let report = csv_check::check_bytes(&name, list.csv.as_bytes())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    refuse_bad_rows(&report, &name)?;
    Ok((
        CsvSource::Bytes {
            name,
            bytes: list.csv.into_bytes(),
        },
        report,
    ))
}

/// Steps 2 to 6 for a checked CSV.
pub async fn launch(
    source: &Leased,
    file: CsvSource,
    report: CsvReport,
    when: When,
    args: &LaunchArgs,
    retry_of: Option<BatchId>,
) -> Result<(), Failure> {
    let agents = fetch_agents(source).await?;
    let agent = launch::resolve_agent(&agents, &args.agent).map_err(Failure::Usage)?;
    let file_name = file.file_name();
    let zone = format::TimeZone::system();

    let mut question = String::new();
    if let Some(parent) = &retry_of {
        question.push_str(&format!("The failed calls of {parent}: "));
    }
    question.push_str(&format!("{}.", report.summary()));
    if let Some(repeats) = report.repeats_text() {
        question.push_str(&format!(" {repeats}."));
    }
    if !agent.is_ready() {
        question.push_str(&format!(
            " The agent's status is {:?}, not ready.",
            agent.status
        ));
    }
    question.push(' ');
    question.push_str(&launch::confirm_text(
        report.rows,
        &file_name,
        &agent,
        when.at_ms,
        when.callbacks.as_ref(),
        &zone,
        wall_clock_ms(),
    ));
    if !args.yes && !crate::ask::confirm(&question, "pass --yes to start it without being asked")? {
        return Err(Failure::Usage("Not started.".to_owned()));
    }

    // What was confirmed is what is sent: the file is read again, and must be the same.
    if let CsvSource::File(path) = &file {
        let again = csv_check::check_file(path).map_err(|e| Failure::Usage(e.to_string()))?;
        if again.fingerprint != report.fingerprint {
            return Err(Failure::Usage(format!(
                "{file_name} changed while you were asked; nothing was sent. Start it again."
            )));
        }
    }
    let ledger = Ledger::for_user().ok_or_else(|| {
        Failure::Usage(
            "no home folder for the record of recent starts; nothing was sent".to_owned(),
        )
    })?;
    let entry = match ledger
        .claim(&report.fingerprint, &agent.id, wall_clock_ms(), args.force)
        .map_err(Failure::Usage)?
    {
        Claim::Recorded(entry) => entry,
        Claim::HeldBack(recent) => {
            return Err(Failure::Usage(
                recent.refusal(wall_clock_ms(), "pass --force to start it anyway"),
            ))
        }
    };

    let form = StartForm {
        file,
        agent_id: agent.id.clone(),
        scheduled_at_ms: when.at_ms,
        callbacks: when.callbacks,
    };
    let outcome = send(source, &form).await;
    let settled = match &outcome {
        Ok(answer) => Settled::Started(answer.batch_id.clone()),
        Err(StartFailure::Unknown(_)) => Settled::Unknown,
        Err(StartFailure::NotStarted(_)) => Settled::NotStarted,
    };
    if let Err(e) = ledger.settle(entry, &settled) {
        eprintln!("batchwatch-cli: {e}");
    }
    let answer = outcome.map_err(start_failure)?;

    if args.json {
        let mut body = answer.answer.clone();
        body.insert("batchId".into(), answer.batch_id.as_str().into());
        println!("{}", serde_json::Value::Object(body));
    } else {
        println!("{}", answer.batch_id);
    }
    let launch = Launch {
        agent_id: agent.id,
        agent_name: agent.name,
        file_name,
        started_at_ms: wall_clock_ms(),
        scheduled_at_ms: when.at_ms,
        retry_of,
    };
    let workspace = &source.client.credentials().workspace_id;
    hand_to_tray_app(&answer.batch_id, workspace, launch).await;
    Ok(())
}

/// The start, within the shared budget; a 429 (Trillet took nothing) is waited out and sent
/// again, nothing else ever is.
async fn send(source: &Leased, form: &StartForm) -> Result<StartAnswer, StartFailure> {
    patiently("the start", || {
        let client = source.client.clone();
        let form = form.clone();
        source.budget.before(async move {
            match client.start_batch(&form).await {
                Ok(answer) => Ok(Ok(answer)),
                Err(StartFailure::NotStarted(e @ ApiError::RateLimited { .. })) => Err(e),
                Err(other) => Ok(Err(other)),
            }
        })
    })
    .await
    .unwrap_or_else(|limited| Err(StartFailure::NotStarted(limited)))
}

/// A start that gave no batch, as the terminal's failure and exit code.
fn start_failure(failure: StartFailure) -> Failure {
    match failure {
        StartFailure::Unknown(_) => Failure::OutcomeUnknown(failure.to_string()),
        StartFailure::NotStarted(ApiError::Refused { message, .. }) => Failure::Unsuccessful(
            format!("Trillet refused the batch: {message}. Nothing started."),
        ),
        StartFailure::NotStarted(ApiError::NotFound { message }) => Failure::Unreachable(format!(
            "Trillet has no such endpoint at this address ({message}); nothing started"
        )),
        StartFailure::NotStarted(error) => match Failure::from_api(error) {
            Failure::Unreachable(text) => Failure::Unreachable(format!("{text}; nothing started")),
            other => other,
        },
    }
}

/// The tray app, when one runs, watches the new batch with what we know of it; without one
/// (a server), nothing is started for it.
async fn hand_to_tray_app(id: &BatchId, workspace: &batchwatch_core::WorkspaceId, launch: Launch) {
    let Some(resident) = crate::resident::running().await else {
        return;
    };
    let request = Request::TrackStarted {
        id: id.to_string(),
        launch,
        workspace: Some(workspace.to_string()),
    };
    if let Err(e) = resident.call(&request).await {
        eprintln!("batchwatch-cli: the tray app did not take {id} ({e}); add it with 'batchwatch-cli add {id}'");
    }
}
