//! The `trillet-sim` binary: serves the simulator on loopback with a scenario loaded, prints
//! where and with which credentials, and runs until Ctrl-C or SIGTERM.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;
use trillet_sim::{RunningSim, SimConfig};

/// A simulator of the Trillet AI batch-calls API, on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "trillet-sim", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Sim seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Batches to start with.
    #[arg(long, default_value = "demo", value_parser = ["demo", "empty"])]
    scenario: String,
    /// Accepted API key (default: the built-in test key).
    #[arg(long)]
    key: Option<String>,
    /// Workspace ID the key is allowed for (default: the built-in test workspace).
    #[arg(long)]
    workspace: Option<String>,
    /// Requests per key per minute of sim time before 429.
    #[arg(long, default_value_t = 60)]
    rate_limit: u32,
    /// Print the start-up details as one JSON line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = SimConfig {
        speed: args.speed,
        rate_limit_per_minute: args.rate_limit,
        ..SimConfig::default()
    };
    if args.key.is_some() || args.workspace.is_some() {
        let (default_key, default_workspace) = config.credentials.remove(0);
        config.credentials = vec![(
            args.key.unwrap_or(default_key),
            args.workspace.unwrap_or(default_workspace),
        )];
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sim = match RunningSim::spawn_on(config, addr) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("trillet-sim: cannot start on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let batches = sim
        .control()
        .load_scenario(&args.scenario)
        .unwrap_or_default();
    if let Err(e) = announce(&sim, &batches, args.json) {
        eprintln!("trillet-sim: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = wait_for_shutdown_signal() {
        eprintln!("trillet-sim: cannot wait for signals: {e}");
        return ExitCode::FAILURE;
    }
    drop(sim);
    ExitCode::SUCCESS
}

/// The `--json` start-up line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartLine<'a> {
    url: String,
    api_key: String,
    workspace_id: String,
    batches: &'a [String],
}

fn announce(sim: &RunningSim, batches: &[String], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let line = StartLine {
            url: sim.base_url(),
            api_key: sim.api_key(),
            workspace_id: sim.workspace_id(),
            batches,
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else {
        writeln!(out, "Trillet simulator listening on {}", sim.base_url())?;
        writeln!(out, "API key: {}", sim.api_key())?;
        writeln!(out, "Workspace ID: {}", sim.workspace_id())?;
        writeln!(out, "Batches: {}", batches.join(" "))?;
    }
    out.flush()
}

fn wait_for_shutdown_signal() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut terminate = signal(SignalKind::terminate())?;
            tokio::select! {
                result = tokio::signal::ctrl_c() => result,
                _ = terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}
