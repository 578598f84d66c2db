//! Where the CLI's settings come from: the API base (`--api-base` / `BATCHWATCH_API_BASE`) and
//! the credentials — `TRILLET_API_KEY` + `TRILLET_WORKSPACE_ID` first (headless servers), else
//! the keychain item the tray app uses.
//!
//! Environment values are never echoed: a message names the variable, not what it holds.

use batchwatch_core::secret_store::{KeychainError, SecretStore};
use batchwatch_core::{ApiBase, Credentials};

use crate::exit::Failure;

pub use batchwatch_core::credentials::{API_KEY_ENV, WORKSPACE_ENV};

pub const NO_CREDENTIALS: &str = "no credentials: run 'batchwatch-cli credentials set --workspace <ID>' or set TRILLET_API_KEY and TRILLET_WORKSPACE_ID";

/// `--api-base` (clap has already folded `BATCHWATCH_API_BASE` into it), else the real service.
pub fn api_base(value: Option<&str>) -> Result<ApiBase, Failure> {
    ApiBase::from_override(value).map_err(|e| Failure::Usage(e.to_string()))
}

/// A keychain failure as the CLI reports it: the core's sentence already says what to do.
pub fn keychain_failure(e: KeychainError) -> Failure {
    Failure::Usage(e.to_string())
}

/// Credentials from the process environment, if both variables are set.
pub fn env_credentials() -> Result<Option<Credentials>, Failure> {
    credentials_from_env(|name| std::env::var_os(name))
}

/// The credentials `status` and `watch` use: the environment wins, and then the keychain is
/// never touched — a headless server may have no keychain at all.
pub fn resolve_credentials(store: &dyn SecretStore) -> Result<Credentials, Failure> {
    choose(env_credentials()?, store)
}

fn choose(from_env: Option<Credentials>, store: &dyn SecretStore) -> Result<Credentials, Failure> {
    if let Some(credentials) = from_env {
        return Ok(credentials);
    }
    match store.load() {
        Ok(Some(credentials)) => Ok(credentials),
        Ok(None) => Err(Failure::Usage(NO_CREDENTIALS.to_owned())),
        Err(e) => Err(keychain_failure(e)),
    }
}

/// Reads the two variables through `lookup` (the core's rule, said as a usage error).
fn credentials_from_env(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<Credentials>, Failure> {
    batchwatch_core::credentials::from_environment(lookup).map_err(Failure::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const KEY: &str = "sk_config_test_secret_9";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn environment_table() {
        let both = credentials_from_env(env(&[(API_KEY_ENV, KEY), (WORKSPACE_ENV, "ws_1")]))
            .unwrap()
            .unwrap();
        assert_eq!(both.api_key.expose_for_header(), KEY);
        assert_eq!(both.workspace_id.as_str(), "ws_1");

        assert_eq!(credentials_from_env(env(&[])).unwrap(), None);
        assert_eq!(
            credentials_from_env(env(&[(API_KEY_ENV, " "), (WORKSPACE_ENV, "")])).unwrap(),
            None
        );

        let refusals = [
            (vec![(API_KEY_ENV, KEY)], "TRILLET_WORKSPACE_ID is not"),
            (vec![(WORKSPACE_ENV, "ws_1")], "TRILLET_API_KEY is not"),
            (
                vec![(API_KEY_ENV, "sk bad key"), (WORKSPACE_ENV, "ws_1")],
                "TRILLET_API_KEY is unusable",
            ),
            (
                vec![(API_KEY_ENV, KEY), (WORKSPACE_ENV, "w s")],
                "TRILLET_WORKSPACE_ID is unusable",
            ),
        ];
        for (vars, expected) in refusals {
            let err = credentials_from_env(env(&vars)).unwrap_err();
            assert_eq!(err.code(), 2);
            let text = err.to_string();
            assert!(text.contains(expected), "{vars:?}: {text}");
            assert!(
                !text.contains("sk bad key") && !text.contains(KEY),
                "{text}"
            );
        }
    }

    #[test]
    fn insecure_api_base_is_a_usage_error() {
        let err = api_base(Some("http://api.trillet.ai")).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.to_string().contains("must use https"), "{err}");
        assert!(api_base(Some("http://127.0.0.1:9")).is_ok());
        assert!(api_base(None).unwrap().is_default());
    }

    /// A keychain that answers with a fixed result; `None` panics if it is asked at all.
    struct FixedStore(Option<Result<Option<Credentials>, KeychainError>>);

    impl SecretStore for FixedStore {
        fn load(&self) -> Result<Option<Credentials>, KeychainError> {
            self.0
                .clone()
                .expect("the keychain must not be touched when the environment has credentials")
        }
        fn save(&self, _: &Credentials) -> Result<(), KeychainError> {
            unreachable!("resolution never writes")
        }
        fn delete(&self) -> Result<(), KeychainError> {
            unreachable!("resolution never deletes")
        }
    }

    #[test]
    fn environment_wins_without_touching_the_keychain() {
        let from_env = Credentials::new(KEY, "ws_env").unwrap();
        let found = choose(Some(from_env.clone()), &FixedStore(None)).unwrap();
        assert_eq!(found, from_env);
    }

    #[test]
    fn keychain_outcomes_map_to_credentials_or_plain_usage_errors() {
        let stored = Credentials::new(KEY, "ws_k").unwrap();
        let found = choose(None, &FixedStore(Some(Ok(Some(stored.clone()))))).unwrap();
        assert_eq!(found, stored);

        let none = choose(None, &FixedStore(Some(Ok(None)))).unwrap_err();
        assert_eq!(none, Failure::Usage(NO_CREDENTIALS.to_owned()));

        let locked = choose(None, &FixedStore(Some(Err(KeychainError::Locked)))).unwrap_err();
        assert_eq!(locked.code(), 2);
        assert!(
            locked.to_string().contains("keychain is locked"),
            "{locked}"
        );
    }
}
