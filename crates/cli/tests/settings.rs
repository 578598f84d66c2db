//! `batchwatch-cli settings` with no tray app running: the stored settings listed with their
//! ranges, one changed in the state database (and the rest of it kept), a value out of range
//! refused with the range and nothing written, and the hooks file read as it is.

mod support;

use batchwatch_core::state_file::{SavedState, StateFile};
use support::{cli, run, without_keychain};

#[test]
fn a_setting_is_stored_when_the_tray_app_is_not_running_and_a_bad_value_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("batchwatch");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = StateFile::new(folder.join("state.db"));
    file.save(&SavedState::default()).unwrap();
    std::fs::write(
        folder.join("hooks.toml"),
        "[[hook]]\non = [\"finished\"]\nrun = [\"/usr/local/bin/next-step\"]\n",
    )
    .unwrap();
    std::fs::set_permissions(
        folder.join("hooks.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let settings = |args: &[&str]| {
        let mut command = cli(args);
        without_keychain(&mut command, dir.path());
        run(command)
    };

    let out = settings(&["settings", "set", "sounds", "off"]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("sounds is now off (stored;"),
        "{out:#?}"
    );
    let stored = StateFile::new(folder.join("state.db"))
        .load(0)
        .state
        .settings;
    assert!(!stored.sounds);
    assert_eq!(stored.stall_minutes, 15, "the others are kept");

    let out = settings(&["settings", "set", "requests-per-minute", "60"]);
    out.assert_code(2)
        .assert_error_line("The request budget must be 1–55 requests a minute (you entered 60)");
    let out = settings(&["settings", "set", "volume", "3"]);
    out.assert_code(2)
        .assert_error_line("there is no setting \"volume\"");
    assert_eq!(
        StateFile::new(folder.join("state.db"))
            .load(0)
            .state
            .settings
            .poll
            .budget,
        50,
        "nothing was written"
    );

    let out = settings(&["settings"]);
    out.assert_code(0);
    let sounds = out
        .stdout
        .lines()
        .find(|l| l.starts_with("sounds"))
        .unwrap();
    assert!(
        sounds.contains("off") && sounds.contains("on or off"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("The tray app is not running"),
        "{out:#?}"
    );
    assert!(
        out.stdout
            .contains("line 1: on finished: run /usr/local/bin/next-step"),
        "{out:#?}"
    );
}
