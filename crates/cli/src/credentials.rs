//! `batchwatch-cli credentials set|clear|show`: the keychain item the tray app also uses.
//!
//! The key is read without echo on a terminal, or as one line from a pipe, and is never
//! printed — not by `show`, not in an error.

use std::io::{BufRead, IsTerminal, Write};

use batchwatch_core::secret_store::{KeyringStore, SecretStore};
use batchwatch_core::Credentials;

use crate::args::CredentialsCommand;
use crate::config::{self, API_KEY_ENV, WORKSPACE_ENV};
use crate::exit::Failure;

pub fn run(command: CredentialsCommand) -> Result<(), Failure> {
    let store = KeyringStore::from_env();
    match command {
        CredentialsCommand::Set { workspace } => set(&store, workspace),
        CredentialsCommand::Clear => {
            store.delete().map_err(config::keychain_failure)?;
            println!("Removed from your keychain.");
            Ok(())
        }
        CredentialsCommand::Show => show(&store),
    }
}

fn set(store: &dyn SecretStore, workspace: Option<String>) -> Result<(), Failure> {
    let interactive = std::io::stdin().is_terminal();
    let workspace = match workspace {
        Some(workspace) => workspace,
        None if interactive => prompt_line("Trillet workspace ID: ")?,
        None => {
            return Err(Failure::Usage(
                "--workspace <ID> is needed when the API key comes from a pipe".to_owned(),
            ))
        }
    };
    let key = if interactive {
        rpassword::prompt_password("Trillet API key (not shown): ")
            .map_err(|e| Failure::Usage(format!("could not read the API key: {e}")))?
    } else {
        read_line()?.ok_or_else(|| Failure::Usage("no API key on stdin".to_owned()))?
    };
    let credentials =
        Credentials::new(&key, &workspace).map_err(|e| Failure::Usage(e.to_string()))?;
    store.save(&credentials).map_err(config::keychain_failure)?;
    println!("Stored in your keychain.");
    if env_has_credentials() {
        eprintln!(
            "batchwatch-cli: note: {API_KEY_ENV} and {WORKSPACE_ENV} are set, and status and watch use them instead of the keychain"
        );
    }
    Ok(())
}

fn show(store: &dyn SecretStore) -> Result<(), Failure> {
    if let Some(credentials) = config::env_credentials()? {
        println!("API key: from {API_KEY_ENV} (not shown)");
        println!(
            "Workspace ID: {} (from {WORKSPACE_ENV})",
            credentials.workspace_id
        );
        // Not consulted: on a headless server there may be no keychain, and asking a locked one
        // could pop up an unlock prompt for credentials that are not even used.
        println!("Keychain: not consulted while those variables are set");
        return Ok(());
    }
    match store.load().map_err(config::keychain_failure)? {
        Some(credentials) => {
            println!("API key: stored in your keychain (not shown)");
            println!("Workspace ID: {}", credentials.workspace_id);
        }
        None => println!(
            "No credentials are stored in your keychain. Run 'batchwatch-cli credentials set --workspace <ID>', or set {API_KEY_ENV} and {WORKSPACE_ENV}."
        ),
    }
    Ok(())
}

/// Whether the environment names credentials at all; values are not read, so nothing of them
/// can leak into this message.
fn env_has_credentials() -> bool {
    [API_KEY_ENV, WORKSPACE_ENV]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

fn prompt_line(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    // The prompt has no newline; without a flush it may not show before the read blocks.
    let _ = std::io::stderr().flush();
    read_line()?.ok_or_else(|| Failure::Usage("nothing was typed".to_owned()))
}

/// One line from stdin without its line ending; `None` at end of input.
fn read_line() -> Result<Option<String>, Failure> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("could not read stdin: {e}")))?;
    if read == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}
