//! Test support for the OS adapters: a D-Bus session bus with no services on it, and running
//! one test of this binary in a child process that uses that bus.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A private session bus with no services and no activation: nothing answers on it, as on a
/// desktop without a keychain or notification daemon.
pub use batchwatch_test_support::bus::PrivateBus as EmptyBus;

/// Runs the `#[ignore]`d test `name` of this test binary in a child process whose session bus
/// is `bus_address`, and returns what it printed.
pub fn run_child_test(name: &str, bus_address: &str) -> Output {
    let exe: PathBuf = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("BATCHWATCH_CHILD_TEST", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child test {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Child tests only make sense when their parent started them.
pub fn assert_child() {
    assert_eq!(
        std::env::var("BATCHWATCH_CHILD_TEST").as_deref(),
        Ok("1"),
        "this test is run by its parent test, in a session bus of its own"
    );
}

/// GNOME Keyring's Secret Service on `bus`, in a throw-away home and runtime folder of its own
/// (never the person's keyring), its login keyring unlocked with a password; stopped by PID.
pub struct KeyringOnBus {
    daemon: Child,
    _dir: tempfile::TempDir,
}

impl KeyringOnBus {
    pub fn start(bus: &EmptyBus) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "runtime"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("HOME", dir.path().join("home"))
            .env("XDG_DATA_HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", dir.path().join("runtime"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring must be installed (scripts/test installs it)");
        {
            use std::io::Write;
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(b"throw-away-password").unwrap();
        }
        // Waits (bounded) for the daemon to take its name, which is the condition, not a time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !bus_lists(&bus.address, "org.freedesktop.secrets") {
            assert!(
                std::time::Instant::now() < deadline,
                "gnome-keyring never took org.freedesktop.secrets on its bus"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { daemon, _dir: dir }
    }

    /// Locks its login keyring, as the desktop does after a timeout or on the screen lock.
    pub fn lock(&self, bus: &EmptyBus) {
        let out = Command::new("busctl")
            .args([
                &format!("--address={}", bus.address),
                "call",
                "org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service",
                "Lock",
                "ao",
                "1",
                "/org/freedesktop/secrets/collection/login",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for KeyringOnBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn bus_lists(address: &str, name: &str) -> bool {
    Command::new("busctl")
        .args([&format!("--address={address}"), "list", "--no-pager"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(name))
}
