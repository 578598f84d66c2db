//! The start endpoint and the agents list over real loopback HTTP: the documented bodies, every
//! refusal, a scheduled start, the started batch's calls carrying the file's rows, the multipart
//! edge cases, and the faults (which start nothing, and which start a batch they hide).

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;
use trillet_sim::{Agent, BatchScript, Fault, FaultTarget, RunningSim, SimConfig, MAX_FILE_BYTES};

/// Columns in no alphabetical order: the calls' metadata must keep the file's.
const CSV: &str = "plan,phone_number,first_name\r\n\"Gold, yearly\",+15550000001,Ada\r\nBasic,+442071234567,Bo\r\n";

/// Real time barely moves sim time, so only `advance` does.
fn frozen() -> RunningSim {
    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    sim.control()
        .add_agent(Agent::ready("agent_sales", "Sales"));
    sim.control()
        .add_agent(Agent::ready("agent_other", "Elsewhere").in_workspace("ws_other"));
    sim
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn authed(sim: &RunningSim, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("x-api-key", sim.api_key())
        .header("x-workspace-id", sim.workspace_id())
}

fn form(csv: &str, agent: Option<&str>) -> Form {
    let mut form = Form::new().part(
        "file",
        Part::bytes(csv.as_bytes().to_vec())
            .file_name("contacts.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    if let Some(agent) = agent {
        form = form.text("agentId", agent.to_owned());
    }
    form
}

async fn post(sim: &RunningSim, form: Form) -> (StatusCode, Value) {
    let response = authed(
        sim,
        http().post(format!("{}/v1/api/batch-calls", sim.base_url())),
    )
    .multipart(form)
    .send()
    .await
    .expect("simulator answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

async fn get(sim: &RunningSim, path: &str) -> Value {
    let response = authed(sim, http().get(format!("{}{path}", sim.base_url())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn starts(sim: &RunningSim) -> usize {
    sim.control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/api/batch-calls")
        .count()
}

#[tokio::test]
async fn the_agents_list_is_the_documented_bare_array_of_this_workspace() {
    let sim = frozen();
    sim.control()
        .add_agent(Agent::ready("agent_draft", "Survey").status("draft"));
    let agents = get(&sim, "/v1/api/agents").await;
    let agents = agents.as_array().expect("a bare array");
    let ids: Vec<&str> = agents.iter().map(|a| a["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["agent_sales", "agent_draft"]);
    let first = &agents[0];
    for key in [
        "ttsModel",
        "workspaceId",
        "userId",
        "name",
        "llmModel",
        "type",
        "settings",
        "status",
        "activeSessions",
        "createdAt",
        "updatedAt",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert_eq!(first["workspaceId"], sim.workspace_id());
    assert_eq!(first["status"], "ready");
    assert_eq!(agents[1]["status"], "draft");
}

#[tokio::test]
async fn a_start_runs_the_files_rows_as_its_calls() {
    let sim = frozen();
    let (status, body) = post(&sim, form(CSV, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["batchId"].as_str().expect("batchId").to_owned();
    assert_eq!(body["totalCalls"], 2);
    assert_eq!(body["status"], "queued");
    assert_eq!(body["message"], "Batch calls initiated successfully");
    assert_eq!(starts(&sim), 1);

    let uploads = sim.control().uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].batch_id.as_deref(), Some(id.as_str()));
    assert_eq!(uploads[0].file_name.as_deref(), Some("contacts.csv"));
    assert_eq!(uploads[0].csv_text(), CSV);

    sim.control().finish_batch(&id);
    let path = format!("/v1/api/batch-calls/{id}/calls?status=all");
    let raw = authed(&sim, http().get(format!("{}{path}", sim.base_url())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls: Value = serde_json::from_str(&raw).unwrap();
    let calls = calls["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["phone_number"], "+15550000001");
    assert_eq!(calls[1]["phone_number"], "+442071234567");
    assert_eq!(calls[0]["metadata"]["plan"], "Gold, yearly");
    assert_eq!(calls[1]["metadata"]["first_name"], "Bo");
    // The row as the file had it, in its order, as sent.
    assert!(
        raw.contains(
            r#""metadata":{"plan":"Gold, yearly","phone_number":"+15550000001","first_name":"Ada"}"#
        ),
        "{raw}"
    );
}

#[tokio::test]
async fn a_scheduled_start_stays_queued_with_no_calls_until_its_time() {
    let sim = frozen();
    let in_an_hour =
        trillet_sim::scheduled_at_text(i64::try_from(sim.control().now_ms()).unwrap() + 3_600_000);
    let (status, body) = post(
        &sim,
        form(CSV, Some("agent_sales")).text("scheduledAt", in_an_hour.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["message"],
        format!("Batch calls scheduled for {in_an_hour}")
    );
    let id = body["batchId"].as_str().unwrap().to_owned();
    let path = format!("/v1/api/batch-calls/{id}/status");
    let before = get(&sim, &path).await;
    assert_eq!(before["status"], "queued");
    assert_eq!(before["waiting"], 2);
    assert_eq!(before["startTime"], Value::Null);
    sim.control().advance(Duration::from_secs(3601));
    assert_eq!(get(&sim, &path).await["status"], "processing");
}

#[tokio::test]
async fn each_refusal_is_the_documented_error_and_starts_nothing() {
    let sim = frozen();
    let no_file = Form::new().text("agentId", "agent_sales");
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (no_file, StatusCode::BAD_REQUEST, "No file"),
        (form(CSV, None), StatusCode::BAD_REQUEST, "agentId"),
        (
            form(CSV, Some("agent_other")),
            StatusCode::BAD_REQUEST,
            "Agent not found",
        ),
        (
            form("name,phone\nA,+15550000001\n", Some("agent_sales")),
            StatusCode::BAD_REQUEST,
            "phone_number",
        ),
        (
            form(
                "phone_number,name\n+15550000001,A\n\"555 0100\",B\n",
                Some("agent_sales"),
            ),
            StatusCode::BAD_REQUEST,
            "row 2 (line 3)",
        ),
        (
            form("phone_number\n", Some("agent_sales")),
            StatusCode::BAD_REQUEST,
            "no rows",
        ),
        (
            form(CSV, Some("agent_sales")).text("smartCallbackConfig", "{oops"),
            StatusCode::BAD_REQUEST,
            "smartCallbackConfig",
        ),
    ];
    let count = cases.len();
    for (form, status, text) in cases {
        let (got, body) = post(&sim, form).await;
        assert_eq!(got, status, "{body}");
        assert!(body["error"].as_str().unwrap().contains(text), "{body}");
    }
    assert_eq!(starts(&sim), count);
    assert!(sim.control().uploads().iter().all(|u| u.batch_id.is_none()));

    // Not a form at all.
    let response = authed(
        &sim,
        http().post(format!("{}/v1/api/batch-calls", sim.base_url())),
    )
    .json(&serde_json::json!({"agentId": "agent_sales"}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_file_one_byte_over_20_mb_is_413_and_one_at_the_limit_is_read() {
    let sim = frozen();
    let row = "+15550000001\n";
    let mut at_limit = String::from("phone_number\n");
    while at_limit.len() + row.len() <= MAX_FILE_BYTES {
        at_limit.push_str(row);
    }
    at_limit.push_str(&"#".repeat(MAX_FILE_BYTES - at_limit.len()));
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    let over = format!("{at_limit}#");

    let (status, body) = post(&sim, form(&over, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("20MB"));
    // At the limit the size passes, and the trailing junk is what is refused.
    let (status, body) = post(&sim, form(&at_limit, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("invalid phone number"));
    let uploads = sim.control().uploads();
    assert_eq!(uploads[0].file_bytes, MAX_FILE_BYTES + 1);
    assert_eq!(uploads[1].file_bytes, MAX_FILE_BYTES);
}

#[tokio::test]
async fn multipart_edge_cases_a_streamed_file_unnamed_fields_and_any_order() {
    let sim = frozen();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        CSV.as_bytes().chunks(7).map(|c| Ok(c.to_vec())).collect();
    let streamed = Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks,
    )))
    .file_name("streamed.csv");
    let form = Form::new()
        .text("agentId", "agent_sales")
        .text("campaignName", "ignored")
        .part("file", streamed);
    let (status, body) = post(&sim, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalCalls"], 2);
    assert_eq!(sim.control().uploads()[0].csv_text(), CSV);
}

#[tokio::test]
async fn faults_that_stand_in_for_the_service_start_nothing() {
    let sim = frozen();
    sim.control()
        .set_fault(FaultTarget::Start, Fault::ServerError);
    let (status, _) = post(&sim, form(CSV, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    sim.control().set_fault(
        FaultTarget::Start,
        Fault::TooManyRequests {
            retry_after_secs: Some(5),
            reset_in_secs: None,
        },
    );
    let (status, _) = post(&sim, form(CSV, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let uploads = sim.control().uploads();
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|u| u.batch_id.is_none()));
    // The batch endpoints' fault is not the start's.
    sim.control().clear_all_faults();
    sim.control()
        .set_fault(FaultTarget::All, Fault::ServerError);
    let (status, _) = post(&sim, form(CSV, Some("agent_sales"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_hang_up_after_the_upload_hides_a_batch_that_started() {
    let sim = frozen();
    sim.control()
        .set_fault(FaultTarget::Start, Fault::DropConnection);
    let sent = authed(
        &sim,
        http().post(format!("{}/v1/api/batch-calls", sim.base_url())),
    )
    .multipart(form(CSV, Some("agent_sales")))
    .send()
    .await;
    assert!(sent.is_err(), "{sent:?}");
    let uploads = sim.control().uploads();
    let id = uploads[0].batch_id.clone().expect("the batch started");
    sim.control().clear_all_faults();
    assert_eq!(
        get(&sim, &format!("/v1/api/batch-calls/{id}/status")).await["total"],
        2
    );
}

#[tokio::test]
async fn the_agents_list_takes_its_own_faults() {
    let sim = frozen();
    sim.control().add_batch(BatchScript::new(3).id("b1"));
    sim.control()
        .set_fault(FaultTarget::Agents, Fault::ServerError);
    let response = authed(
        &sim,
        http().get(format!("{}/v1/api/agents", sim.base_url())),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get(&sim, "/v1/api/batch-calls/b1/status").await["total"], 3);
}
