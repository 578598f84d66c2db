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
    /// A 3xx. Trillet has no reason to redirect, and following one would hand the key to
    /// whatever host the `Location` names, so no redirect is ever followed.
    #[error("Trillet answered with a redirect ({status}) to {target}; Batchwatch follows no redirects, so the API key was not sent there")]
    Redirected { status: u16, target: String },
    /// The answer passed its size limit (by `Content-Length`, or while it was being read).
    #[error("Trillet's answer too large (over {} KiB); Batchwatch stopped reading it", .limit_bytes / 1024)]
    TooLarge { limit_bytes: u64 },
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
            Self::Redirected { .. } => "redirected",
            Self::TooLarge { .. } => "too_large",
            Self::BadResponse { .. } => "bad_response",
        }
    }

    /// The same error with every occurrence of `secret` blanked out of its texts: a server (or a
    /// proxy) that echoes the key in an error body must not carry it into logs and windows.
    pub(crate) fn redact(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let clean = |text: String| redact_text(&text, secret);
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
            Self::Redirected { status, target } => Self::Redirected {
                status,
                target: clean(target),
            },
            Self::TooLarge { limit_bytes } => Self::TooLarge { limit_bytes },
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

    /// A 429 restated with the wait actually used; any other error as it is.
    pub fn with_retry_after(self, used: Duration) -> Self {
        match self {
            Self::RateLimited { message, .. } => Self::RateLimited {
                retry_after: Some(used),
                message,
            },
            other => other,
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
                | Self::Redirected { .. }
                | Self::TooLarge { .. }
                | Self::BadResponse { .. }
        )
    }

    /// Maps a non-2xx answer to its error. `now` turns a `reset_at` instant into a wait;
    /// `secret` (the key sent) is blanked out of every text taken from the body.
    pub(crate) fn from_status(
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
        secret: &str,
        now: SystemTime,
    ) -> Self {
        let parsed = ErrorBody::parse(body);
        let message = parsed
            .as_ref()
            .map(|b| shorten(&redact_text(&b.text(), secret), MAX_MESSAGE_CHARS))
            .unwrap_or_else(|| fallback_message(status, body, secret));
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

/// The longest a one-shot request (the terminal companion's `status`, `failed`, `cancel`)
/// waits out a 429 before giving up and saying when to try again.
pub const ONE_SHOT_MAX_WAIT: Duration = Duration::from_secs(60);

/// The wait actually used after a 429: the server's word (`asked`, else `fallback`), within
/// 1 s and `longest`. The one clamp for the app and the terminal companion alike, so an absurd
/// `Retry-After` (ten years, or a `reset_at` in year 9999) neither overflows a clock nor stops
/// anything for longer than `longest`.
pub fn rate_limit_wait(asked: Option<Duration>, fallback: Duration, longest: Duration) -> Duration {
    asked
        .unwrap_or(fallback)
        .clamp(Duration::from_secs(1).min(longest), longest)
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
        let at = SystemTime::from(r.trim().parse::<jiff::Timestamp>().ok()?);
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

fn fallback_message(status: u16, body: &[u8], secret: &str) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected status");
    if body.is_empty() {
        reason.to_owned()
    } else {
        format!(
            "{reason}; the answer was not JSON: {}",
            excerpt(body, secret)
        )
    }
}

/// How much of a body an excerpt is taken from: an error line needs its start, not megabytes.
const EXCERPT_SOURCE_BYTES: usize = 1024;
/// How long an excerpt of a body may be, in characters.
const EXCERPT_CHARS: usize = 80;
/// How long a message taken from an error body may be, in characters.
const MAX_MESSAGE_CHARS: usize = 300;
const REDACTED: &str = "<redacted>";

/// The start of a body, on one line, short enough for an error message, with `secret` blanked.
///
/// The key is blanked in the raw bytes *before* anything is cut, and an echo that starts inside
/// the first KiB is blanked whole even where it runs past it, so no cut can leave part of it.
pub(crate) fn excerpt(body: &[u8], secret: &str) -> String {
    let secret = secret.as_bytes();
    let mut clean = Vec::with_capacity(body.len().min(EXCERPT_SOURCE_BYTES));
    let mut i = 0;
    while i < body.len().min(EXCERPT_SOURCE_BYTES) {
        if !secret.is_empty() && body[i..].starts_with(secret) {
            clean.extend_from_slice(REDACTED.as_bytes());
            i += secret.len();
        } else {
            clean.push(body[i]);
            i += 1;
        }
    }
    let text = String::from_utf8_lossy(&clean);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "(empty body)".to_owned()
    } else {
        shorten(&one_line, EXCERPT_CHARS)
    }
}

fn redact_text(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, REDACTED)
    }
}

/// At most `max` characters, with "…" where it was cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
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
            "",
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
            "",
            now(),
        );
        assert_eq!(e.to_string(), "Trillet had a server error (500): Failed to get batch progress (Internal server error)");
        let e = ApiError::from_status(
            429,
            None,
            br#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit exceeded","reset_at":"2026-11-29T16:00:42Z"}}"#,
            "",
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
            "",
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
            "",
            now(),
        );
        assert_eq!(e.code(), "server_error");
        assert!(
            e.to_string()
                .contains("Bad Gateway; the answer was not JSON: <html>"),
            "{e}"
        );
        let e = ApiError::from_status(403, None, b"", "", now());
        assert_eq!(
            e,
            ApiError::Unauthorized {
                status: 403,
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn rate_limit_waits_are_clamped() {
        let (fallback, longest) = (Duration::from_secs(30), Duration::from_secs(300));
        let cases = [
            (Some(315_360_000), 300),
            (Some(u64::MAX), 300),
            (Some(0), 1),
            (Some(42), 42),
            (None, 30),
        ];
        for (asked, used) in cases {
            assert_eq!(
                rate_limit_wait(asked.map(Duration::from_secs), fallback, longest),
                Duration::from_secs(used),
                "{asked:?}"
            );
        }
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
        assert_eq!(excerpt(b"{\n  \"a\":\n 1", ""), "{ \"a\": 1");
        assert_eq!(excerpt(&[b'x'; 200], "").chars().count(), 81);
        assert_eq!(excerpt(b"", ""), "(empty body)");
    }

    #[test]
    fn a_key_straddling_any_cut_is_blanked_whole() {
        let key = "sk_live_0123456789abcdef";
        // The echo placed so it crosses the 80-character cut, and (after whitespace that the
        // one-line form collapses) so it crosses the 1 KiB the excerpt is taken from.
        for lead in [70, 75, 79] {
            let body = format!("{}{key} tail", "x".repeat(lead));
            let e = excerpt(body.as_bytes(), key);
            assert!(!e.contains("sk_live_0"), "{lead}: {e}");
            assert!(e.contains("<redacted>") || e.ends_with('…'), "{lead}: {e}");
        }
        for lead in [1000, 1010, 1023] {
            let body = format!("a{}{key}", " ".repeat(lead - 1));
            let e = excerpt(body.as_bytes(), key);
            assert_eq!(e, "a <redacted>", "{lead}");
        }
        // A 401 whose long message echoes the key is cut after it is blanked.
        let body = format!(
            r#"{{"error":"{} {key} {}"}}"#,
            "m".repeat(295),
            "z".repeat(50)
        );
        let e = ApiError::from_status(401, None, body.as_bytes(), key, now());
        assert!(!e.to_string().contains("sk_live"), "{e}");
    }

    #[test]
    fn only_the_first_kib_is_read_for_an_excerpt() {
        let mut body = vec![b'a'; 5];
        body.extend(std::iter::repeat_n(b' ', 2000));
        body.extend_from_slice(b"late");
        assert_eq!(excerpt(&body, ""), "aaaaa");
    }
}
