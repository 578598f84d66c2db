//! The keychain adapter against the real Secret Service (gnome-keyring in the session that
//! `scripts/test` starts), proven from outside with `secret-tool`.

mod support;

use std::process::Command;

use batchwatch_core::secret_store::{KeychainError, KeyringStore, SecretStore};
use batchwatch_core::workspace::Workspace;
use batchwatch_core::Credentials;
use batchwatch_test_support::session::{
    keychain_accounts, keychain_has_item, keychain_secret_of, require_session_service,
};

fn workspace(key: &str, id: &str, label: Option<&str>, added_at_ms: u64) -> Workspace {
    Workspace::new(Credentials::new(key, id).unwrap(), label, added_at_ms).unwrap()
}

#[test]
fn one_item_per_workspace_read_back_from_another_process_removing_one_leaves_the_others() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.{}", std::process::id());
    let store = KeyringStore::new(&service, "trillet");
    assert_eq!(
        store.workspaces().unwrap(),
        vec![],
        "a new service starts empty"
    );

    let us = workspace("sk_test_keychain_secret_123", "ws_us", Some("Acme US"), 1);
    let eu = workspace("sk_test_keychain_secret_123", "ws_eu", Some("Acme EU"), 2);
    let globex = workspace("sk_test_other_key_456", "ws_globex", None, 3);
    for w in [&globex, &us, &eu] {
        store.save(w).unwrap();
    }

    // Another process sees one item per workspace, under the attributes we chose.
    assert_eq!(
        keychain_accounts(&service),
        ["trillet/ws_eu", "trillet/ws_globex", "trillet/ws_us"]
    );
    let secret = keychain_secret_of(&service, "trillet/ws_us");
    assert!(secret.contains("sk_test_keychain_secret_123"), "{secret}");
    assert!(secret.contains("Acme US"), "{secret}");
    assert!(!secret.contains("sk_test_other_key_456"), "{secret}");

    // A fresh store object (as a restarted app would make) reads them all, first stored first.
    assert_eq!(
        KeyringStore::new(&service, "trillet").workspaces().unwrap(),
        vec![us.clone(), eu.clone(), globex.clone()]
    );

    // Saving one again replaces it (a new label, a new key) and touches no other.
    let renamed = workspace("sk_test_new_key_789", "ws_eu", Some("Acme Europe"), 2);
    store.save(&renamed).unwrap();
    assert_eq!(keychain_accounts(&service).len(), 3);
    assert_eq!(
        store.workspaces().unwrap(),
        vec![us.clone(), renamed, globex.clone()]
    );

    store.delete(eu.id()).unwrap();
    assert_eq!(
        keychain_accounts(&service),
        ["trillet/ws_globex", "trillet/ws_us"]
    );
    assert_eq!(
        store.workspaces().unwrap(),
        vec![us.clone(), globex.clone()]
    );
    store.delete(eu.id()).expect("deleting twice is fine");
    store.delete(us.id()).unwrap();
    store.delete(globex.id()).unwrap();
    assert!(!keychain_has_item(&service), "no item is left behind");
}

/// The item written by a version before workspaces (and the one keyring 3 wrote, with its
/// `target` and `application` attributes) becomes the first workspace the first time the
/// items are read: an upgrade asks for nothing again, and the old item is gone.
#[test]
fn the_single_item_an_earlier_version_stored_becomes_the_first_workspace() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.upgrade.{}", std::process::id());
    let status = Command::new("sh")
        .args(["-c", &format!(
            "printf '%s' '{{\"apiKey\":\"sk_from_before\",\"workspaceId\":\"ws_before\"}}' | secret-tool store --label=\"Password for 'trillet' on '{service}'\" target default application rust-keyring service {service} username trillet"
        )])
        .status()
        .unwrap();
    assert!(status.success());
    // A workspace added by a newer Batchwatch meanwhile stays after the migrated one.
    let store = KeyringStore::new(&service, "trillet");
    let later = workspace("sk_later", "ws_later", Some("Later"), 5);
    store.save(&later).unwrap();

    let migrated = workspace("sk_from_before", "ws_before", None, 0);
    assert_eq!(
        store.workspaces().unwrap(),
        vec![migrated.clone(), later.clone()]
    );
    assert_eq!(
        keychain_accounts(&service),
        ["trillet/ws_before", "trillet/ws_later"],
        "the old item became a workspace's"
    );
    assert!(keychain_secret_of(&service, "trillet").is_empty());
    // Read again: the same, nothing moved twice.
    assert_eq!(
        store.workspaces().unwrap(),
        vec![migrated.clone(), later.clone()]
    );
    store.delete(migrated.id()).unwrap();
    store.delete(later.id()).unwrap();
    assert!(!keychain_has_item(&service), "no item is left behind");
}

/// An item that cannot be read (a foreign secret in our place, hand-edited) is named, never
/// hides the others, and is replaced by saving that workspace again or removed with the rest
/// by "Forget all" — also an unreadable item of an earlier version.
#[test]
fn an_unreadable_item_is_named_and_blocks_nothing() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.corrupt.{}", std::process::id());
    for account in ["trillet/ws_x", "trillet"] {
        let status = Command::new("sh")
            .args(["-c", &format!("printf 'not json' | secret-tool store --label=x service {service} username {account}")])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let store = KeyringStore::new(&service, "trillet");
    let good = workspace("sk_good", "ws_good", Some("Good"), 1);
    store.save(&good).unwrap();
    assert_eq!(store.workspaces().unwrap(), vec![good.clone()]);
    assert_eq!(store.contents().unwrap().1, ["trillet", "ws_x"]);

    let again = workspace("sk_again", "ws_x", None, 2);
    store.save(&again).unwrap();
    assert_eq!(store.workspaces().unwrap(), vec![good, again]);
    assert_eq!(store.contents().unwrap().1, ["trillet"]);

    store.delete_all().unwrap();
    assert!(!keychain_has_item(&service), "everything of ours is gone");
    assert_eq!(store.workspaces().unwrap(), vec![]);
}

#[test]
fn without_a_secret_service_the_error_says_so() {
    let bus = support::EmptyBus::start();
    let out = support::run_child_test("child_load_on_empty_bus", &bus.address);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("RESULT keychain_unavailable"), "{printed}");
}

#[test]
#[ignore = "run by without_a_secret_service_the_error_says_so on a bus of its own"]
fn child_load_on_empty_bus() {
    support::assert_child();
    let store = KeyringStore::new("dev.batchwatch.test.nobus", "trillet");
    let err = store
        .workspaces()
        .expect_err("no Secret Service is on this bus");
    assert!(
        err.to_string().contains("No keychain service is running"),
        "{err}"
    );
    // Saving must fail the same way: no silent success, no plaintext fallback.
    let ws = workspace("sk_x", "ws_x", None, 0);
    assert_eq!(store.save(&ws).unwrap_err(), err);
    println!("RESULT {}", err.code());
}

#[test]
fn without_any_session_bus_the_error_says_so() {
    // An address where no bus listens, as when Batchwatch runs outside a desktop session.
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus").display());
    let out = support::run_child_test("child_load_without_bus", &address);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("RESULT keychain_no_session_bus"),
        "{printed}"
    );
}

#[test]
#[ignore = "run by without_any_session_bus_the_error_says_so with no bus"]
fn child_load_without_bus() {
    support::assert_child();
    let err = KeyringStore::new("dev.batchwatch.test.nobus", "trillet")
        .workspaces()
        .unwrap_err();
    assert!(matches!(err, KeychainError::NoSessionBus(_)), "{err:?}");
    println!("RESULT {}", err.code());
}

#[test]
fn a_locked_keychain_is_said_so_at_once_and_nothing_is_stored_elsewhere() {
    let bus = support::EmptyBus::start();
    let keyring = support::KeyringOnBus::start(&bus);
    let stored = support::run_child_test("child_store_then_read_locked", &bus.address);
    assert!(
        String::from_utf8_lossy(&stored.stdout).contains("STORED"),
        "{}",
        String::from_utf8_lossy(&stored.stdout)
    );
    keyring.lock(&bus);
    let out = support::run_child_test("child_store_then_read_locked", &bus.address);
    let printed = String::from_utf8_lossy(&out.stdout);
    // No prompter on this bus: the unlock prompt is dismissed at once, never waited on.
    assert!(
        printed.contains("RESULT keychain_locked")
            || printed.contains("RESULT keychain_prompt_dismissed"),
        "{printed}"
    );
}

#[test]
#[ignore = "run by a_locked_keychain_is_said_so_at_once_and_nothing_is_stored_elsewhere"]
fn child_store_then_read_locked() {
    support::assert_child();
    let store = KeyringStore::new("dev.batchwatch.test.locked", "trillet");
    let ws = workspace("sk_locked_secret", "ws_locked", None, 0);
    match store.workspaces() {
        // The first run, unlocked: the item goes in and reads back.
        Ok(found) if found.is_empty() => {
            store.save(&ws).unwrap();
            assert_eq!(store.workspaces().unwrap(), vec![ws]);
            println!("STORED");
        }
        Ok(found) => panic!("the item was readable after the lock: {found:?}"),
        Err(e) => {
            assert!(
                e.may_pass(),
                "a locked keychain is worth asking again: {e:?}"
            );
            // Saving fails the same way: no silent success, no plaintext fallback.
            assert!(store.save(&ws).is_err());
            println!("RESULT {}", e.code());
        }
    }
}
