//! `batchwatch-e2e` — the harness for end-to-end tests of the real `batchwatch` binary in the
//! desktop session `scripts/test` provides (Xvfb, D-Bus, gnome-keyring, dunst, a
//! StatusNotifierWatcher) with `tauri-driver` + WebKitWebDriver for the window.
//!
//! # Layout
//! - [`desktop`] — one test's world: a throw-away HOME, a keychain item name, a simulator, the
//!   app (through WebDriver or directly), and artifacts on failure.
//! - [`webdriver`] — the few W3C WebDriver calls the tests use.
//! - [`os`] — reading the desktop from outside: tray over D-Bus, dunst, the keychain.
//! - [`window`] — what a person does in the window and reads off it.
//! - [`eventually`] and [`net`] come from `batchwatch-test-support`, which the crates' own
//!   tests use too.

pub mod desktop;
pub mod os;
pub mod webdriver;
pub mod window;

use std::path::PathBuf;

pub use batchwatch_test_support::{eventually, net};

/// The checkout the tests run from, read when they run: a path compiled in would name whichever
/// checkout last built this crate into the shared target directory (a CI clone, since deleted).
pub fn checkout() -> PathBuf {
    let tests = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().expect("a working directory"));
    tests.parent().map(PathBuf::from).unwrap_or(tests)
}
