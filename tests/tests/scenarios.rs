//! The product as a person uses it: the real `batchwatch` binary in the real desktop session,
//! its window driven through WebDriver, and every OS integration checked at the OS side —
//! the keychain with `secret-tool`, notifications in dunst, the tray over D-Bus — against a
//! Trillet simulator that counts what it receives.

use std::time::Duration;

use batchwatch_e2e::desktop::{Desktop, KEY, WORKSPACE};
use batchwatch_e2e::webdriver::WebDriver;
use batchwatch_e2e::{eventually, os};
use serde_json::json;
use trillet_sim::BatchScript;

const WAIT: Duration = Duration::from_secs(30);

/// Enters credentials the way a person does and waits for the confirmation.
fn save_credentials(window: &WebDriver, key: &str) {
    window.run("document.getElementById('credentials-panel').open = true;", json!([]));
    window.type_into("#api-key", key);
    window.run("document.getElementById('workspace-id').value = '';", json!([]));
    window.type_into("#workspace-id", WORKSPACE);
    window.click("#credentials-form button[type=submit]");
}

fn add_batches(window: &WebDriver, text: &str) {
    window.type_into("#add-input", text);
    window.click("#add-form button[type=submit]");
}

/// (id, percent text, counts text) of every card.
fn cards(window: &WebDriver) -> Vec<(String, String, String)> {
    let value = window.run(
        "return [...document.querySelectorAll('.card')].map(c => [c.querySelector('.id').textContent, c.querySelector('.percent').textContent, c.querySelector('.counts').textContent, c.dataset.state]);",
        json!([]),
    );
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |i: usize| c[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

fn card_state(window: &WebDriver, id: &str) -> String {
    window
        .run("const c = [...document.querySelectorAll('.card')].find(c => c.querySelector('.id').textContent === arguments[0]); return c ? c.dataset.state : '';", json!([id]))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn inputs_hold_key(window: &WebDriver) -> bool {
    window
        .run("return [...document.querySelectorAll('input')].some(i => i.value.includes(arguments[0]));", json!([KEY]))
        .as_bool()
        .unwrap_or(true)
}

#[test]
fn first_run_stores_credentials_in_the_keychain_only() {
    let mut desktop = Desktop::new("first_run");
    desktop.sim.control().add_batch(BatchScript::new(400).id("batch_first"));
    let window = desktop.open(&[]);

    // A new user is told what to do.
    let empty = eventually("the empty state", WAIT, || window.text("#empty h2").filter(|_| {
        window.run("return !document.getElementById('empty').hidden", json!([])).as_bool() == Some(true)
    }));
    assert_eq!(empty, "Nothing watched yet");
    assert!(window.text("#credentials-message").unwrap().contains("enter your Trillet API key"));

    save_credentials(&window, KEY);
    eventually("the keychain confirmation", WAIT, || {
        window.text("#credentials-message").filter(|m| m == "Stored in your keychain.")
    });
    assert!(os::keychain_has_item(&desktop.keychain_service), "secret-tool search finds the item");
    assert!(os::keychain_secret(&desktop.keychain_service).contains(KEY));
    assert!(!inputs_hold_key(&window), "the key field is emptied");

    add_batches(&window, "batch_first");
    eventually("progress from the simulator", WAIT, || {
        cards(&window).into_iter().find(|(id, percent, _)| id == "batch_first" && !percent.is_empty())
    });
    // Wait for the debounced save, then look for the key everywhere it must not be.
    eventually("the state file", WAIT, || std::fs::read_to_string(desktop.state_file()).ok().filter(|s| s.contains("batch_first")));
    let state = std::fs::read_to_string(desktop.state_file()).unwrap();
    assert!(!state.contains(KEY), "the key is in the state file");
    assert!(!desktop.logs().contains(KEY), "the key is in the log");
    assert!(!window.page_source().contains(KEY), "the key is in the page");
    assert!(!inputs_hold_key(&window));
    window.quit();
}
