//! The API's base URL: `https://api.trillet.ai` unless overridden for a simulator.
//!
//! An override must be `https`, or plain `http` only to a loopback address, so the key in the
//! `x-api-key` header never crosses a network in clear.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

pub const DEFAULT_API_BASE: &str = "https://api.trillet.ai";

/// The environment variable that overrides the base URL (used with the simulator).
pub const API_BASE_ENV: &str = "BATCHWATCH_API_BASE";

/// A base URL the key may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase(Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsecureApiBase {
    #[error("API base {0:?} is not a URL")]
    NotAUrl(String),
    #[error(
        "API base {0:?} must use https (plain http is allowed only to 127.0.0.1, ::1 or localhost)"
    )]
    PlainHttp(String),
    #[error("API base {0:?} must be an http(s) URL without credentials, query or fragment")]
    Unsupported(String),
}

impl ApiBase {
    pub fn parse(text: &str) -> Result<Self, InsecureApiBase> {
        let url = Url::parse(text.trim()).map_err(|_| InsecureApiBase::NotAUrl(text.into()))?;
        let plain_ok = is_loopback(&url);
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || url.host().is_none()
        {
            return Err(InsecureApiBase::Unsupported(text.into()));
        }
        match url.scheme() {
            "https" => Ok(Self(url)),
            "http" if plain_ok => Ok(Self(url)),
            "http" => Err(InsecureApiBase::PlainHttp(text.into())),
            _ => Err(InsecureApiBase::Unsupported(text.into())),
        }
    }

    /// The override given (`--api-base` or [`API_BASE_ENV`]), else the real service.
    pub fn from_override(value: Option<&str>) -> Result<Self, InsecureApiBase> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Self::parse(v),
            None => Ok(Self::default()),
        }
    }

    /// The base as text (no secret in it): what a client compares with its own.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether requests stay on this machine: an IP literal in 127.0.0.0/8, `[::1]`, or
    /// `localhost` (which the client pins to 127.0.0.1 rather than asking DNS). Only such a base
    /// may be plain `http`, and it is never sent through a proxy.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }

    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// `base/<fixed segments…>/<id>/<suffix…>`, each segment percent-encoded by `url`: nothing
    /// is spliced into the URL as raw text.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.0.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("an http(s) URL with a host always has path segments");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `host[:port]` of a URL, as a person would recognise it.
pub(crate) fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

impl Default for ApiBase {
    fn default() -> Self {
        Self(Url::parse(DEFAULT_API_BASE).expect("the default API base is a valid URL"))
    }
}

impl fmt::Display for ApiBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_rules() {
        let ok = [
            "https://api.trillet.ai",
            "https://proxy.example.com/trillet/",
            "http://127.0.0.1:8080",
            "http://127.5.0.1:1",
            "http://[::1]:9000",
            "http://localhost:3000",
        ];
        for base in ok {
            assert!(ApiBase::parse(base).is_ok(), "{base}");
        }
        let loopback = |b: &str| ApiBase::parse(b).unwrap().is_loopback();
        assert!(
            loopback("http://127.5.0.1:1")
                && loopback("https://[::1]")
                && loopback("http://LOCALHOST")
        );
        assert!(!loopback("https://api.trillet.ai") && !loopback("https://localhost.example.com"));
        assert!(matches!(
            ApiBase::parse("http://api.trillet.ai"),
            Err(InsecureApiBase::PlainHttp(_))
        ));
        assert!(matches!(
            ApiBase::parse("http://192.168.1.5"),
            Err(InsecureApiBase::PlainHttp(_))
        ));
        assert!(matches!(
            ApiBase::parse("ftp://127.0.0.1"),
            Err(InsecureApiBase::Unsupported(_))
        ));
        assert!(matches!(
            ApiBase::parse("https://u:p@x.com"),
            Err(InsecureApiBase::Unsupported(_))
        ));
        assert!(matches!(
            ApiBase::parse("nonsense"),
            Err(InsecureApiBase::NotAUrl(_))
        ));
        assert_eq!(ApiBase::from_override(None).unwrap(), ApiBase::default());
        assert_eq!(
            ApiBase::from_override(Some("  ")).unwrap(),
            ApiBase::default()
        );
    }

    #[test]
    fn endpoints_encode_segments() {
        let base = ApiBase::parse("https://proxy.example.com/trillet/").unwrap();
        assert_eq!(
            base.endpoint(&["v1", "api", "batch-calls", "b_1", "status"])
                .as_str(),
            "https://proxy.example.com/trillet/v1/api/batch-calls/b_1/status"
        );
        // Even if a bad string got this far it stays one encoded segment.
        assert_eq!(
            ApiBase::default().endpoint(&["v1", "../x?y"]).as_str(),
            "https://api.trillet.ai/v1/..%2Fx%3Fy"
        );
    }
}
