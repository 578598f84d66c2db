//! `batchwatch-cli status`: one `GET …/status` per batch, printed as a line for people or a
//! JSON object per line for scripts.
//!
//! Every batch gets its line, even when its request failed, so output stays one line per batch;
//! the failures then decide the exit code: rejected credentials stop at once (3), an unknown
//! batch is 4, and a service that could not answer is 5.

use batchwatch_core::control::{CallError, Client, Request, StatusAnswer};
use batchwatch_core::figures::figures_seen;
use batchwatch_core::{ApiError, BatchId, TrilletClient};

use crate::exit::Failure;
use crate::patience::patiently;
use crate::summary::{self, JsonLine};

/// Where the answers come from: Trillet directly, or the running tray app (which answers a
/// batch it tracks from memory and asks Trillet about any other within its own budget).
pub enum Source<'a> {
    Trillet(&'a TrilletClient),
    /// The tray app, asking in this workspace (ours) what it does not watch.
    TrayApp(&'a Client, Option<String>),
}

/// One batch's failed line: what it says, and whether Trillet does not know the batch.
struct LineError {
    code: String,
    message: String,
    not_found: bool,
}

/// Why the whole command stops at once (rejected credentials, a long rate limit), or one
/// batch's failed line.
enum Trouble {
    Stop(Failure),
    Line(LineError),
}

impl From<ApiError> for Trouble {
    fn from(e: ApiError) -> Self {
        match e {
            e @ ApiError::Unauthorized { .. } => Self::Stop(Failure::Rejected(e.to_string())),
            // A wait too long to sit out: asking about the next batch would only earn another.
            e @ ApiError::RateLimited { .. } => Self::Stop(Failure::from_api(e)),
            e => Self::Line(LineError {
                code: e.code().into(),
                message: e.to_string(),
                not_found: matches!(e, ApiError::NotFound { .. }),
            }),
        }
    }
}

pub async fn run(source: Source<'_>, ids: &[BatchId], json: bool) -> Result<(), Failure> {
    let width = ids.iter().map(|id| id.as_str().len()).max().unwrap_or(0);
    let mut not_found = Vec::new();
    let mut unreachable = Vec::new();
    for id in ids {
        let fetched = match &source {
            Source::Trillet(client) => fetch(client, id)
                .await
                .map(|progress| StatusAnswer {
                    progress,
                    samples: Vec::new(),
                    answered_at_ms: None,
                    launch: None,
                })
                .map_err(Trouble::from),
            Source::TrayApp(resident, workspace) => through(resident, id, workspace.clone()).await,
        };
        match fetched {
            Ok(answer) => {
                let now = batchwatch_core::monitor::wall_clock_ms();
                println!("{}", line(id, &answer, now, json, width));
            }
            Err(Trouble::Stop(failure)) => return Err(failure),
            Err(Trouble::Line(e)) => {
                if json {
                    let line = serde_json::json!({
                        "batchId": id,
                        "error": {"code": e.code, "message": e.message},
                    });
                    println!("{line}");
                } else {
                    println!("{:<width$}  error: {}", id.as_str(), e.message);
                }
                if e.not_found {
                    not_found.push(id.as_str());
                } else {
                    unreachable.push(id.as_str());
                }
            }
        }
    }
    if !not_found.is_empty() {
        return Err(Failure::UnknownBatch(format!(
            "Trillet has no batch with this ID in this workspace: {}",
            not_found.join(", ")
        )));
    }
    if !unreachable.is_empty() {
        return Err(Failure::Unreachable(format!(
            "could not get the status of {}; try again later",
            unreachable.join(", ")
        )));
    }
    Ok(())
}

/// A batch's line, its figures at the recent pace when the tray app said what it saw.
fn line(id: &BatchId, answer: &StatusAnswer, now_ms: u64, json: bool, width: usize) -> String {
    let progress = &answer.progress;
    let f = figures_seen(progress, answer.seen(), now_ms);
    if json {
        return JsonLine::new(id, progress, &f).to_line();
    }
    let mut text = summary::human_line(id, progress, &f, width);
    let queued = progress.status == batchwatch_core::BatchStatus::Queued;
    let zone = batchwatch_core::format::TimeZone::system();
    if let Some(starts) =
        batchwatch_core::view::starts_text(answer.launch.as_ref(), queued, now_ms, &zone)
    {
        text.push_str(&format!(" ({starts})"));
    }
    text
}

/// One batch through the tray app: its progress (with what the tray app saw of it lately), or
/// its line's error — the tray app's refusal of the credentials or a long rate limit stop the
/// command, as a direct answer would.
async fn through(
    resident: &Client,
    id: &BatchId,
    workspace: Option<String>,
) -> Result<StatusAnswer, Trouble> {
    let answer = resident
        .call(&Request::Status {
            id: id.as_str().to_owned(),
            workspace,
        })
        .await;
    match answer {
        Ok(value) => serde_json::from_value(value).map_err(|e| {
            Trouble::Stop(Failure::Unreachable(format!(
                "the tray app answered what this batchwatch-cli cannot read ({e}); try --standalone"
            )))
        }),
        Err(CallError::Failed(f)) if matches!(f.code.as_str(), "unauthorized" | "rate_limited") => {
            Err(Trouble::Stop(crate::resident::failure(CallError::Failed(
                f,
            ))))
        }
        Err(CallError::Failed(f)) => Err(Trouble::Line(LineError {
            not_found: f.code == "not_found",
            code: f.code,
            message: f.message,
        })),
        Err(gone @ CallError::Gone) => Err(Trouble::Stop(crate::resident::failure(gone))),
    }
}

async fn fetch(
    client: &TrilletClient,
    id: &BatchId,
) -> Result<batchwatch_core::BatchProgress, ApiError> {
    patiently(id.as_str(), || client.batch_progress(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use batchwatch_core::figures::Sample;

    /// 100 calls in the first hour, only 10 in its last ten minutes: through the tray app the
    /// line says the recent pace's ETA (50 min), as the tray does; straight from Trillet,
    /// with nothing seen, the whole run's (30 min).
    #[test]
    fn a_line_through_the_tray_app_gives_the_recent_paces_eta() {
        const START: u64 = 1_703_097_600_000;
        const MIN: u64 = 60_000;
        let progress: batchwatch_core::BatchProgress = serde_json::from_value(serde_json::json!({
            "status": "processing", "isComplete": false, "waiting": 45, "active": 5,
            "completed": 95, "failed": 5, "total": 150, "startTime": START,
            "lastCompletedTime": START + 60 * MIN,
        }))
        .unwrap();
        let id = BatchId::parse("batch_slow").unwrap();
        let now = START + 60 * MIN;
        let seen = StatusAnswer {
            progress: progress.clone(),
            samples: vec![
                Sample {
                    at_ms: START + 50 * MIN,
                    completed: 86,
                    failed: 4,
                },
                Sample {
                    at_ms: START + 59 * MIN,
                    completed: 94,
                    failed: 5,
                },
            ],
            answered_at_ms: Some(now),
            launch: None,
        };
        assert!(
            line(&id, &seen, now, false, 10).ends_with("ETA 50 min"),
            "{}",
            line(&id, &seen, now, false, 10)
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(&id, &seen, now, true, 0)).unwrap();
        assert_eq!(json["etaSeconds"], 50 * 60);

        let direct = StatusAnswer {
            samples: vec![],
            answered_at_ms: None,
            ..seen
        };
        assert!(line(&id, &direct, now, false, 10).ends_with("ETA 30 min"));
    }
}
