//! What an unkind server costs the terminal companion, printed as figures (not assertions):
//! peak RSS of the whole `batchwatch-cli` process while it refuses a 60 MiB answer (with and
//! without `Content-Length`), and how long it waits on a body that trickles in forever before
//! it gives up. Run with `cargo bench -p batchwatch-cli --bench hostile_answers`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

const KEY: &str = "sk_bench_hostile";
const WORKSPACE: &str = "ws_bench";

fn cli(sim: &RunningSim, args: &[&str]) -> Command {
    common::timed_cli(&sim.base_url(), KEY, WORKSPACE, args)
}

/// Peak RSS in MiB and the exit code of one run.
fn peak_rss(sim: &RunningSim, args: &[&str]) -> (f64, Option<i32>) {
    let out = cli(sim, args).output().expect("/usr/bin/time runs");
    (common::peak_rss_mib(&out), out.status.code())
}

fn main() {
    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        credentials: vec![(KEY.into(), WORKSPACE.into())],
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    let control = sim.control();
    control.add_batch(BatchScript::new(150).id("batch_bench"));
    let target = FaultTarget::Batch("batch_bench".into());

    let (normal, code) = peak_rss(&sim, &["status", "batch_bench"]);
    println!("status, a normal answer: peak RSS {normal:.1} MiB (exit {code:?})");
    for chunked in [false, true] {
        control.set_fault(
            target.clone(),
            Fault::OversizedBody {
                bytes: 60 * 1024 * 1024,
                chunked,
            },
        );
        let (mib, code) = peak_rss(&sim, &["status", "batch_bench"]);
        let framing = if chunked {
            "chunked, no length"
        } else {
            "with Content-Length"
        };
        println!("status, a 60 MiB answer {framing}: peak RSS {mib:.1} MiB (exit {code:?})");
    }

    control.set_fault(
        target,
        Fault::TrickleBody {
            every: Duration::from_millis(100),
        },
    );
    let started = Instant::now();
    let out = cli(&sim, &["status", "batch_bench"]).output().unwrap();
    println!(
        "status, a body trickling one byte every 100 ms: gave up after {:.1} s (exit {:?})",
        started.elapsed().as_secs_f64(),
        out.status.code()
    );
}
