//! Who may call the API: the (API key, workspace) pairs the simulator accepts, and the
//! 401/400/403 answers for requests that fail the check.
//!
//! Order of checks: key header missing (401), workspace header missing (400), key unknown or
//! revoked (401), key not allowed for that workspace (403).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Accepted pairs; a key may be allowed for several workspaces.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    pairs: Vec<(String, String)>,
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    MissingKey,
    MissingWorkspace,
    InvalidKey,
    WrongWorkspace,
}

impl Credentials {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    pub(crate) fn add(&mut self, key: &str, workspace: &str) {
        if !self.pairs.iter().any(|(k, w)| k == key && w == workspace) {
            self.pairs.push((key.to_owned(), workspace.to_owned()));
        }
    }

    /// Forgets every pair of `key`: it is then an invalid key.
    pub(crate) fn revoke(&mut self, key: &str) {
        self.pairs.retain(|(k, _)| k != key);
    }

    pub(crate) fn first(&self) -> Option<&(String, String)> {
        self.pairs.first()
    }

    /// Checks the two headers' values (`None` when the header is absent or empty).
    pub(crate) fn check(&self, key: Option<&str>, workspace: Option<&str>) -> Result<(), Denial> {
        let key = key.ok_or(Denial::MissingKey)?;
        let workspace = workspace.ok_or(Denial::MissingWorkspace)?;
        let mut workspaces = self.pairs.iter().filter(|(k, _)| k == key).peekable();
        if workspaces.peek().is_none() {
            return Err(Denial::InvalidKey);
        }
        if workspaces.any(|(_, w)| w == workspace) {
            Ok(())
        } else {
            Err(Denial::WrongWorkspace)
        }
    }
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::MissingKey => (StatusCode::UNAUTHORIZED, "Missing API key"),
            Self::InvalidKey => (StatusCode::UNAUTHORIZED, "Invalid API key"),
            Self::MissingWorkspace => {
                (StatusCode::BAD_REQUEST, "x-workspace-id header is required")
            }
            Self::WrongWorkspace => (
                StatusCode::FORBIDDEN,
                "API key is not authorized for this workspace",
            ),
        };
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_run_in_the_documented_order() {
        let mut creds = Credentials::new(vec![("k1".into(), "w1".into())]);
        creds.add("k1", "w2");
        let cases = [
            (None, None, Err(Denial::MissingKey)),
            (None, Some("w1"), Err(Denial::MissingKey)),
            (Some("nope"), None, Err(Denial::MissingWorkspace)),
            (Some("nope"), Some("w1"), Err(Denial::InvalidKey)),
            (Some("k1"), Some("w3"), Err(Denial::WrongWorkspace)),
            (Some("k1"), Some("w1"), Ok(())),
            (Some("k1"), Some("w2"), Ok(())),
        ];
        for (key, ws, expected) in cases {
            assert_eq!(creds.check(key, ws), expected, "{key:?} {ws:?}");
        }
        creds.revoke("k1");
        assert_eq!(creds.check(Some("k1"), Some("w1")), Err(Denial::InvalidKey));
    }
}
