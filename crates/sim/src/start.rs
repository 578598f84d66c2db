//! The two endpoints that are not about one batch: `POST /v1/api/batch-calls` (start a batch
//! from an uploaded CSV) and `GET /v1/api/agents` (the workspace's call agents). Both pass the
//! same gate as the rest (log, rate limit, auth) before they get here.
//!
//! A start reads the whole form first (the file counted as it streams in, kept up to 20 MB + 1
//! byte), then its fault, then the documented checks ([`upload::check`]), then starts the
//! batch: it runs as scripted batches do, its calls the file's rows, and a `scheduledAt` in the
//! future keeps it `queued` with no calls until then.

use std::sync::Arc;

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::agents;
use crate::faults::{self, Fault};
use crate::state::Shared;
use crate::upload::{self, Upload, MAX_FILE_BYTES};

/// The most a whole start request may carry before it is cut off (the file's 20 MB, and room
/// for a client that sends more to be told 413 rather than hung up on).
pub(crate) const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
/// The most a text field (`agentId`, `scheduledAt`, `smartCallbackConfig`) may hold.
const MAX_TEXT_FIELD: usize = 64 * 1024;

/// `{batchId, totalCalls, status, message}`, as documented.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    batch_id: String,
    total_calls: usize,
    status: &'static str,
    message: String,
}

pub(crate) async fn agents(State(sim): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let workspace = workspace(&headers);
    let (fault, limit) = {
        let state = sim.lock();
        (state.faults.for_agents(), state.limiter.limit())
    };
    if let Some(Fault::Delay(pause)) = fault {
        tokio::time::sleep(pause).await;
    }
    if let Some(replaced) = fault.as_ref().and_then(|f| faults::replacement(f, limit)) {
        return replaced;
    }
    let mut bytes = {
        let state = sim.lock();
        let body = agents::agents_body(&state.agents, &workspace, &state.first_workspace);
        serde_json::to_vec(&body).unwrap_or_default()
    };
    if fault == Some(Fault::TruncatedBody) {
        bytes.truncate(bytes.len() / 2);
    }
    json_bytes(StatusCode::OK, bytes)
}

pub(crate) async fn start(
    State(sim): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let workspace = workspace(&headers);
    let mut upload = match form {
        Ok(form) => match read_form(form).await {
            Ok(upload) => upload,
            Err(refusal) => return refusal,
        },
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Expected multipart/form-data with a 'file' field and an 'agentId' field",
            )
        }
    };

    let (fault, limit) = {
        let state = sim.lock();
        (state.faults.for_start(), state.limiter.limit())
    };
    if let Some(fault) = fault.as_ref().filter(|f| !faults::starts_anyway(f)) {
        if let Some(replaced) = faults::replacement(fault, limit) {
            sim.lock().uploads.push(upload);
            return replaced;
        }
    }

    let now_wall = sim.clock.wall_ms(sim.clock.now());
    let checked = {
        let state = sim.lock();
        upload::check(
            &upload,
            |id| agents::has_agent(&state.agents, &workspace, &state.first_workspace, id),
            now_wall,
        )
    };
    let accepted = match checked {
        Ok(accepted) => accepted,
        Err(refusal) => {
            sim.lock().uploads.push(upload);
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            return error(status, &refusal.error);
        }
    };

    let total = accepted.rows.len();
    let script = sim
        .lock()
        .started_batches
        .clone()
        .rows(accepted.rows)
        .start_delay(accepted.start_in);
    let batch_id = sim.add_batch(script);
    upload.batch_id = Some(batch_id.clone());
    let message = match (&upload.scheduled_at, accepted.scheduled) {
        (Some(at), true) => format!("Batch calls scheduled for {at}"),
        _ => "Batch calls initiated successfully".to_owned(),
    };
    sim.lock().uploads.push(upload);

    let mut bytes = serde_json::to_vec(&StartBody {
        batch_id,
        total_calls: total,
        status: "queued",
        message,
    })
    .unwrap_or_default();
    match &fault {
        Some(Fault::Delay(pause)) => tokio::time::sleep(*pause).await,
        Some(Fault::TruncatedBody) => bytes.truncate(bytes.len() / 2),
        Some(other) => {
            if let Some(replaced) = faults::replacement(other, limit) {
                return replaced;
            }
        }
        None => {}
    }
    json_bytes(StatusCode::OK, bytes)
}

/// The form's fields; a form that cannot be read (or passes [`MAX_REQUEST_BYTES`]) is
/// answered here.
async fn read_form(mut form: Multipart) -> Result<Upload, Response> {
    let mut upload = Upload {
        agent_id: None,
        file_name: None,
        file: None,
        file_bytes: 0,
        scheduled_at: None,
        smart_callback_config: None,
        batch_id: None,
    };
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "file" => {
                upload.file_name = field.file_name().map(str::to_owned);
                let (kept, size) = read_field(&mut field, MAX_FILE_BYTES + 1).await?;
                upload.file = Some(kept);
                upload.file_bytes = size;
            }
            name @ ("agentId" | "scheduledAt" | "smartCallbackConfig") => {
                let name = name.to_owned();
                let (kept, size) = read_field(&mut field, MAX_TEXT_FIELD).await?;
                if size > MAX_TEXT_FIELD {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        &format!("The field {name} is too long"),
                    ));
                }
                let text = String::from_utf8_lossy(&kept).into_owned();
                match name.as_str() {
                    "agentId" => upload.agent_id = Some(text),
                    "scheduledAt" => upload.scheduled_at = Some(text),
                    _ => upload.smart_callback_config = Some(text),
                }
            }
            // Fields the docs do not name are read and ignored.
            _ => {
                read_field(&mut field, 0).await?;
            }
        }
    }
    Ok(upload)
}

/// The field's first `keep` bytes and its whole size.
async fn read_field(field: &mut Field<'_>, keep: usize) -> Result<(Vec<u8>, usize), Response> {
    let mut kept = Vec::new();
    let mut size = 0;
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        size += chunk.len();
        let room = keep.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }
    Ok((kept, size))
}

fn unreadable(e: MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "File too large. Maximum file size is 20MB.",
        );
    }
    error(
        StatusCode::BAD_REQUEST,
        &format!("Could not read the multipart form: {}", e.body_text()),
    )
}

fn workspace(headers: &HeaderMap) -> String {
    headers
        .get("x-workspace-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn error(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "error": text }))).into_response()
}
