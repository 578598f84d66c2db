//! The control endpoint: how the window and the terminal companion talk to the resident
//! process (the one that owns the monitor, the keychain port, notifications and the tray).
//!
//! A per-user Unix socket (`$XDG_RUNTIME_DIR/batchwatch/control.sock`: folder 0700, socket
//! 0600, each peer's uid checked) carrying JSON lines, one message a line:
//!
//! ```text
//! client → {"hello":{"protocol":1,"client":"window"}}
//! server ← {"welcome":{"protocol":1,"pid":4242}}        or {"refused":{"code","message"}}, then closed
//! client → {"id":7,"op":"track","args":{"text":"batch_1 batch_2"}}
//! server ← {"id":7,"ok":{…}}                             or {"id":7,"error":{"code","message"}}
//! server ← {"push":"view","data":{…}}                    after {"op":"subscribe"}, latest first
//! server ← {"push":"raise"} · {"push":"quit"}
//! ```
//!
//! A line that is not JSON, or longer than [`MAX_REQUEST_LINE`], gets `{"id":null,"error":…}` and
//! its connection is closed; the resident and its other clients go on.
//!
//! - [`launch`] — the programs' switches (`--demo`, `--hidden`, `--endpoint`).
//! - [`endpoint`] — where the socket lives, and the lock that makes one resident per user.
//! - [`protocol`] — the messages, [`Request`] and [`Push`].
//! - [`server`] — serving a [`Handler`]; [`client`] — the other end; [`start`] — reaching
//!   the resident, starting it when none answers.

pub mod client;
pub mod endpoint;
pub mod launch;
pub mod protocol;
pub mod server;
pub mod start;

pub use client::{CallError, Client, ConnectError};
pub use endpoint::{BindError, Bound, Endpoint};
pub use launch::Launch;
pub use protocol::{ClientKind, Failure, Push, Request, Secret, StartChoice, StatusAnswer};
pub use server::{serve, Handler, Peer};
pub use start::connect_or_start;

/// The protocol this build speaks; a client of another one is refused with a plain sentence.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line the resident reads from a client: the largest paste the window accepts
/// (64 KiB), escaped as JSON at its worst, fits.
pub const MAX_REQUEST_LINE: usize = 1024 * 1024;

/// The longest line a client reads from the resident: a window view of the most batches the
/// monitor tracks fits.
pub const MAX_SERVER_LINE: usize = 16 * 1024 * 1024;
