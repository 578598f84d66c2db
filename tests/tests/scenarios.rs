//! The product as a person uses it: the real `batchwatch` binary in the real desktop session,
//! its window driven through WebDriver, and every OS integration checked at the OS side —
//! the keychain with `secret-tool`, notifications in dunst, the tray over D-Bus — against a
//! Trillet simulator that counts what it receives.

use std::time::Duration;

use batchwatch_e2e::desktop::{Desktop, KEY, WORKSPACE};
use batchwatch_e2e::webdriver::WebDriver;
use batchwatch_e2e::window::{card_state, in_card, open_settings, retype, save_credentials};
use batchwatch_e2e::{eventually, os};
use batchwatch_test_support::net::PostReceiver;
use serde_json::json;
use trillet_sim::BatchScript;

const WAIT: Duration = Duration::from_secs(30);

fn add_batches(window: &WebDriver, text: &str) {
    window.type_into("#add-input", text);
    window.click("#add-form button[type=submit]");
}

/// How long a short batch waits in the queue: about 4 real seconds, so the app has surely
/// seen it unfinished before it finishes (a batch first seen finished is never announced).
const QUEUED: Duration = Duration::from_secs(60);

/// A 20-call batch that runs in two waves of 10 calls of `call_secs` simulated seconds each.
fn two_waves(id: &str, call_secs: u64) -> BatchScript {
    BatchScript::new(20)
        .id(id)
        .concurrency(10)
        .call_duration(Duration::from_secs(call_secs))
}

/// Opens the window, enters the credentials and adds `ids`, as a person would, then waits
/// until every card shows progress from the simulator.
fn watching(desktop: &mut Desktop, ids: &[&str]) -> WebDriver {
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    add_batches(&window, &ids.join(" "));
    eventually("progress on every card", WAIT, || {
        Some(cards(&window))
            .filter(|c| c.len() == ids.len() && c.iter().all(|(_, p, _)| !p.is_empty()))
    });
    window
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

/// Whether the keychain's "Try again" button is hidden (`None`: no such button).
fn keychain_retry_hidden(window: &WebDriver) -> Option<bool> {
    window
        .run(
            "return document.getElementById('keychain-retry').hidden;",
            json!([]),
        )
        .as_bool()
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
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(400).id("batch_first"));
    let window = desktop.open(&[]);

    // A new user is told what to do.
    let empty = eventually("the empty state", WAIT, || {
        window.text("#empty h2").filter(|_| {
            window
                .run("return !document.getElementById('empty').hidden", json!([]))
                .as_bool()
                == Some(true)
        })
    });
    assert_eq!(empty, "Nothing watched yet");
    // Once the keychain has answered (read off the main thread at start): nothing stored.
    eventually("the first-run instructions", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m.contains("enter your Trillet API key"))
    });

    save_credentials(&window, KEY);
    eventually("the keychain confirmation", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m == "Stored in your keychain.")
    });
    assert!(
        os::keychain_has_item(&desktop.keychain_service),
        "secret-tool search finds the item"
    );
    assert!(os::keychain_secret(&desktop.keychain_service).contains(KEY));
    assert!(!inputs_hold_key(&window), "the key field is emptied");

    add_batches(&window, "batch_first");
    eventually("progress from the simulator", WAIT, || {
        cards(&window)
            .into_iter()
            .find(|(id, percent, _)| id == "batch_first" && !percent.is_empty())
    });
    // Wait for the debounced save, then look for the key everywhere it must not be.
    eventually("the state file", WAIT, || {
        desktop
            .saved_batches()
            .filter(|ids| ids.iter().any(|id| id == "batch_first"))
    });
    let state = String::from_utf8_lossy(&desktop.state_bytes()).into_owned();
    assert!(
        state.contains("batch_first"),
        "the bytes searched are the state's"
    );
    assert!(!state.contains(KEY), "the key is in the state file");
    assert!(!desktop.logs().contains(KEY), "the key is in the log");
    assert!(
        !window.page_source().contains(KEY),
        "the key is in the page"
    );
    assert!(!inputs_hold_key(&window));
    window.quit();
}

#[test]
fn pasted_batches_show_in_the_window_and_the_tray_alike() {
    let mut desktop = Desktop::new("paste");
    for id in ["batch_p1", "batch_p2"] {
        desktop
            .sim
            .control()
            .add_batch(BatchScript::new(3000).id(id));
    }
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    eventually("stored", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m == "Stored in your keychain.")
    });

    add_batches(
        &window,
        "batch_p1, https://app.trillet.ai/batch-calls/batch_p2/status junk!",
    );
    let feedback = eventually("feedback", WAIT, || {
        Some(window.texts("#add-feedback li")).filter(|f| f.len() == 2)
    });
    assert_eq!(feedback[0], "Watching batch_p1, batch_p2.");
    assert!(
        feedback[1].starts_with("“junk!” was not added: not a batch ID"),
        "{feedback:?}"
    );
    assert_eq!(
        window.value("#add-input").as_deref(),
        Some("junk!"),
        "the refused token stays to be fixed"
    );
    eventually("two cards with progress", WAIT, || {
        let c = cards(&window);
        (c.len() == 2
            && c.iter()
                .all(|(_, percent, counts)| !percent.is_empty() && counts.contains(" of 3000")))
        .then_some(())
    });

    // The tray says what the window says: its label, and a row per batch with the card's figures.
    let service = os::tray_service(WAIT);
    eventually("the tray to match the window", WAIT, || {
        let label = os::tray_property(&service, "XAyatanaLabel");
        let summary = window.text("#summary")?;
        let menu = os::tray_menu(&service);
        let rows_match = cards(&window).iter().all(|(id, percent, _)| {
            menu.iter().any(|(_, row, enabled)| {
                !enabled && row.starts_with(&format!("{id} — {percent} ("))
            })
        });
        (label == summary && label.contains("2 running") && rows_match).then_some(())
    });
    window.quit();
}

#[test]
fn a_completion_is_notified_once_and_polling_stops() {
    let mut desktop = Desktop::new("completion");
    // 20 calls, 10 at a time, 10 s each: done in about 20 simulated seconds.
    desktop.sim.control().add_batch(
        two_waves("batch_soon", 10)
            .failure_rate(0.1)
            .start_delay(QUEUED),
    );
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_long"));
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    add_batches(&window, "batch_soon batch_long");

    let notified = eventually(
        "the completion notification",
        Duration::from_secs(60),
        || {
            let seen: Vec<_> = os::notifications()
                .into_iter()
                .filter(|(_, s, _)| s == "Batch batch_soon completed")
                .collect();
            (!seen.is_empty()).then_some(seen)
        },
    );
    let (app, _, body) = &notified[0];
    assert_eq!(app, "Batchwatch");
    assert!(
        body.contains(" completed, ") && body.contains(" failed in "),
        "{body}"
    );
    eventually("the card to say completed", WAIT, || {
        (card_state(&window, "batch_soon") == "completed").then_some(())
    });
    let service = os::tray_service(WAIT);
    assert!(os::tray_menu(&service)
        .iter()
        .any(|(_, row, _)| row == "✓ batch_soon done"));

    let requests = desktop.sim.control().request_count("batch_soon");
    let long_before = desktop.sim.control().request_count("batch_long");
    // The other batch asked three more times: the finished one had as many chances.
    eventually("three more polls of the other batch", WAIT, || {
        (desktop.sim.control().request_count("batch_long") >= long_before + 3).then_some(())
    });
    assert_eq!(
        desktop.sim.control().request_count("batch_soon"),
        requests,
        "no request after the finish"
    );
    let all: Vec<_> = os::notifications()
        .into_iter()
        .filter(|(_, s, _)| s.contains("batch_soon"))
        .collect();
    assert_eq!(all.len(), 1, "notified more than once: {all:?}");

    // The running batch's card plots its throughput (a bar per sampled minute; a "minute" is
    // the budget window, 4 s here).
    eventually("the running batch's throughput plot", WAIT, || {
        let bars = window.run(
            "const c = [...document.querySelectorAll('.card')].find(c => c.querySelector('.id').textContent === 'batch_long'); return c ? c.querySelectorAll('.plot rect.completed').length : 0;",
            json!([]),
        );
        (bars.as_u64().unwrap_or(0) >= 1).then_some(())
    });

    // The finished batch sits in the "Finished" section, the running one above it.
    let section = |id: &str| {
        window
            .run(
                "const c = [...document.querySelectorAll('.card')].find(c => c.querySelector('.id').textContent === arguments[0]); return c ? c.parentElement.id : null;",
                json!([id]),
            )
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(section("batch_soon").as_deref(), Some("finished-cards"));
    assert_eq!(section("batch_long").as_deref(), Some("cards"));
    // "Clear finished" takes it off the window; the record keeps it.
    window.click("#clear-finished");
    eventually("the finished card to go", WAIT, || {
        section("batch_soon").is_none().then_some(())
    });
    assert_eq!(section("batch_long").as_deref(), Some("cards"));
    let history = std::process::Command::new(batchwatch_e2e::desktop::cli_binary())
        .arg("history")
        .env("XDG_CONFIG_HOME", desktop.config_dir())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&history.stdout);
    assert!(history.status.success(), "{listed}");
    assert!(
        listed.starts_with("batch_soon ")
            && listed.contains("completed")
            && !listed.contains("batch_long"),
        "{listed}"
    );
    window.quit();
}

#[test]
fn a_restart_keeps_batches_and_announces_each_finish_once() {
    let mut desktop = Desktop::new("restart");
    let control = desktop.sim.control();
    control.add_batch(two_waves("batch_early", 10).start_delay(QUEUED));
    control.add_batch(BatchScript::new(3000).id("batch_away"));
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    add_batches(&window, "batch_early batch_away");
    eventually("the first finish", Duration::from_secs(60), || {
        os::notifications()
            .into_iter()
            .find(|(_, s, _)| s == "Batch batch_early completed")
    });

    // Quit from the tray menu, as a person does.
    let service = os::tray_service(WAIT);
    os::click_menu_item(&service, "Quit Batchwatch");
    assert_eq!(
        eventually("the app to exit", WAIT, || desktop.exit_status()),
        0
    );
    drop(window);

    // While it is stopped, the other batch finishes.
    control.finish_batch("batch_away");
    let requests_before = control.requests().len();
    let window = desktop.open(&[]);
    // At once, from the state file: both cards, with their last progress.
    let restored = eventually("restored cards", Duration::from_secs(10), || {
        Some(cards(&window)).filter(|c| c.len() == 2)
    });
    assert!(
        restored.iter().all(|(_, percent, _)| !percent.is_empty()),
        "{restored:?}"
    );
    eventually(
        "the finish that happened while away",
        Duration::from_secs(30),
        || {
            os::notifications()
                .into_iter()
                .find(|(_, s, _)| s == "Batch batch_away completed")
        },
    );
    // The card shows the poll that announced it: its finish event went out in the same turn.
    // A second announcement would need another poll, and the settled batches get none (below).
    eventually("the card to say completed", WAIT, || {
        (card_state(&window, "batch_away") == "completed").then_some(())
    });
    // dunst's history holds every notification of this test: each finish exactly once.
    let finishes: Vec<_> = os::notifications()
        .into_iter()
        .filter(|(_, s, _)| s.contains("batch_early") || s.contains("batch_away"))
        .collect();
    assert_eq!(finishes.len(), 2, "each finish once: {finishes:?}");
    let after: Vec<_> = control
        .requests()
        .into_iter()
        .skip(requests_before)
        .collect();
    assert!(
        after
            .iter()
            .all(|r| r.batch_id.as_deref() == Some("batch_away")),
        "the finished batch is not polled after a restart: {after:?}"
    );
    // Both in the "Finished" section after the restart, newest first.
    let finished = window
        .run(
            "return [...document.querySelectorAll('#finished-cards .card .id')].map(e => e.textContent);",
            json!([]),
        );
    assert_eq!(
        finished,
        json!(["batch_away", "batch_early"]),
        "newest first"
    );
    window.quit();
}

#[test]
fn a_rejected_key_stops_polling_until_a_good_one_is_given() {
    let mut desktop = Desktop::new("rejected");
    let control = desktop.sim.control();
    control.add_batch(BatchScript::new(3000).id("batch_k1"));
    control.add_batch(BatchScript::new(3000).id("batch_k2"));
    let window = watching(&mut desktop, &["batch_k1", "batch_k2"]);

    control.revoke_key(KEY);
    let banner = eventually("the rejection banner", WAIT, || {
        window
            .text("#banner")
            .filter(|b| b.contains("Trillet rejected your credentials"))
    });
    assert!(banner.contains("Polling has stopped"), "{banner}");
    let rejected = eventually("one notification", WAIT, || {
        Some(
            os::notifications()
                .into_iter()
                .filter(|(_, s, _)| s == "Trillet rejected your API key")
                .count(),
        )
        .filter(|n| *n > 0)
    });
    assert_eq!(rejected, 1);
    let count = control.requests().len();
    // Every batch shares the refused key, so no other batch's polls can show the time passing;
    // the simulator's clock does: in a simulated minute (one budget window, 4 s here) each
    // batch would have been asked about four times.
    let minute_from_now = control.now_ms() + 60_000;
    eventually("a simulated minute", WAIT, || {
        (control.now_ms() > minute_from_now).then_some(())
    });
    assert_eq!(
        control.requests().len(),
        count,
        "no request with a rejected key"
    );

    control.add_key("sk_e2e_replacement_key", WORKSPACE);
    save_credentials(&window, "sk_e2e_replacement_key");
    eventually("polling to resume", WAIT, || {
        (control.requests().len() > count + 1).then_some(())
    });
    eventually("the banner to go", WAIT, || {
        window
            .run("return document.getElementById('banner').hidden", json!([]))
            .as_bool()
            .filter(|h| *h)
    });
    window.quit();
}

fn card_problem(window: &WebDriver, id: &str) -> Option<(String, String)> {
    let value = window.run(
        "const c = [...document.querySelectorAll('.card')].find(c => c.querySelector('.id').textContent === arguments[0]); if (!c) return null; const p = c.querySelector('.problem'); return p.hidden ? ['', '', c.dataset.stale] : [p.dataset.code, p.textContent, c.dataset.stale];",
        json!([id]),
    );
    let parts = value.as_array()?;
    let s = |i: usize| parts[i].as_str().unwrap_or_default().to_owned();
    Some((s(0), format!("{} [stale={}]", s(1), s(2))))
}

#[test]
fn faults_on_one_batch_show_as_stale_and_recover_while_others_update() {
    use trillet_sim::{Fault, FaultTarget};
    let mut desktop = Desktop::new("faults");
    let control = desktop.sim.control();
    control.add_batch(BatchScript::new(3000).id("batch_bad"));
    control.add_batch(BatchScript::new(3000).id("batch_fine"));
    let window = watching(&mut desktop, &["batch_bad", "batch_fine"]);

    let faults = [
        (
            Fault::ServerError,
            "server_error",
            "Trillet is having trouble; retrying at",
        ),
        (
            Fault::MalformedJson,
            "bad_response",
            "Could not update; retrying at",
        ),
        (Fault::DropConnection, "network", "Offline; retrying at"),
        (
            Fault::Delay(Duration::from_secs(5)),
            "timeout",
            "Offline; retrying at",
        ),
    ];
    for (fault, code, phrase) in faults {
        control.set_fault(FaultTarget::Batch("batch_bad".into()), fault.clone());
        let fine_before = control.request_count("batch_fine");
        let (got_code, text) = eventually(&format!("the {code} state"), WAIT, || {
            card_problem(&window, "batch_bad").filter(|(c, _)| c == code)
        });
        assert_eq!(got_code, code);
        assert!(
            text.contains(phrase) && text.ends_with("[stale=true]"),
            "{fault:?}: {text}"
        );
        eventually("the other batch to keep updating", WAIT, || {
            (control.request_count("batch_fine") > fine_before + 1).then_some(())
        });
        control.clear_all_faults();
        eventually(
            &format!("recovery from {code}"),
            Duration::from_secs(40),
            || card_problem(&window, "batch_bad").filter(|(c, _)| c.is_empty()),
        );
    }
    assert_eq!(desktop.exit_status(), None, "the app never exited");
    window.quit();
}

#[test]
fn closing_ends_the_window_process_and_the_resident_stays_in_the_tray() {
    let mut desktop = Desktop::new("lifecycle");
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_life"));
    // Set up from the terminal, then the window started as a person starts it (from the menu,
    // not through WebDriver): the window closed below is closed as a person closes it.
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = desktop.cli(&["add", "batch_life"], "");
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy();
    let resident = batchwatch_e2e::desktop::resident_binary();
    let resident = resident.to_string_lossy();
    let residents = os::pids_running(&resident);
    assert_eq!(residents.len(), 1, "one resident");
    desktop.launch(&[]);
    eventually("the window", WAIT, || {
        os::window_exists("Batchwatch", &app).then_some(())
    });
    let webkit = eventually("the window's web process", WAIT, || {
        Some(os::descendants_named(&app, "WebKitWebProcess")).filter(|p| !p.is_empty())
    });

    // Closing the window ends its process, and WebKit's with it; the resident stays.
    os::close_window("Batchwatch", &app);
    let status = eventually("the window process to exit", WAIT, || {
        desktop.direct(0).try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    eventually("WebKit's processes to exit", WAIT, || {
        webkit.iter().all(|pid| !os::alive(*pid)).then_some(())
    });
    assert_eq!(os::processes_running(&app), 0, "no window process is left");
    assert_eq!(
        os::pids_running(&resident),
        residents,
        "the resident runs on"
    );
    let service = os::tray_service(WAIT);
    let tray_row = os::tray_menu(&service)
        .into_iter()
        .any(|(_, l, _)| l.starts_with("batch_life — "));
    assert!(tray_row, "the same batch is still watched");

    // "Open Batchwatch" in the tray starts a new window process.
    os::click_menu_item(&service, "Open Batchwatch");
    eventually("the window to reopen", WAIT, || {
        os::window_exists("Batchwatch", &app).then_some(())
    });
    assert_eq!(os::processes_running(&app), 1);
    // Its web process starts once the window is up.
    eventually("the new window's web process", WAIT, || {
        Some(()).filter(|()| !os::descendants_named(&app, "WebKitWebProcess").is_empty())
    });

    // A second launch raises that window and exits; still one resident, one window.
    let second = desktop.launch(&[]);
    let status = eventually("the second launch to exit", WAIT, || {
        second.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    assert_eq!(os::processes_running(&app), 1, "still one window");
    assert_eq!(os::pids_running(&resident), residents, "still one resident");
    assert!(os::window_exists("Batchwatch", &app));

    // "Quit Batchwatch" ends the resident and its window.
    os::click_menu_item(&service, "Quit Batchwatch");
    eventually("Batchwatch to quit", WAIT, || {
        (os::processes_running(&resident) + os::processes_running(&app) == 0).then_some(())
    });
}

#[test]
fn a_script_hands_batches_to_the_tray_app_and_status_spends_none_of_the_budget() {
    let mut desktop = Desktop::new("cli_client");
    for id in [
        "batch_script_1",
        "batch_script_2",
        "batch_script_3",
        "batch_elsewhere",
    ] {
        desktop
            .sim
            .control()
            .add_batch(BatchScript::new(3000).id(id));
    }
    // The keychain holds the credentials (stored by the terminal companion); nothing runs.
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let resident = batchwatch_e2e::desktop::resident_binary();
    let resident = resident.to_string_lossy();
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy();
    assert_eq!(os::processes_running(&resident), 0);

    // `add` with no app running starts it hidden, in the tray, and returns once it tracks.
    let (code, out, err) = desktop.cli(&["add", "batch_script_1"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("batch_script_1"), "{out}");
    assert_eq!(
        os::processes_running(&resident),
        1,
        "the tray app was started"
    );
    let service = os::tray_service(WAIT);
    eventually("the batch in the tray menu", WAIT, || {
        os::tray_rows(&service)
            .iter()
            .any(|l| l.starts_with("batch_script_1 — ") && l.contains('%'))
            .then_some(())
    });
    // By now a window it opened would be there (it would open as the tray app starts).
    assert_eq!(os::processes_running(&app), 0, "hidden: no window");

    // A script pipes a new ID in; the open window and the tray show it.
    let window = desktop.open(&[]);
    eventually("the first batch's card", WAIT, || {
        cards(&window)
            .iter()
            .any(|(id, _, _)| id == "batch_script_1")
            .then_some(())
    });
    // A bad ID is refused in words, and nothing is added (checked once a later batch shows).
    let (code, _, err) = desktop.cli(&["add", "batch_ok", "not/an id"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad batch ID"), "{err}");
    let (code, out, err) = desktop.cli(&["add", "-"], "batch_script_2\n");
    assert_eq!(code, 0, "{out}{err}");
    eventually("the piped batch's card", WAIT, || {
        cards(&window)
            .iter()
            .any(|(id, _, _)| id == "batch_script_2")
            .then_some(())
    });
    assert!(
        !cards(&window).iter().any(|(id, _, _)| id == "batch_ok"),
        "nothing of the refused add was tracked"
    );
    eventually("the piped batch in the tray menu", WAIT, || {
        os::tray_rows(&service)
            .iter()
            .any(|l| l.starts_with("batch_script_2 — "))
            .then_some(())
    });

    // `status` while the app runs goes through it: with a key Trillet would refuse in its
    // environment, it still answers — it never asked Trillet itself.
    desktop.sim.control().clear_requests();
    let mut env_key = desktop.extra_env.clone();
    env_key.push(("TRILLET_API_KEY".into(), "sk_wrong_would_be_refused".into()));
    env_key.push(("TRILLET_WORKSPACE_ID".into(), WORKSPACE.into()));
    let previous = std::mem::replace(&mut desktop.extra_env, env_key);
    let (code, out, err) = desktop.cli(&["status", "batch_script_1", "batch_elsewhere"], "");
    desktop.extra_env = previous;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("batch_script_1") && out.contains("batch_elsewhere"),
        "{out}"
    );
    let requests = desktop.sim.control().requests();
    assert!(
        requests.iter().all(|r| r.api_key.as_deref() == Some(KEY)),
        "every request carried the tray app's key: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.batch_id.as_deref() == Some("batch_elsewhere")),
        "the untracked batch was asked about through the tray app: {requests:?}"
    );
    // Asked about, not added: checked once a batch added after it is in the tray.
    let (code, out, err) = desktop.cli(&["add", "batch_script_3"], "");
    assert_eq!(code, 0, "{out}{err}");
    eventually("the batch added after the status", WAIT, || {
        os::tray_rows(&service)
            .iter()
            .any(|l| l.starts_with("batch_script_3 — "))
            .then_some(())
    });
    assert!(
        !os::tray_rows(&service)
            .iter()
            .any(|l| l.starts_with("batch_elsewhere")),
        "asked about, not added"
    );
    drop(window);
}

#[test]
fn a_window_whose_tray_app_dies_says_so_and_starts_it_again_with_nothing_lost() {
    let mut desktop = Desktop::new("resident_killed");
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_kept"));
    let window = watching(&mut desktop, &["batch_kept"]);
    let resident = batchwatch_e2e::desktop::resident_binary();
    let resident = resident.to_string_lossy();
    let pids = os::pids_running(&resident);
    assert_eq!(pids.len(), 1);
    // The batch is in the state file before the kill.
    eventually("the batch saved", WAIT, || {
        desktop
            .saved_batches()
            .filter(|ids| ids.iter().any(|id| id == "batch_kept"))
    });

    std::process::Command::new("kill")
        .args(["-KILL", &pids[0].to_string()])
        .status()
        .unwrap();
    eventually("the window to say the tray app stopped", WAIT, || {
        (window.run(
            "return !document.getElementById('resident-gone').hidden;",
            json!([]),
        ) == json!(true))
        .then_some(())
    });
    let said = window.text("#resident-gone-message").unwrap_or_default();
    assert!(said.contains("stopped"), "{said}");

    window.click("#restart-resident");
    eventually("the banner to go", WAIT, || {
        (window.run(
            "return document.getElementById('resident-gone').hidden;",
            json!([]),
        ) == json!(true))
        .then_some(())
    });
    let again = os::pids_running(&resident);
    assert_eq!(again.len(), 1, "a new resident");
    assert_ne!(again, pids);
    // The batch came back from the state file and is polled again.
    eventually("the kept batch's card, with progress", WAIT, || {
        cards(&window)
            .into_iter()
            .find(|(id, p, _)| id == "batch_kept" && !p.is_empty())
    });
    assert_eq!(
        desktop.exit_status(),
        None,
        "the window stayed open throughout"
    );
}

#[test]
fn without_keychain_or_notification_daemon_the_window_explains_and_nothing_leaks() {
    let mut desktop = Desktop::new("no_services");
    // Finishes about 12 s after it starts: well after the services are gone.
    desktop
        .sim
        .control()
        .add_batch(two_waves("batch_quiet", 90).start_delay(Duration::from_secs(30)));
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_more"));

    // Started without either service: no crash, and the tray says there is no key.
    let absent = os::WithoutKeychainAndNotifications::start();
    desktop.launch(&[]);
    // Its tray app reads the keychain after start, finds none and says so in its log: it had
    // its chance to fall over.
    eventually("the keychain read to fail", WAIT, || {
        desktop.logs().contains("keychain: ").then_some(())
    });
    let started_bare = desktop.direct(0);
    assert!(
        started_bare.try_wait().unwrap().is_none(),
        "Batchwatch exited without a keychain"
    );
    let service = os::tray_service(WAIT);
    assert_eq!(
        os::tray_property(&service, "XAyatanaLabel"),
        "",
        "nothing tracked yet"
    );
    drop(absent);
    let _ = started_bare.kill();
    let _ = started_bare.wait();

    // Services that go away while the window is open: each failure is explained in the window.
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    eventually("stored", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m == "Stored in your keychain.")
    });
    add_batches(&window, "batch_quiet batch_more");
    let _absent = os::WithoutKeychainAndNotifications::start();

    save_credentials(&window, KEY);
    let message = eventually("the keychain explanation", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m.contains("No keychain service is running"))
    });
    assert!(
        message.contains("GNOME Keyring or KWallet")
            && message.contains("never stores your key in a plain file"),
        "{message}"
    );

    // Everything else works: the batch completes in the window, and the window says the
    // notification could not be shown.
    eventually(
        "the completion in the window",
        Duration::from_secs(60),
        || (card_state(&window, "batch_quiet") == "completed").then_some(()),
    );
    let notices = eventually("the notifications notice", WAIT, || {
        Some(window.texts(".notice")).filter(|n| {
            n.iter()
                .any(|t| t.contains("Desktop notifications are unavailable"))
        })
    });
    assert!(
        notices
            .iter()
            .any(|n| n.contains("no notification service is running")),
        "{notices:?}"
    );

    let mut leaked = vec![];
    for entry in walkdir(desktop.home.path()) {
        if std::fs::read(&entry).is_ok_and(|b| String::from_utf8_lossy(&b).contains(KEY)) {
            leaked.push(entry);
        }
    }
    assert!(leaked.is_empty(), "the key was written to {leaked:?}");
    drop(window);
}

#[test]
fn a_keychain_that_starts_after_the_app_is_read_then_and_polling_begins() {
    let mut desktop = Desktop::new("keychain_later");
    let control = desktop.sim.control();
    control.add_batch(BatchScript::new(3000).id("batch_later"));
    let window = watching(&mut desktop, &["batch_later"]);
    let service = os::tray_service(WAIT);
    os::click_menu_item(&service, "Quit Batchwatch");
    assert_eq!(
        eventually("the app to exit", WAIT, || desktop.exit_status()),
        0
    );
    drop(window);

    // Started as autostart can start it: before the login keyring is up.
    let absent = os::WithoutKeychainAndNotifications::start();
    let window = desktop.open(&[]);
    eventually("the keychain explanation", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m.contains("No keychain service is running"))
    });
    assert_eq!(
        keychain_retry_hidden(&window),
        Some(false),
        "the window offers to try again"
    );
    // Without credentials nothing is asked of Trillet.
    let asked_before = control.requests().len();

    // The keyring starts: the app reads it by itself, and polling resumes with the key.
    drop(absent);
    eventually("the stored credentials", WAIT, || {
        window
            .text("#credentials-message")
            .filter(|m| m == "Stored in your keychain.")
    });
    eventually("a poll with the stored key", WAIT, || {
        control.requests().into_iter().skip(asked_before).find(|r| {
            r.batch_id.as_deref() == Some("batch_later") && r.api_key.as_deref() == Some(KEY)
        })
    });
    assert_eq!(keychain_retry_hidden(&window), Some(true));
    window.quit();
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The text of the first element matching `css` inside the card of `id`, if it is shown.
#[test]
fn failed_calls_open_grouped_and_a_batch_is_cancelled_from_its_card() {
    use trillet_sim::{Fault, FaultTarget};
    let mut desktop = Desktop::new("drill_down_cancel");
    let control = desktop.sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_failing"));
    for id in ["batch_running", "batch_stuck"] {
        control.add_batch(
            BatchScript::new(2000)
                .id(id)
                .concurrency(4)
                .call_duration(Duration::from_secs(600))
                .started_ago(Duration::from_secs(700)),
        );
    }
    let window = watching(
        &mut desktop,
        &["batch_failing", "batch_running", "batch_stuck"],
    );

    // The drill-down: grouped by reason, paged in 100 at a time, adding up to the counter.
    let failed: u64 = eventually("the failed counter", WAIT, || {
        in_card(&window, "batch_failing", ".failures summary").and_then(|s| {
            s.strip_prefix("Failed calls (")?
                .strip_suffix(')')?
                .parse()
                .ok()
        })
    });
    assert!(failed > 200, "{failed}");
    window.click(".card[data-id='batch_failing'] .failures summary");
    eventually("the first page", WAIT, || {
        in_card(&window, "batch_failing", ".failures-summary")
            .filter(|s| s.contains(" of ") || s.starts_with("All"))
    });
    let first_page_ms = window.run(
        "return document.querySelector(`.card[data-id='batch_failing'] .failures`).dataset.firstPageMs;",
        json!([]),
    );
    eprintln!(
        "drill-down: first page of {failed} failed calls on screen after {} ms (debug build)",
        first_page_ms.as_str().unwrap_or("?")
    );
    let all = format!("All {failed} failed calls");
    eventually("every page", WAIT, || {
        let summary = in_card(&window, "batch_failing", ".failures-summary")?;
        if summary == all {
            return Some(());
        }
        if in_card(&window, "batch_failing", ".failures .more").is_some() {
            window.click(".card[data-id='batch_failing'] .failures .more");
        }
        None
    });
    let groups = window.run(
        "return [...document.querySelectorAll(`.card[data-id='batch_failing'] .group`)].map(g => [g.querySelector('h3').textContent, g.querySelectorAll('li').length]);",
        json!([]),
    );
    let groups = groups.as_array().unwrap();
    let mut sum = 0;
    for group in groups {
        let (title, rows) = (group[0].as_str().unwrap(), group[1].as_u64().unwrap());
        let count: u64 = title.rsplit(" × ").next().unwrap().parse().unwrap();
        assert_eq!(count, rows, "{title}: one row a call");
        sum += count;
    }
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert_eq!(sum, failed, "the groups add up to the card's counter");

    // "Copy numbers" puts the group's numbers, one a line, on the desktop's clipboard.
    let shown = window.run(
        "return [...document.querySelectorAll(`.card[data-id='batch_failing'] .group`)[0].querySelectorAll('.number')].map(n => n.textContent);",
        json!([]),
    );
    window.click(".card[data-id='batch_failing'] .group .copy-numbers");
    let copied = eventually("the numbers on the clipboard", WAIT, || {
        os::clipboard().filter(|text| !text.is_empty())
    });
    let mut expected: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    expected.sort_unstable();
    expected.dedup();
    let mut lines: Vec<&str> = copied.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, expected);
    assert_eq!(
        in_card(&window, "batch_failing", ".group .copy-numbers").as_deref(),
        Some("Copied")
    );
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/calls"))
        .count() as u64;
    assert_eq!(pages, failed.div_ceil(100), "each page asked once");

    // Cancel: the confirmation says what happens (Escape dismisses it, nothing sent), then the
    // card shows Trillet's answer.
    window.click(".card[data-id='batch_running'] .cancel");
    assert!(in_card(&window, "batch_running", ".confirm-cancel .what").is_some());
    window.type_into(
        ".card[data-id='batch_running'] .confirm-cancel .keep",
        "\u{E00C}",
    );
    eventually("the dismissed confirmation", WAIT, || {
        in_card(&window, "batch_running", ".confirm-cancel .what")
            .is_none()
            .then_some(())
    });
    window.click(".card[data-id='batch_running'] .cancel");
    let what = in_card(&window, "batch_running", ".confirm-cancel .what").expect("confirmation");
    assert!(
        what.contains("waiting calls are dropped") && what.contains("cannot be undone"),
        "{what}"
    );
    window.click(".card[data-id='batch_running'] .confirm-cancel .confirm");
    eventually("the cancelled card", WAIT, || {
        (card_state(&window, "batch_running") == "cancelled").then_some(())
    });
    let details = eventually("the cancellation details", WAIT, || {
        in_card(&window, "batch_running", ".cancellation")
    });
    assert!(
        details.starts_with("Cancelled from Batchwatch: ")
            && details.contains("waiting calls dropped"),
        "{details}"
    );
    assert_eq!(
        in_card(&window, "batch_running", ".cancel"),
        None,
        "no second cancel"
    );

    // A refused cancel is said on the card, and the batch runs on.
    control.set_fault(FaultTarget::Batch("batch_stuck".into()), Fault::ServerError);
    window.click(".card[data-id='batch_stuck'] .cancel");
    window.click(".card[data-id='batch_stuck'] .confirm-cancel .confirm");
    let error = eventually("the cancel error", WAIT, || {
        in_card(&window, "batch_stuck", ".cancel-error")
    });
    assert!(
        error.starts_with("Not cancelled: Trillet had a server error (500)"),
        "{error}"
    );
    control.clear_all_faults();
    let deletes: Vec<_> = control
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.batch_id.unwrap_or_default())
        .collect();
    assert_eq!(deletes, ["batch_running", "batch_stuck"]);
    assert_ne!(card_state(&window, "batch_stuck"), "cancelled");
    assert_eq!(
        os::notifications()
            .iter()
            .filter(|(_, title, _)| title.contains("cancelled"))
            .count(),
        0,
        "the user's own cancel is not notified back"
    );
    window.quit();
}

/// A CSV file read back as a spreadsheet reads it: the header, then the rows.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn failed_calls_are_saved_as_a_csv_where_the_desktops_save_dialog_says() {
    let mut desktop = Desktop::new("retry_list");
    let downloads = desktop.downloads_dir();
    desktop
        .sim
        .control()
        .add_batch(trillet_sim::failing_batch("batch_failing"));
    let window = watching(&mut desktop, &["batch_failing"]);
    eventually("the batch to finish", WAIT, || {
        (card_state(&window, "batch_failing") == "completed").then_some(())
    });
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy();
    const DIALOG: &str = "Save failed calls as CSV";
    let status = |window: &WebDriver| in_card(window, "batch_failing", ".save-status");
    // Click, then answer the desktop's own dialog with the keyboard, as a person does.
    let save = |button: &str, key: &str| {
        window.click(&format!(".card[data-id='batch_failing'] {button}"));
        eventually("the save dialog", WAIT, || {
            os::window_exists(DIALOG, &app).then_some(())
        });
        // As a person would, the key again if the dialog is still there after a while (one
        // just mapped may not be listening yet); `press` presses only on a dialog shown.
        for attempt in 1..=3 {
            os::press_key(DIALOG, &app, key);
            let closed = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(50));
                !os::window_exists(DIALOG, &app)
            });
            if closed {
                return;
            }
            eprintln!("the save dialog did not take {key} on press {attempt}; pressing again");
        }
        panic!("the save dialog never took {key}");
    };

    window.click(".card[data-id='batch_failing'] .failures summary");
    eventually("the first page", WAIT, || {
        in_card(&window, "batch_failing", ".group h3")
    });

    // The dialog opens in Downloads with the batch's name: Enter saves every failed call.
    save(".failures-head .save-csv", "Return");
    let path = downloads.join("batch_failing-failed-calls.csv");
    let said = eventually("the list saved", WAIT, || {
        status(&window).filter(|s| s.starts_with("Saved"))
    });
    let (header, rows) = read_csv(&path);
    assert_eq!(
        said,
        format!("Saved {} calls to {}", rows.len(), path.display())
    );
    assert_eq!(
        header,
        [
            "phone_number",
            "name",
            "appointment_day",
            "error",
            "ended_at"
        ]
    );
    let failed: usize = in_card(&window, "batch_failing", ".failures summary")
        .and_then(|s| {
            s.strip_prefix("Failed calls (")?
                .strip_suffix(')')?
                .parse()
                .ok()
        })
        .unwrap();
    let numbers: std::collections::HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers.len(), rows.len(), "each number once");
    assert!(
        rows.len() > 200 && rows.len() <= failed,
        "every page, not the one on screen: {} of {failed}",
        rows.len()
    );

    // One group's button: only that group, in a file named after it.
    let reason = in_card(&window, "batch_failing", ".group").map(|_| {
        window
            .run(
                "return document.querySelector(`.card[data-id='batch_failing'] .group`).dataset.reason;",
                json!([]),
            )
            .as_str()
            .unwrap()
            .to_owned()
    });
    let reason = reason.unwrap();
    save(".group .save-csv", "Return");
    eventually("the group saved", WAIT, || {
        status(&window).filter(|s| s.starts_with("Saved") && *s != said)
    });
    // Named after the group as a person reads it: "Voicemail detected" → voicemail-detected.
    let slug = reason
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let group_file = downloads.join(format!("batch_failing-{slug}.csv"));
    let (_, group_rows) = read_csv(&group_file);
    assert!(!group_rows.is_empty() && group_rows.len() < rows.len());
    assert!(group_rows.iter().all(|r| r[3] == reason), "{group_rows:?}");

    // The page cannot name a place itself: only the dialog's choice is written.
    let elsewhere = downloads.join("chosen-by-the-page.csv");
    let refused = window.run(
        "return window.__TAURI__.core.invoke('call', {op: 'save_retry_list', args: {id: 'batch_failing', path: arguments[0]}}).then(() => 'saved', (e) => e.code);",
        json!([elsewhere]),
    );
    assert_eq!(refused, "not_allowed");
    assert!(!elsewhere.exists());

    // Escape closes the dialog: nothing saved, nothing said.
    save(".failures-head .save-csv", "Escape");
    eventually("the status to go", WAIT, || {
        status(&window).is_none().then_some(())
    });
    let files = std::fs::read_dir(&downloads).unwrap().count();
    assert_eq!(files, 2, "only the two lists, no partial file");
}

#[test]
fn settings_are_kept_and_start_at_login_writes_the_autostart_entry() {
    let mut desktop = Desktop::new("settings");
    let window = desktop.open(&[]);
    open_settings(&window);

    // Each edit says what it would mean before it is saved.
    retype(&window, "#floor-secs", "45");
    eventually("the live consequence", WAIT, || {
        window
            .text("#settings-consequence")
            .filter(|t| t == "A batch updates every 45 s.")
    });
    retype(&window, "#budget", "70");
    eventually("the range error", WAIT, || {
        window
            .text("#settings-consequence")
            .filter(|t| t.starts_with("The request budget must be 1–55"))
    });
    retype(&window, "#budget", "20");
    window.click("#failure-alert-on");
    window.click("#save-settings");
    eventually("the save", WAIT, || {
        window.text("#settings-message").filter(|t| t == "Saved.")
    });
    let stored = eventually("the settings in the state file", WAIT, || {
        desktop
            .saved_settings()
            .filter(|s| s["poll"]["floor"] == 45_000)
    });
    assert_eq!(stored["poll"]["budget"], 20);
    assert_eq!(stored["failureAlertPercent"], 20);

    // Start at login: the XDG autostart entry appears, starting this binary hidden.
    let entry = desktop.config_dir().join("autostart/batchwatch.desktop");
    window.click("#start-at-login");
    let text = eventually("the autostart entry", WAIT, || {
        std::fs::read_to_string(&entry).ok()
    });
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert_eq!(
        exec,
        format!(
            "{} --hidden",
            batchwatch_e2e::desktop::app_binary().display()
        )
    );
    window.click("#start-at-login");
    eventually("the entry removed", WAIT, || {
        (!entry.exists()).then_some(())
    });

    // The failure-rate alert (20 %, saved above) fires once for a batch failing half its calls.
    save_credentials(&window, KEY);
    let flaky = |id: &str| {
        BatchScript::new(2000)
            .id(id)
            .concurrency(20)
            .failure_rate(0.5)
            .call_duration(Duration::from_secs(30))
            .started_ago(Duration::from_secs(300))
    };
    desktop.sim.control().add_batch(flaky("batch_flaky"));
    add_batches(&window, "batch_flaky");
    let alerts = || {
        os::notifications()
            .into_iter()
            .filter(|(_, title, _)| title.ends_with("of calls are failing"))
            .collect::<Vec<_>>()
    };
    let shown = eventually("the failure-rate alert", WAIT, || {
        Some(alerts()).filter(|a| !a.is_empty())
    });
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].1.starts_with("Batch batch_flaky: "), "{shown:?}");
    assert!(shown[0].2.contains("(your alert is at 20%)"), "{shown:?}");

    // Pausing from the window checks the tray's item; while paused, nothing is shown.
    window.click("#pause");
    eventually("the pause", WAIT, || {
        window
            .text("#pause-state")
            .filter(|t| t.starts_with("Notifications paused until"))
    });
    let tray = os::tray_service(WAIT);
    let label = "Pause notifications for 1 hour";
    eventually("the tray's check mark", WAIT, || {
        os::menu_item_checked(&tray, label).then_some(())
    });
    desktop.sim.control().add_batch(flaky("batch_flaky_too"));
    add_batches(&window, "batch_flaky_too");
    eventually("the second batch's progress", WAIT, || {
        cards(&window)
            .into_iter()
            .find(|(id, percent, _)| id == "batch_flaky_too" && !percent.is_empty())
    });
    // Unchecking the tray item resumes, and the window says so.
    os::click_menu_item(&tray, label);
    eventually("the resume", WAIT, || {
        window.text("#pause").filter(|t| t == label)
    });
    assert!(!os::menu_item_checked(&tray, label));

    // A third batch's alert travels the same queue: once it is shown, an alert for the batch
    // seen while paused would have been shown before it.
    desktop.sim.control().add_batch(flaky("batch_flaky_three"));
    add_batches(&window, "batch_flaky_three");
    let shown = eventually("the third batch's alert", WAIT, || {
        Some(alerts()).filter(|a| a.len() >= 2)
    });
    // (dunst's history is newest first.)
    let titles: Vec<&str> = shown.iter().map(|(_, title, _)| title.as_str()).collect();
    assert!(
        titles.len() == 2
            && titles[0].starts_with("Batch batch_flaky_three: ")
            && titles[1].starts_with("Batch batch_flaky: "),
        "no alert for the batch seen while paused: {titles:?}"
    );
    window.quit();
}

#[test]
fn the_tray_app_and_a_terminal_watch_share_one_request_budget() {
    let desktop = Desktop::new("shared_budget");
    let ids = |prefix: &str| -> Vec<String> { (0..30).map(|i| format!("{prefix}_{i}")).collect() };
    let (tray_ids, watch_ids) = (ids("batch_tray"), ids("batch_term"));
    for id in tray_ids.iter().chain(&watch_ids) {
        desktop
            .sim
            .control()
            .add_batch(BatchScript::new(5000).id(id));
    }
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let mut args = vec!["add"];
    args.extend(tray_ids.iter().map(String::as_str));
    let (code, out, err) = desktop.cli(&args, "");
    assert_eq!(code, 0, "{out}{err}");

    // 30 more watched from a terminal, with the same key, while the tray app polls its 30.
    // (With `--standalone` the two ask 62 in the worst simulated minute.)
    let mut watch = std::process::Command::new(batchwatch_e2e::desktop::cli_binary());
    watch
        .arg("watch")
        .args(&watch_ids)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    desktop.env(&mut watch);
    let mut watch = watch.spawn().unwrap();
    let control = desktop.sim.control();
    // Both have had their chance: every batch of each asked about at least twice.
    eventually(
        "both to poll every batch twice",
        Duration::from_secs(90),
        || {
            let requests = control.requests();
            tray_ids
                .iter()
                .chain(&watch_ids)
                .all(|id| {
                    requests
                        .iter()
                        .filter(|r| r.batch_id.as_deref() == Some(id))
                        .count()
                        >= 2
                })
                .then_some(())
        },
    );
    let _ = watch.kill();
    let _ = watch.wait();

    let requests = control.requests();
    let worst = control.max_requests_in_window(KEY, Duration::from_secs(60));
    println!(
        "tray app (30 batches) + terminal watch (30): {} requests, worst minute {worst}",
        requests.len()
    );
    assert!(requests.iter().all(|r| r.status != 429), "never a 429");
    assert!(
        worst <= 50,
        "{worst} requests in the worst (simulated) minute"
    );
}

/// Debian keeps a user's processes after logout: a tray app whose desktop session ends (its
/// session bus goes away) ends too, in order — it says why, lets go of its socket — instead of
/// polling on beside the next login's tray app with the same key.
#[test]
fn a_tray_app_ends_with_its_desktop_session() {
    let mut desktop = Desktop::new("session_end");
    let mut bus = batchwatch_test_support::bus::PrivateBus::start();
    desktop
        .extra_env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()));
    let resident = batchwatch_e2e::desktop::resident_binary();
    desktop.launch_program(&resident, &[]);
    eventually("the tray app to be up", WAIT, || {
        desktop
            .logs()
            .contains("Batchwatch is running (control socket ready)")
            .then_some(())
    });
    let socket = desktop.runtime_dir().join("batchwatch/control.sock");
    assert!(socket.exists(), "{}", socket.display());
    let (code, out, err) = desktop.cli(&["add", "batch_session"], "");
    assert_eq!(code, 0, "the tray app answers: {out}{err}");

    bus.end();
    let status = eventually("the tray app to end with its session", WAIT, || {
        desktop.direct(0).try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    let logs = desktop.logs();
    assert!(
        logs.contains("the desktop session ended (its bus is gone)")
            && logs.contains("Batchwatch stopped"),
        "{logs}"
    );
    assert!(!socket.exists(), "its socket is let go");
}

/// A batch whose calls stop ending while others wait: said once (a notification in dunst), on
/// its card and its tray row, and not said again while it stays stuck. (In this suite a
/// "minute" is the budget window, 4 s, as for the plot.)
#[test]
fn a_batch_that_stops_making_progress_is_said_once() {
    let mut desktop = Desktop::new("stall");
    // Calls that never end: 5 active, 45 waiting, nothing completed or failed, ever.
    desktop.sim.control().add_batch(
        BatchScript::new(50)
            .id("batch_frozen")
            .concurrency(5)
            .call_duration(Duration::from_secs(10_000_000)),
    );
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    set_stall_minutes(&desktop, &window, 1);
    add_batches(&window, "batch_frozen");

    let said = eventually("the stall notification", Duration::from_secs(60), || {
        let seen: Vec<_> = os::notifications()
            .into_iter()
            .filter(|(_, s, _)| s.starts_with("Batch batch_frozen has made no progress for "))
            .collect();
        (!seen.is_empty()).then_some(seen)
    });
    assert!(said[0].2.starts_with("45 waiting, 5 active"), "{said:?}");
    let card = eventually("the card to say so", WAIT, || {
        in_card(&window, "batch_frozen", ".stall").filter(|t| t.starts_with("No progress for "))
    });
    assert!(!card.is_empty());
    let service = os::tray_service(WAIT);
    eventually("the tray row to say so", WAIT, || {
        os::tray_menu(&service)
            .iter()
            .any(|(_, row, _)| row.starts_with("⚠ batch_frozen — No progress for "))
            .then_some(())
    });

    // Three more answers, each still stuck: the stall had as many chances to be said again.
    let polls = desktop.sim.control().request_count("batch_frozen");
    eventually("three more polls", WAIT, || {
        (desktop.sim.control().request_count("batch_frozen") >= polls + 3).then_some(())
    });
    let all: Vec<_> = os::notifications()
        .into_iter()
        .filter(|(_, s, _)| s.contains("batch_frozen"))
        .collect();
    assert_eq!(all.len(), 1, "said more than once: {all:?}");
}

/// Sets the stall alert to `minutes` in the settings panel and waits for it to be stored.
/// (The suite's compressed poll floor is below the panel's range, and its override wins
/// whatever is stored: a floor in range lets the form be saved.)
fn set_stall_minutes(desktop: &Desktop, window: &WebDriver, minutes: u32) {
    open_settings(window);
    retype(window, "#floor-secs", "5");
    retype(window, "#stall-minutes", &minutes.to_string());
    window.click("#save-settings");
    eventually("the save", WAIT, || {
        window.text("#settings-message").filter(|t| t == "Saved.")
    });
    eventually("the setting in the state file", WAIT, || {
        desktop
            .saved_settings()
            .filter(|s| s["stallMinutes"] == minutes)
    });
}

#[test]
fn hooks_run_once_for_a_finish_and_a_stall_and_never_again_after_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let mut desktop = Desktop::new("hooks");
    let control = desktop.sim.control();
    // Finished by the test once it has been seen running (a batch first seen already
    // finished is never announced).
    control.add_batch(
        BatchScript::new(3)
            .id("batch_done")
            .concurrency(3)
            .call_duration(Duration::from_secs(10_000_000)),
    );
    control.add_batch(
        BatchScript::new(50)
            .id("batch_frozen")
            .concurrency(5)
            .call_duration(Duration::from_secs(10_000_000)),
    );
    let receiver = PostReceiver::start();
    let webhook = receiver.url.clone();
    let runs = desktop.home.path().join("hook-runs.jsonl");
    let folder = desktop.config_dir().join("batchwatch");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let hooks = folder.join("hooks.toml");
    std::fs::write(
        &hooks,
        format!(
            r#"[[hook]]
on = ["finished", "stalled"]
run = ["/bin/sh", "-c", 'cat >> "$0"; echo " $BATCHWATCH_EVENT" >> "$0"; env | grep -c -E "^(TRILLET_|WEBKIT_DISABLE_)" >> "$0.env" || true', "{runs}"]

[[hook]]
on = ["finished"]
webhook = "{webhook}"
"#,
            runs = runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o600)).unwrap();

    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    open_settings(&window);
    eventually("the panel to list the hooks", WAIT, || {
        window.text("#hooks-list").filter(|t| {
            t.contains("On finished, stalled: run /bin/sh")
                && t.contains("webhook to http://127.0.0.1:")
        })
    });
    set_stall_minutes(&desktop, &window, 1);
    add_batches(&window, "batch_done batch_frozen");
    eventually("batch_done seen running", WAIT, || {
        control
            .requests()
            .iter()
            .any(|r| r.batch_id.as_deref() == Some("batch_done") && r.status == 200)
            .then_some(())
    });
    control.finish_batch("batch_done");

    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.rsplit_once('}').map(|(json, _)| format!("{json}}}")))
            .map(|json| serde_json::from_str(&json).unwrap())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let ran = loop {
        let seen = lines();
        if seen.len() == 2 {
            break seen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command ran {} time(s) for the finish and the stall: {:?}\n{}",
            seen.len(),
            std::fs::read_to_string(&runs).unwrap_or_default(),
            desktop.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut events: Vec<(String, String)> = ran
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["batchId"].as_str().unwrap().into(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("finished".into(), "batch_done".into()),
            ("stalled".into(), "batch_frozen".into())
        ]
    );
    let finished = ran.iter().find(|e| e["event"] == "finished").unwrap();
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["workspace"], WORKSPACE);
    assert!(
        finished["text"].as_str().unwrap().starts_with(&format!(
            "Batch batch_done completed — {} completed, {} failed",
            finished["completed"], finished["failed"]
        )),
        "{finished}"
    );
    let env_counts = std::fs::read_to_string(format!("{}.env", runs.display())).unwrap();
    assert!(
        env_counts.lines().all(|n| n == "0"),
        "no TRILLET_ variable, nor the WebKit settings the window that started the tray app \
         set for itself: {env_counts}"
    );
    let posts = eventually("the webhook's POST", WAIT, || {
        Some(receiver.bodies()).filter(|p| !p.is_empty())
    });
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post: serde_json::Value = serde_json::from_str(&posts[0]).unwrap();
    assert_eq!(post["batchId"], "batch_done");
    assert!(!posts[0].contains(KEY), "the key is in no hook's input");
    assert!(!std::fs::read_to_string(&runs).unwrap().contains(KEY));
    eventually("the stall notification", WAIT, || {
        os::notifications()
            .into_iter()
            .find(|(_, s, _)| s.starts_with("Batch batch_frozen has made no progress for "))
    });

    // Quit and start again: the stall goes on, the finish is long saved; each had its chance
    // to run again (the frozen batch is asked three more times).
    let service = os::tray_service(WAIT);
    os::click_menu_item(&service, "Quit Batchwatch");
    assert_eq!(
        eventually("the app to exit", WAIT, || desktop.exit_status()),
        0
    );
    drop(window);
    let window = desktop.open(&[]);
    let polls = control.request_count("batch_frozen");
    eventually(
        "three more polls after the restart",
        Duration::from_secs(60),
        || (control.request_count("batch_frozen") >= polls + 3).then_some(()),
    );
    // Quit, so a run those answers queued has either happened or is said as not run.
    let service = os::tray_service(WAIT);
    os::click_menu_item(&service, "Quit Batchwatch");
    assert_eq!(
        eventually("the app to exit", WAIT, || desktop.exit_status()),
        0
    );
    drop(window);
    assert_eq!(lines().len(), 2, "no hook ran again: {:?}", lines());
    assert_eq!(receiver.bodies().len(), 1);
    let log = std::fs::read_to_string(
        desktop
            .home
            .path()
            .join("data/dev.batchwatch.app/logs/resident.log"),
    )
    .unwrap();
    assert!(!log.contains("were not run"), "{log}");
    assert_eq!(
        log.matches("done for finished of batch batch_done").count(),
        2,
        "the command and the webhook, once each: {log}"
    );
}

#[test]
fn settings_and_a_batchs_notify_choice_reach_the_running_tray_app_from_a_terminal() {
    let mut desktop = Desktop::new("settings-cli");
    desktop
        .sim
        .control()
        .add_batch(two_waves("batch_quiet", 30));
    let window = desktop.open(&[]);
    save_credentials(&window, KEY);

    // The suite's compressed poll floor is below the panel's range, so the form (checked whole,
    // as the panel's is) is first brought into range.
    let (code, out, err) = desktop.cli(&["settings", "set", "poll-every", "5"], "");
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = desktop.cli(&["settings", "set", "stall-minutes", "20"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("applied by the tray app"), "{out}");
    eventually("the setting in the state file", WAIT, || {
        desktop.saved_settings().filter(|s| s["stallMinutes"] == 20)
    });
    open_settings(&window);
    eventually("the panel to show it", WAIT, || {
        window.value("#stall-minutes").filter(|v| v == "20")
    });

    let (code, _, err) = desktop.cli(&["settings", "set", "stall-minutes", "241"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be 0–240 minutes"), "{err}");
    let (code, out, _) = desktop.cli(&["settings"], "");
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("stall-minutes"))
        .unwrap();
    assert!(line.contains(" 20 ") && line.contains("0–240"), "{out}");
    assert!(out.contains("No hooks"), "{out}");

    let (code, out, err) = desktop.cli(&["add", "--notify", "never", "batch_quiet"], "");
    assert_eq!(code, 0, "{out}{err}");
    eventually("the card's choice", WAIT, || {
        window
            .run(
                "const c = document.querySelector('.card[data-id=\"batch_quiet\"] .notify'); return c ? c.value : null;",
                json!([]),
            )
            .as_str()
            .filter(|v| *v == "never")
            .map(str::to_owned)
    });
    eventually("the choice in the state file", WAIT, || {
        let bytes = desktop.state_bytes();
        (bytes.windows(5).any(|w| w == b"never")).then_some(())
    });
    window.quit();
}

/// An agency's two clients, set up from the terminal: two workspaces, each its own keychain
/// item and key; batches added to each by name (not without one); each polled with its own
/// pair; the tray's rows and the window's cards grouped under each label; a finish notified
/// with its workspace's name.
#[test]
fn two_workspaces_from_the_terminal_are_watched_side_by_side() {
    const OTHER_KEY: &str = "sk_e2e_second_workspace_key_58";
    let mut desktop = Desktop::new("workspaces");
    desktop.sim.control().add_key(OTHER_KEY, "ws_globex");
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_us_long"));
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_globex_soon"));
    for (workspace, label, key) in [
        (WORKSPACE, "Acme US", KEY),
        ("ws_globex", "Globex", OTHER_KEY),
    ] {
        let (code, out, err) = desktop.cli(
            &[
                "credentials",
                "set",
                "--workspace",
                workspace,
                "--label",
                label,
            ],
            key,
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    assert_eq!(
        os::keychain_accounts(&desktop.keychain_service),
        [
            format!("trillet/{WORKSPACE}"),
            "trillet/ws_globex".to_owned()
        ],
        "one keychain item per workspace"
    );

    // Without a terminal to ask on, a batch needs its workspace named.
    let (code, _, err) = desktop.cli(&["add", "batch_us_long"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("name one with --workspace"), "{err}");
    for (workspace, id) in [
        (WORKSPACE, "batch_us_long"),
        ("ws_globex", "batch_globex_soon"),
    ] {
        let (code, out, err) = desktop.cli(&["add", "--workspace", workspace, id], "");
        assert_eq!(code, 0, "{out}{err}");
    }

    let service = os::tray_service(WAIT);
    let rows = eventually("both workspaces in the tray menu", WAIT, || {
        let rows = os::tray_rows(&service);
        let running = |id: &str| {
            rows.iter()
                .any(|r| r.trim_start().starts_with(&format!("{id} — ")) && r.contains('%'))
        };
        (running("batch_us_long") && running("batch_globex_soon")).then_some(rows)
    });
    let at = |prefix: &str| {
        rows.iter()
            .position(|r| r.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {rows:?}"))
    };
    assert!(at("Acme US — ") < at("batch_us_long — "), "{rows:?}");
    assert!(at("batch_us_long — ") < at("Globex — "), "{rows:?}");
    assert!(at("Globex — ") < at("batch_globex_soon — "), "{rows:?}");

    // Each batch was asked with its own workspace's pair, never the other's.
    for record in desktop.sim.control().requests() {
        let expected = match record.batch_id.as_deref() {
            Some("batch_globex_soon") => (OTHER_KEY, "ws_globex"),
            Some("batch_us_long") => (KEY, WORKSPACE),
            _ => continue,
        };
        assert_eq!(
            (record.api_key.as_deref(), record.workspace_id.as_deref()),
            (Some(expected.0), Some(expected.1)),
            "{record:?}"
        );
    }

    // The window groups the cards under each workspace's heading, with its own summary.
    let window = desktop.open(&[]);
    let groups = eventually("a heading over each workspace's cards", WAIT, || {
        let order = window.run(
            "return [...document.querySelectorAll('#cards > li')].map(li => li.classList.contains('ws-head') ? 'head:' + li.querySelector('h2').textContent : li.dataset.id);",
            json!([]),
        );
        let order: Vec<String> = order
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        (order.len() == 4).then_some(order)
    });
    assert_eq!(
        groups,
        [
            "head:Acme US",
            "batch_us_long",
            "head:Globex",
            "batch_globex_soon"
        ]
    );

    // A terminal's own requests (leased from the tray app's budget) carry the named workspace's
    // pair; a rename from the terminal reaches the window's heading.
    desktop.sim.control().clear_requests();
    let (code, out, err) = desktop.cli(
        &["--workspace", "ws_globex", "failed", "batch_globex_soon"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let asked = desktop.sim.control().requests();
    assert!(
        asked.iter().any(|r| r.path.ends_with("/calls")
            && r.api_key.as_deref() == Some(OTHER_KEY)
            && r.workspace_id.as_deref() == Some("ws_globex")),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .filter(|r| r.path.ends_with("/calls"))
            .all(|r| r.api_key.as_deref() == Some(OTHER_KEY)),
        "{asked:?}"
    );
    let (code, out, err) = desktop.cli(
        &[
            "credentials",
            "rename",
            "--workspace",
            "ws_globex",
            "Globex Corp",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    eventually("the new label on the window's heading", WAIT, || {
        let heads = window.run(
            "return [...document.querySelectorAll('.ws-head h2')].map(h => h.textContent);",
            json!([]),
        );
        (heads == json!(["Acme US", "Globex Corp"])).then_some(())
    });

    // A finish is told with its workspace's name.
    eventually("an answered poll of the batch", WAIT, || {
        desktop
            .sim
            .control()
            .requests()
            .iter()
            .any(|r| r.batch_id.as_deref() == Some("batch_globex_soon") && r.status == 200)
            .then_some(())
    });
    desktop.sim.control().finish_batch("batch_globex_soon");
    let (_, _, body) = eventually(
        "the completion notification",
        Duration::from_secs(60),
        || {
            os::notifications()
                .into_iter()
                .find(|(_, summary, _)| summary == "Batch batch_globex_soon completed")
        },
    );
    assert!(body.starts_with("Globex Corp: "), "{body}");

    // Removing a workspace that still has a running batch is asked first (no terminal here:
    // refused, nothing removed); with --yes it goes, and its batch with it.
    let (code, _, err) = desktop.cli(&["credentials", "clear", "--workspace", WORKSPACE], "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("still watches 1 running batch in ws_e2e"),
        "{err}"
    );
    assert_eq!(os::keychain_accounts(&desktop.keychain_service).len(), 2);
    let (code, out, err) = desktop.cli(
        &["credentials", "clear", "--workspace", WORKSPACE, "--yes"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        os::keychain_accounts(&desktop.keychain_service),
        ["trillet/ws_globex"]
    );
    eventually("the removed workspace's card to go", WAIT, || {
        let left = window.run(
            "return [...document.querySelectorAll('.card')].map(c => c.dataset.id);",
            json!([]),
        );
        (left == json!(["batch_globex_soon"])).then_some(())
    });
    window.quit();
}
