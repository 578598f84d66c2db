//! `batchwatch-cli`, the terminal companion of Batchwatch: parses the command line, resolves
//! settings, runs one command and turns its result into an exit code (see `exit`).
//!
//! # Layout
//! - `args`: the clap definitions and the batch ID arguments.
//! - `config`: API base and credential resolution (environment, then keychain).
//! - `credentials`: `credentials set|clear|show`.
//! - `add`: hands batches to the tray app; `resident`: reaching it.
//! - `status`: `status`, one request per batch (or through the tray app when it runs).
//! - `watch`: `watch`, on the core's monitor.
//! - `failed`, `cancel`: a batch's failed calls; cancelling a batch; `ask`: the question
//!   before either of those and a start.
//! - `start`: `agents`, `start` and `retry` — starting batches, each sent at most once.
//! - `history`: the record of finished batches, from the tray app's state database (and
//!   `--delete ID…` / `--clear` to delete records).
//! - `patience`: waiting out a 429 in one-shot commands.
//! - `live`: what `watch` shows — progress bars on a terminal, plain lines otherwise.
//! - `summary`: how one batch's snapshot reads, as text and as JSON.
//! - `exit`: failures and their exit codes.

mod add;
mod args;
mod ask;
mod cancel;
mod config;
mod credentials;
mod exit;
mod failed;
mod history;
mod live;
mod patience;
mod resident;
mod settings;
mod start;
mod status;
mod summary;
mod watch;

use std::process::ExitCode;

use batchwatch_core::secret_store::KeyringStore;
use batchwatch_core::{Credentials, TrilletClient};
use clap::Parser;

use crate::args::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    batchwatch_core::credentials::protect_process();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                eprintln!("batchwatch-cli: {message}");
            }
            ExitCode::from(failure.code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    // Trillet with our credentials for the workspace named, each request leased from the tray
    // app's budget when it spends the same key's.
    let trillet = |runtime: &tokio::runtime::Runtime| {
        leased(
            runtime,
            cli.api_base.as_deref(),
            cli.standalone,
            cli.workspace.as_deref(),
        )
    };
    match cli.command {
        Command::Credentials(command) => credentials::run(command, cli.workspace.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "batchwatch-cli",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::Unreachable(format!("could not write the manual page: {e}")))
        }
        Command::Add(args) => runtime()?.block_on(add::run(&args, cli.workspace.as_deref())),
        Command::History(args) => history::run(&args),
        Command::Settings { action } => runtime()?.block_on(settings::run(action)),
        Command::Status(args) => {
            let ids = args::batch_ids(&args.ids)?;
            let runtime = runtime()?;
            let base = config::api_base(cli.api_base.as_deref())?;
            let store = KeyringStore::from_env();
            // Our credentials are read once: for the tray-app check (only once a tray app
            // answers: it asks the same base and workspace) and, if it cannot answer for us,
            // to ask Trillet ourselves.
            let mut ours = None;
            if !cli.standalone {
                let through = runtime.block_on(async {
                    let resident = resident::running().await?;
                    let credentials = ours.insert(config::resolve_credentials(
                        &store,
                        cli.workspace.as_deref(),
                    ));
                    // A workspace not named among several (or not stored) is the person's to
                    // fix: said below, never answered from the tray app's first workspace.
                    if matches!(credentials, Err(Failure::Workspace(_))) {
                        return None;
                    }
                    // Ours could not be read (a keychain locked for us): the one named still is.
                    let workspace = credentials
                        .as_ref()
                        .ok()
                        .map(|c| c.workspace_id.as_str())
                        .or(cli.workspace.as_deref());
                    resident::asks_as_we_do(&resident, &base, workspace)
                        .await
                        .then_some(resident)
                });
                if let Some(resident) = through {
                    return runtime.block_on(status::run(
                        status::Source::TrayApp(
                            &resident,
                            workspace_of(&ours).or(cli.workspace.clone()),
                        ),
                        &ids,
                        args.json,
                    ));
                }
            }
            let credentials = ours
                .unwrap_or_else(|| config::resolve_credentials(&store, cli.workspace.as_deref()))?;
            let client = TrilletClient::new(base, credentials);
            runtime.block_on(status::run(
                status::Source::Trillet(&client),
                &ids,
                args.json,
            ))
        }
        Command::Failed(args) => {
            let id = args::one_batch_id(&args.id)?;
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            let output = match (args.numbers, args.json, args.csv) {
                (true, _, _) => failed::Output::Numbers,
                (_, true, _) => failed::Output::Json,
                (_, _, true) => failed::Output::Csv {
                    reason: args.reason,
                },
                _ => failed::Output::Text,
            };
            runtime.block_on(failed::run(&source, &id, output))
        }
        Command::Cancel(args) => {
            let id = args::one_batch_id(&args.id)?;
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            runtime.block_on(cancel::run(&source, &id, args.yes))
        }
        Command::Agents(args) => {
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            runtime.block_on(start::agents(&source, args.json))
        }
        Command::Start(args) => {
            // The file and the options first: a mistake there sends nothing and reads no key.
            let report = start::checked_file(&args.file)?;
            let when = start::when(&args.launch)?;
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            let file = batchwatch_core::launch::CsvSource::File(args.file.clone());
            runtime.block_on(start::launch(
                &source,
                file,
                report,
                when,
                &args.launch,
                None,
            ))
        }
        Command::Retry(args) => {
            let id = args::one_batch_id(&args.id)?;
            let when = start::when(&args.launch)?;
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            runtime.block_on(async {
                let (file, report) =
                    start::retry_list(&source, &id, args.reason.as_deref()).await?;
                start::launch(&source, file, report, when, &args.launch, Some(id.clone())).await
            })
        }
        Command::Watch(args) => {
            let ids = args::batch_ids(&args.ids)?;
            let pacing = watch::Pacing {
                floor: args.poll_floor(),
                window: args.budget_window(),
            };
            let mut view = live::Live::for_terminal(&ids);
            let runtime = runtime()?;
            let source = trillet(&runtime)?;
            let credentials = source.client.credentials().clone();
            let ending = runtime.block_on(watch::follow(
                &ids,
                pacing,
                source,
                credentials,
                &mut view,
                ctrl_c(),
            ));
            exit::from_watch(ending, args.until_done)
        }
    }
}

/// Trillet with our credentials, each request after a slot in the tray app's budget when it
/// spends the same key's. IDs are checked before this, and the base before the credentials,
/// so a usage mistake is reported without touching the keychain.
fn leased(
    runtime: &tokio::runtime::Runtime,
    api_base: Option<&str>,
    standalone: bool,
    workspace: Option<&str>,
) -> Result<resident::Leased, Failure> {
    let base = config::api_base(api_base)?;
    let credentials = config::resolve_credentials(&KeyringStore::from_env(), workspace)?;
    let client = TrilletClient::new(base.clone(), credentials);
    let budget = runtime.block_on(resident::SharedBudget::find(standalone, &base, &client));
    Ok(resident::Leased { client, budget })
}

/// The workspace of credentials resolved, when they were.
fn workspace_of(credentials: &Option<Result<Credentials, Failure>>) -> Option<String> {
    match credentials {
        Some(Ok(c)) => Some(c.workspace_id.to_string()),
        _ => None,
    }
}

/// One thread is plenty: the CLI waits on the network, one request at a time.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("could not start the async runtime: {e}")))
}

/// Completes on Ctrl-C. If the handler cannot be installed the watch simply runs to its end
/// instead of stopping at once.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
