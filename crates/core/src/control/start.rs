//! Reaching the resident, starting it when none answers: what `batchwatch` (the window) and
//! `batchwatch-cli add` do. The resident is started detached (its own process group, no
//! terminal), told which socket to serve, and waited for up to [`START_WAIT`]. Two starts at
//! once are safe: the resident that loses the lock exits, and both callers reach the winner.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::client::{Client, ConnectError};
use super::endpoint::Endpoint;
use super::protocol::ClientKind;

/// How long a resident that was just started has to open its socket.
pub const START_WAIT: Duration = Duration::from_secs(15);

/// The program `name` beside this one (the three are installed and built together).
pub fn program_beside(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(name)).filter(|p| p.is_file())
}

/// The program `name` beside this one, or on `PATH`.
pub fn program(name: &str) -> PathBuf {
    program_beside(name).unwrap_or_else(|| PathBuf::from(name))
}

/// The command line of the program `name` (the resident or the window) for `endpoint` and
/// the demo: what each passes the other, so both name the same socket.
pub fn launch_command(name: &str, endpoint: &Endpoint, demo: bool) -> Command {
    let mut command = Command::new(program(name));
    command.arg("--endpoint").arg(endpoint.socket());
    if demo {
        command.arg("--demo");
    }
    command
}

/// The resident's command line for `endpoint` (and the demo).
pub fn resident_command(endpoint: &Endpoint, demo: bool) -> Command {
    launch_command(RESIDENT, endpoint, demo)
}

const RESIDENT: &str = "batchwatch-resident";

/// Connects as `kind`, first starting a resident when none answers. The resident outlives
/// whoever started it, so it gets no terminal to write into: its log is its own file
/// (`resident.log` in the app's log folder). `set_for_this_process` names the environment
/// variables the caller set for itself alone (the window's WebKit settings): the resident does
/// not inherit them, so neither do the hooks it runs.
pub async fn connect_or_start(
    endpoint: &Endpoint,
    kind: ClientKind,
    demo: bool,
    set_for_this_process: &[&str],
) -> Result<Client, String> {
    match Client::connect(endpoint, kind).await {
        Ok(client) => return Ok(client),
        Err(ConnectError::NotRunning) => {}
        Err(e) => return Err(e.to_string()),
    }
    let spawn = || {
        let mut command = resident_command(endpoint, demo);
        for name in set_for_this_process {
            command.env_remove(name);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", program(RESIDENT).display()))?;
        log::info!("started the resident (process {})", child.id());
        Ok::<_, String>(child)
    };
    let mut child = spawn()?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        match Client::connect(endpoint, kind).await {
            Ok(client) => {
                // Reaped when it exits, should that be while this process still runs.
                std::thread::spawn(move || child.wait());
                return Ok(client);
            }
            Err(ConnectError::NotRunning) if Instant::now() < deadline => {
                match child.try_wait() {
                    Ok(Some(status)) if !status.success() => {
                        return Err(format!(
                            "the Batchwatch tray app stopped as it started ({status})"
                        ));
                    }
                    // Exit 0: another resident held the lock. If it still answers nobody, it
                    // was quitting: start again (the lock is free once it has gone).
                    Ok(Some(_)) => child = spawn()?,
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(ConnectError::NotRunning) => {
                return Err(format!(
                    "the Batchwatch tray app did not open {} within {} s",
                    endpoint.socket().display(),
                    START_WAIT.as_secs()
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
