//! The port to Trillet: what the monitor asks of it, answered by [`TrilletClient`] in the
//! product and by fakes in tests.

use std::future::Future;

use crate::api::{ApiError, TrilletClient};
use crate::batch_id::BatchId;
use crate::credentials::Credentials;
use crate::launch::{StartFailure, StartForm};
use crate::model::{Agent, BatchProgress, CallsPage, CallsQuery, CancelOutcome, StartAnswer};

/// What a source that does not offer an endpoint answers (the fakes of tests that do not use it).
fn not_offered() -> ApiError {
    ApiError::Refused {
        status: 501,
        message: "not offered by this source".into(),
    }
}

/// The part of Trillet the monitor speaks to: the client in the product, a fake in some tests.
/// Each call gets the credentials of the moment, so only the monitor ever holds them.
pub trait TrilletApi: Send + Sync + 'static {
    /// `GET …/{id}/status`.
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static;

    /// `DELETE …/{id}`.
    fn cancel(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static;

    /// `GET …/{id}/calls`.
    fn calls(
        &self,
        credentials: &Credentials,
        id: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static;

    /// `GET /v1/api/agents`.
    fn agents(
        &self,
        _credentials: &Credentials,
    ) -> impl Future<Output = Result<Vec<Agent>, ApiError>> + Send + 'static {
        std::future::ready(Err(not_offered()))
    }

    /// `POST /v1/api/batch-calls`, sent once (see [`TrilletClient::start_batch`]).
    fn start(
        &self,
        _credentials: &Credentials,
        _form: StartForm,
    ) -> impl Future<Output = Result<StartAnswer, StartFailure>> + Send + 'static {
        std::future::ready(Err(StartFailure::NotStarted(not_offered())))
    }
}

impl TrilletApi for TrilletClient {
    fn fetch(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<BatchProgress, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.batch_progress(&id).await }
    }

    fn cancel(
        &self,
        credentials: &Credentials,
        id: &BatchId,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.cancel_batch(&id).await }
    }

    fn calls(
        &self,
        credentials: &Credentials,
        id: &BatchId,
        query: CallsQuery,
    ) -> impl Future<Output = Result<CallsPage, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        let id = id.clone();
        async move { client.batch_calls(&id, query).await }
    }

    fn agents(
        &self,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<Vec<Agent>, ApiError>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        async move { client.agents().await }
    }

    fn start(
        &self,
        credentials: &Credentials,
        form: StartForm,
    ) -> impl Future<Output = Result<StartAnswer, StartFailure>> + Send + 'static {
        let client = self.with_credentials(credentials.clone());
        async move { client.start_batch(&form).await }
    }
}
