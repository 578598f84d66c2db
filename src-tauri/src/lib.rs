//! `batchwatch` — the tray app: a thin Tauri shell over `batchwatch-core`.
//!
//! # Layout
//! - [`launch`] — `--demo` and `--hidden`.
//! - [`state`] — the managed state (monitor handle, keychain port, app status).
//! - [`status`] — what the window shows besides the monitor: credentials, notifications, demo.
//! - [`commands`] — what the window calls; [`error`] — their `{code, message}` errors.
//! - [`keychain`] — reading the stored credentials, again when a keychain starts.
//! - [`payload`] — what the window receives.
//! - [`bridge`] — the one place monitor views and events reach the window, tray and notifications.
//! - [`tray`], [`window`] — the tray icon and the one window.
//! - [`demo`] — the embedded simulator of `--demo`.

pub mod bridge;
pub mod commands;
pub mod demo;
pub mod error;
pub mod keychain;
pub mod launch;
pub mod payload;
pub mod state;
pub mod status;
pub mod tray;
pub mod window;

use std::sync::Arc;

use batchwatch_core::announcer::Announcer;
use batchwatch_core::autostart::Autostart;
use batchwatch_core::monitor::{Monitor, MonitorConfig};
use batchwatch_core::notifier::{DesktopNotifier, Notifier};
use batchwatch_core::schedule::PollPolicy;
use batchwatch_core::secret_store::{KeyringStore, SecretStore};
use batchwatch_core::state_file::StateFile;
use batchwatch_core::{ApiBase, TrilletClient};
use tauri::{App, Builder, Manager, RunEvent, Runtime};
use tokio::sync::watch;

use crate::bridge::Bridge;
use crate::launch::Launch;
use crate::state::AppState;
use crate::status::{AppStatus, CredentialsStatus, NotificationsStatus};

/// The commands, on any runtime (tests use the mock one).
pub fn with_commands<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::get_state,
        commands::track,
        commands::untrack,
        commands::refresh,
        commands::save_credentials,
        commands::forget_credentials,
        commands::retry_keychain,
        commands::pause_notifications,
        commands::save_settings,
        commands::preview_settings,
        commands::set_start_at_login,
        commands::failed_calls,
        commands::close_failed_calls,
        commands::cancel_batch,
    ])
}

/// Starts Batchwatch. Returns when the user quits from the tray.
pub fn run() {
    batchwatch_core::credentials::protect_process();
    let launch = Launch::from_args(std::env::args());
    let builder = Builder::default()
        // First, so a second launch is caught before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Err(e) = window::show(app) {
                log::error!("could not show the window: {e}");
            }
        }))
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
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::default().build());
    let app = with_commands(builder)
        .setup(move |app| setup(app, launch))
        .build(tauri::generate_context!())
        .expect("Batchwatch could not start its window system");

    app.run(|app, event| match event {
        // Closing the last window must not quit: Batchwatch lives in the tray.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            // Let the monitor write its last state before the process ends.
            let state = app.state::<AppState>();
            tauri::async_runtime::block_on(state.monitor.shutdown());
            log::info!("Batchwatch stopped");
        }
        _ => {}
    });
}

fn setup<R: Runtime>(app: &mut App<R>, launch: Launch) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    let demo = if launch.demo {
        Some(demo::start()?)
    } else {
        None
    };

    let (api_base, credentials, secrets, credentials_status) = match &demo {
        Some(d) => (
            d.base.clone(),
            Some(d.credentials.clone()),
            None,
            CredentialsStatus::demo(d.credentials.workspace_id.as_str()),
        ),
        None => {
            let base = ApiBase::from_override(
                std::env::var(batchwatch_core::api::API_BASE_ENV)
                    .ok()
                    .as_deref(),
            )?;
            // Read after start-up, off the main thread: a locked keychain may prompt and wait.
            let store: Arc<dyn SecretStore> = Arc::new(KeyringStore::from_env());
            (base, None, Some(store), CredentialsStatus::checking())
        }
    };

    let mut client = TrilletClient::unauthenticated(api_base.clone());
    if let Some(timeout) = env_millis("BATCHWATCH_REQUEST_TIMEOUT_MS") {
        client = client.with_request_timeout(timeout);
    }
    let mut config = MonitorConfig::new(client, credentials);
    config.poll = compressed_schedule();
    // The demo keeps nothing: each start shows the scenario afresh.
    if demo.is_none() {
        config.state_file = StateFile::default_path().map(StateFile::new);
    }
    let (monitor, events) = tauri::async_runtime::block_on(async { Monitor::spawn(config) });
    if let Some(d) = &demo {
        monitor.track(d.batches.clone());
    }

    let notifier = notifier(&handle);
    // A login must start the user's Batchwatch, never the demo.
    let autostart = demo.is_none().then(Autostart::for_user).flatten();
    let (status, _) = watch::channel(AppStatus {
        demo: demo.is_some(),
        credentials: credentials_status,
        // Until the probe below says otherwise.
        notifications: NotificationsStatus {
            available: true,
            message: None,
        },
        start_at_login: autostart.as_ref().is_some_and(Autostart::is_enabled),
    });

    let (announcer, notified) = Announcer::spawn(Arc::new(notifier.clone()) as Arc<dyn Notifier>)?;
    let bridge = Bridge {
        app: handle.clone(),
        views: monitor.subscribe(),
        status: status.clone(),
        events,
        tray: Some(tray::Tray::build(&handle)?),
        announcer,
        notified,
    };
    let looking = look_around(handle.clone(), notifier, status.clone());
    app.manage(AppState {
        monitor,
        secrets,
        status,
        demo: demo.map(|d| d.sim),
        credentials_turn: Default::default(),
        autostart,
    });
    // After `manage`: it hands what it finds to the managed monitor.
    tauri::async_runtime::spawn(looking);
    tauri::async_runtime::spawn(bridge.run());

    if !launch.hidden {
        window::show(&handle)?;
    }
    Ok(())
}

/// The slow, blocking questions of start-up, asked off the main thread so the tray and the
/// window appear at once: what the keychain holds, and whether a notification daemon answers.
async fn look_around<R: Runtime>(
    app: tauri::AppHandle<R>,
    notifier: DesktopNotifier,
    status: watch::Sender<AppStatus>,
) {
    if app.state::<AppState>().secrets.is_some() {
        keychain::reread_when_it_starts(&app);
        keychain::read(&app).await;
    }
    let probe = tauri::async_runtime::spawn_blocking(move || notifier.probe()).await;
    let unavailable = match probe {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    status.send_modify(|s| {
        s.notifications.available = unavailable.is_none();
        s.notifications.message = unavailable;
    });
}

/// Tests compress the polling schedule (the floor and the budget window shrink together, so it
/// keeps its shape), as the terminal companion's hidden options do.
fn compressed_schedule() -> Option<PollPolicy> {
    Some(PollPolicy::paced(
        env_millis("BATCHWATCH_POLL_FLOOR_MS")?,
        env_millis("BATCHWATCH_BUDGET_WINDOW_MS")?,
    ))
}

fn env_millis(name: &str) -> Option<std::time::Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
}

/// Notifications carry the app icon (written where the daemon can read it) and an "Open"
/// action that shows the window.
fn notifier<R: Runtime>(app: &tauri::AppHandle<R>) -> DesktopNotifier {
    let icon = app.path().app_cache_dir().ok().and_then(|dir| {
        let path = dir.join("batchwatch.png");
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(&path, include_bytes!("../../icons/128x128.png")).ok()?;
        Some(path.to_string_lossy().into_owned())
    });
    let handle = app.clone();
    DesktopNotifier::new("Batchwatch", icon).on_open(move || window::show_from_anywhere(&handle))
}
