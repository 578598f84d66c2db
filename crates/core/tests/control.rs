//! The control endpoint against a small handler, over a real socket: versions, malformed and
//! oversized lines, clients that vanish mid-stream, and many clients at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use batchwatch_core::control::{
    serve, CallError, Client, ClientKind, ConnectError, Endpoint, Failure, Handler, Peer, Request,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

struct Echo {
    views: watch::Sender<Arc<str>>,
    gone: AtomicUsize,
    /// Leases whose wait was dropped (their client went away).
    leases_dropped: Arc<AtomicUsize>,
    leases_started: AtomicUsize,
    /// "second" was answered: "first" waits for it, so the replies come back out of order.
    second_answered: tokio::sync::Notify,
}

/// Counts its own drop.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Handler for Echo {
    fn handle(
        self: Arc<Self>,
        _peer: Peer,
        request: Request,
    ) -> batchwatch_core::control::server::Reply {
        Box::pin(async move {
            match request {
                Request::Track { text, .. } => {
                    match text.as_str() {
                        "first" => self.second_answered.notified().await,
                        "second" => self.second_answered.notify_one(),
                        _ => {}
                    }
                    Ok(json!({ "echo": text }))
                }
                Request::Untrack { id } => {
                    Err(Failure::new("invalid_batch_id", format!("{id} is not one")))
                }
                // A budget that never has room.
                Request::Lease { .. } => {
                    let _dropped = Dropped(self.leases_dropped.clone());
                    self.leases_started.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                    Ok(Value::Null)
                }
                _ => Ok(Value::Null),
            }
        })
    }

    fn views(&self) -> watch::Receiver<Arc<str>> {
        self.views.subscribe()
    }

    fn gone(&self, _peer: &Peer) {
        self.gone.fetch_add(1, Ordering::SeqCst);
    }
}

struct Running {
    endpoint: Endpoint,
    handler: Arc<Echo>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::at(dir.path().join("batchwatch/control.sock"));
    let mut bound = endpoint.bind().unwrap();
    let listener = tokio::net::UnixListener::from_std(bound.take_listener().unwrap()).unwrap();
    let handler = Arc::new(Echo {
        views: watch::channel(Arc::from("{\"n\":0}")).0,
        gone: AtomicUsize::new(0),
        leases_dropped: Arc::default(),
        leases_started: AtomicUsize::new(0),
        second_answered: tokio::sync::Notify::new(),
    });
    let stop = CancellationToken::new();
    let serving = handler.clone();
    let stopping = stop.clone();
    tokio::spawn(async move {
        serve(listener, serving, stopping).await;
        drop(bound);
    });
    Running {
        endpoint,
        handler,
        stop,
        _dir: dir,
    }
}

/// A raw client: writes `lines`, returns every line the server sends until it closes (which
/// it must within 30 s).
async fn raw(endpoint: &Endpoint, lines: &[&str]) -> Vec<Value> {
    let stream = UnixStream::connect(endpoint.socket()).await.unwrap();
    let (read, mut write) = stream.into_split();
    for line in lines {
        // The server may close mid-write (an oversized line): what it said is still there.
        if write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let mut read = BufReader::new(read).lines();
    let mut out = Vec::new();
    // Bounded: a server that never closes fails the test instead of hanging the suite.
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = read.next_line().await {
            out.push(serde_json::from_str(&line).unwrap());
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server did not close the connection: {out:?}"
    );
    out
}

const HELLO: &str = r#"{"hello":{"protocol":1,"client":"terminal"}}"#;

#[tokio::test]
async fn requests_are_answered_by_id_and_errors_keep_their_code() {
    let running = start();
    let client = Client::connect(&running.endpoint, ClientKind::Terminal)
        .await
        .unwrap();
    assert_eq!(client.welcome.pid, std::process::id());
    // The first request is answered only after the second: each reply still finds its caller.
    let (first, second) = (
        Request::Track {
            text: "first".into(),
            notify: None,
            workspace: None,
        },
        Request::Track {
            text: "second".into(),
            notify: None,
            workspace: None,
        },
    );
    let (a, b) = tokio::join!(client.call(&first), client.call(&second));
    assert_eq!(a.unwrap(), json!({"echo": "first"}));
    assert_eq!(b.unwrap(), json!({"echo": "second"}));
    let err = client
        .call(&Request::Untrack { id: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CallError::Failed(Failure::new("invalid_batch_id", "x is not one"))
    );
    let unknown = client
        .call_raw("format_disk", Value::Null)
        .await
        .unwrap_err();
    assert!(matches!(unknown, CallError::Failed(f) if f.code == "bad_request"));
    // An unknown request costs the connection nothing.
    assert!(client
        .call(&Request::Track {
            text: "3".into(),
            notify: None,
            workspace: None,
        })
        .await
        .is_ok());
}

#[tokio::test]
async fn a_client_of_another_protocol_version_is_refused_in_words() {
    let running = start();
    let said = raw(
        &running.endpoint,
        &[r#"{"hello":{"protocol":99,"client":"terminal"}}"#],
    )
    .await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["refused"]["code"], "protocol_version");
    let message = said[0]["refused"]["message"].as_str().unwrap();
    assert!(message.contains("protocol 1, the client 99"), "{message}");
    // And one that never says hello.
    let said = raw(&running.endpoint, &[r#"{"id":1,"op":"track"}"#]).await;
    assert_eq!(said[0]["refused"]["code"], "no_hello");
}

#[tokio::test]
async fn a_malformed_or_oversized_line_closes_that_connection_only() {
    let running = start();
    let steady = Client::connect(&running.endpoint, ClientKind::Terminal)
        .await
        .unwrap();
    let said = raw(
        &running.endpoint,
        &[
            HELLO,
            "this is not json",
            r#"{"id":2,"op":"track","args":{"text":"late"}}"#,
        ],
    )
    .await;
    assert!(said[0].get("welcome").is_some());
    assert_eq!(said[1]["error"]["code"], "malformed");
    assert!(said[1]["id"].is_null());
    assert_eq!(
        said.len(),
        2,
        "nothing after the malformed line was read: {said:?}"
    );

    let huge = format!(
        r#"{{"id":3,"op":"track","args":{{"text":"{}"}}}}"#,
        "b".repeat(2 * 1024 * 1024)
    );
    let said = raw(&running.endpoint, &[HELLO, &huge]).await;
    assert_eq!(said[1]["error"]["code"], "too_long");

    // The resident and its other clients go on.
    let answer = steady
        .call(&Request::Track {
            text: "still".into(),
            notify: None,
            workspace: None,
        })
        .await
        .unwrap();
    assert_eq!(answer, json!({"echo": "still"}));
}

#[tokio::test]
async fn views_stream_latest_first_and_a_vanished_subscriber_costs_nothing() {
    let running = start();
    let watcher = Client::connect(&running.endpoint, ClientKind::Window)
        .await
        .unwrap();
    let mut views = watcher.views();
    watcher.call(&Request::Subscribe {}).await.unwrap();
    let n = |v: &Option<batchwatch_core::control::client::View>| {
        v.as_ref()
            .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
            .map(|v| v["n"].clone())
    };
    views.wait_for(|v| n(v) == Some(json!(0))).await.unwrap();

    // A subscriber that goes away mid-stream.
    let leaving = Client::connect(&running.endpoint, ClientKind::Window)
        .await
        .unwrap();
    leaving.call(&Request::Subscribe {}).await.unwrap();
    drop(leaving);
    for n in 1..=200 {
        running
            .handler
            .views
            .send_replace(Arc::from(format!("{{\"n\":{n}}}")));
    }
    views.wait_for(|v| n(v) == Some(json!(200))).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while running.handler.gone.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server noticed the subscriber leave");
    assert!(watcher
        .call(&Request::Track {
            text: "after".into(),
            notify: None,
            workspace: None,
        })
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_at_once_are_served() {
    let running = start();
    let endpoint = running.endpoint.clone();
    let calls = (0..50).map(|i| {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let client = Client::connect(&endpoint, ClientKind::Terminal)
                .await
                .unwrap();
            client
                .call(&Request::Track {
                    text: format!("c{i}"),
                    notify: None,
                    workspace: None,
                })
                .await
                .unwrap()
        })
    });
    let answers = futures_util::future::join_all(calls).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.unwrap(), json!({"echo": format!("c{i}")}));
    }
}

#[tokio::test]
async fn a_resident_that_goes_fails_the_waiting_calls_and_says_not_running_after() {
    let running = start();
    let client = Client::connect(&running.endpoint, ClientKind::Window)
        .await
        .unwrap();
    running.stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), client.closed())
        .await
        .expect("the client hears the resident go");
    assert_eq!(
        client
            .call(&Request::Track {
                text: "x".into(),
                notify: None,
                workspace: None,
            })
            .await
            .unwrap_err(),
        CallError::Gone
    );
    let endpoint = running.endpoint.clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match Client::connect(&endpoint, ClientKind::Terminal).await {
                Err(ConnectError::NotRunning) => break,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .expect("a stopped resident reads as not running");
}

#[tokio::test]
async fn a_lease_waiting_for_a_client_that_went_away_is_dropped() {
    let running = start();
    let client = Client::connect(&running.endpoint, ClientKind::Terminal)
        .await
        .unwrap();
    let waiting =
        tokio::spawn(async move { client.call(&Request::Lease { workspace: None }).await });
    // Its turn never comes; the client goes (a Ctrl-C'd watch).
    tokio::time::timeout(Duration::from_secs(10), async {
        while running.handler.leases_started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the lease reached the server");
    waiting.abort();
    tokio::time::timeout(Duration::from_secs(10), async {
        while running.handler.leases_dropped.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the lease's wait was dropped with its client");
    assert_eq!(running.handler.gone.load(Ordering::SeqCst), 1);
}
