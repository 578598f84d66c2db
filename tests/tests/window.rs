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

/// A batch with hundreds of failed calls (`batch_failing`) and one running for hours
/// (`batch_running`), at the simulator.
fn failing_and_running(desktop: &Desktop) {
    let control = desktop.sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_failing"));
    control.add_batch(
        trillet_sim::BatchScript::new(2000)
            .id("batch_running")
            .concurrency(4)
            .call_duration(Duration::from_secs(600))
            .started_ago(Duration::from_secs(700)),
    );
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
    let mut desktop = Desktop::new("audit");
    let control = desktop.sim.control();
    failing_and_running(&desktop);
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

/// The X clipboard holding `text` for as long as it lives (xclip serving it in the
/// foreground, stopped by PID).
struct Clipboard(Child);

impl Clipboard {
    fn holding(text: &str) -> Self {
        use std::io::Write;
        let mut child = Command::new("xclip")
            .args(["-quiet", "-selection", "clipboard", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xclip runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        eventually("the clipboard to hold the text", WAIT, || {
            (os::clipboard().as_deref() == Some(text)).then_some(())
        });
        Self(child)
    }
}

impl Drop for Clipboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Presses a key or chord ("Control_L+f") on the real keyboard, the window focused.
fn press(app: &str, key: &str) {
    assert!(os::press_key("Batchwatch", app, key), "pressing {key}");
}

fn shown_ids(window: &WebDriver) -> Vec<String> {
    window
        .run(
            "return [...document.querySelectorAll('#cards .card')].map(c => c.dataset.id);",
            json!([]),
        )
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn focused(window: &WebDriver) -> String {
    window
        .run(
            "const e = document.activeElement; return e ? (e.id || e.className || e.tagName) : '';",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_keyboard_alone_pastes_filters_sorts_removes_and_closes() {
    use trillet_sim::BatchScript;
    let mut desktop = Desktop::new("keyboard");
    let control = desktop.sim.control();
    // Three running batches, far apart in progress.
    for (id, ago) in [("batch_slow", 60), ("batch_fast", 1500), ("batch_mid", 700)] {
        control.add_batch(
            BatchScript::new(400)
                .id(id)
                .concurrency(4)
                .call_duration(Duration::from_secs(30))
                .started_ago(Duration::from_secs(ago)),
        );
    }
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy().into_owned();
    let window = desktop.open(&[]);
    eventually("the window", WAIT, || {
        os::window_exists("Batchwatch", &app).then_some(())
    });

    // Polls ten minutes apart: any request after the first ones below is Ctrl+R's.
    open_settings(&window);
    window.run("document.getElementById('floor-secs').value = '600'; document.getElementById('settings-form').requestSubmit(); return null;", json!([]));
    eventually("the settings saved", WAIT, || {
        window.text("#settings-message").filter(|m| m == "Saved.")
    });
    window.run(
        "document.getElementById('settings-panel').open = false; return null;",
        json!([]),
    );

    // Ctrl+V with nothing focused pastes into the add box; Enter adds.
    let clipboard = Clipboard::holding("batch_slow batch_fast batch_mid");
    window.run(
        "document.activeElement && document.activeElement.blur(); return null;",
        json!([]),
    );
    press(&app, "Control_L+v");
    eventually("the paste in the add box", WAIT, || {
        window
            .value("#add-input")
            .filter(|v| v.contains("batch_mid"))
    });
    drop(clipboard);
    assert_eq!(focused(&window), "add-input");
    press(&app, "Return");
    eventually("three cards with progress", WAIT, || {
        let percents = window.texts("#cards .card .percent");
        (percents.len() == 3 && percents.iter().all(|p| !p.is_empty())).then_some(())
    });
    assert_eq!(
        shown_ids(&window),
        ["batch_slow", "batch_fast", "batch_mid"],
        "in the order added"
    );

    // Sorted by progress: the furthest along first.
    window.run("const s = document.getElementById('sort'); s.value = 'progress'; s.dispatchEvent(new Event('change')); return null;", json!([]));
    eventually("sorted by progress", WAIT, || {
        (shown_ids(&window) == ["batch_fast", "batch_mid", "batch_slow"]).then_some(())
    });

    // Ctrl+F: the filter box; typing narrows the list and says how many are shown.
    press(&app, "Control_L+f");
    eventually("the filter focused", WAIT, || {
        (focused(&window) == "filter").then_some(())
    });
    assert!(os::type_text("Batchwatch", &app, "mid"));
    eventually("one of three shown", WAIT, || {
        (shown_ids(&window) == ["batch_mid"]
            && window.text("#shown-count").as_deref() == Some("1 of 3 shown"))
        .then_some(())
    });
    // Escape clears it.
    press(&app, "Escape");
    eventually("all shown again", WAIT, || {
        (shown_ids(&window).len() == 3
            && window.text("#shown-count").is_some_and(|_| {
                window
                    .run(
                        "return document.getElementById('shown-count').hidden;",
                        json!([]),
                    )
                    .as_bool()
                    == Some(true)
            }))
        .then_some(())
    });

    // Delete on a card asks first; Enter answers it; the card goes.
    focus(&window, ".card[data-id='batch_slow'] .copy");
    press(&app, "Delete");
    eventually("the question", WAIT, || {
        (focused(&window).contains("confirm-remove-card")).then_some(())
    });
    assert_eq!(
        shown_ids(&window).len(),
        3,
        "nothing removed before the answer"
    );
    press(&app, "Return");
    eventually("the card gone", WAIT, || {
        (!shown_ids(&window).contains(&"batch_slow".to_owned())).then_some(())
    });

    // Escape closes the open panel and leaves the focus on its heading.
    focus(&window, "#settings-panel summary");
    press(&app, "Return");
    eventually("settings open", WAIT, || {
        window
            .run(
                "return document.getElementById('settings-panel').open;",
                json!([]),
            )
            .as_bool()
            .filter(|o| *o)
    });
    press(&app, "Escape");
    eventually("settings closed, its heading focused", WAIT, || {
        window
            .run(
                "const p = document.getElementById('settings-panel'); return !p.open && document.activeElement === p.querySelector('summary');",
                json!([]),
            )
            .as_bool()
            .filter(|closed| *closed)
    });

    // Ctrl+R asks Trillet for every batch at once (each was asked when added, and not due
    // again for ten minutes).
    control.clear_requests();
    press(&app, "Control_L+r");
    eventually("both remaining batches asked", WAIT, || {
        (control.request_count("batch_fast") >= 1 && control.request_count("batch_mid") >= 1)
            .then_some(())
    });

    // A batch's end, seen on the next Ctrl+R, is said once through the polite live region, in
    // its progress bar's words.
    control.finish_batch("batch_mid");
    press(&app, "Control_L+r");
    let said = eventually("the end said in the live region", WAIT, || {
        window
            .text("#announcer")
            .filter(|t| t.contains("batch_mid: completed — "))
    });
    let bar = window
        .run(
            "return document.querySelector(\".card[data-id='batch_mid'] .bar\").getAttribute('aria-valuetext');",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(said.contains(&format!("{bar}.")), "{said:?} says {bar:?}");
}

/// A figure the page keeps about itself (`window.batchwatchFigures`).
fn page_figure(window: &WebDriver, name: &str) -> Option<f64> {
    window
        .run(
            "const f = window.batchwatchFigures; return f ? f[arguments[0]] : null;",
            json!([name]),
        )
        .as_f64()
}

#[test]
fn two_thousand_batches_open_filter_and_update_one_card_at_a_time() {
    use trillet_sim::BatchScript;
    let mut desktop = Desktop::new("many");
    let control = desktop.sim.control();
    let ids: Vec<String> = (0..2000).map(|i| format!("batch_many{i:04}")).collect();
    for id in &ids {
        control.add_batch(
            BatchScript::new(200)
                .id(id.as_str())
                .concurrency(2)
                .call_duration(Duration::from_secs(120)),
        );
    }
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    for chunk in ids.chunks(1000) {
        let mut args = vec!["add"];
        args.extend(chunk.iter().map(String::as_str));
        let (code, out, err) = desktop.cli(&args, "");
        assert_eq!(code, 0, "{out}{err}");
    }

    let opened = std::time::Instant::now();
    let window = desktop.open(&[]);
    eventually("2,000 cards", WAIT, || {
        (window
            .run(
                "return document.querySelectorAll('#cards .card').length;",
                json!([]),
            )
            .as_u64()
            == Some(2000))
        .then_some(())
    });
    let seen_after = opened.elapsed();
    let first_cards_ms = eventually("the page's own figure", WAIT, || {
        page_figure(&window, "firstCardsMs")
    });
    eprintln!(
        "2,000 batches: first cards {first_cards_ms:.0} ms after the page began (debug build); all 2,000 seen by the test {} ms after it asked for the window",
        seen_after.as_millis()
    );

    // Each answer from Trillet changes its own card, and (in this suite's time, 15 times
    // faster) the elapsed minutes of the cards that turned one: the page reads and redraws
    // those (`cardsGiven`), not all 2,000.
    let mut costs = Vec::new();
    let mut layouts = Vec::new();
    let mut given = Vec::new();
    let mut renders = page_figure(&window, "renders").unwrap_or(0.0);
    let mut views = 0;
    while costs.len() < 12 {
        views += 1;
        assert!(views < 300, "12 views of one card each within 300 views");
        renders = eventually("the next update", WAIT, || {
            page_figure(&window, "renders").filter(|n| *n > renders)
        });
        let cards_given = page_figure(&window, "cardsGiven").unwrap_or(0.0);
        if !(1.0..2000.0).contains(&cards_given) {
            continue; // a view of no card (the tray's figures) or of all (after get_state)
        }
        given.push(cards_given);
        costs.extend(page_figure(&window, "renderMs"));
        layouts.extend(page_figure(&window, "layoutMs"));
    }
    let with_progress = window
        .texts("#cards .card .percent")
        .into_iter()
        .filter(|p| !p.is_empty())
        .count();
    assert!(with_progress > 0, "updates reached the cards");
    eprintln!("2,000 batches: cards in each view measured: {given:?}; ms: {costs:?}");
    costs.sort_by(f64::total_cmp);
    layouts.sort_by(f64::total_cmp);
    eprintln!(
        "2,000 batches: one update costs the page {:.1} ms median, {:.1} ms at most, script and layout ({} updates; layout alone {:.1} ms median)",
        costs[costs.len() / 2],
        costs[costs.len() - 1],
        costs.len(),
        layouts[layouts.len() / 2],
    );

    // The filter finds one among them.
    window.type_into("#filter", "batch_many1234");
    eventually("one of 2,000 shown", WAIT, || {
        window
            .text("#shown-count")
            .filter(|t| t == "1 of 2000 shown")
    });
    assert_eq!(
        window
            .run(
                "return [...document.querySelectorAll('#cards .card')].map(c => c.dataset.id);",
                json!([])
            )
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// The session's accessibility bus (AT-SPI, what screen readers use), for as long as it lives:
/// the launcher started on this session's own bus and stopped by PID. Only apps started
/// after it is up use it (the rest of the suite and the benchmarks run without one).
struct AccessibilityBus(Child);

impl AccessibilityBus {
    fn start() -> Self {
        let launcher = Command::new("/usr/libexec/at-spi-bus-launcher")
            .arg("--launch-immediately")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("at-spi-bus-launcher (at-spi2-core) runs");
        eventually("the accessibility bus", WAIT, || {
            os::bus_name_owner_pid("org.a11y.Bus").map(|_| ())
        });
        Self(launcher)
    }
}

impl AccessibilityBus {
    /// Ends the launcher and what it started below it (the bus, the registry the bus started:
    /// they outlive it otherwise), by PID, and takes the bus's address off the display so no
    /// later app looks for a bus gone. Returns the PIDs it stopped.
    fn stop(&mut self) -> Vec<u32> {
        let mut stopped = vec![self.0.id()];
        let mut i = 0;
        while i < stopped.len() {
            let children = Command::new("pgrep")
                .args(["-P", &stopped[i].to_string()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            stopped.extend(
                children
                    .split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
            i += 1;
        }
        for pid in stopped.iter().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = self.0.wait();
        let _ = Command::new("xprop")
            .args(["-root", "-remove", "AT_SPI_BUS"])
            .status();
        stopped
    }
}

impl Drop for AccessibilityBus {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// The window's accessibility tree as a screen reader reads it (scripts/lib/a11y-tree.py).
fn accessibility_tree() -> Option<String> {
    let out = Command::new(batchwatch_e2e::checkout().join("scripts/lib/a11y-tree.py"))
        .arg("batchwatch")
        .output()
        .expect("a11y-tree.py runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_screen_reader_reads_each_progress_bar_with_its_value_and_each_button_by_its_name() {
    use trillet_sim::BatchScript;
    // Started once this test has the session to itself (Desktop::new waits its turn).
    let mut desktop = Desktop::new("at_spi");
    let mut bus = AccessibilityBus::start();
    desktop.sim.control().add_batch(
        BatchScript::new(300)
            .id("batch_spoken")
            .concurrency(4)
            .call_duration(Duration::from_secs(600))
            .started_ago(Duration::from_secs(1500)),
    );
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = desktop.cli(&["add", "batch_spoken"], "");
    assert_eq!(code, 0, "{out}{err}");
    let window = desktop.open(&[]);
    // The page's words for the bar and what AT-SPI reads, taken together until they agree
    // (the batch moves on meanwhile: each read is of the bar as it is then).
    let spoken_now = || {
        window
            .run("const b = document.querySelector(`.card[data-id='batch_spoken'] .bar`); return b && b.getAttribute('aria-valuetext');", json!([]))
            .as_str()
            .filter(|t| t.contains('%'))
            .map(str::to_owned)
    };
    let (tree, bar, spoken) = eventually(
        "the progress bar over AT-SPI, as the page says it",
        WAIT,
        || {
            let tree = accessibility_tree()?;
            let bar = tree
                .lines()
                .find(|l| l.contains("progress bar 'Progress of batch_spoken'"))?
                .to_owned();
            let spoken = spoken_now()?;
            (bar.contains(&format!("text={spoken:?}")) || bar.contains(&format!("text='{spoken}'")))
                .then_some((tree, bar, spoken))
        },
    );
    assert!(
        bar.contains(" value=") && !bar.contains("value=none"),
        "the bar has a value as well as its words ({spoken}): {bar}"
    );
    for button in [
        "push button 'Remove batch_spoken (stop watching it)'",
        "push button 'Copy batch_spoken'",
        "push button 'New batch…'",
        "push button 'Refresh now'",
    ] {
        assert!(tree.contains(button), "{button} in:\n{tree}");
    }

    // Nothing of the accessibility bus is left running.
    let stopped = bus.stop();
    assert!(stopped.len() >= 2, "the launcher and its bus: {stopped:?}");
    eventually("the accessibility bus's processes to end", WAIT, || {
        stopped.iter().all(|pid| !os::alive(*pid)).then_some(())
    });
}

/// Focuses the element matching `css` as a Tab would land on it (no pointer involved).
fn focus(window: &WebDriver, css: &str) {
    let found = window
        .run(
            "const e = document.querySelector(arguments[0]); if (!e) return false; e.scrollIntoView({block: 'center'}); e.focus(); return document.activeElement === e;",
            json!([css]),
        )
        .as_bool();
    assert_eq!(found, Some(true), "{css} takes the focus");
}

#[test]
fn the_keyboard_alone_opens_failed_calls_copies_numbers_cancels_and_saves_a_setting() {
    let mut desktop = Desktop::new("keyboard_actions");
    let control = desktop.sim.control();
    failing_and_running(&desktop);
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = desktop.cli(&["add", "batch_failing", "batch_running"], "");
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy().into_owned();
    let window = desktop.open(&[]);
    eventually("failed calls counted", WAIT, || {
        in_card(&window, "batch_failing", ".failures summary").filter(|s| s != "Failed calls (0)")
    });

    // Enter on the failed calls' heading opens them, grouped.
    focus(&window, ".card[data-id='batch_failing'] .failures summary");
    press(&app, "Return");
    eventually("the first group", WAIT, || {
        in_card(&window, "batch_failing", ".group h3")
    });
    // Enter on "Copy numbers" puts the group's numbers on the clipboard.
    focus(
        &window,
        ".card[data-id='batch_failing'] .group .copy-numbers",
    );
    press(&app, "Return");
    let copied = eventually("the numbers on the clipboard", WAIT, || {
        os::clipboard().filter(|c| c.starts_with('+'))
    });
    assert!(copied.lines().count() >= 1, "{copied}");

    // Enter on "Cancel batch…" asks, with "Keep it running" focused; Shift+Tab reaches
    // "Cancel batch" and Enter sends the cancel.
    focus(&window, ".card[data-id='batch_running'] .cancel");
    press(&app, "Return");
    eventually("the question, keep focused", WAIT, || {
        (focused(&window) == "keep").then_some(())
    });
    press(&app, "Shift_L+Tab");
    eventually("cancel focused", WAIT, || {
        focused(&window).contains("confirm").then_some(())
    });
    press(&app, "Return");
    eventually("the cancelled card", WAIT, || {
        (batchwatch_e2e::window::card_state(&window, "batch_running") == "cancelled").then_some(())
    });
    let cancels = control
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE" && r.batch_id.as_deref() == Some("batch_running"))
        .count();
    assert_eq!(cancels, 1, "one cancel sent");

    // A setting changed and saved from the keyboard: Enter opens the panel, the field is
    // retyped, Enter saves.
    focus(&window, "#settings-panel summary");
    press(&app, "Return");
    focus(&window, "#floor-secs");
    // Emptied as an edit (a view arriving meanwhile would otherwise put the stored value back).
    window.run("const e = document.getElementById('floor-secs'); e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); return null;", json!([]));
    assert!(os::type_text("Batchwatch", &app, "45"));
    eventually("the field retyped", WAIT, || {
        window.value("#floor-secs").filter(|v| v == "45")
    });
    press(&app, "Return");
    eventually("the setting saved", WAIT, || {
        desktop
            .saved_settings()
            .filter(|s| s["poll"]["floor"] == 45_000)
    });
    assert_eq!(window.text("#settings-message").as_deref(), Some("Saved."));
}

/// The stored workspaces in the credentials panel, by keyboard where a person would use it: a
/// rename given up with Escape puts the list back and leaves the panel open; Remove on a
/// workspace with a running batch says how many it stops watching, and "Keep it" keeps it; a
/// rename saved shows at once.
#[test]
fn a_workspace_rename_is_given_up_with_escape_and_removing_one_names_its_running_batches() {
    use trillet_sim::BatchScript;
    const OTHER_KEY: &str = "sk_e2e_second_workspace_key_58";
    let mut desktop = Desktop::new("workspace_list");
    let control = desktop.sim.control();
    control.add_key(OTHER_KEY, "ws_globex");
    control.add_batch(BatchScript::new(3000).id("batch_globex"));
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
    let (code, out, err) = desktop.cli(&["add", "--workspace", "ws_globex", "batch_globex"], "");
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy().into_owned();
    let window = desktop.open(&[]);
    let globex = "#workspaces-list li[data-workspace='ws_globex']";
    let listed = || window.texts("#workspaces-list li .what");
    window.run(
        "document.getElementById('credentials-panel').open = true; return null;",
        json!([]),
    );
    eventually("both workspaces listed", WAIT, || {
        (listed() == ["Acme US (ws_e2e)", "Globex (ws_globex)"]).then_some(())
    });
    eventually("the batch running in Globex", WAIT, || {
        (batchwatch_e2e::window::card_state(&window, "batch_globex") == "running").then_some(())
    });

    // Rename, then Escape: the label as it was, the panel still open.
    window.click(&format!("{globex} button:first-of-type"));
    eventually("the label's field focused", WAIT, || {
        window
            .run(
                "return document.activeElement.matches(arguments[0]);",
                json!([format!("{globex} input")]),
            )
            .as_bool()
            .filter(|f| *f)
    });
    press(&app, "Escape");
    eventually("the list as it was", WAIT, || {
        (listed() == ["Acme US (ws_e2e)", "Globex (ws_globex)"]).then_some(())
    });
    assert_eq!(
        window.run(
            "return document.getElementById('credentials-panel').open;",
            json!([])
        ),
        true,
        "Escape gave up the rename, and closed nothing else"
    );

    // Remove asks, naming the running batch it would stop watching; "Keep it" keeps it.
    window.click(&format!("{globex} button:nth-of-type(2)"));
    let question = eventually("the question", WAIT, || {
        window.text(&format!("{globex} .confirm-remove p"))
    });
    assert!(
        question.starts_with("Globex still has 1 running batch."),
        "{question}"
    );
    window.click(&format!("{globex} .confirm-remove button:last-child"));
    eventually("the question gone", WAIT, || {
        window
            .text(&format!("{globex} .confirm-remove"))
            .is_none()
            .then_some(())
    });
    assert_eq!(listed(), ["Acme US (ws_e2e)", "Globex (ws_globex)"]);

    // A rename saved shows at once.
    window.click(&format!("{globex} button:first-of-type"));
    window.run(
        "const i = document.querySelector(arguments[0]); i.value = 'Globex EU'; return null;",
        json!([format!("{globex} input")]),
    );
    window.click(&format!("{globex} button.primary"));
    eventually("the new label listed", WAIT, || {
        (listed() == ["Acme US (ws_e2e)", "Globex EU (ws_globex)"]).then_some(())
    });
}
