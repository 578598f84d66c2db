//! `batchwatch-cli watch` on a real terminal: tmux gives it an 80-column pseudo-terminal (on a
//! tmux server of the test's own, by its own socket), and what the screen shows is read back
//! with `capture-pane`. Every batch keeps to one line: a line that wrapped would leave its
//! tail ("took 4 min", "1500)") on a line of its own and break the redraw of the bars.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use batchwatch_test_support::eventually;
use support::{sim, KEY, WORKSPACE};
use trillet_sim::BatchScript;

const COLUMNS: usize = 80;

fn tmux(socket: &Path, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux is installed by scripts/test");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn watch_lines_fit_an_80_column_terminal() {
    let sim = sim(1.0);
    let control = sim.control();
    let ids = ["batch_terminal_running", "batch_terminal_a_longer_id"];
    control.add_batch(
        BatchScript::new(1500)
            .id(ids[0])
            .concurrency(10)
            .call_duration(Duration::from_millis(300)),
    );
    control.add_batch(BatchScript::new(1500).id(ids[1]));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("tmux.sock");
    let command = format!(
        "env BATCHWATCH_API_BASE={} TRILLET_API_KEY={KEY} TRILLET_WORKSPACE_ID={WORKSPACE} {} watch {} {} --poll-floor-ms 200 --budget-window-ms 1000",
        sim.base_url(),
        env!("CARGO_BIN_EXE_batchwatch-cli"),
        ids[0],
        ids[1],
    );
    let width = COLUMNS.to_string();
    tmux(
        &socket,
        &["new-session", "-d", "-x", &width, "-y", "10", &command],
    );
    // Until both bars show an answer (a percent), the screen proves nothing.
    let screen = eventually("both bars answered", Duration::from_secs(20), || {
        let screen = tmux(&socket, &["capture-pane", "-p"]);
        let answered = ids
            .iter()
            .all(|id| screen.lines().any(|l| l.starts_with(id) && l.contains('%')));
        answered.then_some(screen)
    });
    tmux(&socket, &["kill-server"]);
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), ids.len(), "one line per batch: {screen}");
    for line in lines {
        assert!(ids.iter().any(|id| line.starts_with(id)), "{screen}");
        assert!(line.chars().count() < COLUMNS, "{line:?}");
        assert!(
            line.contains("ETA") || line.contains("not started"),
            "{line:?}"
        );
    }
}
