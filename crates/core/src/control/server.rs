//! Serving a [`Handler`] on a bound endpoint: one task per client, each request answered on
//! its own task (a slow cancel never holds up a paste), views pushed latest-first.
//!
//! Bounds: [`MAX_CLIENTS`] at once (one more is told "busy"), [`MAX_REQUEST_LINE`] a line,
//! [`MAX_IN_FLIGHT`] unanswered requests a client (more wait their turn), a hello within
//! [`HELLO_WAIT`]. A client that stops reading misses intermediate views, never the latest,
//! and never holds up another client or the resident.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use super::protocol::{ClientKind, Failure, Hello, Push, Request, RequestLine, Welcome};
use super::{MAX_REQUEST_LINE, PROTOCOL_VERSION};

pub const MAX_CLIENTS: usize = 128;
pub const MAX_IN_FLIGHT: usize = 16;
pub const HELLO_WAIT: Duration = Duration::from_secs(10);
/// How long a stopping server gives its connections to say their last.
pub const CLOSING_WAIT: Duration = Duration::from_secs(2);
/// What is read and thrown away after a fatal line, so the client still hears why.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
/// Pushes other than views waiting for a slow client; more are dropped.
const PUSH_QUEUE: usize = 8;

pub type Reply = Pin<Box<dyn Future<Output = Result<Value, Failure>> + Send>>;

/// What the resident does with requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers `request` from `peer`.
    fn handle(self: Arc<Self>, peer: Peer, request: Request) -> Reply;
    /// The window views a subscribed client follows, serialized once for every client.
    fn views(&self) -> watch::Receiver<Arc<str>>;
    /// `peer` has gone (closed, crashed or was disconnected).
    fn gone(&self, peer: &Peer) {
        let _ = peer;
    }
}

/// One connected client, as the handler sees it.
#[derive(Debug, Clone)]
pub struct Peer {
    pub id: u64,
    pub kind: ClientKind,
    pushes: mpsc::Sender<Push>,
}

impl Peer {
    /// Sends `push` to this client without waiting; `false` when it is gone or not reading.
    pub fn push(&self, push: Push) -> bool {
        self.pushes.try_send(push).is_ok()
    }
}

/// Serves `handler` on `listener` until `stop` is cancelled; then waits (up to
/// [`CLOSING_WAIT`]) for each connection to send what it still has — a window's "quit".
pub async fn serve<H: Handler>(listener: UnixListener, handler: Arc<H>, stop: CancellationToken) {
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut connections = tokio::task::JoinSet::new();
    let ids = AtomicU64::new(1);
    let own_uid = rustix::process::geteuid().as_raw();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    log::warn!("control socket: {e}");
                    // EMFILE and the like: let descriptors free up rather than spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == own_uid => {}
            _ => {
                log::warn!("control socket: refused a client of another user");
                continue;
            }
        }
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            connections.spawn(refuse(
                stream,
                Failure::new("busy", "Batchwatch is serving too many clients; try again."),
            ));
            continue;
        };
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let handler = handler.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            connection(stream, id, handler, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(CLOSING_WAIT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn refuse(mut stream: UnixStream, failure: Failure) {
    let line = refusal_line(&failure);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(line.as_bytes())).await;
}

/// `{"refused": {code, message}}`: the one line a refused client reads before the close.
fn refusal_line(failure: &Failure) -> String {
    serde_json::json!({ "refused": failure }).to_string() + "\n"
}

/// What the reader hands the writer.
enum Outgoing {
    Line(String),
    /// Start pushing views.
    Follow,
    /// Say this, then close.
    Last(String),
}

async fn connection<H: Handler>(
    stream: UnixStream,
    id: u64,
    handler: Arc<H>,
    stop: CancellationToken,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_REQUEST_LINE));

    let hello = match tokio::time::timeout(HELLO_WAIT, lines.next()).await {
        Ok(Some(Ok(line))) => serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| serde_json::from_value::<Hello>(v.get("hello")?.clone()).ok()),
        _ => None,
    };
    let refusal = match &hello {
        None => Some(Failure::new(
            "no_hello",
            "This socket speaks Batchwatch's control protocol; a client starts with a hello.",
        )),
        Some(h) if h.protocol != PROTOCOL_VERSION => Some(Failure::new(
            "protocol_version",
            format!(
                "This Batchwatch speaks control protocol {PROTOCOL_VERSION}, the client {}: use the batchwatch and batchwatch-cli of one install.",
                h.protocol
            ),
        )),
        Some(_) => None,
    };
    if let Some(failure) = refusal {
        let _ = write.write_all(refusal_line(&failure).as_bytes()).await;
        return;
    }
    let kind = hello.map_or(ClientKind::Terminal, |h| h.client);
    let welcome = Welcome {
        protocol: PROTOCOL_VERSION,
        pid: std::process::id(),
    };
    let line = serde_json::json!({ "welcome": welcome }).to_string() + "\n";
    if write.write_all(line.as_bytes()).await.is_err() {
        return;
    }

    let (push_tx, mut push_rx) = mpsc::channel(PUSH_QUEUE);
    let peer = Peer {
        id,
        kind,
        pushes: push_tx,
    };
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT * 2);
    let following_handler = handler.clone();
    let writer = tokio::spawn(async move {
        let mut views: Option<watch::Receiver<Arc<str>>> = None;
        let mut pushes_open = true;
        loop {
            let next = tokio::select! {
                out = out_rx.recv() => match out {
                    Some(Outgoing::Line(line)) => line,
                    Some(Outgoing::Last(line)) => {
                        let _ = write.write_all(line.as_bytes()).await;
                        let _ = write.shutdown().await;
                        return;
                    }
                    Some(Outgoing::Follow) => {
                        // The current view first, then each new one. Asked for only now:
                        // a client that never subscribes costs no view.
                        let mut following = following_handler.views();
                        following.mark_changed();
                        views = Some(following);
                        continue;
                    }
                    None => {
                        // Closing: what was pushed last ("quit") still goes out.
                        while let Ok(push) = push_rx.try_recv() {
                            let line = serde_json::to_string(&push).unwrap_or_default() + "\n";
                            if write.write_all(line.as_bytes()).await.is_err() {
                                break;
                            }
                        }
                        return;
                    }
                },
                push = push_rx.recv(), if pushes_open => match push {
                    Some(push) => serde_json::to_string(&push).unwrap_or_default() + "\n",
                    // Nobody can push any more; replies still go out.
                    None => {
                        pushes_open = false;
                        continue;
                    }
                },
                changed = async { views.as_mut()?.changed().await.ok() }, if views.is_some() => {
                    let Some(()) = changed else { return };
                    let view = views.as_mut().map(|v| v.borrow_and_update().clone()).unwrap_or_default();
                    format!("{{\"push\":\"view\",\"data\":{view}}}\n")
                }
            };
            if write.write_all(next.as_bytes()).await.is_err() {
                return;
            }
        }
    });

    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // Cancelled when this client has gone (or closed its end): its leases are dropped.
    let gone = CancellationToken::new();
    let mut closing = false;
    loop {
        let line = tokio::select! {
            () = stop.cancelled() => break,
            line = lines.next() => line,
        };
        let line = match line {
            None => break,
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                let (code, message) = match e {
                    LinesCodecError::MaxLineLengthExceeded => (
                        "too_long",
                        format!(
                            "A request line is longer than {} KiB; the connection is closed.",
                            MAX_REQUEST_LINE / 1024
                        ),
                    ),
                    LinesCodecError::Io(e) => ("unreadable", e.to_string()),
                };
                let _ = out_tx.send(Outgoing::Last(fatal(code, &message))).await;
                closing = true;
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let Ok(RequestLine { id, op, args }) = serde_json::from_str::<RequestLine>(&line) else {
            let message = "A line is not a request ({\"id\":…,\"op\":…,\"args\":…}); the connection is closed.";
            let _ = out_tx
                .send(Outgoing::Last(fatal("malformed", message)))
                .await;
            closing = true;
            break;
        };
        let request = match Request::from_parts(&op, args) {
            Ok(request) => request,
            Err(failure) => {
                let _ = out_tx.send(Outgoing::Line(reply(id, Err(failure)))).await;
                continue;
            }
        };
        if matches!(request, Request::Subscribe {}) {
            let _ = out_tx.send(Outgoing::Follow).await;
            let _ = out_tx
                .send(Outgoing::Line(reply(id, Ok(Value::Null))))
                .await;
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        // A lease ends with its client: a slot granted to a process that has gone would only
        // take one from the tray app. Other requests are carried through (a client may close
        // its end once it has asked).
        let ends_with_client = matches!(request, Request::Lease { .. });
        let answer = handler.clone().handle(peer.clone(), request);
        let out = out_tx.clone();
        let client_gone = gone.clone();
        tokio::spawn(async move {
            let answered = tokio::select! {
                answered = answer => answered,
                () = client_gone.cancelled(), if ends_with_client => return,
            };
            let _ = out.send(Outgoing::Line(reply(id, answered))).await;
            drop(permit);
        });
    }
    gone.cancel();
    drop(out_tx);
    if closing {
        // Read on (and discard) for a moment: a socket closed with unread input resets, and
        // the client would lose the line that says why. (From the socket itself: the line
        // reader ends at its first error.)
        let mut rest = lines.into_inner().take(DRAIN_LIMIT);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::copy(&mut rest, &mut tokio::io::sink()),
        )
        .await;
    }
    handler.gone(&peer);
    drop(peer);
    let _ = writer.await;
}

fn reply(id: u64, answer: Result<Value, Failure>) -> String {
    let line = match answer {
        Ok(value) => serde_json::json!({ "id": id, "ok": value }),
        Err(failure) => serde_json::json!({ "id": id, "error": failure }),
    };
    line.to_string() + "\n"
}

fn fatal(code: &str, message: &str) -> String {
    serde_json::json!({ "id": null, "error": Failure::new(code, message) }).to_string() + "\n"
}
