//! [`TrilletClient`]: one method per batch-call endpoint, over reqwest with rustls.
//!
//! The client reads the whole body, then decodes it, so a 200 with broken JSON becomes
//! [`ApiError::BadResponse`] with an excerpt rather than an opaque decoding error, and a
//! connection dropped mid-answer becomes [`ApiError::Network`].
//!
//! Where the key may go is decided here, once: no redirect is ever followed (reqwest strips
//! only `Authorization` across hosts, so `x-api-key` would travel to whatever a `Location`
//! names); every base but loopback is `https` only; a loopback base never goes through a proxy
//! (an `HTTP_PROXY` would see the key in clear), while `HTTPS_PROXY`/`NO_PROXY` work as usual
//! for the real service. Every body is read against a size limit, so a giant or endless answer
//! costs at most that much memory and the request timeout bounds a trickling one.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;

use super::base::ApiBase;
use super::error::{excerpt, ApiError};
use super::start::{scheduled_at_text, CsvSource, StartFailure, StartForm};
use crate::batch_id::BatchId;
use crate::credentials::Credentials;
use crate::model::{
    Agent, BatchDetail, BatchProgress, CallsPage, CallsQuery, CancelOutcome, StartAnswer,
    MAX_CALLS_PAGE_LIMIT,
};

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take, answer included: also how long a body trickling in a
/// byte at a time can hold a request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest answer read from the status, detail and cancel endpoints (theirs are a few KiB).
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// The largest page of calls read (100 calls with their metadata are well under 1 MiB).
pub const MAX_CALLS_PAGE_BYTES: u64 = 4 * 1024 * 1024;
/// The largest agents list read (each agent with its settings is about 1 KiB).
pub const MAX_AGENTS_BYTES: u64 = 4 * 1024 * 1024;
/// How much longer than any other request a start may take in all (2 min with the usual
/// 20 s): the upload of up to 20 MB comes first.
pub const START_TIMEOUT_FACTOR: u32 = 6;

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
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Batchwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none());
        builder = if base.is_loopback() {
            // `localhost` is pinned to the loopback address rather than asked of DNS (the
            // port in the address is ignored; the URL's is used).
            builder
                .no_proxy()
                .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        } else {
            builder.https_only(true)
        };
        let http = builder
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
        self.call(Method::GET, &[id.as_str(), "status"], &[], MAX_BODY_BYTES)
            .await
    }

    /// `GET /v1/api/batch-calls/{id}`.
    pub async fn batch_detail(&self, id: &BatchId) -> Result<BatchDetail, ApiError> {
        self.call(Method::GET, &[id.as_str()], &[], MAX_BODY_BYTES)
            .await
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
        self.call(
            Method::GET,
            &[id.as_str(), "calls"],
            &params,
            MAX_CALLS_PAGE_BYTES,
        )
        .await
    }

    /// `DELETE /v1/api/batch-calls/{id}`: drops waiting calls, lets active ones finish. Irreversible.
    pub async fn cancel_batch(&self, id: &BatchId) -> Result<CancelOutcome, ApiError> {
        self.call(Method::DELETE, &[id.as_str()], &[], MAX_BODY_BYTES)
            .await
    }

    /// `GET /v1/api/agents`: the workspace's call agents.
    pub async fn agents(&self) -> Result<Vec<Agent>, ApiError> {
        let url = self.base.endpoint(&["v1", "api", "agents"]);
        let request = self.http.get(url);
        self.send(request, MAX_AGENTS_BYTES)
            .await
            .map_err(|e| e.redact(self.credentials.api_key.expose_for_header()))
    }

    /// `POST /v1/api/batch-calls`: starts a batch — **sent once, whatever happens**. The file
    /// is streamed from disk (never read whole into memory). An outcome after which Trillet may
    /// have started the batch is [`StartFailure::Unknown`]; only a refusal (4xx), a redirect or
    /// a connection that never opened is [`StartFailure::NotStarted`].
    pub async fn start_batch(&self, form: &StartForm) -> Result<StartAnswer, StartFailure> {
        let secret = self.credentials.api_key.expose_for_header();
        let redact = |e: ApiError| e.redact(secret);
        let file = match &form.file {
            CsvSource::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    StartFailure::NotStarted(ApiError::Network(format!(
                        "the file could not be opened ({e})"
                    )))
                })?;
                let length = file
                    .metadata()
                    .await
                    .map_err(|e| {
                        StartFailure::NotStarted(ApiError::Network(format!(
                            "the file could not be read ({e})"
                        )))
                    })?
                    .len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
                reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    length,
                )
            }
            CsvSource::Bytes { bytes, .. } => reqwest::multipart::Part::bytes(bytes.clone()),
        };
        let file = file
            .file_name(form.file.file_name())
            .mime_str("text/csv")
            .expect("text/csv is a MIME type");
        let mut multipart = reqwest::multipart::Form::new()
            .part("file", file)
            .text("agentId", form.agent_id.clone());
        if let Some(at) = form.scheduled_at_ms {
            multipart = multipart.text("scheduledAt", scheduled_at_text(at));
        }
        if let Some(callbacks) = &form.callbacks {
            multipart = multipart.text("smartCallbackConfig", callbacks.to_form_value());
        }
        let url = self.base.endpoint(&["v1", "api", "batch-calls"]);
        let request = self
            .http
            .post(url)
            .timeout(self.request_timeout * START_TIMEOUT_FACTOR)
            .multipart(multipart);
        match self.send_once(request, MAX_BODY_BYTES).await {
            Ok(answer) => Ok(answer),
            Err(Sent::NotTaken(e)) => Err(StartFailure::NotStarted(redact(e))),
            Err(Sent::Unknown(e)) => Err(StartFailure::Unknown(redact(e))),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: &[&str],
        query: &[(&str, &str)],
        max_body: u64,
    ) -> Result<T, ApiError> {
        self.exchange(method, tail, query, max_body)
            .await
            .map_err(|e| e.redact(self.credentials.api_key.expose_for_header()))
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: &[&str],
        query: &[(&str, &str)],
        max_body: u64,
    ) -> Result<T, ApiError> {
        let mut segments = vec!["v1", "api", "batch-calls"];
        segments.extend_from_slice(tail);
        let mut url = self.base.endpoint(&segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.send(self.http.request(method, url), max_body).await
    }

    /// Sends `request` with the credentials and reads its answer as a `T`.
    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        max_body: u64,
    ) -> Result<T, ApiError> {
        self.send_once(request, max_body)
            .await
            .map_err(|e| match e {
                Sent::NotTaken(e) | Sent::Unknown(e) => e,
            })
    }

    /// [`Self::send`], telling apart what went wrong before the request was taken from what
    /// went wrong after it may have been (the one thing a start needs to know).
    async fn send_once<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        max_body: u64,
    ) -> Result<T, Sent> {
        let response = request
            .headers(self.auth_headers())
            .send()
            .await
            .map_err(|e| {
                let never_connected = e.is_connect();
                let error = self.transport_error(e);
                if never_connected {
                    Sent::NotTaken(error)
                } else {
                    Sent::Unknown(error)
                }
            })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            // Not followed: whatever answered in Trillet's place did not start anything there.
            return Err(Sent::NotTaken(ApiError::Redirected {
                status,
                target: redirect_target(&response, self.credentials.api_key.expose_for_header()),
            }));
        }
        // From here on the request reached the service: an answer that fails is not known
        // to have done nothing, except a refusal (4xx), which says so.
        let taken = if (400..500).contains(&status) {
            Sent::NotTaken
        } else {
            Sent::Unknown
        };
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = self.read_body(response, max_body).await.map_err(taken)?;
        let secret = self.credentials.api_key.expose_for_header();

        if !(200..300).contains(&status) {
            return Err(taken(ApiError::from_status(
                status,
                retry_after.as_deref(),
                &body,
                secret,
                SystemTime::now(),
            )));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Sent::Unknown(ApiError::BadResponse {
                status,
                reason: decode_reason(&e),
                excerpt: excerpt(&body, secret),
            })
        })
    }

    /// The body, refused by its `Content-Length` or as soon as what arrived passes `limit`.
    async fn read_body(&self, mut response: Response, limit: u64) -> Result<Vec<u8>, ApiError> {
        let too_large = ApiError::TooLarge { limit_bytes: limit };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn auth_headers(&self) -> HeaderMap {
        // The key's header was built (and marked sensitive) once, with the key; the workspace
        // ID was checked to be visible ASCII when the credentials were made.
        let key = self.credentials.api_key.header();
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

/// A request that failed, by whether the service may have acted on it.
enum Sent {
    /// It never reached the service, or the service refused it (4xx) or was not the one that
    /// answered (a redirect).
    NotTaken(ApiError),
    /// It reached the service and the outcome is not known.
    Unknown(ApiError),
}

/// Where a redirect pointed, as `host[:port]` (never the path or query, which could carry
/// anything), or a phrase when it named nowhere usable. A host that spells the key in any
/// case (URLs lowercase hosts, so exact redaction would miss it) is not named at all.
fn redirect_target(response: &Response, secret: &str) -> String {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok());
    let holds_secret = |text: &str| {
        !secret.is_empty()
            && text
                .to_ascii_lowercase()
                .contains(&secret.to_ascii_lowercase())
    };
    match location.and_then(|l| response.url().join(l).ok()) {
        _ if location.is_some_and(holds_secret) => "an address that held the API key".to_owned(),
        Some(url) => super::base::authority(&url),
        None => "an address it did not name".to_owned(),
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
