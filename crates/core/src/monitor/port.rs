//! The port to Trillet: what the monitor asks of it, answered by [`TrilletClient`] in the
//! product and by fakes in tests.

use std::future::Future;

use crate::api::{ApiError, TrilletClient};
use crate::batch_id::BatchId;
use crate::credentials::Credentials;
use crate::model::{BatchProgress, CallsPage, CallsQuery, CancelOutcome};

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
}
