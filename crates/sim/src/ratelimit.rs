//! The per-key rate limit: a sliding window of 60 s of sim time, checked before auth for any
//! request that carries an `x-api-key`, and the 429 answer (`Retry-After` plus the
//! `rate_limit_exceeded` error object). Refused requests do not count toward the window.

use std::collections::{HashMap, VecDeque};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::clock::{real_epoch_ms, SimClock};

const WINDOW_MS: i64 = 60_000;

/// Admitted request times per key, oldest first, pruned to the current window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: u32,
    admitted: HashMap<String, VecDeque<i64>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            limit,
            admitted: HashMap::new(),
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts a request by `key` at sim time `now`, or refuses it with the sim milliseconds
    /// until the oldest request in the window leaves it.
    pub(crate) fn admit(&mut self, key: &str, now: i64) -> Result<(), i64> {
        let times = self.admitted.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|&t| t <= now - WINDOW_MS) {
            times.pop_front();
        }
        if times.len() >= self.limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + WINDOW_MS - now).max(1));
        }
        times.push_back(now);
        Ok(())
    }
}

/// The 429 for a request refused by the limiter, `wait_sim_ms` before a slot frees up.
/// `Retry-After` is that wait in real seconds, rounded up (at least 1); `reset_at` is the real
/// wall-clock moment it ends, rounded up to the second.
pub(crate) fn refusal(clock: &SimClock, limit: u32, wait_sim_ms: i64) -> Response {
    let wait = clock.real_duration(wait_sim_ms);
    let retry_after = (wait.as_secs_f64().ceil() as u64).max(1);
    let reset_ms = real_epoch_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4);
    let reset_at = (reset_ms + 999).div_euclid(1000);
    too_many_requests(limit, Some(retry_after), Some(reset_at))
}

/// A 429 with `Retry-After` if given, and the error object with `reset_at` (epoch seconds)
/// if given, else the plain `{"error":"Too many requests"}` body.
pub(crate) fn too_many_requests(
    limit: u32,
    retry_after_secs: Option<u64>,
    reset_at_epoch_secs: Option<i64>,
) -> Response {
    let body = match reset_at_epoch_secs {
        Some(secs) => serde_json::json!({
            "error": {
                "code": "rate_limit_exceeded",
                "message": format!("Rate limit of {limit} requests per minute exceeded"),
                "reset_at": rfc3339(secs),
            }
        }),
        None => serde_json::json!({ "error": "Too many requests" }),
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `2026-11-29T16:05:00Z` for an epoch second.
fn rfc3339(epoch_secs: i64) -> String {
    jiff::Timestamp::from_second(epoch_secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_refusals_do_not_count() {
        let mut limiter = RateLimiter::new(3);
        assert_eq!(limiter.admit("k", 0), Ok(()));
        assert_eq!(limiter.admit("k", 10_000), Ok(()));
        assert_eq!(limiter.admit("k", 20_000), Ok(()));
        assert_eq!(limiter.admit("k", 30_000), Err(30_000));
        assert_eq!(limiter.admit("k", 59_999), Err(1));
        assert_eq!(limiter.admit("other", 59_999), Ok(()));
        // The request at 0 leaves the window at 60 s; the refused ones never entered it.
        assert_eq!(limiter.admit("k", 60_000), Ok(()));
        assert_eq!(limiter.admit("k", 60_001), Err(9_999));
    }

    #[test]
    fn reset_at_is_rfc3339_utc() {
        assert_eq!(rfc3339(1_795_968_300), "2026-11-29T16:05:00Z");
    }
}
