//! The hook runner with real commands and a real HTTP listener on loopback: what a command is
//! given (stdin, environment without credentials), the stop of its whole process group, a
//! program that does not exist, webhooks that fail, redirect or hang, at most N at once, the
//! queue's bound, and a file read again while hooks run.
//!
//! Waits are on what the hooks leave behind (files, the published status), never fixed sleeps.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use batchwatch_core::batch_id::BatchId;
use batchwatch_core::events::{Event, EventKind};
use batchwatch_core::hooks::{watch_file, Bounds, HookRunner, HooksStatus};
use batchwatch_core::model::BatchProgress;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const PATIENCE: Duration = Duration::from_secs(60);

fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn write_hooks(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("hooks.toml");
    // Written beside and renamed over, as editors do.
    let next = dir.join(".hooks.toml.new");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, &path).unwrap();
    path
}

fn finished(id: &str) -> Event {
    let progress: BatchProgress = serde_json::from_str(
        r#"{"status":"completed","isComplete":true,"completed":145,"failed":5,"total":150}"#,
    )
    .unwrap();
    Event::of_batch(
        EventKind::Finished,
        &BatchId::parse(id).unwrap(),
        &progress,
        format!("Batch {id} completed — 145 completed, 5 failed"),
        1_703_097_600_000,
        Some("ws_1"),
        None,
    )
}

/// A hooks file in `dir` with one hook: `sh -c SCRIPT` on every finish.
fn finished_hook(dir: &tempfile::TempDir, script: &str) -> PathBuf {
    write_hooks(
        dir.path(),
        &format!("[[hook]]\non = [\"finished\"]\n{}\n", sh(script)),
    )
}

/// `sh -c SCRIPT` as a hooks file's `run`, the script in a TOML literal string.
fn sh(script: &str) -> String {
    format!("run = [\"/bin/sh\", \"-c\", '''{script}''']")
}

async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status_until(
    status: &mut watch::Receiver<HooksStatus>,
    what: &str,
    done: impl Fn(&HooksStatus) -> bool,
) -> HooksStatus {
    let found = tokio::time::timeout(PATIENCE, status.wait_for(|s| done(s)))
        .await
        .map(|seen| seen.unwrap().clone());
    found.unwrap_or_else(|_| panic!("gave up waiting for {what}: {:?}", *status.borrow()))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_command_reads_the_event_on_stdin_with_no_credential_in_its_environment() {
    let dir = private_dir();
    let out = dir.path().display().to_string();
    let path = finished_hook(
        &dir,
        &format!(
            "cat > {out}/payload.json; env > {out}/env.txt; echo said-on-stdout; touch {out}/done"
        ),
    );
    // The app's environment, credentials and all: a hook gets it without them.
    let mut environment: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    environment.push(("TRILLET_API_KEY".into(), "sk_secret_never_in_a_hook".into()));
    environment.push(("TRILLET_WORKSPACE_ID".into(), "ws_secret".into()));
    let (runner, _status) = HookRunner::spawn_in(path, Bounds::default(), environment);
    let event = finished("batch_1");
    runner.on_event(event.clone());
    until("the command", || {
        dir.path().join("done").exists().then_some(())
    })
    .await;

    let payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("payload.json")).unwrap()).unwrap();
    assert_eq!(payload, serde_json::to_value(&event).unwrap());
    for key in [
        "event",
        "batchId",
        "status",
        "isComplete",
        "completed",
        "failed",
        "active",
        "waiting",
        "total",
        "at",
        "text",
        "workspace",
    ] {
        assert!(payload.get(key).is_some(), "{key} is in the payload");
    }
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert!(env.contains("BATCHWATCH_EVENT=finished\n"), "{env}");
    assert!(env.contains("BATCHWATCH_BATCH_ID=batch_1\n"), "{env}");
    assert!(env.contains("BATCHWATCH_STATUS=completed\n"), "{env}");
    assert!(env.contains("HOME="), "the rest of the environment is kept");
    assert!(!env.contains("TRILLET_"), "{env}");
    assert!(!env.contains("sk_secret") && !payload.to_string().contains("sk_secret"));
}

#[tokio::test]
async fn a_command_past_its_time_is_stopped_with_everything_it_started() {
    let dir = private_dir();
    let out = dir.path().display().to_string();
    let path = write_hooks(
        dir.path(),
        &format!(
            "[[hook]]\non = [\"finished\"]\n{}\n",
            sh(&format!("sleep 600 & echo $! > {out}/child; wait"))
        ),
    );
    let bounds = Bounds {
        command_timeout: Duration::from_secs(1),
        ..Bounds::default()
    };
    let (runner, mut status) = HookRunner::spawn(path, bounds);
    runner.on_event(finished("batch_1"));
    let child: i32 = until("the background child's pid", || {
        std::fs::read_to_string(dir.path().join("child"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
    .await;
    let s = status_until(&mut status, "the stop", |s| {
        s.hooks[0].last_failure.is_some()
    })
    .await;
    assert_eq!(
        s.hooks[0].last_failure.as_ref().unwrap().what,
        "was stopped after 1 s, with everything it started"
    );
    // The `sleep` was in the command's group: gone too (or a zombie no one has reaped yet).
    until("the background child to end", || {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        matches!(state, None | Some("Z")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_missing_program_and_a_failing_one_are_said() {
    let dir = private_dir();
    let path = write_hooks(
        dir.path(),
        "[[hook]]\non = [\"finished\"]\nrun = [\"/no/such/next-step\"]\n\n[[hook]]\non = [\"finished\"]\nrun = [\"/bin/sh\", \"-c\", \"exit 3\"]\n",
    );
    let (runner, mut status) = HookRunner::spawn(path, Bounds::default());
    runner.on_event(finished("batch_1"));
    let s = status_until(&mut status, "both failures", |s| {
        s.hooks.iter().all(|h| h.last_failure.is_some())
    })
    .await;
    assert_eq!(
        s.hooks[0].last_failure.as_ref().unwrap().what,
        "could not be started: there is no program /no/such/next-step"
    );
    assert_eq!(
        s.hooks[1].last_failure.as_ref().unwrap().what,
        "exited with status 3"
    );
    assert!(s.hooks[1].last_failure.as_ref().unwrap().at_ms > 0);
}

/// A listener on loopback that answers each request with `answer` (or never, when `None`),
/// handing over each request's head and body.
async fn listener(
    answer: Option<&'static str>,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", socket.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = socket.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let _ = tx.send((head, body));
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                    // Hangs: holds the connection and says nothing.
                    None => std::future::pending::<()>().await,
                }
            });
        }
    });
    (base, rx)
}

#[tokio::test]
async fn a_webhook_gets_the_event_as_json_and_its_failures_are_said_without_its_path() {
    let (ok, mut ok_seen) = listener(Some(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
    ))
    .await;
    let (broken, _) = listener(Some(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ))
    .await;
    let (elsewhere, mut elsewhere_seen) = listener(Some(
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ))
    .await;
    let redirect: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nlocation: {elsewhere}/stolen\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .into_boxed_str(),
    );
    let (redirecting, _) = listener(Some(redirect)).await;
    let (hanging, mut hanging_seen) = listener(None).await;
    let dir = private_dir();
    let hook = |url: &str| {
        format!("[[hook]]\non = [\"finished\"]\nwebhook = \"{url}/services/T0/B0/SECRET\"\n\n")
    };
    let path = write_hooks(
        dir.path(),
        &[&ok, &broken, &redirecting, &hanging]
            .map(|u| hook(u))
            .concat(),
    );
    let bounds = Bounds {
        webhook_timeout: Duration::from_secs(1),
        ..Bounds::default()
    };
    let (runner, mut status) = HookRunner::spawn(path, bounds);
    let event = finished("batch_1");
    runner.on_event(event.clone());

    let (head, body) = tokio::time::timeout(PATIENCE, ok_seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        head.starts_with("POST /services/T0/B0/SECRET HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("x-api-key"), "{head}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, serde_json::to_value(&event).unwrap());
    assert_eq!(
        body["text"],
        "Batch batch_1 completed — 145 completed, 5 failed"
    );
    tokio::time::timeout(PATIENCE, hanging_seen.recv())
        .await
        .unwrap()
        .unwrap();

    let s = status_until(&mut status, "three failures", |s| {
        s.hooks.iter().filter(|h| h.last_failure.is_some()).count() == 3
    })
    .await;
    let what: Vec<_> = s
        .hooks
        .iter()
        .map(|h| h.last_failure.as_ref().map(|f| f.what.as_str()))
        .collect();
    assert_eq!(
        what,
        [
            None,
            Some("answered 500"),
            Some("answered 302 (a redirect, which hooks do not follow)"),
            Some("did not answer within 1 s"),
        ]
    );
    assert!(
        elsewhere_seen.try_recv().is_err(),
        "the redirect was not followed"
    );
    let shown = serde_json::to_string(&s).unwrap();
    assert!(
        !shown.contains("SECRET"),
        "a webhook's path is never shown: {shown}"
    );
    assert_eq!(s.hooks[0].describe, format!("webhook to {ok}"));
}

#[tokio::test]
async fn at_most_four_run_at_once_and_past_the_queue_the_oldest_waiting_is_dropped() {
    let dir = private_dir();
    let out = dir.path().display().to_string();
    let path = finished_hook(
        &dir,
        &format!(
            "echo $BATCHWATCH_BATCH_ID >> {out}/started; while [ ! -e {out}/release ]; do sleep 0.05; done; echo $BATCHWATCH_BATCH_ID >> {out}/ended"
        ),
    );
    let bounds = Bounds {
        waiting: 8,
        ..Bounds::default()
    };
    let (runner, mut status) = HookRunner::spawn(path, bounds);
    for i in 0..4 {
        runner.on_event(finished(&format!("b{i}")));
    }
    until("four running", || {
        (lines(&dir.path().join("started")).len() == 4).then_some(())
    })
    .await;
    for i in 4..14 {
        runner.on_event(finished(&format!("b{i}")));
    }
    let s = status_until(&mut status, "the drops", |s| s.dropped == 2).await;
    assert_eq!(s.dropped, 2);
    std::fs::write(dir.path().join("release"), "").unwrap();
    until("every kept run to end", || {
        (lines(&dir.path().join("ended")).len() == 12 && runner.busy() == 0).then_some(())
    })
    .await;
    let mut started = lines(&dir.path().join("started"));
    started.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..4).chain(6..14).map(|i| format!("b{i}")).collect();
    assert_eq!(
        started, expected,
        "b4 and b5, the oldest waiting, were dropped"
    );
    assert_eq!(runner.peak_running(), 4);
}

#[tokio::test]
async fn the_file_is_read_again_when_it_changes_and_a_bad_one_turns_hooks_off() {
    let dir = private_dir();
    let out = dir.path().display().to_string();
    let hook = |name: &str| {
        format!(
            "[[hook]]\non = [\"finished\"]\n{}\n",
            sh(&format!("touch {out}/began-$BATCHWATCH_BATCH_ID; while [ ! -e {out}/release ]; do sleep 0.05; done; echo $BATCHWATCH_BATCH_ID >> {out}/{name}"))
        )
    };
    let path = write_hooks(dir.path(), &hook("first"));
    let (runner, mut status) = HookRunner::spawn(path, Bounds::default());
    watch_file(&runner).unwrap();
    runner.on_event(finished("b1"));
    until("b1's run to begin", || {
        dir.path().join("began-b1").exists().then_some(())
    })
    .await;

    // A broken file while b1's run goes on: hooks are off, said with the line.
    write_hooks(
        dir.path(),
        "[[hook]]\non = [\"finished\", 7]\nrun = [\"/bin/true\"]\n",
    );
    let s = status_until(&mut status, "the problem", |s| s.problem.is_some()).await;
    let problem = s.problem.unwrap();
    assert!(problem.starts_with("hooks.toml, line 2: "), "{problem}");
    assert!(s.hooks.is_empty());
    runner.on_event(finished("b2"));

    write_hooks(dir.path(), &hook("second"));
    status_until(&mut status, "the fixed file", |s| {
        s.problem.is_none() && s.hooks.len() == 1
    })
    .await;
    runner.on_event(finished("b3"));
    std::fs::write(dir.path().join("release"), "").unwrap();
    until("both runs", || {
        (runner.busy() == 0 && dir.path().join("second").exists()).then_some(())
    })
    .await;
    // b1 ran as the file said when it was queued; b2 found hooks off; b3 ran the new hook.
    assert_eq!(lines(&dir.path().join("first")), ["b1"]);
    assert_eq!(lines(&dir.path().join("second")), ["b3"]);
}
