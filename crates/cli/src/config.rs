//! Where the CLI's settings come from: the API base (`--api-base` / `BATCHWATCH_API_BASE`) and
//! the credentials — `TRILLET_API_KEY` + `TRILLET_WORKSPACE_ID` first (headless servers), else
//! the keychain item the tray app uses.
//!
//! Environment values are never echoed: a message names the variable, not what it holds.

use std::io::{IsTerminal, Write};

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

/// The credentials a command that asks Trillet uses, for the workspace `named` (`--workspace`):
/// the environment wins, and then the keychain is never touched — a headless server may have
/// no keychain at all; else the keychain's workspace of that ID, or its only one.
pub fn resolve_credentials(
    store: &dyn SecretStore,
    named: Option<&str>,
) -> Result<Credentials, Failure> {
    choose(env_credentials()?, store, named, interactive())
}

/// Whether a person can be asked: stdin and stderr on a terminal.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn choose(
    from_env: Option<Credentials>,
    store: &dyn SecretStore,
    named: Option<&str>,
    interactive: bool,
) -> Result<Credentials, Failure> {
    if let Some(credentials) = from_env {
        return match named.map(str::trim) {
            Some(named) if named != credentials.workspace_id.as_str() => Err(Failure::Workspace(
                format!("--workspace {named} is not the workspace {WORKSPACE_ENV} names ({}); unset the variables to use the keychain's", credentials.workspace_id),
            )),
            _ => Ok(credentials),
        };
    }
    let workspaces = store.workspaces().map_err(keychain_failure)?;
    if workspaces.is_empty() {
        return Err(Failure::Usage(NO_CREDENTIALS.to_owned()));
    }
    let choices: Vec<(String, String)> = workspaces
        .iter()
        .map(|w| (w.id().to_string(), w.label.clone()))
        .collect();
    let id = pick(named, &choices, interactive)?;
    Ok(workspaces
        .into_iter()
        .find(|w| w.id().as_str() == id)
        .map(|w| w.credentials)
        .expect("picked among them"))
}

/// The workspace a command is for, among `choices` (ID, label): the one `--workspace` names,
/// else the only one; with several and none named, asked for on a terminal and refused
/// (exit 2, naming them) otherwise.
pub fn pick_workspace(
    named: Option<&str>,
    choices: &[(String, String)],
) -> Result<String, Failure> {
    pick(named, choices, interactive())
}

fn pick(
    named: Option<&str>,
    choices: &[(String, String)],
    interactive: bool,
) -> Result<String, Failure> {
    let listed = || {
        batchwatch_core::workspace::choices(
            choices
                .iter()
                .map(|(id, label)| (id.as_str(), label.as_str())),
        )
    };
    match named.map(str::trim) {
        Some(named) => choices
            .iter()
            .find(|(id, _)| id == named)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                Failure::Workspace(format!(
                    "no workspace {named:?} is stored (the workspaces: {})",
                    listed()
                ))
            }),
        None => match choices {
            [] => Err(Failure::Usage(NO_CREDENTIALS.to_owned())),
            [(only, _)] => Ok(only.clone()),
            _ if interactive => {
                eprint!("Which workspace? {}: ", listed());
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| Failure::Usage(format!("could not read stdin: {e}")))?;
                pick(Some(line.trim()), choices, false)
            }
            _ => Err(Failure::Workspace(format!(
                "several workspaces are stored; name one with --workspace: {}",
                listed()
            ))),
        },
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
    use batchwatch_core::workspace::Workspace;
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
    struct FixedStore(Option<Result<Vec<Workspace>, KeychainError>>);

    impl SecretStore for FixedStore {
        fn workspaces(&self) -> Result<Vec<Workspace>, KeychainError> {
            self.0
                .clone()
                .expect("the keychain must not be touched when the environment has credentials")
        }
        fn save(&self, _: &Workspace) -> Result<(), KeychainError> {
            unreachable!("resolution never writes")
        }
        fn delete(&self, _: &batchwatch_core::WorkspaceId) -> Result<(), KeychainError> {
            unreachable!("resolution never deletes")
        }
        fn delete_all(&self) -> Result<(), KeychainError> {
            unreachable!("resolution never deletes")
        }
    }

    fn stored(id: &str, label: Option<&str>) -> Workspace {
        Workspace::new(Credentials::new(KEY, id).unwrap(), label, 0).unwrap()
    }

    #[test]
    fn environment_wins_without_touching_the_keychain() {
        let from_env = Credentials::new(KEY, "ws_env").unwrap();
        let found = choose(Some(from_env.clone()), &FixedStore(None), None, false).unwrap();
        assert_eq!(found, from_env);
        let same = choose(
            Some(from_env.clone()),
            &FixedStore(None),
            Some("ws_env"),
            false,
        )
        .unwrap();
        assert_eq!(same, from_env);
        let other = choose(Some(from_env), &FixedStore(None), Some("ws_other"), false).unwrap_err();
        assert_eq!(other.code(), 2);
        assert!(
            other.to_string().contains("TRILLET_WORKSPACE_ID"),
            "{other}"
        );
    }

    #[test]
    fn keychain_outcomes_map_to_credentials_or_plain_usage_errors() {
        let one = stored("ws_k", None);
        let found = choose(None, &FixedStore(Some(Ok(vec![one.clone()]))), None, false).unwrap();
        assert_eq!(found, one.credentials);

        let none = choose(None, &FixedStore(Some(Ok(vec![]))), None, false).unwrap_err();
        assert_eq!(none, Failure::Usage(NO_CREDENTIALS.to_owned()));

        let locked = choose(
            None,
            &FixedStore(Some(Err(KeychainError::Locked))),
            None,
            false,
        )
        .unwrap_err();
        assert_eq!(locked.code(), 2);
        assert!(
            locked.to_string().contains("keychain is locked"),
            "{locked}"
        );
    }

    /// With several workspaces a command names one; without a terminal, one not named is
    /// refused naming the choices, never guessed.
    #[test]
    fn with_several_workspaces_one_is_named_or_the_command_is_refused() {
        let two = vec![stored("ws_us", Some("Acme US")), stored("ws_eu", None)];
        let store = FixedStore(Some(Ok(two.clone())));
        assert_eq!(
            choose(None, &store, Some("ws_eu"), false).unwrap(),
            two[1].credentials
        );
        let unnamed = choose(None, &store, None, false).unwrap_err();
        assert_eq!(unnamed.code(), 2);
        assert_eq!(
            unnamed.to_string(),
            "several workspaces are stored; name one with --workspace: ws_us (Acme US), ws_eu"
        );
        let unknown = choose(None, &store, Some("ws_x"), false).unwrap_err();
        assert_eq!(unknown.code(), 2);
        assert!(
            unknown.to_string().contains("no workspace \"ws_x\""),
            "{unknown}"
        );
    }
}
