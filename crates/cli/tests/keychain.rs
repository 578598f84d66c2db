//! `batchwatch-cli credentials set|show|clear` against the real Secret Service (gnome-keyring in
//! the desktop session that `scripts/test` / `scripts/desktop-session` start), proven from a
//! second process with `secret-tool`, and `status` running on the stored credentials.
//!
//! Each test uses a keychain service name of its own (`BATCHWATCH_KEYCHAIN_SERVICE`), so a real
//! user's Batchwatch item is never read or replaced.

mod support;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{cli, run, run_with, sim, KEY, WORKSPACE};
use trillet_sim::BatchScript;

/// Fails (never skips) outside a desktop session: these tests are the proof that the keychain
/// works, and a skipped proof is no proof.
fn require_secret_service() {
    batchwatch_test_support::session::require_session_service("org.freedesktop.secrets");
}

/// A keychain service name no one else uses; its item is removed when the test ends, pass or fail.
struct Service(String);

impl Service {
    fn new(label: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Self(format!(
            "dev.batchwatch.cli-test.{label}.{}.{nanos}",
            std::process::id()
        ))
    }

    /// Every stored secret (one a workspace), read by another program.
    fn lookup(&self) -> String {
        batchwatch_test_support::session::keychain_secret(&self.0)
    }

    /// The items stored, by account (`trillet/<workspace ID>`), read by another program.
    fn accounts(&self) -> Vec<String> {
        batchwatch_test_support::session::keychain_accounts(&self.0)
    }

    /// The binary using this service, with no credentials in its environment.
    fn cli(&self, args: &[&str]) -> Command {
        let mut command = cli(args);
        command.env("BATCHWATCH_KEYCHAIN_SERVICE", &self.0);
        command
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("secret-tool")
            .args(["clear", "service", &self.0])
            .status();
    }
}

#[test]
fn set_show_use_and_clear_the_keychain_item() {
    require_secret_service();
    let service = Service::new("roundtrip");
    let sim = sim(1e-9);
    sim.control()
        .add_batch(BatchScript::new(10).id("batch_kc").finished());

    // Nothing stored yet: show says so, and status explains how to fix it.
    let out = run(service.cli(&["credentials", "show"]));
    out.assert_code(0);
    assert!(out.stdout.contains("No credentials are stored"), "{out:#?}");
    let mut status = service.cli(&["status", "batch_kc"]);
    status.env("BATCHWATCH_API_BASE", sim.base_url());
    run(status).assert_code(2).assert_error_line(
        "no credentials: run 'batchwatch-cli credentials set --workspace <ID>' or set TRILLET_API_KEY and TRILLET_WORKSPACE_ID",
    );

    // The key arrives on stdin, as from a password manager's pipe.
    let out = run_with(
        service.cli(&["credentials", "set", "--workspace", WORKSPACE]),
        &format!("{KEY}\n"),
        Duration::from_secs(20),
    );
    out.assert_code(0);
    assert_eq!(out.stdout, "Stored in your keychain.\n");

    // Another process finds the item where the tray app looks, holding both values.
    let secret = service.lookup();
    assert!(
        secret.contains(KEY) && secret.contains(WORKSPACE),
        "{secret:?}"
    );

    let out = run(service.cli(&["credentials", "show"]));
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("API key: stored in your keychain (not shown)"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains(&format!("Workspace ID: {WORKSPACE}")),
        "{out:#?}"
    );

    // status runs on the keychain's credentials alone.
    let mut status = service.cli(&["status", "batch_kc"]);
    status.env("BATCHWATCH_API_BASE", sim.base_url());
    let out = run(status);
    out.assert_code(0);
    assert!(out.stdout.starts_with("batch_kc  completed"), "{out:#?}");

    // Environment credentials take precedence, and show says so.
    let mut show = service.cli(&["credentials", "show"]);
    show.env("TRILLET_API_KEY", "sk_other_env_key_7")
        .env("TRILLET_WORKSPACE_ID", "ws_env");
    let out = run(show);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("API key: from TRILLET_API_KEY (not shown)"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("Workspace ID: ws_env"), "{out:#?}");
    assert!(!out.stdout.contains("sk_other_env_key_7"), "{out:#?}");

    let out = run(service.cli(&["credentials", "clear"]));
    out.assert_code(0);
    assert_eq!(out.stdout, "Removed from your keychain.\n");
    assert_eq!(service.lookup(), "", "the item is gone for every process");
    // Clearing again is not an error.
    run(service.cli(&["credentials", "clear"])).assert_code(0);
}

#[test]
fn set_refuses_bad_input_without_storing_anything() {
    require_secret_service();
    let service = Service::new("refusals");
    let limit = Duration::from_secs(20);

    let out = run_with(
        service.cli(&["credentials", "set"]),
        &format!("{KEY}\n"),
        limit,
    );
    out.assert_code(2)
        .assert_error_line("--workspace <ID> is needed");

    let out = run_with(
        service.cli(&["credentials", "set", "--workspace", WORKSPACE]),
        "sk with spaces\n",
        limit,
    );
    out.assert_code(2)
        .assert_error_line("the API key contains spaces");
    assert!(!out.stderr.contains("sk with spaces"), "{out:#?}");

    let out = run_with(
        service.cli(&["credentials", "set", "--workspace", WORKSPACE]),
        "",
        limit,
    );
    out.assert_code(2).assert_error_line("no API key on stdin");

    assert_eq!(service.lookup(), "", "nothing was stored");
}
