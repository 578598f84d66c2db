//! The HTTP surface: the four batch endpoints (the start and the agents list are in `start`),
//! the gate every request passes first (request log,
//! rate limit, auth), fault injection around the batch endpoints, and JSON 404/405 fallbacks.
//!
//! Order for a batch request: log → rate limit (429) → auth (401/400/403) → batch ID shape
//! (400) → fault → query parameters (400) → batch lookup (404) → answer (cancel: 409 if the batch
//! is already finished).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::faults::{self, Endpoint, Fault, Hangup};
use crate::log::{batch_id_in_path, RequestRecord};
use crate::ratelimit;
use crate::state::Shared;
use crate::wire::{self, CallFilter};

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub(crate) fn router(sim: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1/api/batch-calls",
            post(crate::start::start).layer(DefaultBodyLimit::max(crate::start::MAX_REQUEST_BYTES)),
        )
        .route("/v1/api/agents", get(crate::start::agents))
        .route("/v1/api/batch-calls/{batch_id}", get(detail).delete(cancel))
        .route("/v1/api/batch-calls/{batch_id}/status", get(status))
        .route("/v1/api/batch-calls/{batch_id}/calls", get(calls))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), gate))
        .with_state(sim)
}

/// Logs the request, then applies the rate limit and auth before anything else runs.
async fn gate(State(sim): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let key = header_text(request.headers(), "x-api-key");
    let workspace = header_text(request.headers(), "x-workspace-id");
    let path = request.uri().path().to_owned();

    let (seq, refusal) = {
        let mut state = sim.lock();
        let now = sim.clock.now();
        let seq = state.log.open(RequestRecord {
            sim_ms: u64::try_from(now).unwrap_or_default(),
            method: request.method().to_string(),
            batch_id: batch_id_in_path(&path),
            path,
            api_key: key.clone(),
            workspace_id: workspace.clone(),
            status: 0,
        });
        let limit = state.limiter.limit();
        let limited = match &key {
            Some(key) => state.limiter.admit(key, now).err(),
            None => None,
        };
        let refusal = match limited {
            Some(wait) => Some(ratelimit::refusal(&sim.clock, limit, wait)),
            None => state
                .credentials
                .check(key.as_deref(), workspace.as_deref())
                .err()
                .map(IntoResponse::into_response),
        };
        (seq, refusal)
    };

    let response = match refusal {
        Some(refusal) => refusal,
        None => next.run(request).await,
    };
    let status = if response.extensions().get::<Hangup>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    sim.lock().log.close(seq, status);
    response
}

/// A header's value as text, `None` when absent or empty.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .filter(|v| !v.is_empty())
}

type BatchPath = Result<Path<String>, PathRejection>;

async fn status(State(sim): State<Arc<Shared>>, id: BatchPath) -> Response {
    answer(&sim, id, Ok(Ask::Status)).await
}

async fn detail(State(sim): State<Arc<Shared>>, id: BatchPath) -> Response {
    answer(&sim, id, Ok(Ask::Detail)).await
}

async fn cancel(State(sim): State<Arc<Shared>>, id: BatchPath) -> Response {
    answer(&sim, id, Ok(Ask::Cancel)).await
}

async fn calls(
    State(sim): State<Arc<Shared>>,
    id: BatchPath,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let query = query
        .map_err(|_| "Invalid query string")
        .and_then(|Query(params)| CallsQuery::parse(&params))
        .map(Ask::Calls);
    answer(&sim, id, query).await
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, json!({ "error": "Not found" }))
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({ "error": "Method not allowed" }),
    )
}

/// What a batch request asks for.
enum Ask {
    Status,
    Detail,
    Cancel,
    Calls(CallsQuery),
}

impl Ask {
    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Status => Endpoint::Status,
            Self::Detail => Endpoint::Detail,
            Self::Cancel => Endpoint::Cancel,
            Self::Calls(_) => Endpoint::Calls,
        }
    }
}

struct CallsQuery {
    page: usize,
    limit: usize,
    filter: CallFilter,
}

impl CallsQuery {
    fn parse(params: &HashMap<String, String>) -> Result<Self, &'static str> {
        let page = match params.get("page") {
            None => 1,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or("page must be a positive integer")?,
        };
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or("limit must be an integer between 1 and 100")?,
        };
        let filter = match params.get("status") {
            None => CallFilter::All,
            Some(s) => CallFilter::parse(s)
                .ok_or("status must be one of all, waiting, active, completed, failed")?,
        };
        Ok(Self {
            page,
            limit,
            filter,
        })
    }
}

/// A batch endpoint's answer, with any fault for that batch applied. `ask` is `Err` when the
/// query parameters were invalid (answered 400 after the fault check).
async fn answer(sim: &Shared, id: BatchPath, ask: Result<Ask, &'static str>) -> Response {
    let id = match id {
        Ok(Path(id)) if is_valid_batch_id(&id) => id,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                json!({ "error": "Invalid batch ID" }),
            )
        }
    };
    let (fault, limit) = {
        let state = sim.lock();
        (state.faults.for_batch(&id), state.limiter.limit())
    };
    if let Some(Fault::Delay(pause)) = fault {
        tokio::time::sleep(pause).await;
    }
    if let Some(replaced) = fault.as_ref().and_then(|f| faults::replacement(f, limit)) {
        return replaced;
    }
    let (status, mut bytes) = match &ask {
        Ok(ask) => respond(sim, &id, ask),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            encode(&json!({ "error": message })),
        ),
    };
    if let (Some(fault), StatusCode::OK, Ok(ask)) = (&fault, status, &ask) {
        bytes = faults::edit_body(fault, ask.endpoint(), bytes);
    }
    if fault == Some(Fault::TruncatedBody) {
        bytes.truncate(bytes.len() / 2);
    }
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The unfaulted answer to `ask` for batch `id`, now, as JSON bytes (fields in the order the
/// reference page lists them).
fn respond(sim: &Shared, id: &str, ask: &Ask) -> (StatusCode, Vec<u8>) {
    let mut state = sim.lock();
    let now = sim.clock.now();
    let Some(batch) = state.batches.get_mut(id) else {
        return (
            StatusCode::NOT_FOUND,
            encode(&json!({ "error": "Batch not found", "id": id })),
        );
    };
    let clock = &sim.clock;
    let body = match ask {
        Ask::Status => encode(&wire::status_body(batch, clock, now)),
        Ask::Detail => encode(&wire::detail_body(batch, clock, now)),
        Ask::Calls(q) => encode(&wire::calls_body(
            batch, clock, now, q.filter, q.page, q.limit,
        )),
        Ask::Cancel => match batch.cancel(now) {
            Some(report) => encode(&wire::cancel_body(batch, &report)),
            None => {
                return (
                    StatusCode::CONFLICT,
                    encode(&json!({ "error": "Batch is already finished", "id": id })),
                )
            }
        },
    };
    (StatusCode::OK, body)
}

/// The JSON of one of our own bodies; they are plain structs of strings and numbers, which
/// always serialize.
fn encode(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// `[A-Za-z0-9_-]{1,128}`.
fn is_valid_batch_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ids_are_checked_against_the_documented_shape() {
        for ok in ["batch_7891011121314", "a", "A-b_9", &"x".repeat(128)] {
            assert!(is_valid_batch_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a.b", "ä", "../x", &"x".repeat(129)] {
            assert!(!is_valid_batch_id(bad), "{bad}");
        }
    }

    #[test]
    fn calls_query_defaults_and_limits() {
        let parse = |pairs: &[(&str, &str)]| {
            let params = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            CallsQuery::parse(&params).map(|q| (q.page, q.limit, q.filter))
        };
        assert_eq!(parse(&[]), Ok((1, 20, CallFilter::All)));
        assert_eq!(
            parse(&[("page", "3"), ("limit", "100"), ("status", "failed")]),
            Ok((3, 100, CallFilter::Only(crate::batch::CallState::Failed)))
        );
        for bad in [
            ("page", "0"),
            ("page", "x"),
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "ten"),
            ("status", "cancelled"),
        ] {
            assert!(parse(&[bad]).is_err(), "{bad:?}");
        }
    }
}
