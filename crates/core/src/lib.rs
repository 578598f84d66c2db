//! `batchwatch-core` — everything in Batchwatch that is not Tauri.
//!
//! Batchwatch watches Trillet batch calls (outbound phone campaigns) until they finish. This
//! crate holds what the tray app and the terminal companion share; it never depends on Tauri,
//! GTK or a webview, so it builds and tests in seconds.
//!
//! # Layout
//! - [`batch_id`] — the validated [`BatchId`] and the parser for pasted IDs and links.
//! - [`credentials`] — the API key (redacted everywhere) and workspace ID; [`workspace`] one
//!   workspace (credentials and label) and picking one of several.
//! - [`model`] — the API's bodies, as documented.
//! - [`api`] — [`TrilletClient`], its base URL rules and typed [`ApiError`]s.
//! - [`figures`] — percent, remaining, elapsed, throughput, ETA from one snapshot.
//! - [`failures`] — a batch's failed calls, paged in and grouped by reason; [`retry_list`]
//!   the CSV of them to upload again.
//! - [`campaign`] — a batch and its retries as one line: reached, unreached, attempts.
//! - [`launch`] — starting a batch: the CSV check, the form, the at-most-once rules and the
//!   record of recent starts.
//! - [`secret_store`] — the keychain port and its platform implementation.
//! - [`notifier`] — the desktop-notification port and its platform implementation;
//!   [`announcer`] the one thread that sends them, queued and coalesced.
//! - [`autostart`] — the XDG autostart entry behind "Start at login"; [`folders`] where
//!   everything Batchwatch keeps lives.
//! - [`monitor`] — the task that owns the tracked batches and polls them; [`schedule`] its policy;
//!   [`change`] what happened and what to say; [`state_file`] what survives a restart;
//!   [`settings`] what the user chose.
//! - [`control`] — the local socket the window and the terminal reach the resident through.
//! - [`view`] — what the window and tray show (the tray icon drawn under it); [`format`] the
//!   words every surface uses.
//!
//! # Flow
//! One way, no edge back: user input (the window's commands, the tray's menu, the terminal)
//! → a command on the [`monitor::MonitorHandle`] → the monitor task, the one owner of the
//! tracked batches and the key's budget → a request through its port to [`api`] → the answer
//! applied to the batch ([`monitor`]'s `Tracked::observe` decides what it means, with
//! [`change`]) → one immutable [`monitor::MonitorSnapshot`] published, and the
//! [`monitor::MonitorEvent`]s worth telling once → [`view`] (window, tray) computed from the
//! snapshot, the events announced by [`announcer`] through [`notifier`].

pub mod announcer;
pub mod api;
pub mod autostart;
pub mod batch_id;
pub mod campaign;
pub mod change;
#[cfg(all(unix, not(target_os = "macos")))]
pub mod control;
pub mod credentials;
pub mod events;
pub mod failures;
pub mod figures;
pub mod folders;
pub mod format;
pub mod hooks;
pub mod launch;
pub mod model;
pub mod monitor;
pub mod notifier;
pub mod notify_choice;
pub mod quiet;
pub mod retry_list;
pub mod schedule;
pub mod secret_store;
pub mod setting_names;
pub mod settings;
pub mod state_file;
pub mod view;
pub mod whole_file;
pub mod workspace;

pub use api::{ApiBase, ApiError, TrilletClient};
pub use batch_id::{parse_pasted, BatchId, PasteTooLarge, PastedIds};
pub use credentials::{ApiKey, Credentials, WorkspaceId};
pub use figures::{figures, Figures};
pub use model::{BatchProgress, BatchStatus};
