//! The `trillet-sim` binary: it announces where it listens and serves the demo scenario.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn json_start_line_names_a_live_server() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trillet-sim"))
        .args(["--json", "--key", "sk_bin", "--workspace", "ws_bin"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let answer = read
        .ok()
        .and_then(|_| serde_json::from_str::<Value>(&line).ok());
    let status = answer.as_ref().and_then(|start| {
        let url = start["url"].as_str()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let response = reqwest::Client::new()
                .get(format!("{url}/v1/api/batch-calls/batch_demo_done/status"))
                .header("x-api-key", "sk_bin")
                .header("x-workspace-id", "ws_bin")
                .send()
                .await
                .ok()?;
            Some(response.status().as_u16())
        })
    });
    // Stop the child before asserting, so a failure does not leave it running.
    let _ = child.kill();
    let _ = child.wait();

    let start = answer.unwrap_or_else(|| panic!("not a JSON start line: {line:?}"));
    assert_eq!(start["apiKey"], "sk_bin");
    assert_eq!(start["workspaceId"], "ws_bin");
    assert_eq!(
        start["batches"],
        serde_json::json!([
            "batch_demo_closing",
            "batch_demo_campaign",
            "batch_demo_queued",
            "batch_demo_done"
        ])
    );
    assert_eq!(status, Some(200));
}
