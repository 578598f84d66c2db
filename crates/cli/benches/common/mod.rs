//! What the terminal companion's benchmarks share: running the real binary under GNU time, whose
//! "%M" is the peak resident set of the whole process.

use std::process::{Command, Output};

/// `batchwatch-cli args` on the simulator at `base`, with `key` and `workspace` in the
/// environment, under `/usr/bin/time -f %M`.
pub fn timed_cli(base: &str, key: &str, workspace: &str, args: &[&str]) -> Command {
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_batchwatch-cli"))
        .args(args)
        .env("BATCHWATCH_API_BASE", base)
        .env("TRILLET_API_KEY", key)
        .env("TRILLET_WORKSPACE_ID", workspace);
    command
}

/// The peak RSS GNU time printed last on stderr, in MiB.
pub fn peak_rss_mib(out: &Output) -> f64 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("time printed the peak RSS");
    kib / 1024.0
}
