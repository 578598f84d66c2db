//! Reading the desktop from outside, as a person's desktop would: the tray over D-Bus
//! (StatusNotifierItem + dbusmenu, via `busctl`), windows, the clipboard and processes; the
//! session's services (dunst, the keychain) through `batchwatch-test-support`.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use batchwatch_test_support::session::{busctl, name_has_owner};
pub use batchwatch_test_support::session::{
    clear_notifications, keychain_accounts, keychain_has_item, keychain_secret, notifications,
    require_session_service,
};

/// Where Batchwatch's tray item and its menu are served (the StatusNotifierItem default path).
pub const ITEM_PATH: &str = "/StatusNotifierItem";
pub const MENU_PATH: &str = "/MenuBar";

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

/// The tray icon's pixels as the panel reads them (`IconPixmap`, as JSON).
pub fn tray_icon_pixmap(service: &str) -> Value {
    busctl(&[
        "get-property",
        service,
        ITEM_PATH,
        "org.kde.StatusNotifierItem",
        "IconPixmap",
    ])
    .map(|v| v["data"].clone())
    .unwrap_or_default()
}

/// The top-level rows of the tray menu as dbusmenu lays them out: `[id, {property: value}, …]`.
fn menu_rows(service: &str) -> Vec<Value> {
    let layout = busctl(&[
        "call",
        service,
        MENU_PATH,
        "com.canonical.dbusmenu",
        "GetLayout",
        "iias",
        "0",
        "-1",
        "0",
    ])
    .expect("the tray menu answers GetLayout");
    layout["data"][1][2]
        .as_array()
        .into_iter()
        .flatten()
        .map(|child| child["data"].clone())
        .collect()
}

/// A row's label, unescaped from dbusmenu's `__`.
fn row_label(row: &Value) -> Option<String> {
    Some(row[1]["label"]["data"].as_str()?.replace("__", "_"))
}

/// The tray menu as (id, label, enabled) rows.
pub fn tray_menu(service: &str) -> Vec<(i64, String, bool)> {
    menu_rows(service)
        .iter()
        .filter_map(|row| {
            let enabled = row[1]["enabled"]["data"].as_bool().unwrap_or(true);
            Some((row[0].as_i64()?, row_label(row)?, enabled))
        })
        .collect()
}

/// Whether the check item labelled `label` is checked (dbusmenu's `toggle-state`).
/// The labels of the tray menu's rows.
pub fn tray_rows(service: &str) -> Vec<String> {
    tray_menu(service).into_iter().map(|(_, l, _)| l).collect()
}

pub fn menu_item_checked(service: &str, label: &str) -> bool {
    menu_rows(service)
        .iter()
        .find(|row| row_label(row).as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no tray menu row {label:?}"))[1]["toggle-state"]["data"]
        .as_i64()
        == Some(1)
}

/// Clicks the menu row labelled `label`, as a panel does when the user picks it.
pub fn click_menu_item(service: &str, label: &str) {
    let id = tray_menu(service)
        .into_iter()
        .find(|(_, l, _)| l == label)
        .unwrap_or_else(|| panic!("no tray menu row {label:?}"))
        .0;
    click_menu(service, id);
}

/// Clicks a menu row, as a panel does when the user picks it.
pub fn click_menu(service: &str, id: i64) {
    let id = id.to_string();
    busctl(&[
        "call",
        service,
        MENU_PATH,
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

/// The text on the desktop's clipboard (the X11 CLIPBOARD selection), as `xclip` reads it.
pub fn clipboard() -> Option<String> {
    let out = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip must be installed (scripts/test installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The processes whose command line contains `pattern`, and every process below them: with a
/// pattern naming a test's own throw-away path (its launch wrapper), what that test started,
/// never a person's own keyring, notification daemon or Batchwatch. Read from `/proc/*/cmdline`
/// and `/proc/*/stat`, which stay readable for processes that turned off dumping.
pub fn process_tree_of(pattern: &str) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    let mut roots = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if pid != std::process::id() && cmdline.contains(pattern) {
            roots.push(pid);
        }
        // The parent is the 4th field, after the command name in parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut tree = roots;
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for (pid, ppid) in &parents {
            if *ppid == parent && !tree.contains(pid) {
                tree.push(*pid);
            }
        }
        i += 1;
    }
    tree
}

/// Stops (SIGKILL) the [`process_tree_of`] `pattern`, children before their parents; returns
/// how many.
pub fn kill_process_tree_of(pattern: &str) -> usize {
    let tree = process_tree_of(pattern);
    for pid in tree.iter().rev() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
    tree.len()
}

/// The PID of the process that owns `name` on this session's bus — the private bus
/// `scripts/desktop-session` made, so the owner is a daemon it started.
pub fn bus_name_owner_pid(name: &str) -> Option<u32> {
    busctl(&[
        "call",
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "GetConnectionUnixProcessID",
        "s",
        name,
    ])
    .and_then(|v| v["data"][0].as_u64())
    .and_then(|pid| u32::try_from(pid).ok())
}

/// A `pgrep -f` pattern for processes running `program` itself: its path is the first word
/// (`…/batchwatch` must not match `…/batchwatch-resident`).
fn program_pattern(program: &str) -> String {
    format!("^{program}( |$)")
}

/// The processes running `program` (its path the first word of their command line) that this
/// session's tests started: their command line names the session's HOME (the launch marker
/// or the socket of a test's throw-away folder, made below it — `scripts/desktop-session`
/// sets TMPDIR so). A person's own Batchwatch, or another checkout's test run from the same
/// build folder, is never counted, closed or killed.
pub fn pids_running(program: &str) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", &program_pattern(program)])
        .output()
        .expect("pgrep must be installed");
    let home = session_setting("HOME");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&home)
        })
        .collect()
}

/// How many processes run `program`.
pub fn processes_running(program: &str) -> usize {
    pids_running(program).len()
}

/// The processes named `name` (as `/proc/<pid>/comm` has it, 15 characters at most) below
/// the processes running the program `parent`: the app's own WebKit processes, not those
/// another test's app may still be winding down.
pub fn descendants_named(parent: &str, name: &str) -> Vec<u32> {
    fn pids(args: &[&str]) -> Vec<String> {
        let out = Command::new("pgrep")
            .args(args)
            .output()
            .expect("pgrep must be installed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
    let mut stack: Vec<String> = pids_running(parent).iter().map(u32::to_string).collect();
    let mut found = Vec::new();
    while let Some(pid) = stack.pop() {
        for child in pids(&["-P", &pid]) {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if name.starts_with(comm.trim()) && !comm.trim().is_empty() {
                found.extend(child.parse::<u32>().ok());
            }
            stack.push(child);
        }
    }
    found
}

/// Whether process `pid` still exists.
pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a mapped X window titled `title` of the process running the program `owner`
/// exists on the display.
pub fn window_exists(title: &str, owner: &str) -> bool {
    x_window("shown", title, owner)
}

/// Asks that window to close, as a window manager's close button does: once. The request has
/// reached the X server when this returns (x-window.py waits for it; see its `close`).
pub fn close_window(title: &str, owner: &str) {
    assert!(x_window("close", title, owner), "no window titled {title}");
}

/// Presses `key` (an X keysym name: "Return", "Escape") on the keyboard with that window
/// focused, as a person answers a dialog. `false` when no such window is shown.
pub fn press_key(title: &str, owner: &str, key: &str) -> bool {
    x_window_command("press", title, owner)
        .arg(key)
        .status()
        .expect("x-window.py runs")
        .success()
}

/// Types `text` (letters, digits, `. - _ /`) into that window as a person types it. `false`
/// when no such window is shown.
pub fn type_text(title: &str, owner: &str, text: &str) -> bool {
    x_window_command("type", title, owner)
        .arg(text)
        .status()
        .expect("x-window.py runs")
        .success()
}

/// Drops the file at `path` on the middle of that window as a file manager does (XDND).
/// `false` when the window is not shown or did not take it.
pub fn drop_file(title: &str, owner: &str, path: &std::path::Path) -> bool {
    x_window_command("drop", title, owner)
        .arg(path)
        .status()
        .expect("x-window.py runs")
        .success()
}

/// The WM_CLASS (instance, class) of that process's window titled `title`, once it has one.
pub fn window_class(title: &str, owner: &str) -> Option<(String, String)> {
    let out = x_window_command("class", title, owner).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    Some((lines.next()?.to_owned(), lines.next()?.to_owned())).filter(|_| out.status.success())
}

fn x_window(action: &str, title: &str, owner: &str) -> bool {
    x_window_command(action, title, owner)
        .status()
        .expect("x-window.py runs")
        .success()
}

fn x_window_command(action: &str, title: &str, owner: &str) -> Command {
    let script = crate::checkout().join("scripts/lib/x-window.py");
    // Only a window of this session's own app: never a person's open Batchwatch.
    let pid = pids_running(owner)
        .first()
        .map_or_else(|| "0".to_owned(), u32::to_string);
    let mut command = Command::new(script);
    command.args([action, title, &pid]);
    command
}

fn session_setting(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with scripts/test"))
}

/// While alive, the session has no Secret Service and no notification daemon, as on a desktop
/// without them; dropping it starts both again the way `scripts/desktop-session` did.
pub struct WithoutKeychainAndNotifications;

impl WithoutKeychainAndNotifications {
    pub fn start() -> Self {
        // Only inside the private session scripts/test makes (this panics elsewhere): the
        // names below are then owned by its own daemons, stopped by the PID that owns each on
        // that bus — never a person's keyring or notification daemon, which live on theirs.
        session_setting("BATCHWATCH_SESSION_DUNSTRC");
        for name in ["org.freedesktop.secrets", "org.freedesktop.Notifications"] {
            if let Some(pid) = bus_name_owner_pid(name) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        crate::eventually(
            "the keychain and dunst to leave the bus",
            Duration::from_secs(10),
            || {
                (!name_has_owner("org.freedesktop.secrets")
                    && !name_has_owner("org.freedesktop.Notifications"))
                .then_some(())
            },
        );
        Self
    }
}

impl Drop for WithoutKeychainAndNotifications {
    fn drop(&mut self) {
        use std::io::Write;
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon must be installed");
        let password = session_setting("BATCHWATCH_SESSION_KEYRING_PASSWORD");
        let _ = keyring.stdin.take().unwrap().write_all(password.as_bytes());
        let _ = keyring.wait();
        let dunstrc = session_setting("BATCHWATCH_SESSION_DUNSTRC");
        let _ = Command::new("dunst")
            .args(["-config", &dunstrc])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        crate::eventually(
            "the keychain and dunst to come back",
            Duration::from_secs(10),
            || {
                (name_has_owner("org.freedesktop.secrets")
                    && name_has_owner("org.freedesktop.Notifications"))
                .then_some(())
            },
        );
    }
}
