//! Runs the hooks an event calls for, within bounds, without ever making anyone wait: an event
//! is queued in a moment (a lock and a push) and the runs happen on tasks of their own.
//!
//! Bounds ([`Bounds`]): at most 4 runs at once; 256 waiting, past which the oldest waiting run
//! is dropped and the drop is said; a command is stopped after 30 s (its whole process group),
//! a webhook after 10 s. A command's environment is the tray app's minus every credential; a
//! webhook follows no redirect. What each hook's last failure was is published for the
//! settings panel.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Notify, Semaphore};

use super::file::{self, Action, Hook, Loaded};
use crate::events::{Event, EventKind};

/// How much a run may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub at_once: usize,
    pub waiting: usize,
    pub command_timeout: Duration,
    pub webhook_timeout: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            at_once: 4,
            waiting: 256,
            command_timeout: Duration::from_secs(30),
            webhook_timeout: Duration::from_secs(10),
        }
    }
}

/// A command's output kept for the log, per stream; the rest is read and dropped.
pub const OUTPUT_KEPT: usize = 4 * 1024;

/// What the settings panel and `batchwatch-cli settings` show of the hooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HooksStatus {
    /// The file's path.
    pub file: String,
    /// Why the file gives no hooks, naming the line.
    pub problem: Option<String>,
    pub hooks: Vec<HookStatus>,
    /// Runs dropped because too many were waiting.
    pub dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookStatus {
    pub line: usize,
    pub on: Vec<EventKind>,
    /// "run /usr/local/bin/next-step --campaign", "webhook to https://hooks.example.com".
    pub describe: String,
    pub last_failure: Option<HookFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookFailure {
    pub at_ms: u64,
    /// "exited with status 3", "answered 500", "was stopped after 30 s".
    pub what: String,
}

impl HooksStatus {
    /// The hooks `loaded` from the file at `path`, each with its last failure.
    pub fn of(
        path: &std::path::Path,
        loaded: &Loaded,
        last_failure: impl Fn(&Hook) -> Option<HookFailure>,
        dropped: u64,
    ) -> Self {
        Self {
            file: path.display().to_string(),
            problem: match loaded {
                Loaded::Refused(e) => Some(e.to_string()),
                _ => None,
            },
            hooks: loaded
                .hooks()
                .iter()
                .map(|h| HookStatus {
                    line: h.line,
                    on: h.on.clone(),
                    last_failure: last_failure(h),
                    describe: h.describe(),
                })
                .collect(),
            dropped,
        }
    }

    /// The file at `path` as it reads now, with no run's outcome (no tray app to ask).
    pub fn read_now(path: &std::path::Path) -> Self {
        Self::of(path, &file::read(path), |_| None, 0)
    }
}

/// The handle to the hooks: cheap to clone; every clone queues onto the same runs.
#[derive(Clone)]
pub struct HookRunner {
    shared: Arc<Shared>,
}

struct Shared {
    bounds: Bounds,
    path: PathBuf,
    loaded: Mutex<Loaded>,
    queue: Mutex<VecDeque<Job>>,
    ready: Arc<Notify>,
    /// By the hook's identity, so a reload that keeps a hook keeps its failure.
    failures: Mutex<HashMap<String, HookFailure>>,
    dropped: AtomicU64,
    running: AtomicUsize,
    peak: AtomicUsize,
    status: watch::Sender<HooksStatus>,
    client: reqwest::Client,
    /// What a command's environment starts from: the app's, minus every credential.
    environment: Vec<(OsString, OsString)>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let abandoned = lock(&self.queue).len();
        if abandoned > 0 {
            log::warn!("{abandoned} waiting hook run(s) were not run: Batchwatch is quitting");
        }
    }
}

struct Job {
    hook: Hook,
    event: Arc<Event>,
    body: Arc<str>,
}

impl HookRunner {
    /// Reads the hooks file at `path` and starts the runs' dispatcher (on the current tokio
    /// runtime). The receiver holds what the panel shows.
    pub fn spawn(path: PathBuf, bounds: Bounds) -> (Self, watch::Receiver<HooksStatus>) {
        Self::spawn_in(path, bounds, std::env::vars_os().collect())
    }

    /// [`HookRunner::spawn`] with the environment the commands start from (the process's, in
    /// the app), every credential taken out of it here, once.
    pub fn spawn_in(
        path: PathBuf,
        bounds: Bounds,
        environment: Vec<(OsString, OsString)>,
    ) -> (Self, watch::Receiver<HooksStatus>) {
        let environment = environment
            .into_iter()
            .filter(|(name, _)| !holds_credential(name))
            .collect();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(bounds.webhook_timeout)
            .connect_timeout(bounds.webhook_timeout)
            .user_agent(concat!("batchwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let (status, receiver) = watch::channel(HooksStatus::default());
        let shared = Arc::new(Shared {
            bounds,
            path,
            loaded: Mutex::new(Loaded::Absent),
            queue: Mutex::new(VecDeque::new()),
            ready: Arc::new(Notify::new()),
            failures: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            status,
            client,
            environment,
        });
        let runner = Self { shared };
        runner.reload();
        tokio::spawn(dispatch(Arc::downgrade(&runner.shared)));
        (runner, receiver)
    }

    /// Reads the file again (at start, and when it changed).
    pub fn reload(&self) {
        let loaded = file::read(&self.shared.path);
        match &loaded {
            Loaded::Refused(e) => log::warn!("hooks are off: {e}"),
            Loaded::Hooks(hooks) => log::info!(
                "{} hook(s) read from {}",
                hooks.len(),
                self.shared.path.display()
            ),
            Loaded::Absent => {}
        }
        *lock(&self.shared.loaded) = loaded;
        self.shared.publish();
    }

    /// Queues a run of every hook that wants `event`; never waits.
    pub fn on_event(&self, event: Event) {
        let hooks: Vec<Hook> = lock(&self.shared.loaded)
            .hooks()
            .iter()
            .filter(|h| {
                h.wants(
                    event.event,
                    event.batch_id.as_ref(),
                    event.workspace.as_deref(),
                )
            })
            .cloned()
            .collect();
        if hooks.is_empty() {
            return;
        }
        let body: Arc<str> = match serde_json::to_string(&event) {
            Ok(body) => body.into(),
            Err(e) => {
                log::error!("could not serialize an event for the hooks: {e}");
                return;
            }
        };
        let event = Arc::new(event);
        let mut dropped = 0;
        {
            let mut queue = lock(&self.shared.queue);
            for hook in hooks {
                if queue.len() >= self.shared.bounds.waiting {
                    if let Some(oldest) = queue.pop_front() {
                        dropped += 1;
                        log::warn!(
                            "{} hook runs are already waiting: the oldest, {} for {} of {}, is dropped",
                            self.shared.bounds.waiting,
                            oldest.hook.describe(),
                            oldest.event.event,
                            subject(&oldest.event)
                        );
                    }
                }
                queue.push_back(Job {
                    hook,
                    event: event.clone(),
                    body: body.clone(),
                });
                self.shared.ready.notify_one();
            }
        }
        if dropped > 0 {
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
            self.shared.publish();
        }
    }

    /// The most runs that were ever going at once (for the tests and the benchmark).
    pub fn peak_running(&self) -> usize {
        self.shared.peak.load(Ordering::Relaxed)
    }

    /// Runs going now and waiting.
    pub fn busy(&self) -> usize {
        self.shared.running.load(Ordering::Relaxed) + lock(&self.shared.queue).len()
    }

    /// A handle that does not keep the runner alive (the file watch holds one).
    pub(super) fn weak(&self) -> WeakRunner {
        WeakRunner(Arc::downgrade(&self.shared))
    }

    /// The hooks file this runner reads.
    pub fn path(&self) -> &std::path::Path {
        &self.shared.path
    }
}

pub(super) struct WeakRunner(std::sync::Weak<Shared>);

impl WeakRunner {
    pub(super) fn upgrade(&self) -> Option<HookRunner> {
        self.0.upgrade().map(|shared| HookRunner { shared })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn subject(event: &Event) -> String {
    event
        .batch_id
        .as_ref()
        .map_or_else(|| "the credentials".to_owned(), |id| format!("batch {id}"))
}

impl Shared {
    fn publish(&self) {
        let loaded = lock(&self.loaded).clone();
        let failures = lock(&self.failures).clone();
        let status = HooksStatus::of(
            &self.path,
            &loaded,
            |h| failures.get(&h.identity()).cloned(),
            self.dropped.load(Ordering::Relaxed),
        );
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

/// Hands waiting runs to tasks, at most `at_once` going; ends with the last handle.
async fn dispatch(shared: std::sync::Weak<Shared>) {
    let Some(at_once) = shared.upgrade().map(|s| s.bounds.at_once) else {
        return;
    };
    let slots = Arc::new(Semaphore::new(at_once.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (job, strong) = loop {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            let next = lock(&strong.queue).pop_front();
            if let Some(job) = next {
                break (job, strong);
            }
            let ready = strong.ready.clone();
            drop(strong);
            // Woken by a push (which leaves a permit if nobody waits yet); a handle dropped
            // meanwhile is noticed at the next look.
            ready.notified().await;
        };
        let going = strong.running.fetch_add(1, Ordering::Relaxed) + 1;
        strong.peak.fetch_max(going, Ordering::Relaxed);
        tokio::spawn(async move {
            let describe = job.hook.describe();
            let outcome = run(&strong, &job).await;
            match outcome {
                Ok(()) => log::info!(
                    "hook (line {}) {describe}: done for {} of {}",
                    job.hook.line,
                    job.event.event,
                    subject(&job.event)
                ),
                Err(what) => {
                    log::warn!(
                        "hook (line {}) {describe} failed for {} of {}: {what}",
                        job.hook.line,
                        job.event.event,
                        subject(&job.event)
                    );
                    let at_ms = crate::monitor::wall_clock_ms();
                    lock(&strong.failures).insert(job.hook.identity(), HookFailure { at_ms, what });
                    strong.publish();
                }
            }
            strong.running.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}

async fn run(shared: &Shared, job: &Job) -> Result<(), String> {
    match &job.hook.action {
        Action::Run(argv) => {
            run_command(
                argv,
                job,
                &shared.environment,
                shared.bounds.command_timeout,
            )
            .await
        }
        Action::Webhook(url) => {
            post(
                &shared.client,
                url,
                &job.body,
                shared.bounds.webhook_timeout,
            )
            .await
        }
    }
}

/// Whether an environment variable may hold a credential, and so is kept from hooks.
fn holds_credential(name: &OsString) -> bool {
    name.to_str().is_none_or(|n| n.starts_with("TRILLET_"))
}

async fn run_command(
    argv: &[String],
    job: &Job,
    environment: &[(OsString, OsString)],
    timeout: Duration,
) -> Result<(), String> {
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command
        .env_clear()
        .envs(environment.iter().map(|(k, v)| (k, v)));
    let event = &job.event;
    command
        .env("BATCHWATCH_EVENT", event.event.name())
        .env(
            "BATCHWATCH_BATCH_ID",
            event.batch_id.as_ref().map_or("", |b| b.as_str()),
        )
        .env("BATCHWATCH_STATUS", event.status.as_deref().unwrap_or(""));
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("could not be started: there is no program {}", argv[0])
        }
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "could not be started: {} may not be run (permission denied)",
                argv[0]
            )
        }
        _ => format!("could not be started ({e})"),
    })?;
    let pid = child.id();
    // Whatever ends this run early (the app quitting drops it) ends its whole group too.
    let mut group = GroupGuard(pid);
    let mut stdin = child.stdin.take();
    let body = job.body.clone();
    let feed = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A command that does not read its input closes the pipe: not a failure.
            let _ = stdin.write_all(body.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let finished = tokio::time::timeout(timeout, async {
        let ((), out, err, status) =
            tokio::join!(feed, keep_start(stdout), keep_start(stderr), child.wait());
        (out, err, status)
    })
    .await;
    let Ok((out, err, status)) = finished else {
        group.0 = None;
        stop_group(pid, &mut child).await;
        return Err(format!(
            "was stopped after {} s, with everything it started",
            timeout.as_secs()
        ));
    };
    for (stream, text) in [("output", out), ("error output", err)] {
        if !text.is_empty() {
            log::info!("hook {} {stream}: {}", argv[0], text.trim_end());
        }
    }
    // Its leader has exited; what it left running is its own business, as from a shell.
    group.0 = None;
    let status = status.map_err(|e| format!("could not be waited for ({e})"))?;
    if status.success() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Err(format!("was ended by signal {signal}"));
        }
    }
    Err(format!(
        "exited with status {}",
        status.code().unwrap_or(-1)
    ))
}

/// The first [`OUTPUT_KEPT`] bytes of a stream, read to its end so the writer never blocks.
async fn keep_start(stream: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Kills a command's process group when dropped while it still runs.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pid: Option<u32>) {
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = pid;
}

/// Kills the command's whole process group (it leads it), then reaps it.
async fn stop_group(pid: Option<u32>, child: &mut tokio::process::Child) {
    kill_group(pid);
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn post(
    client: &reqwest::Client,
    url: &url::Url,
    body: &Arc<str>,
    timeout: Duration,
) -> Result<(), String> {
    let sent = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let status = answer.status();
            // The answer's body is not read: nothing in it is for us.
            drop(answer);
            if status.is_success() {
                Ok(())
            } else if status.is_redirection() {
                Err(format!(
                    "answered {} (a redirect, which hooks do not follow)",
                    status.as_u16()
                ))
            } else {
                Err(format!("answered {}", status.as_u16()))
            }
        }
        // Said without the URL: a chat webhook's path is its secret.
        Err(e) if e.is_timeout() => Err(format!("did not answer within {} s", timeout.as_secs())),
        Err(e) => Err(format!(
            "could not be reached ({})",
            e.without_url().to_string().trim()
        )),
    }
}
