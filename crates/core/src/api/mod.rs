//! Speaking the Trillet batch-call API: where it lives ([`ApiBase`]), the client
//! ([`TrilletClient`]), what can go wrong ([`ApiError`]), and what a start sends ([`start`]).

mod base;
mod client;
mod error;
pub mod start;

pub use base::{ApiBase, InsecureApiBase, API_BASE_ENV, DEFAULT_API_BASE};
pub use client::{
    TrilletClient, CONNECT_TIMEOUT, MAX_BODY_BYTES, MAX_CALLS_PAGE_BYTES, REQUEST_TIMEOUT,
};
pub use error::{rate_limit_wait, retry_wait, ApiError, ONE_SHOT_MAX_WAIT};
