//! Starting campaigns as a person does: a CSV chosen in the desktop's own open dialog or dropped
//! on the window from a file manager, checked and previewed on the window's panel, the agent picked, confirmed, started once — its card
//! runs to the end — and its failed calls started again from the card as a linked batch whose
//! CSV holds exactly the numbers that failed, with their columns; and a start scheduled from the
//! terminal showing its time in the tray and in `status`. Every start is read back from the
//! simulator's own record of what it received.

use std::collections::HashSet;
use std::time::Duration;

use batchwatch_e2e::desktop::{Desktop, KEY, WORKSPACE};
use batchwatch_e2e::webdriver::WebDriver;
use batchwatch_e2e::window::{card_state, in_card, save_credentials};
use batchwatch_e2e::{eventually, os};
use serde_json::json;
use trillet_sim::{Agent, BatchScript};

const WAIT: Duration = Duration::from_secs(30);
const DIALOG: &str = "Choose the campaign's CSV file";

/// A campaign's CSV: the number first, then columns of the campaign's own (one with a comma).
fn contacts(rows: usize) -> String {
    let mut text = String::from("phone_number,first_name,plan\n");
    for i in 0..rows {
        text.push_str(&format!("+1555010{i:04},Name {i},\"Gold, yearly\"\n"));
    }
    text
}

fn with_agents(desktop: &Desktop) {
    let control = desktop.sim.control();
    control.add_agent(Agent::ready("agent_sales", "Sales").in_workspace(WORKSPACE));
    control.add_agent(
        Agent::ready("agent_draft", "Survey")
            .status("draft")
            .in_workspace(WORKSPACE),
    );
    // Started batches run fast and fail often enough to have something to retry.
    control.set_started_batches(
        BatchScript::new(0)
            .concurrency(10)
            .call_duration(Duration::from_secs(20))
            .failure_rate(0.4)
            .failure_reasons(["Number busy", "No answer"]),
    );
}

fn panel_text(window: &WebDriver, id: &str) -> String {
    window
        .run(
            "const e = document.getElementById(arguments[0]); return e && !e.closest('[hidden]') ? e.textContent : '';",
            json!([id]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Chooses `path` in the open dialog as a person does: "Choose a CSV file…", then the file's
/// full path typed (a `/` first opens the dialog's location entry; a name alone would search)
/// and Enter. A dialog that missed keys (one just mapped may not listen yet) is closed with
/// Escape and opened again.
fn pick_in_dialog(window: &WebDriver, app: &str, path: &std::path::Path) {
    let closed = || {
        (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            !os::window_exists(DIALOG, app)
        })
    };
    for attempt in 1..=3 {
        window.click("#launch-choose");
        eventually("the open dialog", WAIT, || {
            os::window_exists(DIALOG, app).then_some(())
        });
        os::type_text(DIALOG, app, path.to_str().unwrap());
        os::press_key(DIALOG, app, "Return");
        if closed() {
            return;
        }
        eprintln!(
            "the open dialog did not take the path on try {attempt}; closing it to try again"
        );
        os::press_key(DIALOG, app, "Escape");
        assert!(closed(), "the open dialog did not close on Escape");
    }
    panic!("the open dialog never took {}", path.display());
}

fn starts_received(desktop: &Desktop) -> Vec<trillet_sim::Upload> {
    desktop.sim.control().uploads()
}

#[test]
fn a_csv_is_started_from_the_window_and_its_failed_calls_retried_as_a_linked_batch() {
    let mut desktop = Desktop::new("launch_window");
    with_agents(&desktop);
    let documents = desktop.documents_dir();
    let file = contacts(30);
    std::fs::write(documents.join("contacts.csv"), &file).unwrap();
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy();

    let window = desktop.open(&[]);
    save_credentials(&window, KEY);
    eventually("the credentials stored", WAIT, || {
        panel_text(&window, "credentials-state")
            .contains(WORKSPACE)
            .then_some(())
    });

    // Ctrl+N opens the panel; in the desktop's dialog, a file Trillet would refuse first: its
    // bad rows are named and it cannot be started.
    std::fs::write(
        documents.join("bad.csv"),
        "phone_number,first_name\n+15550000001,Ada\n555-0100,Bo\n",
    )
    .unwrap();
    window.run(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'n', ctrlKey: true}));",
        json!([]),
    );
    eventually("the panel", WAIT, || {
        (panel_text(&window, "launch-title") == "New batch").then_some(())
    });
    pick_in_dialog(&window, &app, &documents.join("bad.csv"));
    let bad = eventually("the bad rows", WAIT, || {
        Some(panel_text(&window, "launch-bad")).filter(|s| !s.is_empty())
    });
    assert!(
        bad.starts_with("1 row has a number Trillet refuses: line 3 \"555-0100\""),
        "{bad}"
    );
    assert_eq!(
        window.run(
            "return document.getElementById('launch-review').disabled;",
            json!([])
        ),
        true
    );

    // The campaign's file dropped on the window, as from a file manager: checked, previewed.
    assert!(
        os::drop_file("Batchwatch", &app, &documents.join("contacts.csv")),
        "the window took the drop"
    );
    let summary = eventually("the dropped file's check", WAIT, || {
        Some(panel_text(&window, "launch-summary")).filter(|s| s.starts_with("30 rows"))
    });
    assert_eq!(summary, "30 rows, 30 distinct numbers");
    assert_eq!(panel_text(&window, "launch-file"), "contacts.csv");
    let preview = window.run(
        "return [...document.querySelectorAll('#launch-preview tbody tr')].map(r => [...r.cells].map(c => c.textContent));",
        json!([]),
    );
    assert_eq!(preview.as_array().unwrap().len(), 5);
    assert_eq!(
        preview[0],
        json!(["+15550100000", "Name 0", "Gold, yearly"])
    );

    // The agents, ready ones first; the draft says so.
    let agents = eventually("the agents", WAIT, || {
        let options = window.run(
            "return [...document.querySelectorAll('#launch-agent option')].map(o => o.textContent);",
            json!([]),
        );
        Some(options).filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
    });
    assert_eq!(agents, json!(["Sales", "Survey (draft)"]));
    let agent_lists = |desktop: &Desktop| {
        desktop
            .sim
            .control()
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/api/agents")
            .count()
    };

    // A change after the review takes the confirm step away: what is confirmed is what is sent.
    window.click("#launch-review");
    eventually("a first question", WAIT, || {
        Some(panel_text(&window, "launch-question")).filter(|s| !s.is_empty())
    });
    window.run(
        "const s = document.getElementById('launch-agent'); s.value = 'agent_draft'; s.dispatchEvent(new Event('input', {bubbles: true}));",
        json!([]),
    );
    assert!(
        panel_text(&window, "launch-question").is_empty(),
        "the question went with the change"
    );
    window.run(
        "const s = document.getElementById('launch-agent'); s.value = 'agent_sales'; s.dispatchEvent(new Event('input', {bubbles: true}));",
        json!([]),
    );

    window.click("#launch-review");
    let question = eventually("the question", WAIT, || {
        Some(panel_text(&window, "launch-question")).filter(|s| !s.is_empty())
    });
    assert_eq!(
        question,
        "Start 30 calls from contacts.csv with the agent \"Sales\" (agent_sales) now?"
    );
    window.click("#launch-go");
    let id = eventually("the start", WAIT, || {
        starts_received(&desktop)
            .first()
            .and_then(|u| u.batch_id.clone())
    });
    assert_eq!(
        starts_received(&desktop)[0].csv_text(),
        file,
        "the file as it is on disk"
    );
    assert_eq!(
        starts_received(&desktop)[0].agent_id.as_deref(),
        Some("agent_sales")
    );
    // One request started it; the card's first answer is the batch's first poll, at once.
    let (started_at, first_poll) = eventually("the new batch's first poll", WAIT, || {
        let requests = desktop.sim.control().requests();
        let start = requests.iter().find(|r| r.method == "POST")?.sim_ms;
        let poll = requests
            .iter()
            .find(|r| r.batch_id.as_deref() == Some(id.as_str()) && r.path.ends_with("/status"))?
            .sim_ms;
        Some((start, poll))
    });
    eprintln!(
        "figure: from the start's request to the new batch's first poll: {:.0} ms",
        first_poll.saturating_sub(started_at) as f64 / batchwatch_e2e::desktop::SPEED
    );

    // The card: at once, with its agent and file, then to the end.
    eventually("the new card", WAIT, || {
        in_card(&window, &id, ".launch-line").filter(|l| l == "contacts.csv · agent Sales")
    });
    assert!(
        panel_text(&window, "launch-title").is_empty(),
        "the panel closed"
    );
    // Counted once the card is there: every request of this opening has been made.
    assert_eq!(
        agent_lists(&desktop),
        1,
        "the agents asked once for this opening"
    );
    eventually("the batch to finish", Duration::from_secs(60), || {
        (card_state(&window, &id) == "completed").then_some(())
    });
    assert_eq!(starts_received(&desktop).len(), 1, "started once");

    // Retry its failed calls from the card: the parent's agent, the list confirmed, started.
    window.click(&format!(".card[data-id='{id}'] .retry-all"));
    let retry_summary = eventually("the retry list", WAIT, || {
        Some(panel_text(&window, "launch-summary")).filter(|s| s.contains("rows,"))
    });
    let failed_numbers: HashSet<String> = {
        let (code, out, err) = desktop.cli(&["failed", "--numbers", &id], "");
        assert_eq!(code, 0, "{err}");
        out.lines().map(str::to_owned).collect()
    };
    assert!(!failed_numbers.is_empty());
    assert!(
        retry_summary.starts_with(&format!("{} rows", failed_numbers.len())),
        "{retry_summary}"
    );
    eventually("the parent's agent chosen", WAIT, || {
        (window.value("#launch-agent").as_deref() == Some("agent_sales")).then_some(())
    });
    window.click("#launch-review");
    eventually("the retry's question", WAIT, || {
        Some(panel_text(&window, "launch-question"))
            .filter(|q| q.contains(&format!("from {id}-retry.csv")))
    });
    window.click("#launch-go");
    let retry = eventually("the retry started", WAIT, || {
        starts_received(&desktop).get(1).cloned()
    });
    let retry_id = retry.batch_id.clone().expect("the retry started");
    let uploaded = retry.csv_text();
    let mut reader = csv::Reader::from_reader(uploaded.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["phone_number", "first_name", "plan"],
        "the campaign's own columns"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let numbers: HashSet<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(numbers, failed_numbers, "exactly the failed numbers");
    assert_eq!(rows.len(), numbers.len(), "each once");
    assert!(
        rows.iter().all(|r| &r[2] == "Gold, yearly"),
        "values as Trillet gave them"
    );

    // Linked both ways on the cards.
    eventually("the retry's card", WAIT, || {
        in_card(&window, &retry_id, ".launch-line")
            .filter(|l| l.contains(&format!("Retry of {id}")))
    });
    eventually("the parent links to it", WAIT, || {
        in_card(&window, &id, ".launch-line")
            .filter(|l| l.contains(&format!("Retried as {retry_id}")))
    });
    assert_eq!(starts_received(&desktop).len(), 2, "each start sent once");

    // Once the retry has run, the campaign adds up both attempts, in the window and the record.
    eventually("the retry to finish", Duration::from_secs(60), || {
        (card_state(&window, &retry_id) == "completed").then_some(())
    });
    let counts = |batch: &str| {
        let (code, out, err) = desktop.cli(&["status", "--json", batch], "");
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        (
            v["completed"].as_u64().unwrap(),
            v["failed"].as_u64().unwrap(),
        )
    };
    let ((first_done, _), (retry_done, retry_failed)) = (counts(&id), counts(&retry_id));
    let expected = format!(
        "{id}: {} of 30 reached over 2 attempts, {retry_failed} still unreached",
        first_done + retry_done
    );
    eventually("the campaign's line", WAIT, || {
        (panel_text(&window, "campaigns") == expected).then_some(())
    });
    let (code, out, err) = desktop.cli(&["history"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Campaign {expected}")), "{out}");
}

#[test]
fn a_start_scheduled_from_the_terminal_shows_its_time_in_the_tray_and_status() {
    let desktop = Desktop::new("launch_scheduled");
    with_agents(&desktop);
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    desktop
        .sim
        .control()
        .add_batch(BatchScript::new(3000).id("batch_seed"));
    // A tray app in the tray, hidden, watching something.
    let (code, out, err) = desktop.cli(&["add", "batch_seed"], "");
    assert_eq!(code, 0, "{out}{err}");
    let service = os::tray_service(WAIT);

    // Noon UTC, thirty days on (a start may be at most a year ahead).
    let day = 24 * 3_600_000;
    let at = trillet_sim::scheduled_at_text(
        (i64::try_from(desktop.sim.control().now_ms()).unwrap() / day + 30) * day + day / 2,
    );
    let date = &at[..10];
    let file = desktop.documents_dir().join("later.csv");
    std::fs::write(&file, contacts(3)).unwrap();
    let (code, out, err) = desktop.cli(
        &[
            "start",
            file.to_str().unwrap(),
            "--agent",
            "Sales",
            "--at",
            &at,
            "--yes",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.trim().to_owned();
    let row = eventually("the start time in the tray", WAIT, || {
        os::tray_rows(&service)
            .into_iter()
            .find(|r| r.starts_with(&format!("{id} — starts at ")))
    });
    assert!(row.contains(date), "{row}");
    let (code, out, err) = desktop.cli(&["status", &id], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("(starts at {date}")), "{out}");
    assert_eq!(
        desktop.sim.control().uploads()[0].scheduled_at.as_deref(),
        Some(at.as_str())
    );
}

#[test]
fn the_demo_starts_a_dropped_campaign_with_its_own_agents() {
    let mut desktop = Desktop::new("launch_demo");
    let file = desktop.documents_dir().join("demo-contacts.csv");
    std::fs::write(&file, contacts(5)).unwrap();
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy();
    let window = desktop.open(&["--demo"]);
    eventually("the demo's cards", WAIT, || {
        (card_state(&window, "batch_demo_campaign") == "running").then_some(())
    });
    assert!(
        os::drop_file("Batchwatch", &app, &file),
        "the window took the drop"
    );
    eventually("the dropped file's check", WAIT, || {
        Some(panel_text(&window, "launch-summary")).filter(|s| s == "5 rows, 5 distinct numbers")
    });
    let agents = eventually("the demo's agents", WAIT, || {
        let options = window.run(
            "return [...document.querySelectorAll('#launch-agent option')].map(o => o.textContent);",
            json!([]),
        );
        Some(options).filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
    });
    assert_eq!(
        agents,
        json!([
            "Appointment reminder",
            "Sales follow-up (EN)",
            "Customer survey (draft)"
        ])
    );
    window.click("#launch-review");
    eventually("the question", WAIT, || {
        Some(panel_text(&window, "launch-question"))
            .filter(|q| q.starts_with("Start 5 calls from demo-contacts.csv"))
    });
    window.click("#launch-go");
    let said = eventually("the start said", WAIT, || {
        Some(panel_text(&window, "add-feedback")).filter(|s| s.starts_with("Started batch_"))
    });
    let id = said
        .strip_prefix("Started ")
        .and_then(|s| s.split(':').next())
        .unwrap()
        .to_owned();
    eventually("the new card", WAIT, || {
        in_card(&window, &id, ".launch-line")
            .filter(|l| l == "demo-contacts.csv · agent Appointment reminder")
    });
    // The demo keeps nothing: its record of starts is not in the person's state database.
    assert!(!desktop.state_file().exists());
}
