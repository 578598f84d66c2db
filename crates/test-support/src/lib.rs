//! `batchwatch-test-support` — what the core's, the terminal companion's and the end-to-end
//! tests share about the world around them: waiting for something to become true, the session's
//! services read from outside (D-Bus names, dunst's history, the keychain), and a loopback
//! listener that counts connections. Small on purpose: the crates' own tests need these and
//! nothing of the end-to-end harness (WebDriver, the app's launcher).
//!
//! # Layout
//! - [`session`] — the session bus, dunst and the keychain, via `busctl`, `dunstctl`, `secret-tool`.
//! - [`net`] — a loopback listener that counts connections (a redirect target, a proxy).
//! - [`bus`] — a session bus of a test's own, to leave services off it or to end it.
//! - [`server`] — a home without a desktop, and the resident started in it.

pub mod bus;
pub mod net;
pub mod server;
pub mod session;

use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, or panics with `what` after `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
