//! The window itself, end to end: how it closes, what an accessibility audit finds in each
//! state a person reaches, the keyboard, and many batches.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use batchwatch_e2e::desktop::{Desktop, KEY, WORKSPACE};
use batchwatch_e2e::webdriver::WebDriver;
use batchwatch_e2e::window::{accessibility_violations, in_card, open_settings, save_credentials};
use batchwatch_e2e::{eventually, os};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Both cores kept busy (`yes > /dev/null` on each) for as long as it lives; it stops exactly
/// the processes it started, by PID.
struct BusyCores(Vec<Child>);

impl BusyCores {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self(
            (0..cores)
                .map(|_| {
                    Command::new("yes")
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("yes runs")
                })
                .collect(),
        )
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn fifty_windows_in_a_row_each_close_at_the_first_request_with_both_cores_busy() {
    let mut desktop = Desktop::new("fifty_closes");
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy().into_owned();
    let _busy = BusyCores::start();
    for round in 0..50 {
        let window = desktop.launch(&[]);
        let pid = window.id();
        eventually(&format!("window {round} to be shown"), WAIT, || {
            os::window_exists("Batchwatch", &app).then_some(())
        });
        // One request, as a window manager's close button sends it; never a second.
        os::close_window("Batchwatch", &app);
        let status = eventually(&format!("window {round} to close"), WAIT, || {
            desktop.direct(round).try_wait().unwrap()
        });
        assert!(
            status.success(),
            "window {round} (pid {pid}) exited with {status:?}"
        );
        assert!(
            !os::window_exists("Batchwatch", &app),
            "no window is left after close {round}"
        );
    }
}

/// Audits the window as it is now, naming the state when a rule is violated.
fn audit(window: &WebDriver, state: &str) {
    let violations = accessibility_violations(window);
    assert!(
        violations.is_empty(),
        "WCAG 2.1 A/AA violations with {state}:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_state_a_person_reaches_passes_a_wcag_audit() {
    use trillet_sim::BatchScript;
    let mut desktop = Desktop::new("audit");
    let control = desktop.sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_failing"));
    control.add_batch(
        BatchScript::new(2000)
            .id("batch_running")
            .concurrency(4)
            .call_duration(Duration::from_secs(600))
            .started_ago(Duration::from_secs(700)),
    );
    let window = desktop.open(&[]);
    eventually("the credentials panel open, asking", WAIT, || {
        window
            .run("return document.getElementById('credentials-panel').open && document.getElementById('empty').hidden === false;", json!([]))
            .as_bool()
            .filter(|open| *open)
    });
    audit(&window, "nothing set up (empty, the credentials form open)");

    save_credentials(&window, KEY);
    window.type_into("#add-input", "batch_failing batch_running");
    window.click("#add-form button[type=submit]");
    eventually("failed calls counted", WAIT, || {
        in_card(&window, "batch_failing", ".failures summary").filter(|s| s != "Failed calls (0)")
    });
    eventually("recent calls", WAIT, || {
        in_card(&window, "batch_running", ".recent summary")
    });
    window.run(
        "document.getElementById('credentials-panel').open = false; return null;",
        json!([]),
    );
    audit(&window, "cards");

    window.click(".card[data-id='batch_failing'] .failures summary");
    eventually("the failed calls' first page", WAIT, || {
        in_card(&window, "batch_failing", ".failures-summary")
    });
    window.click(".card[data-id='batch_running'] .recent summary");
    audit(&window, "recent calls and failed calls open");

    window.click(".card[data-id='batch_running'] .cancel");
    audit(&window, "the cancel question");
    window.click(".card[data-id='batch_running'] .keep");

    open_settings(&window);
    audit(&window, "settings open");
    window.run("document.getElementById('settings-panel').open = false; document.getElementById('credentials-panel').open = true; return null;", json!([]));
    audit(&window, "credentials open with a workspace stored");
    window.click("#forget");
    audit(&window, "the forget question");
    window.run(
        "document.querySelector('.confirm-remove button:last-child').click(); return null;",
        json!([]),
    );

    window.click("#new-batch");
    audit(&window, "the new batch panel");
    window.click("#launch-close");

    // The key rejected: the banner.
    control.revoke_key(KEY);
    window.click("#refresh-all");
    eventually("the banner", WAIT, || {
        window
            .run("const b = document.getElementById('banner'); return b.hidden ? null : b.textContent;", json!([]))
            .as_str()
            .map(str::to_owned)
    });
    audit(&window, "the key rejected (a banner)");
}

#[test]
fn the_dark_theme_passes_the_same_audit() {
    let mut desktop = Desktop::new("audit_dark");
    desktop
        .extra_env
        .push(("GTK_THEME".into(), "Adwaita:dark".into()));
    desktop
        .sim
        .control()
        .add_batch(trillet_sim::failing_batch("batch_failing"));
    let window = desktop.open(&[]);
    let dark = window
        .run(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            json!([]),
        )
        .as_bool();
    assert_eq!(dark, Some(true), "the page is in its dark theme");
    save_credentials(&window, KEY);
    window.type_into("#add-input", "batch_failing");
    window.click("#add-form button[type=submit]");
    eventually("failed calls counted", WAIT, || {
        in_card(&window, "batch_failing", ".failures summary").filter(|s| s != "Failed calls (0)")
    });
    window.click(".card[data-id='batch_failing'] .failures summary");
    eventually("the failed calls' first page", WAIT, || {
        in_card(&window, "batch_failing", ".failures-summary")
    });
    audit(&window, "the dark theme, a card with its failed calls open");
    open_settings(&window);
    audit(&window, "the dark theme, settings open");
}
