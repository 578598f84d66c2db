//! Hooks: commands run and URLs called on a batch's events, as the person's hooks file says.
//!
//! - `file` — reading `hooks.toml` (every problem named by its line; a file others can write
//!   is refused).
//! - `runner` — [`HookRunner`], which runs them within bounds and keeps each one's last failure.
//! - `watch` — reading the file again when it changes.

pub mod file;
mod runner;
mod watch;

pub use runner::{Bounds, HookFailure, HookRunner, HookStatus, HooksStatus, OUTPUT_KEPT};
pub use watch::watch_file;

/// Where the hooks file is: `~/.config/batchwatch/hooks.toml`.
pub fn default_path() -> Option<std::path::PathBuf> {
    crate::folders::config().map(|d| d.join(file::FILE_NAME))
}
