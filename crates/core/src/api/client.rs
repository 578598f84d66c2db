//! [`TrilletClient`]: one method per batch-call endpoint, over reqwest with rustls.
//!
//! The client reads the whole body, then decodes it, so a 200 with broken JSON becomes
//! [`ApiError::BadResponse`] with an excerpt rather than an opaque decoding error, and a
//! connection dropped mid-answer becomes [`ApiError::Network`].

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::base::ApiBase;
use super::error::{excerpt, ApiError};
use crate::batch_id::BatchId;
use crate::credentials::Credentials;
use crate::model::{
    BatchDetail, BatchProgress, CallsPage, CallsQuery, CancelOutcome, MAX_CALLS_PAGE_LIMIT,
};

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A Trillet API client bound to one set of credentials. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct TrilletClient {
    http: reqwest::Client,
    base: ApiBase,
    credentials: Credentials,
    request_timeout: Duration,
}

impl TrilletClient {
    pub fn new(base: ApiBase, credentials: Credentials) -> Self {
        Self::with_timeouts(base, credentials, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
    }

    /// Shorter timeouts are for tests that inject slow answers.
    pub fn with_timeouts(
        base: ApiBase,
        credentials: Credentials,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Batchwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .build()
            // Only fails when the TLS backend cannot initialise, which is a broken build.
            .expect("the HTTP client must build with rustls");
        Self {
            http,
            base,
            credentials,
            request_timeout,
        }
    }

    /// A client whose every call must go through [`Self::with_credentials`] first (the
    /// monitor passes credentials per request). Used as is, it sends an empty key, which
    /// Trillet refuses.
    pub fn unauthenticated(base: ApiBase) -> Self {
        Self::new(base, Credentials::placeholder())
    }

    /// The same client with another limit on a whole request (tests that inject slow answers
    /// shorten it, as they compress the rest of the schedule).
    pub fn with_request_timeout(self, timeout: Duration) -> Self {
        Self::with_timeouts(
            self.base,
            self.credentials,
            CONNECT_TIMEOUT.min(timeout),
            timeout,
        )
    }

    /// The same client (and connection pool) with other credentials.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            credentials,
            ..self.clone()
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `GET /v1/api/batch-calls/{id}/status`.
    pub async fn batch_progress(&self, id: &BatchId) -> Result<BatchProgress, ApiError> {
        self.call(Method::GET, &[id.as_str(), "status"], &[]).await
    }

    /// `GET /v1/api/batch-calls/{id}`.
    pub async fn batch_detail(&self, id: &BatchId) -> Result<BatchDetail, ApiError> {
        self.call(Method::GET, &[id.as_str()], &[]).await
    }

    /// `GET /v1/api/batch-calls/{id}/calls?page=&limit=&status=`.
    pub async fn batch_calls(
        &self,
        id: &BatchId,
        query: CallsQuery,
    ) -> Result<CallsPage, ApiError> {
        let page = query.page.max(1).to_string();
        let limit = query.limit.clamp(1, MAX_CALLS_PAGE_LIMIT).to_string();
        let params = [
            ("page", page.as_str()),
            ("limit", limit.as_str()),
            ("status", query.status.as_str()),
        ];
        self.call(Method::GET, &[id.as_str(), "calls"], &params)
            .await
    }

    /// `DELETE /v1/api/batch-calls/{id}`: drops waiting calls, lets active ones finish. Irreversible.
    pub async fn cancel_batch(&self, id: &BatchId) -> Result<CancelOutcome, ApiError> {
        self.call(Method::DELETE, &[id.as_str()], &[]).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        self.exchange(method, tail, query)
            .await
            .map_err(|e| e.redact(self.credentials.api_key.expose_for_header()))
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let mut segments = vec!["v1", "api", "batch-calls"];
        segments.extend_from_slice(tail);
        let mut url = self.base.endpoint(&segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }

        let response = self
            .http
            .request(method, url)
            .headers(self.auth_headers())
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;

        if !(200..300).contains(&status) {
            return Err(ApiError::from_status(
                status,
                retry_after.as_deref(),
                &body,
                SystemTime::now(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| ApiError::BadResponse {
            status,
            reason: decode_reason(&e),
            excerpt: excerpt(&body),
        })
    }

    fn auth_headers(&self) -> HeaderMap {
        // Both values were checked to be visible ASCII when the credentials were made.
        let mut key = HeaderValue::from_str(self.credentials.api_key.expose_for_header())
            .expect("ApiKey holds only visible ASCII");
        // Keeps the key out of reqwest's and hyper's debug output.
        key.set_sensitive(true);
        let workspace = HeaderValue::from_str(self.credentials.workspace_id.as_str())
            .expect("WorkspaceId holds only visible ASCII");
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        headers.insert("x-workspace-id", workspace);
        headers
    }

    fn transport_error(&self, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            return ApiError::Timeout(self.request_timeout);
        }
        // reqwest's message names the URL; the deepest cause says what happened.
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if e.is_connect() {
            "no connection"
        } else if e.is_body() || e.is_decode() {
            "the answer was cut off"
        } else {
            "the connection failed"
        };
        ApiError::Network(format!("{what} ({cause})"))
    }
}

fn decode_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "the JSON ends early".to_owned(),
        Category::Syntax => "not valid JSON".to_owned(),
        Category::Data => format!("unexpected JSON: {e}"),
        Category::Io => "could not be read".to_owned(),
    }
}
