//! Starting a batch and listing agents with `TrilletClient` against the simulator over real
//! loopback HTTP: every answer a start can get, and for each one **exactly one request reached
//! the server** — the client never sends a start again, whatever happened to the first.

use std::path::PathBuf;
use std::time::Duration;

use batchwatch_core::launch::{CsvSource, SmartCallbacks, StartFailure, StartForm};
use batchwatch_core::{ApiBase, ApiError, Credentials, TrilletClient};
use trillet_sim::{Agent, Fault, FaultTarget, RunningSim, SimConfig};

const CSV: &str = "phone_number,first_name\n+15550000001,Ada\n+15550000002,Bo\n";

fn sim() -> RunningSim {
    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        ..SimConfig::default()
    })
    .unwrap();
    sim.control()
        .add_agent(Agent::ready("agent_sales", "Sales"));
    sim.control()
        .add_agent(Agent::ready("agent_draft", "Survey").status("draft"));
    sim
}

/// The client with the product's timeouts: only the test of an answer that never comes
/// shortens them (a loaded machine must not turn a slow answer into a timeout).
fn client_for(sim: &RunningSim) -> TrilletClient {
    TrilletClient::new(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(&sim.api_key(), &sim.workspace_id()).unwrap(),
    )
}

fn csv_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("contacts.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn form(path: PathBuf) -> StartForm {
    StartForm {
        file: CsvSource::File(path),
        agent_id: "agent_sales".into(),
        scheduled_at_ms: None,
        callbacks: None,
    }
}

fn starts_sent(sim: &RunningSim) -> usize {
    sim.control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/api/batch-calls")
        .count()
}

#[tokio::test]
async fn agents_are_read_from_the_bare_array() {
    let sim = sim();
    let agents = client_for(&sim).agents().await.unwrap();
    let names: Vec<(&str, &str, bool)> = agents
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str(), a.is_ready()))
        .collect();
    assert_eq!(
        names,
        [
            ("agent_sales", "Sales", true),
            ("agent_draft", "Survey", false)
        ]
    );
    sim.control()
        .set_fault(FaultTarget::Agents, Fault::ServerError);
    let error = client_for(&sim).agents().await.unwrap_err();
    assert!(
        matches!(error, ApiError::Server { status: 500, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_start_streams_the_file_and_sends_what_was_asked() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let at = sim.control().now_ms() + 3_600_000;
    let mut form = form(csv_file(&dir, CSV));
    form.scheduled_at_ms = Some(at);
    form.callbacks = Some(SmartCallbacks::new(2, vec![]).unwrap());
    let answer = client_for(&sim).start_batch(&form).await.unwrap();
    assert_eq!(answer.total_calls, Some(2));
    assert_eq!(answer.status.as_deref(), Some("queued"));
    assert_eq!(answer.answer["batchId"], answer.batch_id.as_str());

    assert_eq!(starts_sent(&sim), 1);
    let upload = &sim.control().uploads()[0];
    assert_eq!(upload.csv_text(), CSV);
    assert_eq!(upload.file_name.as_deref(), Some("contacts.csv"));
    assert_eq!(upload.agent_id.as_deref(), Some("agent_sales"));
    assert_eq!(
        upload.scheduled_at.as_deref(),
        Some(batchwatch_core::launch::scheduled_at_text(at).as_str())
    );
    assert_eq!(
        upload.smart_callback_config.as_deref(),
        Some(
            r#"{"enabled":true,"maxAttempts":2,"gaps":[{"days":0,"hours":4},{"days":0,"hours":4}]}"#
        )
    );
    assert_eq!(upload.batch_id.as_deref(), Some(answer.batch_id.as_str()));
}

#[tokio::test]
async fn bytes_made_in_memory_are_sent_under_their_name() {
    let sim = sim();
    let form = StartForm {
        file: CsvSource::Bytes {
            name: "batch_1-retry.csv".into(),
            bytes: CSV.as_bytes().to_vec(),
        },
        ..form(PathBuf::new())
    };
    client_for(&sim).start_batch(&form).await.unwrap();
    let upload = &sim.control().uploads()[0];
    assert_eq!(upload.file_name.as_deref(), Some("batch_1-retry.csv"));
    assert_eq!(upload.csv_text(), CSV);
}

/// Each answer a start can get: what the caller is told, and that one request was sent.
#[tokio::test]
async fn every_answer_to_a_start_is_sent_once_and_said_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let good = csv_file(&dir, CSV);
    let cases: Vec<(&str, Option<Fault>, &str, bool, &str)> = vec![
        // (what, fault, agent, unknown outcome?, text)
        (
            "refused agent",
            None,
            "agent_nobody",
            false,
            "Agent not found: agent_nobody",
        ),
        (
            "server error",
            Some(Fault::ServerError),
            "agent_sales",
            true,
            "server error (500",
        ),
        (
            "bad gateway",
            Some(Fault::BadGatewayHtml),
            "agent_sales",
            true,
            "server error (502",
        ),
        (
            "hang-up after the upload",
            Some(Fault::DropConnection),
            "agent_sales",
            true,
            "Trillet did not answer",
        ),
        (
            "no answer in time",
            Some(Fault::Delay(Duration::from_secs(5))),
            "agent_sales",
            true,
            "Trillet did not answer",
        ),
        (
            "unreadable answer",
            Some(Fault::MalformedJson),
            "agent_sales",
            true,
            "could not be read",
        ),
        (
            "redirect",
            Some(Fault::Redirect {
                status: 307,
                location: "https://elsewhere.example/v1/api/batch-calls".into(),
            }),
            "agent_sales",
            false,
            "elsewhere.example",
        ),
        (
            "rate limit",
            Some(Fault::TooManyRequests {
                retry_after_secs: Some(7),
                reset_in_secs: None,
            }),
            "agent_sales",
            false,
            "rate limit",
        ),
    ];
    for (what, fault, agent, unknown, text) in cases {
        let sim = sim();
        // Only the answer that never comes is met with short timeouts (6 × 300 ms for a start).
        let client = match fault {
            Some(Fault::Delay(_)) => {
                client_for(&sim).with_request_timeout(Duration::from_millis(300))
            }
            _ => client_for(&sim),
        };
        if let Some(fault) = fault {
            sim.control().set_fault(FaultTarget::Start, fault);
        }
        let mut form = form(good.clone());
        form.agent_id = agent.into();
        let failure = client.start_batch(&form).await.unwrap_err();
        assert_eq!(
            matches!(failure, StartFailure::Unknown(_)),
            unknown,
            "{what}: {failure:?}"
        );
        assert!(failure.to_string().contains(text), "{what}: {failure}");
        if unknown {
            assert!(
                failure.to_string().ends_with(
                    "the batch may have started. Check the dashboard before starting it again."
                ),
                "{what}: {failure}"
            );
        }
        assert_eq!(starts_sent(&sim), 1, "{what}: the start was sent again");
    }
}

#[tokio::test]
async fn a_413_is_a_refusal_and_nothing_is_sent_twice() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("phone_number\n");
    while text.len() <= trillet_sim::MAX_FILE_BYTES {
        text.push_str("+15550000001\n");
    }
    let failure = client_for(&sim)
        .with_request_timeout(Duration::from_secs(10))
        .start_batch(&form(csv_file(&dir, &text)))
        .await
        .unwrap_err();
    match &failure {
        StartFailure::NotStarted(ApiError::Refused {
            status: 413,
            message,
        }) => {
            assert!(message.contains("20MB"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(starts_sent(&sim), 1);
}

#[tokio::test]
async fn no_server_at_all_is_known_not_to_have_started() {
    let sim = sim();
    let client = client_for(&sim);
    drop(sim);
    let dir = tempfile::tempdir().unwrap();
    let failure = client
        .start_batch(&form(csv_file(&dir, CSV)))
        .await
        .unwrap_err();
    assert!(
        matches!(failure, StartFailure::NotStarted(ApiError::Network(_))),
        "{failure:?}"
    );
}
