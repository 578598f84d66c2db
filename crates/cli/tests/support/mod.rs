//! Test support: a simulator with a distinctive key, and running the real `batchwatch-cli`
//! binary against it with a clean environment, a time limit, and — on every run — the check
//! that the key appears nowhere in what it printed.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use trillet_sim::{RunningSim, SimConfig};

/// Distinctive, so finding it in any output is proof of a leak.
pub const KEY: &str = "sk_cli_distinctive_secret_42";
pub const WORKSPACE: &str = "ws_cli";

/// Compresses `watch`'s pacing: 200 ms floor, 50 requests per second.
pub const FAST: [&str; 4] = ["--poll-floor-ms", "200", "--budget-window-ms", "1000"];

/// Everything the outer environment could set that changes the binary's behaviour.
const OUTER_ENV: [&str; 8] = [
    "TRILLET_API_KEY",
    "TRILLET_WORKSPACE_ID",
    "BATCHWATCH_API_BASE",
    "BATCHWATCH_POLL_FLOOR_MS",
    "BATCHWATCH_BUDGET_WINDOW_MS",
    "BATCHWATCH_KEYCHAIN_SERVICE",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

/// A simulator that accepts only [`KEY`] for [`WORKSPACE`], at `speed` sim seconds per second.
pub fn sim(speed: f64) -> RunningSim {
    RunningSim::spawn(SimConfig {
        speed,
        credentials: vec![(KEY.into(), WORKSPACE.into())],
        ..SimConfig::default()
    })
    .expect("the simulator starts")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit code; run was {self:#?}");
        self
    }

    /// stderr is exactly one `batchwatch-cli: …` line containing `part`, with no Debug or
    /// backtrace noise.
    pub fn assert_error_line(&self, part: &str) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line; run was {self:#?}");
        assert!(lines[0].starts_with("batchwatch-cli: "), "{self:#?}");
        assert!(
            lines[0].contains(part),
            "error should mention {part:?}: {self:#?}"
        );
        for noise in ["panicked", "backtrace", "Error {", "Err(", "Some("] {
            assert!(!lines[0].contains(noise), "{noise:?} in {self:#?}");
        }
        self
    }
}

/// The binary with a clean environment: none of [`OUTER_ENV`], a keychain service name of
/// its own so a real user's item is never read, and a control socket nobody serves so a
/// running tray app (a person's own) is never reached: these tests are of the standalone
/// companion.
pub fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_batchwatch-cli"));
    command.args(args);
    for name in OUTER_ENV {
        command.env_remove(name);
    }
    command.env(
        "BATCHWATCH_KEYCHAIN_SERVICE",
        format!("dev.batchwatch.cli-test.unused.{}", std::process::id()),
    );
    command.env(
        "BATCHWATCH_ENDPOINT",
        std::env::temp_dir().join(format!(
            "batchwatch-cli-test-{}/none.sock",
            std::process::id()
        )),
    );
    command
}

/// [`cli`] pointed at `sim` with its credentials in the environment.
pub fn cli_on(sim: &RunningSim, args: &[&str]) -> Command {
    let mut command = cli(args);
    command
        .env("BATCHWATCH_API_BASE", sim.base_url())
        .env("TRILLET_API_KEY", KEY)
        .env("TRILLET_WORKSPACE_ID", WORKSPACE);
    command
}

/// Points HOME and the XDG directories at `dir` and the session bus nowhere: no keychain.
pub fn without_keychain(command: &mut Command, dir: &Path) {
    command
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
}

/// A started run of the binary, to be finished with [`Running::finish`].
pub struct Running {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    writer: thread::JoinHandle<()>,
}

/// Starts `command` with `stdin` as its input, so the test can act while it runs.
pub fn start_with(mut command: Command, stdin: &str) -> Running {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_owned();
    // Written from a thread so a child that never reads cannot block the test.
    let writer = thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    Running {
        child,
        stdout,
        stderr,
        writer,
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the end (killing the child after `limit`) and checks that the key appears in
    /// neither output stream.
    pub fn finish(mut self, limit: Duration) -> Run {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let _ = self.writer.join();
        let run = Run {
            code: status.and_then(|s| s.code()),
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
        };
        assert!(status.is_some(), "still running after {limit:?}: {run:#?}");
        assert!(
            !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
            "the API key leaked: {run:#?}"
        );
        run
    }
}

pub fn run_with(command: Command, stdin: &str, limit: Duration) -> Run {
    start_with(command, stdin).finish(limit)
}

pub fn run(command: Command) -> Run {
    run_with(command, "", Duration::from_secs(20))
}

fn drain(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// Waits (up to 10 s) until `condition` holds.
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Rounds to one decimal, as `percent` is.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
