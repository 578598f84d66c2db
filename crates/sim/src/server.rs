//! Serving: [`RunningSim`] binds a loopback listener and runs the router on a dedicated OS thread
//! with its own tokio runtime, so it works the same from sync tests, from async tests and from
//! tests whose runtime has a paused clock. Connections are served with hyper directly (not
//! `axum::serve`) so that `Fault::DropConnection` can close one without a response.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::faults::Hangup;
use crate::state::Shared;
use crate::{routes, SimConfig, SimControl};

/// A simulator serving on loopback. Dropping it stops the server and joins its thread; open
/// connections are closed and in-flight answers (e.g. a `Delay` fault) are abandoned.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningSim {
    /// Binds `127.0.0.1:0` and starts serving. Fails if the speed is not a positive number,
    /// the rate limit is 0, or the socket or thread cannot be created.
    pub fn spawn(config: SimConfig) -> io::Result<RunningSim> {
        Self::spawn_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// As [`spawn`](Self::spawn), on a chosen address (the binary's `--port`).
    pub fn spawn_on(config: SimConfig, addr: SocketAddr) -> io::Result<RunningSim> {
        if !(config.speed.is_finite() && config.speed > 0.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("speed must be a positive number, not {}", config.speed),
            ));
        }
        if config.rate_limit_per_minute == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "rate limit must be at least 1 request per minute",
            ));
        }
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&config));
        let router = routes::router(Arc::clone(&shared));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("trillet-sim".into())
            .spawn(move || runtime.block_on(serve(listener, router, stop)))?;
        Ok(RunningSim {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured API key (empty if none was configured).
    pub fn api_key(&self) -> String {
        self.shared
            .lock()
            .credentials
            .first()
            .map(|(key, _)| key.clone())
            .unwrap_or_default()
    }

    /// The workspace of the first configured API key (empty if none was configured).
    pub fn workspace_id(&self) -> String {
        self.shared
            .lock()
            .credentials
            .first()
            .map(|(_, workspace)| workspace.clone())
            .unwrap_or_default()
    }

    pub fn control(&self) -> SimControl {
        SimControl::new(Arc::clone(&self.shared))
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already have stopped (its thread failed); nothing to tell it then.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until `stop` fires (or its sender is dropped).
async fn serve(listener: std::net::TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("trillet-sim: cannot serve: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, router.clone()));
                }
                // E.g. out of file descriptors: give the process a moment, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// HTTP/1.1 on one connection. A response marked [`Hangup`] becomes a service error, on which
/// hyper closes the connection without writing anything.
async fn serve_connection(stream: TcpStream, router: Router) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let response = router
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {});
            if response.extensions().get::<Hangup>().is_some() {
                Err(Hangup)
            } else {
                Ok(response)
            }
        }
    });
    // Errors here are the peer going away or an injected hang-up; no one to report them to.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
