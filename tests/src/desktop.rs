//! One test's world: a throw-away XDG home, a keychain item of its own, a Trillet simulator
//! running fifteen times faster than life, and the app — opened through WebDriver (via a
//! wrapper that records its exit status) or started directly. Polling is compressed to match
//! (the budget window is 4 s instead of 60, a request times out after 2 s instead of 20), so
//! the schedule keeps its shape.
//!
//! When a test fails, [`Desktop`]'s `Drop` leaves a screenshot of the screen and the app's
//! logs under `target/e2e/<test>/` for a person to look at.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use trillet_sim::{RunningSim, SimConfig};

use crate::webdriver::WebDriver;

/// The API key the simulator accepts; distinctive so a leak is easy to find.
pub const KEY: &str = "sk_e2e_distinctive_secret_9931";
pub const WORKSPACE: &str = "ws_e2e";
/// Simulated seconds per real second, and the matching budget window.
pub const SPEED: f64 = 15.0;
const WINDOW_MS: u64 = 4_000;
const FLOOR_MS: u64 = 1_000;
/// A slow answer times out after this (20 s in production).
pub const REQUEST_TIMEOUT_MS: u64 = 2_000;

/// The tray and dunst are shared by the session: one world at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub struct Desktop {
    pub name: String,
    pub home: tempfile::TempDir,
    pub sim: RunningSim,
    pub keychain_service: String,
    driver: Option<Child>,
    direct: Vec<Child>,
    /// Extra environment for the app.
    pub extra_env: Vec<(String, String)>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// `target/…/debug/batchwatch` (the window), beside this test binary's `deps/` folder.
pub fn app_binary() -> PathBuf {
    built("batchwatch")
}

/// `target/…/debug/batchwatch-resident` (the tray process the window starts).
pub fn resident_binary() -> PathBuf {
    built("batchwatch-resident")
}

/// `target/…/debug/batchwatch-cli`.
pub fn cli_binary() -> PathBuf {
    built("batchwatch-cli")
}

fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap();
    let program = debug.join(name);
    assert!(
        program.exists(),
        "{} is missing: scripts/test builds it before the tests",
        program.display()
    );
    program
}

fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// Two loopback ports free now, and different: both are held until both are known (picked
/// one after the other, the second could be the first again, and tauri-driver and
/// WebKitWebDriver would then fight over one port).
fn two_free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    (port(&first), port(&second))
}

impl Desktop {
    pub fn new(name: &str) -> Self {
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::os::require_session_service("org.freedesktop.secrets");
        crate::os::clear_notifications();
        let sim = RunningSim::spawn(SimConfig {
            speed: SPEED,
            credentials: vec![(KEY.into(), WORKSPACE.into())],
            ..SimConfig::default()
        })
        .unwrap();
        let desktop = Self {
            name: name.to_owned(),
            home: tempfile::tempdir().unwrap(),
            sim,
            keychain_service: format!("dev.batchwatch.e2e.{name}.{}", std::process::id()),
            driver: None,
            direct: Vec::new(),
            extra_env: Vec::new(),
            _turn: turn,
        };
        std::fs::write(
            desktop.wrapper(),
            format!(
                "#!/bin/sh\n\"{}\" \"$@\" \"{}\"\necho $? > \"{}\"\n",
                app_binary().display(),
                desktop.marker(),
                desktop.exit_file().display()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .args(["+x"])
            .arg(desktop.wrapper())
            .status()
            .unwrap();
        desktop
    }

    /// An argument every app this test starts carries (the app ignores it): it names the
    /// test's own throw-away directory, so the app is found by its command line even after
    /// its parent is gone, and nothing else is.
    fn marker(&self) -> String {
        format!("--e2e-home={}", self.home.path().display())
    }

    fn wrapper(&self) -> PathBuf {
        self.home.path().join("batchwatch-wrapper")
    }

    fn exit_file(&self) -> PathBuf {
        self.home.path().join("exit-status")
    }

    /// This test's Downloads folder (made, and named in `user-dirs.dirs` as the desktop does),
    /// where a save dialog opens.
    pub fn downloads_dir(&self) -> PathBuf {
        self.user_dirs().0
    }

    /// This test's Documents folder, where the open dialog of "New batch…" opens.
    pub fn documents_dir(&self) -> PathBuf {
        self.user_dirs().1
    }

    /// Makes the Downloads and Documents folders and names them in `user-dirs.dirs`.
    fn user_dirs(&self) -> (PathBuf, PathBuf) {
        let downloads = self.home.path().join("downloads");
        let documents = self.home.path().join("documents");
        for dir in [&downloads, &documents] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::create_dir_all(self.config_dir()).unwrap();
        std::fs::write(
            self.config_dir().join("user-dirs.dirs"),
            format!(
                "XDG_DOWNLOAD_DIR=\"{}\"\nXDG_DOCUMENTS_DIR=\"{}\"\n",
                downloads.display(),
                documents.display()
            ),
        )
        .unwrap();
        (downloads, documents)
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join("config")
    }

    /// The runtime folder of this test's session: the resident's control socket is in it, so
    /// each test has its own resident (and its command line names this test's folder).
    pub fn runtime_dir(&self) -> PathBuf {
        self.home.path().join("runtime")
    }

    pub fn state_file(&self) -> PathBuf {
        self.config_dir().join("batchwatch/state.db")
    }

    /// Every byte the state database holds on disk (the file and its write-ahead log), to
    /// search for what must never be in it.
    pub fn state_bytes(&self) -> Vec<u8> {
        let mut all = std::fs::read(self.state_file()).unwrap_or_default();
        all.extend(
            std::fs::read(self.config_dir().join("batchwatch/state.db-wal")).unwrap_or_default(),
        );
        all
    }

    /// The IDs of the batches saved in the state database, in order, as a second reader sees
    /// them while the app runs (`None` before it exists).
    pub fn saved_batches(&self) -> Option<Vec<String>> {
        let db = self.open_state()?;
        let mut rows = db.prepare("SELECT id FROM batches ORDER BY seq").ok()?;
        let ids = rows
            .query_map([], |r| r.get::<_, String>(0))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        Some(ids)
    }

    /// The settings saved in the state database.
    pub fn saved_settings(&self) -> Option<serde_json::Value> {
        let db = self.open_state()?;
        let text: String = db
            .query_row("SELECT saved FROM settings", [], |r| r.get(0))
            .ok()?;
        serde_json::from_str(&text).ok()
    }

    fn open_state(&self) -> Option<rusqlite::Connection> {
        rusqlite::Connection::open_with_flags(
            self.state_file(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()
    }

    /// Everything the app writes as logs.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for dir in [
            self.home.path().join("data"),
            self.home.path().to_path_buf(),
        ] {
            for entry in walk(&dir) {
                if entry.extension().is_some_and(|e| e == "log") {
                    all.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
                }
            }
        }
        all
    }

    pub fn env(&self, command: &mut Command) {
        let home = self.home.path();
        let runtime = self.runtime_dir();
        let _ = std::fs::create_dir_all(&runtime);
        let _ = Command::new("chmod").arg("700").arg(&runtime).status();
        command
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("BATCHWATCH_API_BASE", self.sim.base_url())
            .env("BATCHWATCH_KEYCHAIN_SERVICE", &self.keychain_service)
            .env("BATCHWATCH_POLL_FLOOR_MS", FLOOR_MS.to_string())
            .env("BATCHWATCH_BUDGET_WINDOW_MS", WINDOW_MS.to_string())
            .env(
                "BATCHWATCH_REQUEST_TIMEOUT_MS",
                REQUEST_TIMEOUT_MS.to_string(),
            );
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
    }

    /// Runs `batchwatch-cli` in this test's world with `stdin` as its input; returns (status,
    /// stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut command = Command::new(cli_binary());
        command
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        self.env(&mut command);
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the app through tauri-driver and opens a WebDriver session on its window.
    pub fn open(&mut self, args: &[&str]) -> WebDriver {
        self.close_driver();
        let _ = std::fs::remove_file(self.exit_file());
        let (port, native_port) = two_free_ports();
        let log =
            std::fs::File::create(self.home.path().join(format!("driver-{port}.log"))).unwrap();
        let mut command = Command::new(tauri_driver());
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.env(&mut command);
        self.driver = Some(
            command
                .spawn()
                .expect("tauri-driver must be installed (scripts/test installs it)"),
        );
        crate::eventually("tauri-driver to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        // Once: every attempt launches the app, and a second launch is a second instance.
        WebDriver::start(port, self.wrapper().to_str().unwrap(), args)
            .unwrap_or_else(|e| panic!("no WebDriver session: {e}"))
    }

    /// Starts the app directly, without WebDriver (a second launch, say).
    pub fn launch(&mut self, args: &[&str]) -> &mut Child {
        self.launch_program(&app_binary(), args)
    }

    /// [`Self::launch`] for another build of the app (the packaged one).
    pub fn launch_program(&mut self, program: &Path, args: &[&str]) -> &mut Child {
        let log = std::fs::File::create(
            self.home
                .path()
                .join(format!("direct-{}.log", self.direct.len())),
        )
        .unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .arg(self.marker())
            .stdout(Stdio::null())
            .stderr(log);
        self.env(&mut command);
        self.direct.push(command.spawn().unwrap());
        self.direct.last_mut().unwrap()
    }

    /// The `n`-th app started with [`Self::launch`].
    pub fn direct(&mut self, n: usize) -> &mut Child {
        &mut self.direct[n]
    }

    /// The exit status the app (started through WebDriver) ended with, once it has ended.
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(self.exit_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn close_driver(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }

    fn keep_artifacts(&self) {
        let dir = crate::checkout().join("target/e2e").join(&self.name);
        let _ = std::fs::create_dir_all(&dir);
        let _ = Command::new("import")
            .args(["-window", "root"])
            .arg(dir.join("screen.png"))
            .status();
        let _ = std::fs::write(dir.join("app.log"), self.logs());
        eprintln!("artifacts of {} kept in {}", self.name, dir.display());
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep_artifacts();
        }
        self.close_driver();
        for child in &mut self.direct {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever the app left behind (a session ended by a failure) must not outlive the
        // test: a surviving resident would still hold the tray. Only this test's processes:
        // those whose command line names its own throw-away directory (its wrapper, its
        // windows, its resident — started with a socket under it — even orphaned), and
        // everything below them.
        let own = self.home.path().to_string_lossy().into_owned();
        crate::os::kill_process_tree_of(&own);
        crate::eventually("the app to be gone", Duration::from_secs(10), || {
            crate::os::process_tree_of(&own).is_empty().then_some(())
        });
        let _ = Command::new("secret-tool")
            .args([
                "clear",
                "service",
                &self.keychain_service,
                "username",
                "trillet",
            ])
            .status();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
