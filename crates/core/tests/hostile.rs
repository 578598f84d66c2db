//! `TrilletClient` against an unkind server: redirects that would carry the key elsewhere,
//! answers too large to hold, answers that never end, and an echoed key. The simulator plays
//! the server over real loopback HTTP; a bare listener plays "the other host" a redirect names
//! and counts every connection made to it.

use std::time::{Duration, Instant};

use batchwatch_core::api::{MAX_BODY_BYTES, MAX_CALLS_PAGE_BYTES};
use batchwatch_core::model::{CallFilter, CallsQuery};
use batchwatch_core::{ApiBase, ApiError, BatchId, Credentials, TrilletClient};
use batchwatch_test_support::net::CountingListener;
use trillet_sim::{BatchScript, Fault, FaultTarget, RunningSim, SimConfig};

fn frozen_sim() -> RunningSim {
    RunningSim::spawn(SimConfig {
        speed: 1e-9,
        ..SimConfig::default()
    })
    .unwrap()
}

fn client_for(sim: &RunningSim, request_timeout: Duration) -> TrilletClient {
    TrilletClient::with_timeouts(
        ApiBase::parse(&sim.base_url()).unwrap(),
        Credentials::new(&sim.api_key(), &sim.workspace_id()).unwrap(),
        Duration::from_secs(2),
        request_timeout,
    )
}

fn id(s: &str) -> BatchId {
    BatchId::parse(s).unwrap()
}

#[tokio::test]
async fn a_redirect_is_never_followed_and_names_where_it_pointed() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_moved"));
    let other = CountingListener::start();
    let client = client_for(&sim, Duration::from_secs(5));

    for (status, method) in [(302, "GET"), (307, "DELETE"), (308, "GET"), (301, "GET")] {
        control.set_fault(
            FaultTarget::Batch("batch_moved".into()),
            Fault::Redirect {
                status,
                location: format!(
                    "http://127.0.0.1:{}/v1/api/batch-calls/batch_moved/status",
                    other.port
                ),
            },
        );
        control.clear_requests();
        let e = if method == "DELETE" {
            client.cancel_batch(&id("batch_moved")).await.unwrap_err()
        } else {
            client.batch_progress(&id("batch_moved")).await.unwrap_err()
        };
        assert_eq!(
            e,
            ApiError::Redirected {
                status,
                target: format!("127.0.0.1:{}", other.port)
            }
        );
        assert_eq!(e.code(), "redirected");
        assert_eq!(
            e.to_string(),
            format!("Trillet answered with a redirect ({status}) to 127.0.0.1:{}; Batchwatch follows no redirects, so the API key was not sent there", other.port)
        );
        // The answer was read (the error names its Location) and nothing went there.
        assert_eq!(other.connections(), 0, "{status}");
        let sent: Vec<String> = control
            .requests()
            .iter()
            .map(|r| r.method.clone())
            .collect();
        assert_eq!(sent, vec![method.to_owned()], "asked once, never repeated");
    }

    // A host that spells the key (URLs lowercase hosts, so the echo may differ in case) is
    // not named.
    control.set_fault(
        FaultTarget::Batch("batch_moved".into()),
        Fault::Redirect {
            status: 302,
            location: format!("http://{}.example/", sim.api_key().to_uppercase()),
        },
    );
    let e = client.batch_progress(&id("batch_moved")).await.unwrap_err();
    assert!(
        matches!(&e, ApiError::Redirected { target, .. } if target == "an address that held the API key"),
        "{e:?}"
    );

    // A relative Location names the API's own host, still not followed.
    control.set_fault(
        FaultTarget::Batch("batch_moved".into()),
        Fault::Redirect {
            status: 302,
            location: "/elsewhere?key=x".into(),
        },
    );
    let e = client.batch_progress(&id("batch_moved")).await.unwrap_err();
    let own = sim.base_url().trim_start_matches("http://").to_owned();
    assert!(
        matches!(&e, ApiError::Redirected { target, .. } if *target == own),
        "{e:?}"
    );
}

#[tokio::test]
async fn answers_past_the_size_limit_are_refused_by_length_or_while_read() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_big").failure_rate(1.0));
    let client = client_for(&sim, Duration::from_secs(20));
    let target = FaultTarget::Batch("batch_big".into());

    for chunked in [false, true] {
        control.set_fault(
            target.clone(),
            Fault::OversizedBody {
                bytes: 60 * 1024 * 1024,
                chunked,
            },
        );
        let e = client.batch_progress(&id("batch_big")).await.unwrap_err();
        assert_eq!(
            e,
            ApiError::TooLarge {
                limit_bytes: MAX_BODY_BYTES
            },
            "chunked: {chunked}"
        );
        assert!(e.to_string().contains("answer too large"), "{e}");
        assert!(e.is_transient());
    }

    // The length alone decides: a body that claims 60 MiB is refused at once (read, it would
    // stall until the request timeout).
    control.set_fault(
        target.clone(),
        Fault::ClaimedLength {
            claimed: 60 * 1024 * 1024,
        },
    );
    let e = client.batch_progress(&id("batch_big")).await.unwrap_err();
    assert_eq!(
        e,
        ApiError::TooLarge {
            limit_bytes: MAX_BODY_BYTES
        }
    );

    // Just under a limit is read (and then found not to be the documented JSON).
    control.set_fault(
        target.clone(),
        Fault::OversizedBody {
            bytes: MAX_BODY_BYTES,
            chunked: true,
        },
    );
    let e = client.batch_progress(&id("batch_big")).await.unwrap_err();
    assert_eq!(e.code(), "bad_response", "{e}");

    // A page of calls may be larger than a status answer, up to its own limit.
    let page = CallsQuery {
        page: 1,
        limit: 100,
        status: CallFilter::Failed,
    };
    control.set_fault(
        target.clone(),
        Fault::OversizedBody {
            bytes: 2 * MAX_BODY_BYTES,
            chunked: true,
        },
    );
    let e = client
        .batch_calls(&id("batch_big"), page)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "bad_response", "{e}");
    control.set_fault(
        target,
        Fault::OversizedBody {
            bytes: MAX_CALLS_PAGE_BYTES + 1,
            chunked: true,
        },
    );
    let e = client
        .batch_calls(&id("batch_big"), page)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ApiError::TooLarge {
            limit_bytes: MAX_CALLS_PAGE_BYTES
        }
    );
}

#[tokio::test]
async fn a_body_that_trickles_forever_ends_at_the_request_timeout() {
    let sim = frozen_sim();
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_slow"));
    control.set_fault(
        FaultTarget::Batch("batch_slow".into()),
        Fault::TrickleBody {
            every: Duration::from_millis(50),
        },
    );
    let timeout = Duration::from_millis(1500);
    let client = client_for(&sim, timeout);
    let started = Instant::now();
    let e = client.batch_progress(&id("batch_slow")).await.unwrap_err();
    assert_eq!(e, ApiError::Timeout(timeout));
    // It gave up by itself: the body would never have ended.
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
}
