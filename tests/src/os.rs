//! Reading the desktop from outside, as a person's desktop would: the tray over D-Bus
//! (StatusNotifierItem + dbusmenu, via `busctl`), notifications from dunst (`dunstctl`) and
//! the keychain (`secret-tool`).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// libayatana's object path for Batchwatch's tray item.
pub const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_batchwatch";

fn busctl(args: &[&str]) -> Option<Value> {
    let out = Command::new("busctl")
        .args(["--user", "--json=short", "--"])
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

pub fn require_session_service(name: &str) {
    let owned = busctl(&[
        "call",
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "NameHasOwner",
        "s",
        name,
    ]);
    assert_eq!(
        owned.map(|v| v["data"][0].clone()),
        Some(Value::Bool(true)),
        "{name} is not on the session bus: run the tests with scripts/test, which starts a desktop session"
    );
}

/// The bus name that serves Batchwatch's tray item, once it has registered with the watcher.
pub fn tray_service(timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let items = busctl(&[
            "get-property",
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ]);
        for item in items
            .as_ref()
            .and_then(|v| v["data"].as_array())
            .into_iter()
            .flatten()
        {
            let service = item
                .as_str()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if busctl(&[
                "get-property",
                &service,
                ITEM_PATH,
                "org.kde.StatusNotifierItem",
                "Id",
            ])
            .is_some()
            {
                return service;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Batchwatch's tray item never registered with the StatusNotifierWatcher"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A StatusNotifierItem property as a string (`XAyatanaLabel`, `IconName`, `Status`, …).
pub fn tray_property(service: &str, property: &str) -> String {
    busctl(&[
        "get-property",
        service,
        ITEM_PATH,
        "org.kde.StatusNotifierItem",
        property,
    ])
    .and_then(|v| v["data"].as_str().map(str::to_owned))
    .unwrap_or_default()
}

/// The tray menu as (id, label, enabled) rows, labels unescaped from dbusmenu's `__`.
pub fn tray_menu(service: &str) -> Vec<(i64, String, bool)> {
    let menu_path = format!("{ITEM_PATH}/Menu");
    let layout = busctl(&[
        "call",
        service,
        &menu_path,
        "com.canonical.dbusmenu",
        "GetLayout",
        "iias",
        "0",
        "-1",
        "0",
    ])
    .expect("the tray menu answers GetLayout");
    let root = &layout["data"][1];
    root[2]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|child| {
            let node = &child["data"];
            let props = &node[1];
            let label = props["label"]["data"].as_str()?;
            let enabled = props["enabled"]["data"].as_bool().unwrap_or(true);
            Some((node[0].as_i64()?, label.replace("__", "_"), enabled))
        })
        .collect()
}

/// Clicks a menu row, as a panel does when the user picks it.
pub fn click_menu(service: &str, id: i64) {
    let menu_path = format!("{ITEM_PATH}/Menu");
    let id = id.to_string();
    busctl(&[
        "call",
        service,
        &menu_path,
        "com.canonical.dbusmenu",
        "Event",
        "isvu",
        &id,
        "clicked",
        "s",
        "",
        "0",
    ]);
}

fn dunstctl(args: &[&str]) -> String {
    let out = Command::new("dunstctl")
        .args(args)
        .output()
        .expect("dunstctl must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn clear_notifications() {
    dunstctl(&["close-all"]);
    dunstctl(&["history-clear"]);
}

/// (appname, summary, body) of every notification dunst has shown (closing what is open).
pub fn notifications() -> Vec<(String, String, String)> {
    dunstctl(&["close-all"]);
    std::thread::sleep(Duration::from_millis(100));
    let json: Value = serde_json::from_str(&dunstctl(&["history"])).unwrap_or_default();
    json["data"][0]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let field = |k: &str| n[k]["data"].as_str().unwrap_or_default().to_owned();
            (field("appname"), field("summary"), field("body"))
        })
        .collect()
}

/// The secret stored under `service` (Batchwatch's account), as `secret-tool` reads it.
pub fn keychain_secret(service: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", "trillet"])
        .output()
        .expect("secret-tool must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `secret-tool search` lists an item under `service`.
pub fn keychain_has_item(service: &str) -> bool {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool must be installed");
    String::from_utf8_lossy(&out.stdout).contains("attribute.username = trillet")
        || String::from_utf8_lossy(&out.stderr).contains("attribute.username = trillet")
}

/// A private session bus with no services and no activation: nothing answers on it, as on a
/// desktop without a keychain or a notification daemon.
pub struct EmptyBus {
    daemon: std::process::Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl EmptyBus {
    pub fn start() -> Self {
        use std::io::BufRead;
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
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-daemon must be installed (scripts/test installs it)");
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap())
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

/// How many processes run whose command line contains `pattern`.
pub fn processes_matching(pattern: &str) -> usize {
    let out = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("pgrep must be installed");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Whether a mapped X window titled `title` exists on the display.
pub fn window_exists(title: &str) -> bool {
    let out = Command::new("xwininfo")
        .args(["-root", "-tree"])
        .output()
        .expect("xwininfo must be installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(&format!("\"{title}\"")))
}

/// Asks the window titled `title` to close, as a window manager's close button does.
pub fn close_window(title: &str) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lib/close-window.py");
    let status = Command::new(script)
        .arg(title)
        .status()
        .expect("close-window.py runs");
    assert!(status.success(), "no window titled {title}");
}
