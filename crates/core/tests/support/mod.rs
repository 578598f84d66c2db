//! Test support for the OS adapters: a D-Bus session bus with no services on it, and running
//! one test of this binary in a child process that uses that bus.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A private session bus with no services and no activation: nothing answers on it, as on a
/// desktop without a keychain or notification daemon.
pub struct EmptyBus {
    daemon: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl EmptyBus {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bus.conf");
        // No <servicedir>: a call to an absent name fails at once instead of auto-starting
        // the keyring or dunst.
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <policy context="default"><allow send_destination="*"/><allow own="*"/><allow receive_sender="*"/></policy>
</busconfig>"#,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon must be installed (scripts/test installs it)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}"
        );
        Self {
            daemon,
            address: address.trim().to_owned(),
            _dir: dir,
        }
    }
}

impl Drop for EmptyBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

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
