//! What can go wrong when talking to Trillet, typed so callers decide by kind (retry, back off,
//! stop, ask for credentials) and show a sentence a person understands.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// An API call that did not produce the expected body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401/403: the key or workspace was refused. Never retried with the same credentials.
    #[error("Trillet rejected the API key or workspace ID ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// 404: no such batch for this workspace.
    #[error("Trillet has no batch with this ID in this workspace: {message}")]
    NotFound { message: String },
    /// 429: wait `retry_after` (from `Retry-After` or `reset_at`) before the next request.
    #[error("Trillet's rate limit was reached{}: {message}", wait_text(*retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx: the service failed; worth retrying later.
    #[error("Trillet had a server error ({status}): {message}")]
    Server { status: u16, message: String },
    /// Any other 4xx: the request was refused as asked (e.g. cancelling a finished batch).
    #[error("Trillet refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer within the request timeout.
    #[error("Trillet did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// No connection, or the connection dropped before a full answer arrived.
    #[error("could not reach Trillet: {0}")]
    Network(String),
    /// An answer arrived but is not the documented JSON.
    #[error("Trillet sent an answer Batchwatch cannot read (HTTP {status}, {reason}): {excerpt}")]
    BadResponse {
        status: u16,
        reason: String,
        excerpt: String,
    },
}

fn wait_text(wait: Option<Duration>) -> String {
    match wait {
        Some(d) => format!(" — retry in {} s", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl ApiError {
    /// A stable machine-readable name, for the IPC boundary and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::NotFound { .. } => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::Refused { .. } => "refused",
            Self::Timeout(_) => "timeout",
            Self::Network(_) => "network",
            Self::BadResponse { .. } => "bad_response",
        }
    }

    /// The same error with every occurrence of `secret` blanked out of its texts: a server (or a
    /// proxy) that echoes the key in an error body must not carry it into logs and windows.
    pub(crate) fn redact(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let clean = |text: String| text.replace(secret, "<redacted>");
        match self {
            Self::Unauthorized { status, message } => Self::Unauthorized {
                status,
                message: clean(message),
            },
            Self::NotFound { message } => Self::NotFound {
                message: clean(message),
            },
            Self::RateLimited {
                retry_after,
                message,
            } => Self::RateLimited {
                retry_after,
                message: clean(message),
            },
            Self::Server { status, message } => Self::Server {
                status,
                message: clean(message),
            },
            Self::Refused { status, message } => Self::Refused {
                status,
                message: clean(message),
            },
            Self::Timeout(d) => Self::Timeout(d),
            Self::Network(text) => Self::Network(clean(text)),
            Self::BadResponse {
                status,
                reason,
                excerpt,
            } => Self::BadResponse {
                status,
                reason: clean(reason),
                excerpt: clean(excerpt),
            },
        }
    }

    /// Whether the same request may succeed later without the user doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Timeout(_)
                | Self::Network(_)
                | Self::BadResponse { .. }
        )
    }

    /// Maps a non-2xx answer to its error. `now` turns a `reset_at` instant into a wait.
    pub(crate) fn from_status(
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Self {
        let parsed = ErrorBody::parse(body);
        let message = parsed
            .as_ref()
            .map(ErrorBody::text)
            .unwrap_or_else(|| fallback_message(status, body));
        match status {
            401 | 403 => Self::Unauthorized { status, message },
            404 => Self::NotFound { message },
            429 => Self::RateLimited {
                retry_after: retry_wait(
                    retry_after_header,
                    parsed.as_ref().and_then(ErrorBody::reset_at),
                    now,
                ),
                message,
            },
            500..=599 => Self::Server { status, message },
            _ => Self::Refused { status, message },
        }
    }
}

/// How long a 429 asks us to wait: the `Retry-After` header (seconds or an HTTP date) and the
/// body's `reset_at` (RFC 3339), whichever is later — both are the server's word, and waiting
/// for the later one never earns a second 429. `None` when neither is usable.
pub fn retry_wait(
    retry_after_header: Option<&str>,
    reset_at: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let from_header = retry_after_header.and_then(|h| {
        let h = h.trim();
        h.parse::<u64>().ok().map(Duration::from_secs).or_else(|| {
            httpdate::parse_http_date(h)
                .ok()
                .map(|at| at.duration_since(now).unwrap_or_default())
        })
    });
    let from_body = reset_at.and_then(|r| {
        let at =
            time::OffsetDateTime::parse(r.trim(), &time::format_description::well_known::Rfc3339)
                .ok()?;
        let at = SystemTime::from(at);
        Some(at.duration_since(now).unwrap_or_default())
    });
    match (from_header, from_body) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Either documented error shape: `{"error":"text","message"?,"id"?}` or
/// `{"error":{"code","message","reset_at"}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorField,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Text(String),
    Object {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        reset_at: Option<String>,
    },
}

impl ErrorBody {
    fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }

    fn text(&self) -> String {
        let (head, detail) = match &self.error {
            ErrorField::Text(text) => (Some(text.as_str()), self.message.as_deref()),
            ErrorField::Object { code, message, .. } => {
                (message.as_deref().or(code.as_deref()), None)
            }
        };
        match (head, detail) {
            (Some(h), Some(d)) if !d.is_empty() && d != h => format!("{h} ({d})"),
            (Some(h), _) => h.to_owned(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => "no details given".to_owned(),
        }
    }

    fn reset_at(&self) -> Option<&str> {
        match &self.error {
            ErrorField::Object { reset_at, .. } => reset_at.as_deref(),
            ErrorField::Text(_) => None,
        }
    }
}

fn fallback_message(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected status");
    if body.is_empty() {
        reason.to_owned()
    } else {
        format!("{reason}; the answer was not JSON: {}", excerpt(body))
    }
}

/// The start of a body, on one line, short enough for an error message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > MAX {
        format!("{}…", one_line.chars().take(MAX).collect::<String>())
    } else if one_line.is_empty() {
        "(empty body)".to_owned()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2026-11-29T16:00:00Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_968_000)
    }

    #[test]
    fn both_error_shapes_are_read() {
        let e = ApiError::from_status(
            404,
            None,
            br#"{"error":"Batch not found","id":"b1"}"#,
            now(),
        );
        assert_eq!(
            e,
            ApiError::NotFound {
                message: "Batch not found".into()
            }
        );
        let e = ApiError::from_status(
            500,
            None,
            br#"{"error":"Failed to get batch progress","message":"Internal server error"}"#,
            now(),
        );
        assert_eq!(e.to_string(), "Trillet had a server error (500): Failed to get batch progress (Internal server error)");
        let e = ApiError::from_status(
            429,
            None,
            br#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit exceeded","reset_at":"2026-11-29T16:00:42Z"}}"#,
            now(),
        );
        assert_eq!(
            e,
            ApiError::RateLimited {
                retry_after: Some(Duration::from_secs(42)),
                message: "Rate limit exceeded".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "Trillet's rate limit was reached — retry in 42 s: Rate limit exceeded"
        );
    }

    #[test]
    fn an_echoed_key_is_blanked() {
        let e = ApiError::from_status(
            401,
            None,
            br#"{"error":"Invalid API key sk_live_abc123"}"#,
            now(),
        );
        let e = e.redact("sk_live_abc123");
        assert_eq!(
            e.to_string(),
            "Trillet rejected the API key or workspace ID (401): Invalid API key <redacted>"
        );
    }

    #[test]
    fn non_json_bodies_still_give_a_message() {
        let e = ApiError::from_status(
            502,
            None,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            now(),
        );
        assert_eq!(e.code(), "server_error");
        assert!(
            e.to_string()
                .contains("Bad Gateway; the answer was not JSON: <html>"),
            "{e}"
        );
        let e = ApiError::from_status(403, None, b"", now());
        assert_eq!(
            e,
            ApiError::Unauthorized {
                status: 403,
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn retry_wait_table() {
        let cases: &[(Option<&str>, Option<&str>, Option<u64>)] = &[
            (Some("30"), None, Some(30)),
            (Some(" 5 "), Some("2026-11-29T16:00:10Z"), Some(10)),
            (Some("20"), Some("2026-11-29T16:00:10Z"), Some(20)),
            (None, Some("2026-11-29T16:00:10+00:00"), Some(10)),
            (None, Some("2026-11-29T15:59:00Z"), Some(0)),
            (Some("Sun, 29 Nov 2026 16:01:00 GMT"), None, Some(60)),
            (Some("soon"), None, None),
            (None, Some("not a date"), None),
            (None, None, None),
        ];
        for (header, reset_at, expected) in cases {
            assert_eq!(
                retry_wait(*header, *reset_at, now()).map(|d| d.as_secs()),
                *expected,
                "{header:?} {reset_at:?}"
            );
        }
    }

    #[test]
    fn excerpt_is_short_and_one_line() {
        assert_eq!(excerpt(b"{\n  \"a\":\n 1"), "{ \"a\": 1");
        assert_eq!(excerpt(&[b'x'; 200]).chars().count(), 81);
        assert_eq!(excerpt(b""), "(empty body)");
    }
}
