//! `batchwatch-resident` — the process that stays: the monitor, the keychain port,
//! notifications, the tray and the state file, and the control socket the window and the
//! terminal companion reach it through. It never creates a webview and loads no GTK, so a
//! Batchwatch in the tray costs a fraction of one with a window; the window is a separate
//! process (`batchwatch`) that comes and goes.
//!
//! # Layout
//! - [`state`] — what every request reaches; [`service`] — what each request does;
//!   [`error`] — their `{code, message}` errors; [`status`] — what the window shows besides
//!   the monitor.
//! - [`keychain`] — reading the stored credentials, again when a keychain starts.
//! - [`launching`] — starting batches for the window: the file's check, agents, retry lists,
//!   the start sent once.
//! - [`payload`] — the window view; [`bridge`] — the one place monitor views and events reach
//!   the tray, the window clients and notifications.
//! - [`tray`] — the StatusNotifierItem; [`window`] — starting and raising the window process.
//! - [`demo`] — the embedded simulator of `--demo`; [`logging`] — the log file.

pub mod bridge;
pub mod demo;
pub mod error;
pub mod keychain;
pub mod launching;
pub mod logging;
pub mod payload;
pub mod service;
pub mod state;
pub mod status;
pub mod tray;
pub mod window;

use std::process::ExitCode;
use std::sync::Arc;

use batchwatch_core::announcer::Announcer;
use batchwatch_core::autostart::Autostart;
use batchwatch_core::control::{BindError, Endpoint, Launch};
use batchwatch_core::hooks::{self, HookRunner, HooksStatus};
use batchwatch_core::monitor::{Monitor, MonitorConfig};
use batchwatch_core::notifier::{DesktopNotifier, Notifier};
use batchwatch_core::schedule::PollPolicy;
use batchwatch_core::secret_store::{KeyringStore, SecretStore};
use batchwatch_core::state_file::StateFile;
use batchwatch_core::{ApiBase, TrilletClient};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::bridge::Bridge;
use crate::state::AppState;
use crate::status::{AppStatus, CredentialsStatus, NotificationsStatus};
use crate::window::Windows;

/// Runs the resident until the tray's "Quit", a client's, or SIGTERM/SIGINT.
pub fn run(launch: Launch) -> ExitCode {
    batchwatch_core::credentials::protect_process();
    logging::init();
    let endpoint = launch.endpoint();
    let bound = match endpoint.bind() {
        Ok(bound) => bound,
        Err(BindError::AlreadyRunning(_)) => {
            log::info!("Batchwatch is already running; this start ends here");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Read once and taken out of the environment before any thread or child exists: the key
    // stays in this process's memory, never in the window's, WebKit's or a hook's environment.
    let from_environment =
        batchwatch_core::credentials::from_environment(|name| std::env::var_os(name));
    std::env::remove_var(batchwatch_core::credentials::API_KEY_ENV);
    std::env::remove_var(batchwatch_core::credentials::WORKSPACE_ENV);
    // Started before the runtime: the simulator runs its own.
    let demo = match launch.demo.then(demo::start).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            log::error!("the demo could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One thread does it all: the monitor and the socket are waiting on I/O nearly always.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match resident(bound, endpoint, demo, from_environment).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error!("Batchwatch stopped: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // The blocking threads (a keychain read stuck on a prompt) are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn resident(
    bound: batchwatch_core::control::Bound,
    endpoint: Endpoint,
    demo: Option<demo::Demo>,
    from_environment: Result<Option<batchwatch_core::Credentials>, String>,
) -> Result<(), Box<dyn std::error::Error>> {
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
            match from_environment {
                // A server's way (a systemd unit's EnvironmentFile): the keychain is never
                // touched, and nothing of them is written anywhere.
                Ok(Some(credentials)) => {
                    log::info!(
                        "credentials from the environment, for workspace {}",
                        credentials.workspace_id
                    );
                    let status = CredentialsStatus::environment(credentials.workspace_id.as_str());
                    (base, Some(credentials), None, status)
                }
                found => {
                    if let Err(problem) = found {
                        log::error!("{problem}; reading the keychain instead");
                    }
                    // Read after start-up, off the async thread: a locked keychain may prompt
                    // and wait.
                    let store: Arc<dyn SecretStore> = Arc::new(KeyringStore::from_env());
                    (base, None, Some(store), CredentialsStatus::checking())
                }
            }
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
    let (monitor, events) = Monitor::spawn(config);
    if let Some(d) = &demo {
        monitor.track(d.batches.clone());
    }

    let quit = CancellationToken::new();
    let windows = Windows::new(endpoint, demo.is_some());
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
        hooks: HooksStatus::default(),
    });
    let views = monitor.subscribe();
    let is_demo = demo.is_some();
    let state = Arc::new(AppState {
        monitor,
        api_base,
        secrets,
        status,
        demo: demo.map(|d| d.sim),
        credentials_turn: Default::default(),
        autostart,
        views: watch::channel(Arc::from("{}")).0,
        windows,
        quit: quit.clone(),
        launching: if is_demo {
            launching::Launching::for_demo()
        } else {
            launching::Launching::for_user()
        },
    });

    let opener = Arc::downgrade(&state);
    let notifier = notifier().on_open(move || {
        if let Some(state) = opener.upgrade() {
            state.windows.open();
        }
    });
    let (announcer, notified) = Announcer::spawn(Arc::new(notifier.clone()) as Arc<dyn Notifier>)?;
    let (tray_actions, tray_clicks) = mpsc::unbounded_channel();
    let tray = match tray::Tray::start(tray_actions).await {
        Ok(tray) => Some(tray),
        Err(e) => {
            // The window, the terminal and the hooks still work; said once, in the log.
            log::warn!("no tray: the session bus cannot serve one ({e}); watching goes on");
            None
        }
    };
    let bus = tray.as_ref().map(tray::Tray::bus);
    let (hooks, hooks_status) = match (!is_demo).then(hooks::default_path).flatten() {
        Some(path) => {
            let (runner, status) = HookRunner::spawn(path, hooks::Bounds::default());
            if let Err(e) = hooks::watch_file(&runner) {
                log::warn!("changes to the hooks file are read at the next start ({e})");
            }
            (Some(runner), Some(status))
        }
        // The demo's batches never run the person's hooks.
        None => (None, None),
    };
    let bridge = Bridge {
        state: state.clone(),
        views,
        events,
        tray,
        tray_actions: tray_clicks,
        announcer,
        notified,
        hooks,
        hooks_status,
    };
    let session = bus.clone();
    tokio::spawn(look_around(state.clone(), notifier, bus));
    let bridging = tokio::spawn(bridge.run());

    // The server owns the only listening descriptor: once it stops, a new client is refused
    // at once (and starts a resident of its own) rather than waiting unanswered in the backlog.
    let mut bound = bound;
    let listener = bound
        .take_listener()
        .ok_or("the control socket was already taken")?;
    let listener = tokio::net::UnixListener::from_std(listener)?;
    // Stopped after the window has been told to close, so that word reaches it.
    let stop_serving = CancellationToken::new();
    let serving = tokio::spawn(batchwatch_core::control::serve(
        listener,
        state.clone(),
        stop_serving.clone(),
    ));
    log::info!("Batchwatch is running (control socket ready)");

    tokio::select! {
        () = quit.cancelled() => {}
        () = terminated() => quit.cancel(),
        () = session_ended(session) => {
            log::info!("the desktop session ended (its bus is gone)");
            quit.cancel();
        }
    }
    log::info!("Batchwatch is quitting");
    state.windows.close();
    stop_serving.cancel();
    let _ = serving.await;
    let _ = bridging.await;
    // Let the monitor write its last state before the process ends.
    state.monitor.shutdown().await;
    drop(bound);
    log::info!("Batchwatch stopped");
    Ok(())
}

/// The session bus the tray app started on has gone: the desktop session ended. Debian keeps a
/// user's processes after logout, and a tray app left behind would spend the key's budget
/// beside the next login's; it ends as on SIGTERM, saving first. (Without a bus there is no
/// session to outlive.)
async fn session_ended(bus: Option<zbus::Connection>) {
    match bus {
        Some(bus) => bus.closed().await,
        None => std::future::pending().await,
    }
}

/// SIGTERM (a logout, `kill`) or SIGINT (Ctrl-C in a terminal).
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The slow, blocking questions of start-up, asked off the async thread so the tray appears at
/// once: what the keychain holds, and whether a notification daemon answers.
async fn look_around(
    state: Arc<AppState>,
    notifier: DesktopNotifier,
    bus: Option<zbus::Connection>,
) {
    if state.secrets.is_some() {
        if let Some(bus) = bus {
            keychain::reread_when_it_starts(&state, bus);
        }
        keychain::read(&state).await;
    }
    let probe = tokio::task::spawn_blocking(move || notifier.probe()).await;
    let unavailable = match probe {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = &unavailable {
        // Said once: on a server there is no daemon, and the hooks do the telling.
        log::warn!("no desktop notifications ({why}); hooks still run");
    }
    state.status.send_modify(|s| {
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

/// Notifications carry the app icon, written where the daemon can read it.
fn notifier() -> DesktopNotifier {
    let icon = batchwatch_core::folders::cache().and_then(|dir| {
        let path = dir.join("batchwatch.png");
        std::fs::create_dir_all(&dir).ok()?;
        // Whole: a demo resident and the real one share the folder and may start together, and
        // a daemon reading a half-written icon would show none.
        let icon = include_bytes!("../../../icons/128x128.png");
        batchwatch_core::whole_file::write(&path, icon).ok()?;
        Some(path.to_string_lossy().into_owned())
    });
    DesktopNotifier::new("Batchwatch", icon)
}
