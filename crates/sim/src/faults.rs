//! Injected faults: what a test can make the API do wrong ([`Fault`]), for which batches
//! ([`FaultTarget`]), and the responses or body changes each one produces.
//!
//! A fault applies to requests that passed the rate limit and auth and name a well-formed batch
//! ID, whether or not the batch exists, on every batch endpoint (status, detail, calls, cancel),
//! and persists until cleared. A fault that replaces the answer (server error, 502, 429, bad
//! JSON, dropped connection) keeps the request from reaching the batch: a faulted cancel cancels
//! nothing. One fault per target; a batch's own fault wins over the `All` one.
//!
//! The start and the agents list have targets of their own ([`FaultTarget::Start`],
//! [`FaultTarget::Agents`]; `All` is the batch endpoints only). A start's fault comes after the
//! upload was read whole, and splits in two as a real service's would: the answers that stand
//! in for the service (500, 502, 429, a redirect, a giant or endless body) start nothing, while
//! a dropped connection, a delay, bad JSON or a cut body break the answer of a batch that did
//! start ([`starts_anyway`]) — the outcome a client cannot know.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::ratelimit;

/// Something the simulated API does wrong, until it is cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 500 `{"error":"Failed to get batch progress","message":"Internal server error"}`.
    ServerError,
    /// 502 with a `text/html` body, as a proxy in front of the API would send.
    BadGatewayHtml,
    /// `status` (a 4xx) with `{"error": error}`: the service refusing what it was asked.
    Refused { status: u16, error: String },
    /// 200, `content-type: application/json`, body `{status: processing}` (not JSON).
    MalformedJson,
    /// 200 with the real JSON cut in half; `Content-Length` matches the cut body, so the
    /// HTTP framing is fine and only JSON decoding fails.
    TruncatedBody,
    /// Waits this long (real time) and then answers normally.
    Delay(Duration),
    /// Closes the connection without sending any response.
    DropConnection,
    /// The normal body with its `status` field replaced (status and detail endpoints).
    UnknownStatus(String),
    /// Status endpoint: `startTime`, `lastCompletedTime`, `completedTime` and
    /// `averageCallDuration` are `null`.
    NullOptionalFields,
    /// Status endpoint: those four keys and `recent_calls` are left out.
    MissingOptionalFields,
    /// 429 with `Retry-After` if `retry_after_secs` is set, and the
    /// `{"error":{"code":"rate_limit_exceeded","message":…,"reset_at":…}}` body with `reset_at`
    /// that many real seconds from now if `reset_in_secs` is set (else `{"error":"Too many requests"}`).
    TooManyRequests {
        retry_after_secs: Option<u64>,
        reset_in_secs: Option<u64>,
    },
    /// A `status` (3xx) answer with `Location: location`, as a hijacked or misconfigured
    /// front end would send: a client that follows it repeats the request (and its headers)
    /// wherever that points.
    Redirect { status: u16, location: String },
    /// 200 with a body of `bytes` bytes of JSON-looking padding, sent in 64 KiB chunks, with
    /// a `Content-Length` or (`chunked`) without one.
    OversizedBody { bytes: u64, chunked: bool },
    /// 200 with `Content-Length: claimed`, two bytes of body, and then nothing more: a client
    /// that heeds the length refuses it at once; one that reads waits until its timeout.
    ClaimedLength { claimed: u64 },
    /// 200 whose body starts and then arrives one byte every `every`, without end (until the
    /// client goes away).
    TrickleBody { every: Duration },
    /// Calls endpoint: every page claims another (`hasNext: true`) and no `totalPages`, as a
    /// broken pager would.
    EndlessPages,
    /// Status endpoint: every counter is `u64::MAX`, every time the largest millisecond count,
    /// `averageCallDuration` 1e308.
    MaxCounters,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FaultTarget {
    /// Every batch endpoint of every batch ID.
    All,
    /// Requests whose path names this batch ID.
    Batch(String),
    /// `POST /v1/api/batch-calls`, every start.
    Start,
    /// `GET /v1/api/agents`.
    Agents,
}

/// The faults in force.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    all: Option<Fault>,
    by_batch: HashMap<String, Fault>,
    start: Option<Fault>,
    agents: Option<Fault>,
}

impl Faults {
    pub(crate) fn set(&mut self, target: FaultTarget, fault: Fault) {
        match target {
            FaultTarget::All => self.all = Some(fault),
            FaultTarget::Batch(id) => {
                self.by_batch.insert(id, fault);
            }
            FaultTarget::Start => self.start = Some(fault),
            FaultTarget::Agents => self.agents = Some(fault),
        }
    }

    pub(crate) fn clear(&mut self, target: &FaultTarget) {
        match target {
            FaultTarget::All => self.all = None,
            FaultTarget::Batch(id) => {
                self.by_batch.remove(id);
            }
            FaultTarget::Start => self.start = None,
            FaultTarget::Agents => self.agents = None,
        }
    }

    pub(crate) fn clear_all(&mut self) {
        *self = Self::default();
    }

    /// The fault for a start.
    pub(crate) fn for_start(&self) -> Option<Fault> {
        self.start.clone()
    }

    /// The fault for the agents list.
    pub(crate) fn for_agents(&self) -> Option<Fault> {
        self.agents.clone()
    }

    /// The fault for a request naming `batch_id`: the batch's own, else the `All` one.
    pub(crate) fn for_batch(&self, batch_id: &str) -> Option<Fault> {
        self.by_batch.get(batch_id).or(self.all.as_ref()).cloned()
    }
}

/// Which endpoint a body came from, for the faults that edit bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Status,
    Detail,
    Calls,
    Cancel,
}

/// Whether a start faulted this way still starts its batch (the fault breaks only the answer).
pub(crate) fn starts_anyway(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::DropConnection | Fault::Delay(_) | Fault::MalformedJson | Fault::TruncatedBody
    )
}

/// Marks a response that must not be sent: the connection is closed instead. The server's
/// connection loop turns it into a service error, on which hyper drops the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hangup;

impl fmt::Display for Hangup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Hangup {}

/// The answer that replaces the normal one, if `fault` replaces answers.
pub(crate) fn replacement(fault: &Fault, rate_limit_per_minute: u32) -> Option<Response> {
    let response = match fault {
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({
                "error": "Failed to get batch progress",
                "message": "Internal server error",
            })),
        )
            .into_response(),
        Fault::Refused { status, error } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response(),
        Fault::BadGatewayHtml => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        Fault::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{status: processing}",
        )
            .into_response(),
        Fault::DropConnection => {
            let mut response = StatusCode::OK.into_response();
            response.extensions_mut().insert(Hangup);
            response
        }
        Fault::TooManyRequests {
            retry_after_secs,
            reset_in_secs,
        } => {
            let reset_at = reset_in_secs.map(|secs| {
                let now_ms = crate::clock::real_epoch_ms();
                now_ms.div_euclid(1000) + 1 + i64::try_from(secs).unwrap_or(i64::MAX / 4)
            });
            ratelimit::too_many_requests(rate_limit_per_minute, *retry_after_secs, reset_at)
        }
        Fault::Redirect { status, location } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND),
            [(header::LOCATION, location.clone())],
        )
            .into_response(),
        Fault::OversizedBody { bytes, chunked } => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(padding(*bytes)),
            )
                .into_response();
            if !chunked {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, header::HeaderValue::from(*bytes));
            }
            response
        }
        Fault::ClaimedLength { claimed } => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(futures_util::StreamExt::chain(
                    padding(2),
                    futures_util::stream::pending(),
                )),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, header::HeaderValue::from(*claimed));
            response
        }
        Fault::TrickleBody { every } => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(trickle(*every)),
        )
            .into_response(),
        Fault::TruncatedBody
        | Fault::Delay(_)
        | Fault::UnknownStatus(_)
        | Fault::NullOptionalFields
        | Fault::MissingOptionalFields
        | Fault::EndlessPages
        | Fault::MaxCounters => return None,
    };
    Some(response)
}

type Chunk = Result<Bytes, std::convert::Infallible>;

/// `{"pad":"xxx…` for `bytes` bytes in all, never closed: it is meant to be refused.
fn padding(bytes: u64) -> impl futures_util::Stream<Item = Chunk> {
    const CHUNK: u64 = 64 * 1024;
    futures_util::stream::unfold(0u64, move |sent| async move {
        if sent >= bytes {
            return None;
        }
        let n = CHUNK.min(bytes - sent);
        let mut chunk = vec![b'x'; n as usize];
        if sent == 0 {
            let head = br#"{"pad":""#;
            let len = head.len().min(chunk.len());
            chunk[..len].copy_from_slice(&head[..len]);
        }
        Some((Ok(Bytes::from(chunk)), sent + n))
    })
}

/// `{` and then a space every `every`, for as long as the client listens.
fn trickle(every: Duration) -> impl futures_util::Stream<Item = Chunk> {
    futures_util::stream::unfold(true, move |first| async move {
        if first {
            return Some((Ok(Bytes::from_static(b"{")), false));
        }
        tokio::time::sleep(every).await;
        Some((Ok(Bytes::from_static(b" ")), false))
    })
}

/// A successful body of `endpoint`, edited as `fault` asks (unchanged if it asks nothing of
/// that endpoint).
pub(crate) fn edit_body(fault: &Fault, endpoint: Endpoint, body: Vec<u8>) -> Vec<u8> {
    let edits = matches!(
        (fault, endpoint),
        (Fault::UnknownStatus(_), Endpoint::Status | Endpoint::Detail)
            | (
                Fault::NullOptionalFields | Fault::MissingOptionalFields | Fault::MaxCounters,
                Endpoint::Status
            )
            | (Fault::EndlessPages, Endpoint::Calls)
    );
    if !edits {
        return body;
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    edit_value(fault, endpoint, &mut value);
    serde_json::to_vec(&value).unwrap_or(body)
}

fn edit_value(fault: &Fault, endpoint: Endpoint, body: &mut Value) {
    const OPTIONAL: [&str; 4] = [
        "startTime",
        "lastCompletedTime",
        "completedTime",
        "averageCallDuration",
    ];
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    match (fault, endpoint) {
        (Fault::UnknownStatus(status), Endpoint::Status | Endpoint::Detail) => {
            fields.insert("status".into(), Value::String(status.clone()));
        }
        (Fault::NullOptionalFields, Endpoint::Status) => {
            for key in OPTIONAL {
                fields.insert(key.into(), Value::Null);
            }
        }
        (Fault::MissingOptionalFields, Endpoint::Status) => {
            for key in OPTIONAL.into_iter().chain(["recent_calls"]) {
                fields.remove(key);
            }
        }
        (Fault::MaxCounters, Endpoint::Status) => {
            for key in ["waiting", "active", "completed", "failed", "total"] {
                fields.insert(key.into(), Value::from(u64::MAX));
            }
            for key in ["startTime", "lastCompletedTime", "completedTime"] {
                fields.insert(key.into(), Value::from(u64::MAX));
            }
            fields.insert("averageCallDuration".into(), Value::from(1e308));
        }
        (Fault::EndlessPages, Endpoint::Calls) => {
            if let Some(Value::Object(pagination)) = fields.get_mut("pagination") {
                pagination.insert("hasNext".into(), Value::Bool(true));
                pagination.remove("totalPages");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_fault_wins_over_the_all_fault() {
        let mut faults = Faults::default();
        faults.set(FaultTarget::All, Fault::ServerError);
        faults.set(FaultTarget::Batch("b1".into()), Fault::MalformedJson);
        assert_eq!(faults.for_batch("b1"), Some(Fault::MalformedJson));
        assert_eq!(faults.for_batch("b2"), Some(Fault::ServerError));
        faults.clear(&FaultTarget::All);
        assert_eq!(faults.for_batch("b2"), None);
        faults.clear_all();
        assert_eq!(faults.for_batch("b1"), None);
    }

    #[test]
    fn body_edits_touch_only_their_endpoints() {
        let body = serde_json::json!({
            "status": "processing", "startTime": 1, "lastCompletedTime": 2,
            "completedTime": null, "averageCallDuration": 3.5, "recent_calls": [],
        });
        let edit = |fault: Fault, endpoint: Endpoint| {
            let bytes = edit_body(&fault, endpoint, body.to_string().into_bytes());
            serde_json::from_slice::<Value>(&bytes).expect("still JSON")
        };

        let nulled = edit(Fault::NullOptionalFields, Endpoint::Status);
        assert_eq!(nulled["startTime"], Value::Null);
        assert_eq!(nulled["averageCallDuration"], Value::Null);
        assert_eq!(nulled["recent_calls"], serde_json::json!([]));

        let missing = edit(Fault::MissingOptionalFields, Endpoint::Status);
        assert_eq!(missing, serde_json::json!({"status": "processing"}));

        assert_eq!(edit(Fault::NullOptionalFields, Endpoint::Detail), body);
        assert_eq!(edit(Fault::MissingOptionalFields, Endpoint::Calls), body);
        let renamed = edit(Fault::UnknownStatus("paused".into()), Endpoint::Detail);
        assert_eq!(renamed["status"], "paused");
        assert_eq!(
            edit(Fault::UnknownStatus("paused".into()), Endpoint::Cancel),
            body
        );
    }
}
