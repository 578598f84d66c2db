//! `batchwatch` — the window: a Tauri webview that is a client of the resident
//! (`batchwatch-resident`, which owns the monitor, the keychain, notifications and the tray).
//!
//! Started, it finds the resident on its control socket (starting one if none answers) and
//! claims the window; if a window is already open, that one is raised and this process ends.
//! It renders the views the resident pushes and forwards what the person does. Closing the
//! window ends this process and every WebKit process with it; the resident stays in the tray.
//! `batchwatch --hidden` (the autostart entry) becomes the resident alone.
//!
//! # Layout
//! - [`resident`] — finding or starting the resident, and the link to it.
//! - [`commands`] — what the page calls (forwarded); [`follow`] — what the resident pushes.
//! - [`launch`] — the CSV chosen for "New batch…" (open dialog or drop), kept here;
//!   [`file_dialog`] — the desktop's save and open dialogs.
//! - [`window`] — the one window.

pub mod commands;
pub mod file_dialog;
pub mod follow;
pub mod launch;
pub mod resident;
pub mod window;

use std::process::ExitCode;
use std::sync::Arc;

use batchwatch_core::control::Launch;
use tauri::{Builder, Manager, Runtime};

use crate::resident::Link;

/// The commands the page may call.
fn with_commands<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::call,
        commands::restart_resident,
        commands::save_retry_list,
        launch::choose_csv,
        launch::start_chosen,
    ])
}

/// Starts Batchwatch's window. Returns when it closes.
pub fn run() -> ExitCode {
    batchwatch_core::credentials::protect_process();
    let launch = Launch::from_args(std::env::args());
    let endpoint = launch.endpoint();
    if launch.hidden {
        let error = resident::become_resident(&endpoint, launch.demo);
        eprintln!("batchwatch: could not start the tray app: {error}");
        return ExitCode::FAILURE;
    }

    // Before any thread starts (the environment is the process's) and before GTK reads it.
    let set_here = window::before_gtk_starts();
    let linked = tauri::async_runtime::block_on(async {
        let client = resident::connect(&endpoint, launch.demo, &set_here).await?;
        let granted = resident::claim_window(&client).await?;
        Ok::<_, String>((client, granted))
    });
    let client = match linked {
        Ok((_, false)) => {
            // Another window is open; the resident raised it.
            return ExitCode::SUCCESS;
        }
        Ok((client, true)) => client,
        Err(e) => {
            eprintln!("batchwatch: {e}");
            return ExitCode::FAILURE;
        }
    };

    let builder = Builder::default()
        .plugin(
            // Its default targets are replaced, not added to (each line was written twice).
            tauri_plugin_log::Builder::new()
                .clear_targets()
                .target(tauri_plugin_log::Target::new(
                    tauri_plugin_log::TargetKind::LogDir {
                        file_name: Some("batchwatch".into()),
                    },
                ))
                .target(tauri_plugin_log::Target::new(
                    tauri_plugin_log::TargetKind::Stderr,
                ))
                .level(log::LevelFilter::Info)
                // The tray app's log's own line, local time included (the plugin's stamp is
                // UTC in a process with threads).
                .format(|out, message, record| {
                    out.finish(format_args!(
                        "{}",
                        batchwatch_core::format::log_line_now(
                            record.level(),
                            record.target(),
                            message
                        )
                    ))
                })
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // The save dialog of "Save failed calls as CSV…" and the open dialog of "New batch…"
        // (asked from Rust: the page gets no dialog or file permission).
        .plugin(tauri_plugin_dialog::init());
    let link = Link::new(endpoint, launch.demo, set_here, client);
    let app = with_commands(builder)
        .manage(link)
        .manage(launch::ChosenCsv::default())
        .manage(follow::Sent::default())
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::DragDrop(drop) = event {
                launch::on_drop(window.app_handle(), drop);
            }
        })
        .setup(|app| {
            let handle = app.handle().clone();
            let client = tauri::async_runtime::block_on(app.state::<Link>().client());
            follow::spawn(handle.clone(), Arc::clone(&client));
            window::show(&handle)?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            // The last window closed ends the process: the resident stays in the tray.
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("batchwatch: could not open the window: {e}");
            ExitCode::FAILURE
        }
    }
}
