//! The real `batchwatch` binary in the real desktop session of `scripts/test`: started with
//! `--demo`, its resident registers the tray item (label read over D-Bus), shows its batches as menu rows,
//! delivers the demo batch's completion to dunst exactly once, and quits with status 0 when
//! "Quit" is clicked in its tray menu.

use batchwatch_e2e::desktop::app_binary;
use batchwatch_e2e::os as support;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn demo_mode_reaches_the_tray_and_the_notification_daemon() {
    support::require_session_service("org.kde.StatusNotifierWatcher");
    support::require_session_service("org.freedesktop.Notifications");
    support::clear_notifications();

    let home = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(home.path().join("app.log")).unwrap();
    let mut app = Command::new(app_binary())
        .arg("--demo")
        // Ten simulated seconds a second: the closing demo batch finishes within a few seconds.
        .env("BATCHWATCH_DEMO_SPEED", "10")
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        // Its own runtime folder: the demo's control socket, and no other test's resident.
        .env("XDG_RUNTIME_DIR", home.path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    let service = support::tray_service(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(20);
    let label = loop {
        let label = support::tray_property(&service, "XAyatanaLabel");
        if label.contains('%') || Instant::now() > deadline {
            break label;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(label.starts_with("Demo · "), "tray label {label:?}");
    let first_icon = support::tray_icon_pixmap(&service);
    let menu = support::tray_menu(&service);
    let labels: Vec<&str> = menu.iter().map(|(_, l, _)| l.as_str()).collect();
    assert_eq!(labels.first(), Some(&"Open Batchwatch"), "{labels:?}");
    assert!(
        menu.iter()
            .any(|(_, l, enabled)| l.starts_with("batch_demo_campaign — ") && !enabled),
        "a disabled row per batch: {labels:?}"
    );
    assert!(labels.contains(&"Quit Batchwatch"));

    // The closing batch completes: one notification, from Batchwatch, naming it and its outcome.
    let deadline = Instant::now() + Duration::from_secs(60);
    let completed = loop {
        let seen: Vec<_> = support::notifications()
            .into_iter()
            .filter(|(_, summary, _)| summary == "Batch batch_demo_closing completed")
            .collect();
        if !seen.is_empty() || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(completed.len(), 1, "{completed:?}");
    let (app_name, _, body) = &completed[0];
    assert_eq!(app_name, "Batchwatch");
    assert!(
        body.contains(" completed, ") && body.contains(" failed in "),
        "{body}"
    );
    let menu = support::tray_menu(&service);
    assert!(
        menu.iter()
            .any(|(_, l, _)| l == "✓ batch_demo_closing done"),
        "{menu:?}"
    );

    // The icon is redrawn as the aggregate progress moves: new pixels for the panel.
    let icon = support::tray_icon_pixmap(&service);
    assert_ne!(icon, first_icon, "the tray icon follows progress");
    let pixmap = &icon[0];
    assert_eq!(
        (pixmap[0].as_i64(), pixmap[1].as_i64()),
        (Some(32), Some(32)),
        "{pixmap}"
    );
    assert_eq!(
        pixmap[2].as_array().map(Vec::len),
        Some(32 * 32 * 4),
        "ARGB32, 32×32"
    );

    support::click_menu_item(&service, "Quit Batchwatch");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = app.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "Batchwatch did not quit from its tray menu"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status:?}");
    let log = std::fs::read_to_string(home.path().join("app.log")).unwrap();
    assert!(
        !log.contains("sk_sim_batchwatch_test_key"),
        "the key reached the log"
    );
}
