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

/// Several workspaces, each its own keychain item: set one by one (labels kept), listed by
/// `show` without a key, named with `--workspace` (a command without it is refused, naming
/// them, since no terminal can be asked here), asked with the named one's own pair, and
/// removed one at a time.
#[test]
fn several_workspaces_are_stored_named_and_removed_one_at_a_time() {
    require_secret_service();
    let service = Service::new("workspaces");
    const OTHER_KEY: &str = "sk_cli_other_workspace_key_5";
    let sim = sim(1e-9);
    sim.control().add_key(OTHER_KEY, "ws_other");
    sim.control()
        .add_batch(BatchScript::new(10).id("batch_kc").finished());
    let limit = Duration::from_secs(20);

    run_with(
        service.cli(&[
            "credentials",
            "set",
            "--workspace",
            WORKSPACE,
            "--label",
            "Acme US",
        ]),
        &format!("{KEY}\n"),
        limit,
    )
    .assert_code(0);
    run_with(
        service.cli(&["credentials", "set", "--workspace", "ws_other"]),
        &format!("{OTHER_KEY}\n"),
        limit,
    )
    .assert_code(0);
    assert_eq!(
        service.accounts(),
        [
            format!("trillet/{WORKSPACE}"),
            "trillet/ws_other".to_owned()
        ],
        "one item per workspace"
    );

    let out = run(service.cli(&["credentials", "show"]));
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!(
            "Workspace ID: {WORKSPACE}\n  Label: Acme US\n  API key: stored in your keychain (not shown)\n\
             Workspace ID: ws_other\n  Label: ws_other\n  API key: stored in your keychain (not shown)\n"
        )
    );

    let status = |args: &[&str]| {
        let mut command = service.cli(args);
        command.env("BATCHWATCH_API_BASE", sim.base_url());
        run(command)
    };
    status(&["status", "batch_kc"])
        .assert_code(2)
        .assert_error_line(&format!(
        "several workspaces are stored; name one with --workspace: {WORKSPACE} (Acme US), ws_other"
    ));
    assert!(sim.control().requests().is_empty(), "nothing was asked");
    status(&["status", "batch_kc", "--workspace", "ws_other"]).assert_code(0);
    let asked = sim.control().requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].api_key.as_deref(), Some(OTHER_KEY));
    assert_eq!(asked[0].workspace_id.as_deref(), Some("ws_other"));
    status(&["status", "batch_kc", "--workspace", "ws_nope"])
        .assert_code(2)
        .assert_error_line("no workspace \"ws_nope\" is stored");

    // Set again without a label: a new key, the same label and place.
    run_with(
        service.cli(&["credentials", "set", "--workspace", WORKSPACE]),
        &format!("{KEY}\n"),
        limit,
    )
    .assert_code(0);
    assert_eq!(service.accounts().len(), 2);
    assert!(run(service.cli(&["credentials", "show"]))
        .stdout
        .starts_with(&format!("Workspace ID: {WORKSPACE}\n  Label: Acme US\n")));

    // Clearing needs a name while several are stored; removing one leaves the other.
    run(service.cli(&["credentials", "clear"]))
        .assert_code(2)
        .assert_error_line("name one with --workspace");
    run(service.cli(&["credentials", "clear", "--workspace", WORKSPACE])).assert_code(0);
    assert_eq!(service.accounts(), ["trillet/ws_other"]);
    assert!(!service.lookup().contains(KEY));
    // With one left, a command needs no name.
    status(&["status", "batch_kc"]).assert_code(0);
}
