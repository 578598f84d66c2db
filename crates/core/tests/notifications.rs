//! The notification adapter against a real notification daemon (dunst in the session that
//! `scripts/test` starts), proven from outside with `dunstctl`.

mod support;

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use batchwatch_core::change::NotificationContent;
use batchwatch_core::notifier::{DesktopNotifier, Notifier, NotifyError};
use batchwatch_test_support::session::{notifications as history, require_session_service};

// Both tests use the one dunst of the session, so they run as one test, in order.
#[test]
fn notifications_reach_the_daemon_and_open_runs_the_callback() {
    require_session_service("org.freedesktop.Notifications");

    let summary = format!("Batch batch_notify_{} completed", std::process::id());
    let content = NotificationContent {
        title: summary.clone(),
        body: "145 completed, 5 failed in 1 h 2 min".into(),
        urgent: false,
    };
    DesktopNotifier::new("Batchwatch", None)
        .notify(&content, true)
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
        .notify(
            &NotificationContent {
                title: "Open me".into(),
                ..content
            },
            true,
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // What a click on the notification sends.
    Command::new("dunstctl")
        .args(["action", "0"])
        .status()
        .unwrap();
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
        .notify(
            &NotificationContent {
                title: "t".into(),
                body: "b".into(),
                urgent: false,
            },
            true,
        )
        .unwrap_err();
    assert_eq!(err, NotifyError::NoDaemon);
    assert!(err
        .to_string()
        .contains("no notification service is running"));
    println!("RESULT {}", err.code());
}
