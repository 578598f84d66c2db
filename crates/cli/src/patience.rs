//! Waiting out Trillet's rate limit for a one-shot command: a 429 says how long to wait, so a
//! command asking many things (a long list of IDs, many pages of calls) gets through a full
//! budget instead of failing — when the wait is short. A longer one ([`ONE_SHOT_MAX_WAIT`])
//! is not sat out: the command ends at once and says when to try again.

use std::future::Future;
use std::time::Duration;

use batchwatch_core::api::{rate_limit_wait, ONE_SHOT_MAX_WAIT};
use batchwatch_core::ApiError;

use crate::summary;

/// How often a 429 is waited out before the request counts as failed.
const RATE_LIMIT_RETRIES: u32 = 3;
/// The wait after a 429 that does not say how long to wait.
pub const RATE_LIMIT_FALLBACK: Duration = Duration::from_secs(30);

/// Runs `call` until it answers something other than a 429 (at most a few times); `what`
/// completes "before asking about …" in the line said while waiting. Only for requests that
/// a 429 left undone (Trillet refuses them whole), so asking again never repeats an action.
pub async fn patiently<T, F, Fut>(what: &str, mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut retries = 0;
    loop {
        match call().await {
            Err(ApiError::RateLimited { retry_after, .. })
                if retries < RATE_LIMIT_RETRIES
                    && retry_after.unwrap_or(RATE_LIMIT_FALLBACK) <= ONE_SHOT_MAX_WAIT =>
            {
                retries += 1;
                let wait = rate_limit_wait(retry_after, RATE_LIMIT_FALLBACK, ONE_SHOT_MAX_WAIT);
                // Said on stderr so a silent pause is not mistaken for a hang; stdout stays data.
                eprintln!(
                    "batchwatch-cli: Trillet's rate limit was reached; waiting {} before asking about {what} again",
                    summary::wait_text(wait)
                );
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}
