//! The client end of the control socket: the window process and the terminal companion.
//!
//! Requests may overlap (each has an id); the replies find their callers. Views arrive in a
//! `watch` (only the latest matters), other pushes in order. When the resident goes, every
//! unanswered call ends with [`CallError::Gone`] and [`Client::closed`] resolves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::{FramedRead, LinesCodec};

use super::endpoint::Endpoint;
use super::protocol::{ClientKind, Failure, Hello, Push, Request, ServerLine, Welcome};
use super::{MAX_SERVER_LINE, PROTOCOL_VERSION};

/// How long a resident has to say welcome.
const WELCOME_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nobody listens: no resident runs (or a crash left its socket).
    #[error("Batchwatch is not running")]
    NotRunning,
    /// It answered, and said no (another protocol version, too many clients).
    #[error("{0}")]
    Refused(Failure),
    #[error("could not reach Batchwatch at {path}: {message}")]
    Other { path: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Failed(Failure),
    #[error("the Batchwatch tray app stopped before it answered")]
    Gone,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, Failure>>>>>;

/// A pushed window view, as the JSON text it came in: parsed only by whoever shows it.
pub type View = Box<serde_json::value::RawValue>;

pub struct Client {
    out: mpsc::Sender<String>,
    pending: Pending,
    next_id: AtomicU64,
    views: watch::Receiver<Option<View>>,
    pushes: Mutex<Option<mpsc::Receiver<Push>>>,
    closed: watch::Receiver<bool>,
    pub welcome: Welcome,
}

impl Client {
    /// Connects and says hello as `kind`.
    pub async fn connect(endpoint: &Endpoint, kind: ClientKind) -> Result<Self, ConnectError> {
        let path = endpoint.socket();
        let other = |message: String| ConnectError::Other {
            path: path.display().to_string(),
            message,
        };
        let mut stream = match UnixStream::connect(path).await {
            Ok(stream) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ConnectError::NotRunning)
            }
            Err(e) => return Err(other(e.to_string())),
        };
        // Only our own resident hears what we send (the window sends the API key): a socket
        // another user put where ours would be is refused.
        let own_uid = rustix::process::geteuid().as_raw();
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == own_uid => {}
            Ok(cred) => {
                return Err(other(format!(
                    "it is served by another user (uid {}); Batchwatch will not talk to it",
                    cred.uid()
                )))
            }
            Err(e) => return Err(other(e.to_string())),
        }
        let hello =
            serde_json::json!({ "hello": Hello { protocol: PROTOCOL_VERSION, client: kind } });
        stream
            .write_all((hello.to_string() + "\n").as_bytes())
            .await
            .map_err(|e| other(e.to_string()))?;
        let (read, mut write) = stream.into_split();
        let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_SERVER_LINE));
        let first = match tokio::time::timeout(WELCOME_WAIT, lines.next()).await {
            Ok(Some(Ok(line))) => serde_json::from_str::<ServerLine>(&line).unwrap_or_default(),
            Ok(_) => return Err(ConnectError::NotRunning),
            Err(_) => return Err(other("it did not answer within 10 s".into())),
        };
        if let Some(failure) = first.refused {
            return Err(ConnectError::Refused(failure));
        }
        let welcome = first
            .welcome
            .ok_or_else(|| other("it does not speak Batchwatch's control protocol".into()))?;

        let (out, mut out_rx) = mpsc::channel::<String>(64);
        tokio::spawn(async move {
            while let Some(line) = out_rx.recv().await {
                if write.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let (views_tx, views) = watch::channel(None);
        let (push_tx, push_rx) = mpsc::channel(32);
        let (closed_tx, closed) = watch::channel(false);
        let waiting = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(line)) = lines.next().await {
                let Ok(line) = serde_json::from_str::<ServerLine>(&line) else {
                    continue;
                };
                if let Some(push) = line.push.as_deref() {
                    match push {
                        "view" => {
                            views_tx.send_replace(line.data);
                        }
                        "raise" => {
                            let _ = push_tx.try_send(Push::Raise);
                        }
                        "quit" => {
                            let _ = push_tx.try_send(Push::Quit);
                        }
                        _ => {}
                    }
                    continue;
                }
                let Some(id) = line.id else {
                    // A fatal error about the connection: the end follows.
                    continue;
                };
                let caller = waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                if let Some(caller) = caller {
                    let _ = caller.send(match line.error {
                        Some(failure) => Err(failure),
                        None => Ok(line.ok.unwrap_or(Value::Null)),
                    });
                }
            }
            // Gone: said first, so a call made from now on sees it; then every caller still
            // waiting hears so.
            let _ = closed_tx.send(true);
            waiting.lock().unwrap_or_else(|p| p.into_inner()).clear();
        });
        Ok(Self {
            out,
            pending,
            next_id: AtomicU64::new(1),
            views,
            pushes: Mutex::new(Some(push_rx)),
            closed,
            welcome,
        })
    }

    /// Asks `request` and waits for its answer.
    pub async fn call(&self, request: &Request) -> Result<Value, CallError> {
        let value = serde_json::to_value(request).map_err(|_| CallError::Gone)?;
        let op = value["op"].as_str().unwrap_or_default().to_owned();
        self.call_raw(&op, value.get("args").cloned().unwrap_or(Value::Null))
            .await
    }

    /// Asks `op` with `args` as given (the window forwards what its page sends).
    pub async fn call_raw(&self, op: &str, args: Value) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let forget = || {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        };
        if *self.closed.borrow() {
            forget();
            return Err(CallError::Gone);
        }
        let line = serde_json::json!({ "id": id, "op": op, "args": args }).to_string() + "\n";
        if self.out.send(line).await.is_err() {
            forget();
            return Err(CallError::Gone);
        }
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failure)) => Err(CallError::Failed(failure)),
            Err(_) => Err(CallError::Gone),
        }
    }

    /// The latest window view pushed (after [`Request::Subscribe`]).
    pub fn views(&self) -> watch::Receiver<Option<View>> {
        self.views.clone()
    }

    /// The pushes other than views, in order; `None` after the first call.
    pub fn take_pushes(&self) -> Option<mpsc::Receiver<Push>> {
        self.pushes.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Resolves once the resident has gone.
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        let _ = closed.wait_for(|c| *c).await;
    }
}
