//! The simulator over real loopback HTTP, as a client sees it: body shapes against the reference
//! page, progress under `advance`, pagination, cancel, auth, rate limit and every fault.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

/// Real time barely moves sim time, so only `advance` does: answers are reproducible.
fn frozen() -> SimConfig {
    SimConfig {
        speed: 1e-9,
        ..SimConfig::default()
    }
}

struct Client {
    sim: RunningSim,
    http: reqwest::Client,
}

impl Client {
    fn new(config: SimConfig) -> Self {
        Self {
            sim: RunningSim::spawn(config).expect("simulator starts"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("x-api-key", self.sim.api_key())
            .header("x-workspace-id", self.sim.workspace_id())
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("simulator answers")
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        json_of(self.get(path).await).await
    }

    async fn delete_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::DELETE, path)
            .send()
            .await
            .expect("simulator answers");
        json_of(response).await
    }
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body arrives");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn counter(body: &Value, name: &str) -> u64 {
    body[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

fn status_path(id: &str) -> String {
    format!("/v1/api/batch-calls/{id}/status")
}

#[tokio::test]
async fn status_body_has_the_reference_fields_and_types() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let added_at = control.now_ms();
    let id = control.add_batch(
        BatchScript::new(150)
            .id("batch_7891011121314")
            .failure_rate(0.5),
    );
    assert_eq!(id, "batch_7891011121314");
    control.advance(Duration::from_secs(200));

    let (status, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(status, StatusCode::OK);
    let expected: BTreeSet<&str> = [
        "status",
        "isComplete",
        "waiting",
        "active",
        "completed",
        "failed",
        "total",
        "startTime",
        "lastCompletedTime",
        "completedTime",
        "averageCallDuration",
        "recent_calls",
    ]
    .into();
    assert_eq!(keys(&body), expected);
    assert_eq!(body["status"], "processing");
    assert_eq!(body["isComplete"], false);
    assert_eq!(counter(&body, "total"), 150);
    assert_eq!(counter(&body, "active"), 5);
    let sum: u64 = ["waiting", "active", "completed", "failed"]
        .iter()
        .map(|k| counter(&body, k))
        .sum();
    assert_eq!(sum, 150);
    // Milliseconds since the epoch on the sim's wall clock.
    assert_eq!(body["startTime"].as_u64(), Some(added_at));
    let last = body["lastCompletedTime"].as_u64().expect("integer ms");
    assert!(last > added_at && last <= control.now_ms());
    assert_eq!(body["completedTime"], Value::Null);
    assert!(body["averageCallDuration"].as_f64().expect("a number") > 0.0);

    let recent = body["recent_calls"].as_array().expect("an array");
    assert_eq!(recent.len(), 10);
    let mut seen = BTreeSet::new();
    let mut previous_end = u64::MAX;
    for call in recent {
        let ended = match call["status"].as_str() {
            Some("completed") => {
                assert_eq!(
                    keys(call),
                    ["completedAt", "duration", "jobId", "phone_number", "status"].into()
                );
                assert!(call["duration"].is_u64(), "{call}");
                call["completedAt"].as_u64()
            }
            Some("failed") => {
                assert_eq!(
                    keys(call),
                    ["error", "failedAt", "jobId", "phone_number", "status"].into()
                );
                assert!(call["error"].is_string(), "{call}");
                call["failedAt"].as_u64()
            }
            other => panic!("unexpected recent call status {other:?}"),
        }
        .expect("integer ms");
        seen.insert(call["status"].as_str().unwrap_or_default().to_owned());
        assert!(ended <= previous_end, "newest first");
        previous_end = ended;
        assert!(call["jobId"]
            .as_str()
            .is_some_and(|j| j.starts_with("call_")));
        let phone = call["phone_number"].as_str().expect("a string");
        assert!(phone.starts_with("+1555") && phone.len() == 12, "{phone}");
    }
    assert_eq!(seen.len(), 2, "both shapes appear: {recent:?}");
    assert_eq!(
        recent[0]["completedAt"]
            .as_u64()
            .or(recent[0]["failedAt"].as_u64()),
        Some(last)
    );
}

#[tokio::test]
async fn progress_moves_only_as_sim_time_advances() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(
        BatchScript::new(30)
            .concurrency(3)
            .start_delay(Duration::from_secs(10)),
    );
    assert!(
        id.starts_with("batch_") && id.len() == "batch_".len() + 13,
        "{id}"
    );

    let (_, queued) = client.get_json(&status_path(&id)).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(counter(&queued, "waiting"), 30);
    assert_eq!(queued["startTime"], Value::Null);
    assert_eq!(queued["lastCompletedTime"], Value::Null);
    assert_eq!(queued["averageCallDuration"], 0.0);
    assert_eq!(queued["recent_calls"], json!([]));

    control.advance(Duration::from_secs(10));
    let (_, started) = client.get_json(&status_path(&id)).await;
    assert_eq!(started["status"], "processing");
    assert_eq!(counter(&started, "active"), 3);

    control.advance(Duration::from_secs(120));
    let (_, midway) = client.get_json(&status_path(&id)).await;
    let done_midway = counter(&midway, "completed") + counter(&midway, "failed");
    assert!(done_midway > 0 && done_midway < 30, "{midway}");

    control.advance(Duration::from_secs(600));
    let (_, done) = client.get_json(&status_path(&id)).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["isComplete"], true);
    assert_eq!(counter(&done, "completed") + counter(&done, "failed"), 30);
    assert_eq!(done["completedTime"], done["lastCompletedTime"]);

    let (_, detail) = client.get_json(&format!("/v1/api/batch-calls/{id}")).await;
    assert_eq!(
        keys(&detail),
        [
            "id",
            "isComplete",
            "progress",
            "status",
            "timestamp",
            "totalCalls"
        ]
        .into()
    );
    assert_eq!(detail["id"], id.as_str());
    assert_eq!(detail["status"], "completed");
    assert_eq!(detail["totalCalls"], 30);
    assert_eq!(
        detail["progress"],
        json!({"waiting": 0, "active": 0, "completed": done["completed"],
               "failed": done["failed"], "total": 30})
    );
    assert_eq!(detail["timestamp"].as_u64(), Some(control.now_ms()));
}

#[tokio::test]
async fn finish_batch_completes_it_now() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(500));
    control.finish_batch(&id);
    let (_, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(body["status"], "completed");
    assert_eq!(body["isComplete"], true);
    assert_eq!(body["completedTime"].as_u64(), Some(control.now_ms()));
    assert_eq!(counter(&body, "completed") + counter(&body, "failed"), 500);
}

#[tokio::test]
async fn call_filters_agree_with_the_counters() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(300).concurrency(8).failure_rate(0.2));
    control.advance(Duration::from_secs(300));

    let (_, status) = client.get_json(&status_path(&id)).await;
    for filter in ["waiting", "active", "completed", "failed"] {
        let (code, page) = client
            .get_json(&format!(
                "/v1/api/batch-calls/{id}/calls?status={filter}&limit=100"
            ))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            page["pagination"]["total"].as_u64(),
            Some(counter(&status, filter)),
            "{filter}"
        );
        for call in page["calls"].as_array().expect("calls") {
            assert_eq!(call["status"], filter);
        }
    }
    let (_, all) = client
        .get_json(&format!("/v1/api/batch-calls/{id}/calls"))
        .await;
    assert_eq!(all["pagination"]["total"], 300);
    assert_eq!(all["pagination"]["limit"], 20);
    assert_eq!(all["pagination"]["page"], 1);
    let calls = all["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 20);
    assert_eq!(calls[0]["jobId"], "call_1");
    assert_eq!(calls[19]["jobId"], "call_20");
    assert_eq!(
        keys(&calls[0]),
        [
            "duration",
            "endTime",
            "error",
            "jobId",
            "metadata",
            "phone_number",
            "startTime",
            "status"
        ]
        .into()
    );
    // The CSV row the call came from: its number, a name, a column of the user's own.
    assert_eq!(
        calls[0]["metadata"]["phone_number"],
        calls[0]["phone_number"]
    );
    assert!(calls[0]["metadata"]["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    assert!(calls[0]["metadata"]["appointment_day"].is_string());

    let (_, waiting) = client
        .get_json(&format!(
            "/v1/api/batch-calls/{id}/calls?status=waiting&limit=1"
        ))
        .await;
    let row = &waiting["calls"][0];
    assert_eq!(row["startTime"], Value::Null);
    assert_eq!(row["endTime"], Value::Null);
    assert_eq!(row["duration"], Value::Null);
    assert_eq!(row["error"], Value::Null);

    let (_, active) = client
        .get_json(&format!(
            "/v1/api/batch-calls/{id}/calls?status=active&limit=1"
        ))
        .await;
    let row = &active["calls"][0];
    assert!(row["startTime"].is_u64());
    assert_eq!(row["endTime"], Value::Null);
}

#[tokio::test]
async fn failures_page_by_a_hundred() {
    let client = Client::new(frozen());
    let id = client
        .sim
        .control()
        .add_batch(BatchScript::new(250).failure_rate(1.0).finished());
    let page = |n: u32| format!("/v1/api/batch-calls/{id}/calls?status=failed&limit=100&page={n}");

    let expected = [
        (1, 100, true, false),
        (2, 100, true, true),
        (3, 50, false, true),
        (4, 0, false, true),
    ];
    for (n, len, has_next, has_prev) in expected {
        let (code, body) = client.get_json(&page(n)).await;
        assert_eq!(code, StatusCode::OK);
        let calls = body["calls"].as_array().expect("calls");
        assert_eq!(calls.len(), len, "page {n}");
        assert_eq!(
            body["pagination"],
            json!({"page": n, "limit": 100, "total": 250, "totalPages": 3,
                   "hasNext": has_next, "hasPrev": has_prev})
        );
        for call in calls {
            assert_eq!(call["status"], "failed");
            assert!(call["error"].is_string());
            assert!(call["duration"].is_u64());
            assert!(call["endTime"].as_u64() >= call["startTime"].as_u64());
        }
    }
    let (_, first) = client.get_json(&page(1)).await;
    let (_, third) = client.get_json(&page(3)).await;
    assert_eq!(first["calls"][0]["jobId"], "call_1");
    assert_eq!(third["calls"][49]["jobId"], "call_250");

    for bad in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "page=0",
        "page=x",
        "status=cancelled",
    ] {
        let (code, body) = client
            .get_json(&format!("/v1/api/batch-calls/{id}/calls?{bad}"))
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn cancel_drops_waiting_calls_and_lets_active_ones_finish() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(50).failure_rate(0.0));
    control.advance(Duration::from_secs(40));
    let (_, before) = client.get_json(&status_path(&id)).await;

    let (code, body) = client
        .delete_json(&format!("/v1/api/batch-calls/{id}"))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "batchId": id,
            "status": "cancelled",
            "message": "Batch cancelled. Active calls will finish; waiting calls were dropped.",
            "details": {
                "completedCalls": before["completed"],
                "failedCalls": before["failed"],
                "cancelledCalls": before["waiting"],
                "totalCalls": 50,
            }
        })
    );

    let (_, after) = client.get_json(&status_path(&id)).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["waiting"], 0);
    assert_eq!(after["active"], before["active"]);
    assert_eq!(after["isComplete"], false);
    assert_eq!(after["completedTime"], Value::Null);

    let (code, again) = client
        .delete_json(&format!("/v1/api/batch-calls/{id}"))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(
        again,
        json!({"error": "Batch is already finished", "id": id})
    );

    control.advance(Duration::from_secs(120));
    let (_, done) = client.get_json(&status_path(&id)).await;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["isComplete"], true);
    assert_eq!(done["active"], 0);
    assert_eq!(done["completedTime"], done["lastCompletedTime"]);
    assert_eq!(
        counter(&done, "completed"),
        counter(&before, "completed") + counter(&before, "active")
    );

    let (_, all) = client
        .get_json(&format!("/v1/api/batch-calls/{id}/calls?limit=100"))
        .await;
    let cancelled = all["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["status"] == "cancelled")
        .count();
    assert_eq!(cancelled as u64, counter(&before, "waiting"));

    let finished = control.add_batch(BatchScript::new(5).finished());
    let (code, body) = client
        .delete_json(&format!("/v1/api/batch-calls/{finished}"))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(body["error"], "Batch is already finished");
}

#[tokio::test]
async fn aborted_batches_end_as_failed() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(100).abort_at(Duration::from_secs(45)));
    control.advance(Duration::from_secs(46));
    let (_, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(body["status"], "failed");
    assert_eq!(body["isComplete"], true);
    assert_eq!(body["waiting"], 0);
    assert_eq!(body["active"], 0);
    assert!(body["completedTime"].is_u64());
}

#[tokio::test]
async fn auth_errors_have_the_documented_statuses_and_bodies() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(10));
    let url = client.url(&status_path(&id));
    let key = client.sim.api_key();
    let workspace = client.sim.workspace_id();
    let send = |key: Option<&str>, workspace: Option<&str>| {
        let mut request = client.http.get(&url);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some(workspace) = workspace {
            request = request.header("x-workspace-id", workspace);
        }
        async move { json_of(request.send().await.expect("answers")).await }
    };

    assert_eq!(
        send(None, Some(&workspace)).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Missing API key"})
        )
    );
    assert_eq!(
        send(Some("sk_wrong"), Some(&workspace)).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid API key"})
        )
    );
    assert_eq!(
        send(Some(&key), None).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "x-workspace-id header is required"})
        )
    );
    assert_eq!(
        send(Some(&key), Some("ws_other")).await,
        (
            StatusCode::FORBIDDEN,
            json!({"error": "API key is not authorized for this workspace"})
        )
    );
    assert_eq!(send(Some(&key), Some(&workspace)).await.0, StatusCode::OK);

    control.add_key("sk_second", "ws_other");
    assert_eq!(
        send(Some("sk_second"), Some("ws_other")).await.0,
        StatusCode::OK
    );
    control.revoke_key(&key);
    assert_eq!(
        send(Some(&key), Some(&workspace)).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid API key"})
        )
    );
}

#[tokio::test]
async fn unknown_batches_bad_ids_and_unknown_routes() {
    let client = Client::new(frozen());
    assert_eq!(
        client.get_json(&status_path("batch_nope")).await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Batch not found", "id": "batch_nope"})
        )
    );
    assert_eq!(
        client.get_json("/v1/api/batch-calls/batch_nope").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Batch not found", "id": "batch_nope"})
        )
    );
    for bad in ["bad.id", "a%20b", "a%2Fb", &"x".repeat(129)] {
        assert_eq!(
            client.get_json(&status_path(bad)).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "Invalid batch ID"})
            ),
            "{bad}"
        );
    }
    assert_eq!(
        client.get_json("/v1/api/other").await,
        (StatusCode::NOT_FOUND, json!({"error": "Not found"}))
    );
    // The gate runs before routing: an unknown route still needs credentials.
    let anonymous = client.http.get(client.url("/v1/api/other")).send().await;
    assert_eq!(
        json_of(anonymous.expect("answers")).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Missing API key"})
        )
    );
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(3));
    assert!(control.remove_batch(&id));
    assert_eq!(
        client.get_json(&status_path(&id)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_rate_limit_refuses_the_sixty_first_request_and_recovers() {
    let client = Client::new(SimConfig::default());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(10));
    for n in 0..60 {
        let status = client.get(&status_path(&id)).await.status();
        assert_eq!(status, StatusCode::OK, "request {n}");
    }
    let refused = client.get(&status_path(&id)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()[RETRY_AFTER]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (_, body) = json_of(refused).await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        body["error"]["message"],
        "Rate limit of 60 requests per minute exceeded"
    );
    let reset_at = body["error"]["reset_at"].as_str().expect("a string");
    let reset: jiff::Timestamp = reset_at.parse().expect("RFC 3339");
    assert!(reset_at.ends_with('Z'), "{reset_at}");
    let ahead = reset.as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (0..=retry_after as i64 + 1).contains(&ahead),
        "{reset_at} is {ahead} s ahead"
    );

    // Refused requests do not count, and other keys have their own window.
    for _ in 0..5 {
        assert_eq!(
            client.get(&status_path(&id)).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    control.add_key("sk_other", "ws_sim_workspace");
    let other = client
        .http
        .get(client.url(&status_path(&id)))
        .header("x-api-key", "sk_other")
        .header("x-workspace-id", "ws_sim_workspace")
        .send()
        .await
        .expect("answers");
    assert_eq!(other.status(), StatusCode::OK);

    control.advance(Duration::from_secs(60));
    assert_eq!(client.get(&status_path(&id)).await.status(), StatusCode::OK);

    let key = client.sim.api_key();
    assert_eq!(
        control.max_requests_in_window(&key, Duration::from_secs(60)),
        66
    );
    let statuses: Vec<u16> = control
        .requests()
        .iter()
        .filter(|r| r.api_key.as_deref() == Some(key.as_str()))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 6);
    assert_eq!(statuses.last(), Some(&200));
}

#[tokio::test]
async fn the_rate_limit_comes_before_auth() {
    let client = Client::new(SimConfig {
        rate_limit_per_minute: 3,
        ..SimConfig::default()
    });
    let send = || {
        client
            .http
            .get(client.url(&status_path("batch_x")))
            .header("x-api-key", "sk_unknown")
            .header("x-workspace-id", "ws_sim_workspace")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            send().await.expect("answers").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send().await.expect("answers").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_request_log_names_batches_and_keys() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(10).id("batch_logged"));
    client.get(&status_path(&id)).await;
    client
        .get(&format!("/v1/api/batch-calls/{id}/calls?page=1"))
        .await;
    client.get(&status_path("batch_other")).await;
    assert_eq!(control.request_count("batch_logged"), 2);
    assert_eq!(control.request_count("batch_other"), 1);
    let records = control.requests();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].method, "GET");
    assert_eq!(records[0].path, "/v1/api/batch-calls/batch_logged/status");
    assert_eq!(records[1].path, "/v1/api/batch-calls/batch_logged/calls");
    assert_eq!(
        records[0].api_key.as_deref(),
        Some(client.sim.api_key().as_str())
    );
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 404]
    );
    control.clear_requests();
    assert!(control.requests().is_empty());
}

#[tokio::test]
async fn replacing_faults_answer_instead_of_the_batch() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(10).id("batch_faulty"));
    let other = control.add_batch(BatchScript::new(10).id("batch_fine"));
    let target = FaultTarget::Batch(id.clone());

    control.set_fault(target.clone(), Fault::ServerError);
    assert_eq!(
        client.get_json(&status_path(&id)).await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Failed to get batch progress", "message": "Internal server error"})
        )
    );
    assert_eq!(
        client.get_json(&status_path(&other)).await.0,
        StatusCode::OK
    );

    control.set_fault(target.clone(), Fault::BadGatewayHtml);
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html");
    assert_eq!(
        response.text().await.expect("body"),
        "<html><body><h1>502 Bad Gateway</h1></body></html>"
    );

    control.set_fault(target.clone(), Fault::MalformedJson);
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    // A faulted cancel does not cancel.
    control.set_fault(target.clone(), Fault::ServerError);
    let (code, _) = client
        .delete_json(&format!("/v1/api/batch-calls/{id}"))
        .await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    control.clear_fault(target.clone());
    let (_, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(body["status"], "processing");

    control.set_fault(FaultTarget::All, Fault::ServerError);
    assert_eq!(
        client.get(&status_path(&other)).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        client.get(&status_path("batch_unknown")).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    control.set_fault(target.clone(), Fault::BadGatewayHtml);
    assert_eq!(
        client.get(&status_path(&id)).await.status(),
        StatusCode::BAD_GATEWAY
    );
    control.clear_all_faults();
    assert_eq!(client.get(&status_path(&id)).await.status(), StatusCode::OK);
    assert_eq!(
        client.get(&status_path(&other)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_truncated_body_is_half_the_real_one_with_matching_length() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(40));
    control.advance(Duration::from_secs(90));
    let whole = client
        .get(&status_path(&id))
        .await
        .text()
        .await
        .expect("body");

    control.set_fault(FaultTarget::All, Fault::TruncatedBody);
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let length: usize = response.headers()[CONTENT_LENGTH]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("a content length");
    let cut = response.text().await.expect("the framing is intact");
    assert_eq!(cut.len(), length);
    assert_eq!(cut.len(), whole.len() / 2);
    assert!(whole.starts_with(&cut));
    assert!(serde_json::from_str::<Value>(&cut).is_err());
}

#[tokio::test]
async fn a_delay_holds_the_answer_back() {
    let client = Client::new(frozen());
    let id = client.sim.control().add_batch(BatchScript::new(5));
    client.sim.control().set_fault(
        FaultTarget::Batch(id.clone()),
        Fault::Delay(Duration::from_millis(300)),
    );
    let started = Instant::now();
    let (code, body) = client.get_json(&status_path(&id)).await;
    let took = started.elapsed();
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["total"], 5);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_dropped_connection_gives_no_response_at_all() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(5));
    // Warm a pooled connection first: the drop must also work on a reused one.
    assert_eq!(client.get(&status_path(&id)).await.status(), StatusCode::OK);

    control.set_fault(FaultTarget::All, Fault::DropConnection);
    for _ in 0..2 {
        let error = client
            .request(reqwest::Method::GET, &status_path(&id))
            .send()
            .await
            .expect_err("no response");
        assert!(error.status().is_none(), "{error:?}");
        assert!(
            error.is_request() || error.is_connect() || error.is_body(),
            "{error:?}"
        );
    }
    let last = control.requests().pop().expect("logged");
    assert_eq!(last.status, 0);

    control.clear_all_faults();
    assert_eq!(client.get(&status_path(&id)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn body_faults_change_only_what_they_name() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(20));
    control.advance(Duration::from_secs(60));
    let target = FaultTarget::Batch(id.clone());

    control.set_fault(target.clone(), Fault::UnknownStatus("paused".into()));
    let (code, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["status"], "paused");
    assert_eq!(body["total"], 20);
    let (_, detail) = client.get_json(&format!("/v1/api/batch-calls/{id}")).await;
    assert_eq!(detail["status"], "paused");

    control.set_fault(target.clone(), Fault::NullOptionalFields);
    let (_, body) = client.get_json(&status_path(&id)).await;
    for key in [
        "startTime",
        "lastCompletedTime",
        "completedTime",
        "averageCallDuration",
    ] {
        assert_eq!(body[key], Value::Null, "{key}");
    }
    assert!(body["recent_calls"].is_array());
    assert_eq!(body["status"], "processing");

    control.set_fault(target.clone(), Fault::MissingOptionalFields);
    let (_, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(
        keys(&body),
        [
            "active",
            "completed",
            "failed",
            "isComplete",
            "status",
            "total",
            "waiting"
        ]
        .into()
    );
}

#[tokio::test]
async fn injected_429s_carry_what_was_asked() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(5));

    control.set_fault(
        FaultTarget::All,
        Fault::TooManyRequests {
            retry_after_secs: Some(7),
            reset_in_secs: Some(30),
        },
    );
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "7");
    let (_, body) = json_of(response).await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let reset: jiff::Timestamp = body["error"]["reset_at"]
        .as_str()
        .expect("reset_at")
        .parse()
        .expect("RFC 3339");
    let ahead = reset.as_second() - jiff::Timestamp::now().as_second();
    assert!((29..=31).contains(&ahead), "{ahead}");

    control.set_fault(
        FaultTarget::All,
        Fault::TooManyRequests {
            retry_after_secs: None,
            reset_in_secs: None,
        },
    );
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(RETRY_AFTER).is_none());
    assert_eq!(
        json_of(response).await.1,
        json!({"error": "Too many requests"})
    );

    control.set_fault(
        FaultTarget::All,
        Fault::TooManyRequests {
            retry_after_secs: Some(2),
            reset_in_secs: None,
        },
    );
    let response = client.get(&status_path(&id)).await;
    assert_eq!(response.headers()[RETRY_AFTER], "2");
    assert_eq!(
        json_of(response).await.1,
        json!({"error": "Too many requests"})
    );
}

#[tokio::test]
async fn the_demo_scenario_loads_by_name() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let ids = control.load_scenario("demo").expect("demo exists");
    assert_eq!(
        ids,
        [
            "batch_demo_closing",
            "batch_demo_campaign",
            "batch_demo_queued",
            "batch_demo_done"
        ]
    );
    let expected = ["processing", "processing", "queued", "completed"];
    for (id, status) in ids.iter().zip(expected) {
        let (_, body) = client.get_json(&status_path(id)).await;
        assert_eq!(body["status"], status, "{id}");
    }
    assert_eq!(control.load_scenario("empty"), Some(vec![]));
    assert_eq!(control.load_scenario("nope"), None);
}

#[test]
fn spawns_from_a_sync_test_and_rejects_a_bad_speed() {
    let sim = RunningSim::spawn(SimConfig::default()).expect("starts");
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        sim.addr().port(),
        sim.base_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    );
    assert_eq!(sim.api_key(), "sk_sim_batchwatch_test_key");
    assert_eq!(sim.workspace_id(), "ws_sim_workspace");
    drop(sim);
    for speed in [0.0, -1.0, f64::NAN] {
        let config = SimConfig {
            speed,
            ..SimConfig::default()
        };
        assert!(RunningSim::spawn(config).is_err(), "{speed}");
    }
}

#[tokio::test(start_paused = true)]
async fn serves_a_client_whose_runtime_clock_is_paused() {
    let client = Client::new(frozen());
    let control = client.sim.control();
    let id = control.add_batch(BatchScript::new(5));
    control.set_fault(FaultTarget::All, Fault::Delay(Duration::from_millis(50)));
    let (code, body) = client.get_json(&status_path(&id)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["total"], 5);
}
