//! `TrilletClient` against the project's Trillet simulator over real loopback HTTP: every
//! endpoint's body, and every error class as the caller (and the person) sees it.

use std::time::{Duration, Instant};

use batchwatch_core::model::{CallFilter, CallsQuery};
use batchwatch_core::{
    figures, ApiBase, ApiError, BatchId, BatchStatus, Credentials, TrilletClient,
};
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

/// Sim time stands still unless a test advances it: answers are the same every run.
fn frozen_sim() -> RunningSim {
    RunningSim::spawn(SimConfig {
        speed: 1e-9,
        ..SimConfig::default()
    })
    .unwrap()
}

fn client_for(sim: &RunningSim) -> TrilletClient {
    TrilletClient::with_timeouts(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(&sim.api_key(), &sim.workspace_id()).unwrap(),
        Duration::from_secs(2),
        Duration::from_millis(700),
    )
}

fn id(s: &str) -> BatchId {
    BatchId::parse(s).unwrap()
}

#[tokio::test]
async fn progress_parses_and_moves_with_the_simulator() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(
        BatchScript::new(150)
            .id("batch_progress")
            .concurrency(5)
            .call_duration(Duration::from_secs(30))
            .failure_rate(0.1),
    );
    let client = client_for(&sim);

    let p = client.batch_progress(&id("batch_progress")).await.unwrap();
    assert_eq!(p.total, 150);
    assert_eq!(p.completed + p.failed, 0);
    assert!(!p.is_complete);
    assert_eq!(p.completed_time, None);

    control.advance(Duration::from_secs(10 * 60));
    let p = client.batch_progress(&id("batch_progress")).await.unwrap();
    assert_eq!(p.status, BatchStatus::Processing);
    assert!(p.completed + p.failed > 0, "{p:?}");
    assert_eq!(p.waiting + p.active + p.completed + p.failed, p.total);
    assert!(p.start_time.is_some() && p.last_completed_time.is_some());
    assert!(!p.recent_calls.is_empty());
    let f = figures(&p, control.now_ms());
    assert!(f.percent > 0.0 && f.percent < 100.0);
    assert!(f.eta.is_some());

    control.finish_batch("batch_progress");
    let p = client.batch_progress(&id("batch_progress")).await.unwrap();
    assert!(p.is_complete);
    assert_eq!(p.status, BatchStatus::Completed);
    assert!(p.completed_time.is_some());
    assert_eq!(p.completed + p.failed, 150);
    assert_eq!(figures(&p, control.now_ms()).percent, 100.0);
}

#[tokio::test]
async fn detail_calls_and_cancel_endpoints() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(
        BatchScript::new(400)
            .id("batch_many_failures")
            .failure_rate(1.0)
            .concurrency(50)
            .call_duration(Duration::from_secs(10)),
    );
    // Failed calls take 1–5 s here, 50 at a time: after 10 s about half of 400 have failed.
    control.advance(Duration::from_secs(10));
    let client = client_for(&sim);
    let batch = id("batch_many_failures");

    let detail = client.batch_detail(&batch).await.unwrap();
    assert_eq!(detail.id, "batch_many_failures");
    assert_eq!(detail.total_calls, 400);
    let progress = client.batch_progress(&batch).await.unwrap();
    assert_eq!(detail.progress.failed, progress.failed);

    // Every failed call, page by page, agrees with the counter.
    let mut failed = Vec::new();
    let mut page = 1;
    loop {
        let q = CallsQuery {
            page,
            limit: 100,
            status: CallFilter::Failed,
        };
        let got = client.batch_calls(&batch, q).await.unwrap();
        assert_eq!(got.pagination.total, progress.failed);
        assert_eq!(got.pagination.has_prev, page > 1);
        failed.extend(got.calls);
        if !got.pagination.has_next {
            break;
        }
        page += 1;
    }
    assert_eq!(failed.len() as u64, progress.failed);
    assert!(
        progress.failed > 100 && progress.waiting > 0,
        "{progress:?}"
    );
    assert!(failed
        .iter()
        .all(|c| c.status == "failed" && c.error.is_some()));

    let outcome = client.cancel_batch(&batch).await.unwrap();
    assert_eq!(outcome.batch_id, "batch_many_failures");
    assert_eq!(outcome.status, BatchStatus::Cancelled);
    assert_eq!(outcome.details.total_calls, 400);
    assert!(outcome.details.cancelled_calls > 0);
    let again = client.cancel_batch(&batch).await.unwrap_err();
    assert!(
        matches!(again, ApiError::Refused { status: 409, .. }),
        "{again:?}"
    );
    assert!(
        again.to_string().contains("Batch is already finished"),
        "{again}"
    );
}

#[tokio::test]
async fn auth_and_not_found_errors_read_plainly() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_auth"));
    let base = ApiBase::parse(&sim.base_url()).unwrap();

    let unknown_key = TrilletClient::new(
        base.clone(),
        Credentials::new("sk_wrong", &sim.workspace_id()).unwrap(),
    );
    let e = unknown_key
        .batch_progress(&id("batch_auth"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ApiError::Unauthorized {
            status: 401,
            message: "Invalid API key".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "Trillet rejected the API key or workspace ID (401): Invalid API key"
    );
    assert!(!e.is_transient());

    let other_workspace =
        TrilletClient::new(base, Credentials::new(&sim.api_key(), "ws_other").unwrap());
    let e = other_workspace
        .batch_progress(&id("batch_auth"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "unauthorized");
    assert!(
        e.to_string()
            .contains("(403): API key is not authorized for this workspace"),
        "{e}"
    );

    let client = client_for(&sim);
    let e = client.batch_progress(&id("batch_nope")).await.unwrap_err();
    assert_eq!(
        e,
        ApiError::NotFound {
            message: "Batch not found".into()
        }
    );
    assert!(e
        .to_string()
        .starts_with("Trillet has no batch with this ID"));

    control.revoke_key(&sim.api_key());
    let e = client.batch_progress(&id("batch_auth")).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized");
}

#[tokio::test]
async fn the_real_rate_limit_gives_a_wait() {
    let sim = RunningSim::spawn(SimConfig {
        speed: 1e-9,
        rate_limit_per_minute: 5,
        ..SimConfig::default()
    })
    .unwrap();
    sim.control().add_batch(BatchScript::new(10).id("batch_rl"));
    let client = client_for(&sim);
    for _ in 0..5 {
        client.batch_progress(&id("batch_rl")).await.unwrap();
    }
    let e = client.batch_progress(&id("batch_rl")).await.unwrap_err();
    let ApiError::RateLimited {
        retry_after,
        message,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(
        retry_after.is_some(),
        "the wait comes from Retry-After/reset_at"
    );
    assert_eq!(message, "Rate limit of 5 requests per minute exceeded");
    assert!(e.is_transient());
}

/// Each injected fault → (expected code, a phrase the message must contain).
#[tokio::test]
async fn every_fault_maps_to_its_typed_error() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(BatchScript::new(20).id("batch_fault"));
    let client = client_for(&sim);
    let cases: Vec<(Fault, &str, &str)> = vec![
        (
            Fault::ServerError,
            "server_error",
            "(500): Failed to get batch progress (Internal server error)",
        ),
        (
            Fault::BadGatewayHtml,
            "server_error",
            "(502): Bad Gateway; the answer was not JSON: <html>",
        ),
        (
            Fault::MalformedJson,
            "bad_response",
            "not valid JSON): {status: processing}",
        ),
        (Fault::TruncatedBody, "bad_response", "the JSON ends early"),
        (
            Fault::Delay(Duration::from_millis(1500)),
            "timeout",
            "did not answer within",
        ),
        (Fault::DropConnection, "network", "could not reach Trillet"),
        (
            Fault::TooManyRequests {
                retry_after_secs: Some(7),
                reset_in_secs: None,
            },
            "rate_limited",
            "retry in 7 s: Too many requests",
        ),
        (
            Fault::TooManyRequests {
                retry_after_secs: None,
                reset_in_secs: Some(30),
            },
            "rate_limited",
            "Rate limit",
        ),
    ];
    for (fault, code, phrase) in cases {
        control.set_fault(FaultTarget::Batch("batch_fault".into()), fault.clone());
        let e = client.batch_progress(&id("batch_fault")).await.unwrap_err();
        assert_eq!(e.code(), code, "{fault:?} gave {e:?}");
        assert!(e.to_string().contains(phrase), "{fault:?}: {e}");
        assert!(e.is_transient(), "{fault:?} is worth retrying");
    }
    // reset_at alone still yields a wait.
    control.set_fault(
        FaultTarget::Batch("batch_fault".into()),
        Fault::TooManyRequests {
            retry_after_secs: None,
            reset_in_secs: Some(30),
        },
    );
    match client.batch_progress(&id("batch_fault")).await.unwrap_err() {
        ApiError::RateLimited {
            retry_after: Some(wait),
            ..
        } => assert!((25..=31).contains(&wait.as_secs()), "{wait:?}"),
        other => panic!("{other:?}"),
    }

    // Odd but valid bodies parse.
    control.set_fault(
        FaultTarget::Batch("batch_fault".into()),
        Fault::UnknownStatus("paused_by_carrier".into()),
    );
    let p = client.batch_progress(&id("batch_fault")).await.unwrap();
    assert_eq!(p.status, BatchStatus::Other("paused_by_carrier".into()));
    for fault in [Fault::NullOptionalFields, Fault::MissingOptionalFields] {
        control.set_fault(FaultTarget::Batch("batch_fault".into()), fault.clone());
        let p = client.batch_progress(&id("batch_fault")).await.unwrap();
        assert_eq!(
            (p.start_time, p.completed_time, p.average_call_duration),
            (None, None, None),
            "{fault:?}"
        );
    }

    control.clear_all_faults();
    assert!(
        client.batch_progress(&id("batch_fault")).await.is_ok(),
        "recovers once the fault clears"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_network_error() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = TrilletClient::new(
        ApiBase::parse(&format!("http://{addr}")).unwrap(),
        Credentials::new("sk_x", "ws_x").unwrap(),
    );
    let started = Instant::now();
    let e = client.batch_progress(&id("batch_1")).await.unwrap_err();
    assert_eq!(e.code(), "network");
    assert!(
        e.to_string()
            .starts_with("could not reach Trillet: no connection"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_key_goes_only_into_the_header() {
    let sim = frozen_sim();
    sim.control()
        .add_batch(BatchScript::new(10).id("batch_key"));
    let client = client_for(&sim);
    let debug = format!("{client:?}");
    assert!(!debug.contains(&sim.api_key()), "{debug}");
    // An error carries no key either.
    let e = client
        .batch_progress(&id("batch_unknown"))
        .await
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains(&sim.api_key()));
    // And the simulator saw the key (so it was sent).
    client.batch_progress(&id("batch_key")).await.unwrap();
    assert!(sim
        .control()
        .requests()
        .iter()
        .all(|r| r.api_key.as_deref() == Some(sim.api_key().as_str())));
}

#[tokio::test]
async fn two_hundred_fifty_failures_page_in_and_group_by_reason() {
    use batchwatch_core::failures::FailedCalls;
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(
        BatchScript::new(250)
            .id("batch_all_fail")
            .failure_rate(1.0)
            .concurrency(50)
            .failure_reasons(vec!["Number busy", "No answer", "Voicemail detected"]),
    );
    control.finish_batch("batch_all_fail");
    let client = client_for(&sim);
    let batch = id("batch_all_fail");

    let mut failed = FailedCalls::new();
    let mut pages = 0;
    while let Some(page) = failed.next_page {
        let query = CallsQuery {
            page,
            limit: 100,
            status: CallFilter::Failed,
        };
        failed.add_page(client.batch_calls(&batch, query).await.unwrap());
        pages += 1;
    }
    assert_eq!(pages, 3, "100 + 100 + 50");
    assert_eq!(failed.loaded(), 250);

    let progress = client.batch_progress(&batch).await.unwrap();
    let groups = failed.groups();
    assert_eq!(
        groups.iter().map(|g| g.count as u64).sum::<u64>(),
        progress.failed,
        "counts agree with the counters"
    );
    let reasons: std::collections::BTreeSet<&str> =
        groups.iter().map(|g| g.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["No answer", "Number busy", "Voicemail detected"]
            .into_iter()
            .collect()
    );
    assert!(
        groups.windows(2).all(|w| w[0].count >= w[1].count),
        "largest group first"
    );
    assert_eq!(
        groups[0].numbers.lines().count(),
        groups[0].count,
        "one number a failed call"
    );
}
