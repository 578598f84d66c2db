//! A machine without a desktop, for the tray app: a home of private folders (config, data,
//! runtime), a hooks file in it, and the resident started there with no display, a session bus
//! address that goes nowhere, no keychain, and its credentials in its environment.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The folders of a server-like home.
pub struct ServerHome {
    pub home: tempfile::TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
    pub runtime: PathBuf,
}

fn private(dir: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&dir).expect("a folder in the test's home");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .expect("the folder made private");
    dir
}

impl ServerHome {
    pub fn new() -> Self {
        let home = tempfile::tempdir().expect("a home for the test");
        let root = home.path().to_owned();
        Self {
            config: private(root.join("config")),
            data: private(root.join("data")),
            runtime: private(root.join("runtime")),
            home,
        }
    }

    /// Writes the hooks file (private, in a private folder, as the tray app requires).
    pub fn write_hooks(&self, text: &str) {
        let folder = private(self.config.join("batchwatch"));
        let path = folder.join("hooks.toml");
        std::fs::write(&path, text).expect("the hooks file written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("the hooks file made private");
    }

    /// The control socket the resident listens on.
    pub fn socket(&self) -> PathBuf {
        self.runtime.join("batchwatch/control.sock")
    }

    /// The resident's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("dev.batchwatch.app/logs/resident.log"))
            .unwrap_or_default()
    }

    /// Starts `binary` (the resident) here against `api_base`, with credentials in its
    /// environment and the schedule compressed (a 2 s budget window).
    pub fn start_resident(
        &self,
        binary: &Path,
        api_base: &str,
        key: &str,
        workspace: &str,
    ) -> Child {
        Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", &self.config)
            .env("XDG_DATA_HOME", &self.data)
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env("BATCHWATCH_API_BASE", api_base)
            .env("BATCHWATCH_POLL_FLOOR_MS", "200")
            .env("BATCHWATCH_BUDGET_WINDOW_MS", "2000")
            .env("TRILLET_API_KEY", key)
            .env("TRILLET_WORKSPACE_ID", workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the resident starts")
    }
}

impl Default for ServerHome {
    fn default() -> Self {
        Self::new()
    }
}

/// The most memory process `pid` has held (VmHWM), in KiB; 0 when it cannot be read.
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}
