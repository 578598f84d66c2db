//! The keychain adapter against the real Secret Service (gnome-keyring in the session that
//! `scripts/test` starts), proven from outside with `secret-tool`.

mod support;

use std::process::Command;

use batchwatch_core::secret_store::{KeychainError, KeyringStore, SecretStore};
use batchwatch_core::Credentials;
use batchwatch_test_support::session::{
    keychain_has_item, keychain_secret, require_session_service,
};

#[test]
fn stores_reads_back_from_another_process_and_deletes() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.{}", std::process::id());
    let store = KeyringStore::new(&service, "trillet");
    let creds = Credentials::new("sk_test_keychain_secret_123", "ws_keychain").unwrap();

    assert_eq!(store.load().unwrap(), None, "a new service starts empty");
    store.save(&creds).unwrap();

    // Another process sees the item in the Secret Service, under the attributes we chose.
    assert!(
        keychain_has_item(&service),
        "secret-tool search finds the item"
    );
    let secret = keychain_secret(&service);
    assert!(secret.contains("sk_test_keychain_secret_123"), "{secret}");
    assert!(secret.contains("ws_keychain"), "{secret}");

    // A fresh store object (as a restarted app would make) reads the same credentials.
    assert_eq!(
        KeyringStore::new(&service, "trillet").load().unwrap(),
        Some(creds)
    );

    store.delete().unwrap();
    assert_eq!(keychain_secret(&service), "");
    assert_eq!(store.load().unwrap(), None);
    store.delete().expect("deleting twice is fine");
}

/// An item written by an earlier Batchwatch (keyring 3, with its `target` and `application`
/// attributes) is read as it is: an upgrade asks for nothing again.
#[test]
fn the_item_an_earlier_version_stored_is_read_after_the_upgrade() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.upgrade.{}", std::process::id());
    let status = Command::new("sh")
        .args(["-c", &format!(
            "printf '%s' '{{\"apiKey\":\"sk_from_before\",\"workspaceId\":\"ws_before\"}}' | secret-tool store --label=\"Password for 'trillet' on '{service}'\" target default application rust-keyring service {service} username trillet"
        )])
        .status()
        .unwrap();
    assert!(status.success());
    let store = KeyringStore::new(&service, "trillet");
    assert_eq!(
        store.load().unwrap(),
        Some(Credentials::new("sk_from_before", "ws_before").unwrap())
    );
    // Saving again replaces that item rather than adding a second beside it.
    let creds = Credentials::new("sk_after", "ws_before").unwrap();
    store.save(&creds).unwrap();
    assert_eq!(store.load().unwrap(), Some(creds));
    store.delete().unwrap();
    assert!(!keychain_has_item(&service), "no item is left behind");
}

#[test]
fn a_foreign_secret_in_our_item_is_reported_corrupt() {
    require_session_service("org.freedesktop.secrets");
    let service = format!("dev.batchwatch.test.corrupt.{}", std::process::id());
    let status = Command::new("sh")
        .args(["-c", &format!("printf 'not json' | secret-tool store --label=x service {service} username trillet")])
        .status()
        .unwrap();
    assert!(status.success());
    let store = KeyringStore::new(&service, "trillet");
    assert_eq!(store.load(), Err(KeychainError::Corrupt));
    store.delete().unwrap();
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
    let err = store.load().expect_err("no Secret Service is on this bus");
    assert!(
        err.to_string().contains("No keychain service is running"),
        "{err}"
    );
    // Saving must fail the same way: no silent success, no plaintext fallback.
    let creds = Credentials::new("sk_x", "ws_x").unwrap();
    assert_eq!(store.save(&creds).unwrap_err(), err);
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
        .load()
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
    let creds = Credentials::new("sk_locked_secret", "ws_locked").unwrap();
    match store.load() {
        // The first run, unlocked: the item goes in and reads back.
        Ok(None) => {
            store.save(&creds).unwrap();
            assert_eq!(store.load().unwrap(), Some(creds));
            println!("STORED");
        }
        Ok(found) => panic!("the item was readable after the lock: {found:?}"),
        Err(e) => {
            assert!(
                e.may_pass(),
                "a locked keychain is worth asking again: {e:?}"
            );
            // Saving fails the same way: no silent success, no plaintext fallback.
            assert!(store.save(&creds).is_err());
            println!("RESULT {}", e.code());
        }
    }
}
