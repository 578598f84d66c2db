//! The notification adapter against a real notification daemon (dunst in the session that
//! `scripts/test` starts), proven from outside with `dunstctl`.

mod support;

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use batchwatch_core::notifier::{DesktopNotifier, NotificationContent, Notifier, NotifyError};

fn dunstctl(args: &[&str]) -> String {
    let out = Command::new("dunstctl")
        .args(args)
        .output()
        .expect("dunstctl must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (appname, summary, body) of every notification in dunst's history.
fn history() -> Vec<(String, String, String)> {
    dunstctl(&["close-all"]);
    std::thread::sleep(Duration::from_millis(200));
    let json: serde_json::Value = serde_json::from_str(&dunstctl(&["history"])).unwrap();
    json["data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let field = |k: &str| n[k]["data"].as_str().unwrap_or_default().to_owned();
            (field("appname"), field("summary"), field("body"))
        })
        .collect()
}

// Both tests use the one dunst of the session, so they run as one test, in order.
#[test]
fn notifications_reach_the_daemon_and_open_runs_the_callback() {
    support::require_session_service("org.freedesktop.Notifications");

    let summary = format!("Batch batch_notify_{} completed", std::process::id());
    let content = NotificationContent {
        title: summary.clone(),
        body: "145 completed, 5 failed in 1 h 2 min".into(),
        urgent: false,
    };
    DesktopNotifier::new("Batchwatch", None)
        .notify(&content)
        .unwrap();
    let seen = history();
    assert!(
        seen.contains(&("Batchwatch".into(), summary.clone(), content.body.clone())),
        "dunst history: {seen:?}"
    );

    // dunst advertises actions, so the notification carries "Open"; invoking it runs the callback.
    let (tx, rx) = mpsc::channel();
    let notifier = DesktopNotifier::new("Batchwatch", None).on_open(move || {
        let _ = tx.send(());
    });
    notifier
        .notify(&NotificationContent {
            title: "Open me".into(),
            ..content
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    dunstctl(&["action", "0"]);
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the Open action reached the callback");
}

#[test]
fn without_a_daemon_the_error_says_so() {
    let bus = support::EmptyBus::start();
    let out = support::run_child_test("child_notify_on_empty_bus", &bus.address);
    assert!(String::from_utf8_lossy(&out.stdout).contains("RESULT notifications_no_daemon"));
}

#[test]
#[ignore = "run by without_a_daemon_the_error_says_so on a bus of its own"]
fn child_notify_on_empty_bus() {
    support::assert_child();
    let notifier = DesktopNotifier::new("Batchwatch", None);
    assert_eq!(notifier.probe(), Err(NotifyError::NoDaemon));
    let err = notifier
        .notify(&NotificationContent {
            title: "t".into(),
            body: "b".into(),
            urgent: false,
        })
        .unwrap_err();
    assert_eq!(err, NotifyError::NoDaemon);
    assert!(err
        .to_string()
        .contains("no notification service is running"));
    println!("RESULT {}", err.code());
}
