//! What starting a 20 MB campaign costs the terminal companion, printed as figures (not
//! assertions): the file's check alone (in process, and as the whole `batchwatch-cli start`
//! that stops at the question), then the start with its upload streamed to the simulator —
//! time and peak RSS of the whole process. Run with
//! `cargo bench -p batchwatch-cli --bench start_file`.

mod common;

use std::io::Write;
use std::time::Instant;

use trillet_sim::{Agent, RunningSim, SimConfig, MAX_FILE_BYTES};

const KEY: &str = "sk_bench_start";
const WORKSPACE: &str = "ws_bench";

/// A campaign's CSV just under the 20 MB limit: about 200,000 rows of a number and four
/// columns of the campaign's own.
fn campaign(path: &std::path::Path) -> usize {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header = "phone_number,first_name,last_name,email,plan\n";
    out.write_all(header.as_bytes()).unwrap();
    let (mut bytes, mut rows) = (header.len(), 0);
    loop {
        let row = format!(
            "+1555{:07},Name{rows},Surname{rows},person{rows}@example.com,\"Gold, yearly\"\n",
            rows % 10_000_000
        );
        if bytes + row.len() > MAX_FILE_BYTES {
            break;
        }
        out.write_all(row.as_bytes()).unwrap();
        bytes += row.len();
        rows += 1;
    }
    rows
}

/// One run of `batchwatch-cli args` under GNU time: (seconds, peak RSS in MiB, exit code).
fn run(sim: &RunningSim, home: &std::path::Path, args: &[&str]) -> (f64, f64, Option<i32>) {
    let started = Instant::now();
    let out = common::timed_cli(&sim.base_url(), KEY, WORKSPACE, args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("BATCHWATCH_ENDPOINT", home.join("none.sock"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    let seconds = started.elapsed().as_secs_f64();
    (seconds, common::peak_rss_mib(&out), out.status.code())
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("campaign.csv");
    let rows = campaign(&file);
    let bytes = std::fs::metadata(&file).unwrap().len();
    println!(
        "the file: {rows} rows, {bytes} bytes ({:.1} MiB)",
        bytes as f64 / 1048576.0
    );

    let mut checks = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let report = batchwatch_core::launch::csv_check::check_file(&file).unwrap();
        checks.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(report.rows as usize, rows);
    }
    checks.sort_by(f64::total_cmp);
    println!(
        "the check in process: {:.0}–{:.0} ms (median {:.0} ms, five runs)",
        checks[0], checks[4], checks[2]
    );

    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        credentials: vec![(KEY.into(), WORKSPACE.into())],
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    sim.control()
        .add_agent(Agent::ready("agent_bench", "Bench").in_workspace(WORKSPACE));
    let path = file.to_str().unwrap();

    // No terminal and no --yes: the check and the agents list, then the question refused.
    let (seconds, mib, code) = run(&sim, home.path(), &["start", path, "--agent", "Bench"]);
    println!("start, checked and asked (no --yes): {seconds:.2} s, peak RSS {mib:.1} MiB (exit {code:?})");
    assert!(sim.control().uploads().is_empty());

    let (seconds, mib, code) = run(
        &sim,
        home.path(),
        &["start", path, "--agent", "Bench", "--yes"],
    );
    println!("start, checked and uploaded (streamed): {seconds:.2} s, peak RSS {mib:.1} MiB (exit {code:?})");
    let uploads = sim.control().uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        uploads[0].file_bytes as u64, bytes,
        "the whole file arrived"
    );
}
