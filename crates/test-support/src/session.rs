//! The session's services as the tests read them from outside: whether a name is on the
//! session bus (`busctl`), what dunst showed (`dunstctl`), what the keychain holds
//! (`secret-tool`).

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// `busctl --user` with JSON output; `None` when the call fails.
pub fn busctl(args: &[&str]) -> Option<Value> {
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

/// Fails (never skips) outside a desktop session: these tests are the proof that the desktop
/// integration works, and a skipped proof is no proof.
pub fn require_session_service(name: &str) {
    assert!(
        name_has_owner(name),
        "{name} is not on the session bus: run the tests with scripts/test, which starts a desktop session"
    );
}

/// `dunstctl` with these arguments; its standard output.
pub fn dunstctl(args: &[&str]) -> String {
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

/// Every secret stored under `service` (one per workspace), as `secret-tool` reads them,
/// joined: what a test looks for a key or a workspace in.
pub fn keychain_secret(service: &str) -> String {
    keychain_accounts(service)
        .iter()
        .map(|account| keychain_secret_of(service, account))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The secret of one item under `service` (its `username` attribute), as `secret-tool` reads it.
pub fn keychain_secret_of(service: &str, account: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", account])
        .output()
        .expect("secret-tool must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `username` attribute of each item `secret-tool search` lists under `service`, sorted:
/// `trillet` for the item from before workspaces, `trillet/<workspace ID>` for each workspace.
pub fn keychain_accounts(service: &str) -> Vec<String> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool must be installed");
    // secret-tool prints the attributes on stdout or stderr depending on its version.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut accounts: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_owned)
        .collect();
    accounts.sort();
    accounts
}

/// Whether `secret-tool search` lists a Batchwatch item under `service`.
pub fn keychain_has_item(service: &str) -> bool {
    !keychain_accounts(service).is_empty()
}

/// Whether some process owns `name` on the session bus.
pub fn name_has_owner(name: &str) -> bool {
    busctl(&[
        "call",
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "NameHasOwner",
        "s",
        name,
    ])
    .is_some_and(|v| v["data"][0] == Value::Bool(true))
}
