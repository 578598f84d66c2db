//! Where Batchwatch keeps things on this machine, by one rule for every folder: the XDG base
//! directories as `dirs` reads them (`$XDG_CONFIG_HOME`, else `~/.config`; the home folder is
//! `$HOME`, else the password database), and a folder that comes out relative is no folder —
//! a relative `HOME` would otherwise put the state, the log or the autostart entry wherever
//! the program happened to start.

use std::path::PathBuf;

/// The app's identifier, the folder name the window's own log and data use.
pub const APP_ID: &str = "dev.batchwatch.app";

fn absolute(dir: Option<PathBuf>) -> Option<PathBuf> {
    dir.filter(|d| d.is_absolute())
}

/// `~/.config/batchwatch`: the state database.
pub fn config() -> Option<PathBuf> {
    absolute(dirs::config_dir()).map(|d| d.join("batchwatch"))
}

/// `~/.config/autostart`: where the desktop session looks for what to start at login.
pub fn autostart() -> Option<PathBuf> {
    absolute(dirs::config_dir()).map(|d| d.join("autostart"))
}

/// `~/.local/share/dev.batchwatch.app/logs`, where the window's log plugin writes too.
pub fn logs() -> Option<PathBuf> {
    absolute(dirs::data_dir()).map(|d| d.join(APP_ID).join("logs"))
}

/// `~/.cache/dev.batchwatch.app`: what can be made again (the notification icon).
pub fn cache() -> Option<PathBuf> {
    absolute(dirs::cache_dir()).map(|d| d.join(APP_ID))
}

/// `$XDG_RUNTIME_DIR/batchwatch`: the control socket. Without a runtime folder (a session
/// without logind), `<tmp>/batchwatch-<uid>`, which the socket's owner makes private.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn runtime() -> PathBuf {
    absolute(dirs::runtime_dir())
        .map(|d| d.join("batchwatch"))
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "batchwatch-{}",
                rustix::process::geteuid().as_raw()
            ))
        })
}
