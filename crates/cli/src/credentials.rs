//! `batchwatch-cli credentials set|clear|show`: the keychain items the tray app also uses, one
//! per workspace.
//!
//! The key is read without echo on a terminal, or as one line from a pipe, and is never
//! printed — not by `show`, not in an error. A running tray app hears of each change at once.

use std::io::{BufRead, IsTerminal, Write};

use batchwatch_core::control::Request;
use batchwatch_core::secret_store::{KeyringStore, SecretStore};
use batchwatch_core::workspace::Workspace;
use batchwatch_core::{Credentials, WorkspaceId};

use crate::args::CredentialsCommand;
use crate::config::{self, API_KEY_ENV, WORKSPACE_ENV};
use crate::exit::Failure;

pub fn run(command: CredentialsCommand, workspace: Option<&str>) -> Result<(), Failure> {
    let store = KeyringStore::from_env();
    match command {
        CredentialsCommand::Set { label } => set(&store, workspace, label.as_deref()),
        CredentialsCommand::Clear { yes } => clear(&store, workspace, yes),
        CredentialsCommand::Rename { label } => rename(&store, workspace, &label),
        CredentialsCommand::Show => show(&store),
    }
}

fn set(
    store: &dyn SecretStore,
    workspace: Option<&str>,
    label: Option<&str>,
) -> Result<(), Failure> {
    let interactive = std::io::stdin().is_terminal();
    let workspace = match workspace {
        Some(workspace) => workspace.to_owned(),
        None if interactive => prompt_line("Trillet workspace ID: ")?,
        None => {
            return Err(Failure::Usage(
                "--workspace <ID> is needed when the API key comes from a pipe".to_owned(),
            ))
        }
    };
    // The ID is checked before the key is asked for.
    WorkspaceId::new(&workspace).map_err(|e| Failure::Usage(e.to_string()))?;
    let key = if interactive {
        rpassword::prompt_password("Trillet API key (not shown): ")
            .map_err(|e| Failure::Usage(format!("could not read the API key: {e}")))?
    } else {
        read_line()?.ok_or_else(|| Failure::Usage("no API key on stdin".to_owned()))?
    };
    let credentials =
        Credentials::new(&key, &workspace).map_err(|e| Failure::Usage(e.to_string()))?;
    let stored = store.workspaces().map_err(config::keychain_failure)?;
    let workspace = batchwatch_core::workspace::to_store(
        &stored,
        credentials,
        label,
        batchwatch_core::monitor::wall_clock_ms(),
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    store.save(&workspace).map_err(config::keychain_failure)?;
    println!("Stored in your keychain.");
    if env_has_credentials() {
        eprintln!(
            "batchwatch-cli: note: {API_KEY_ENV} and {WORKSPACE_ENV} are set, and status and watch use them instead of the keychain"
        );
    }
    tell_the_tray_app(&Request::RetryKeychain {});
    Ok(())
}

/// Removes one workspace: the one named, else the only one stored. A running tray app removes
/// it (and stops watching its batches, asked first while some run); without one, the keychain
/// item goes directly.
fn clear(store: &dyn SecretStore, workspace: Option<&str>, yes: bool) -> Result<(), Failure> {
    let stored = store.workspaces().map_err(config::keychain_failure)?;
    let choices: Vec<(String, String)> = stored
        .iter()
        .map(|w| (w.id().to_string(), w.label.clone()))
        .collect();
    let id = match (workspace, stored.as_slice()) {
        // Nothing readable stored, none named: whatever is left of ours goes (an item that
        // could not be read, an earlier version's).
        (None, []) => {
            store.delete_all().map_err(config::keychain_failure)?;
            None
        }
        (Some(named), _) if !choices.iter().any(|(id, _)| id == named.trim()) => {
            // Not stored: removing it again is not an error.
            Some(WorkspaceId::new(named).map_err(|e| Failure::Usage(e.to_string()))?)
        }
        _ => Some(
            WorkspaceId::new(&config::pick_workspace(workspace, &choices)?)
                .map_err(|e| Failure::Usage(e.to_string()))?,
        ),
    };
    if let Some(id) = &id {
        let running = running_in(id.as_str());
        if running > 0 && !yes {
            confirm_removal(id.as_str(), running)?;
        }
    }
    if let Some(id) = id {
        let through_tray_app = tell_the_tray_app(&Request::ForgetCredentials {
            workspace_id: Some(id.to_string()),
        });
        if !through_tray_app {
            store.delete(&id).map_err(config::keychain_failure)?;
        }
    }
    println!("Removed from your keychain.");
    Ok(())
}

/// Another label for one workspace, through a running tray app (which shows it at once) or in
/// the keychain directly; the key is not asked for again.
fn rename(store: &dyn SecretStore, workspace: Option<&str>, label: &str) -> Result<(), Failure> {
    let stored = store.workspaces().map_err(config::keychain_failure)?;
    let choices: Vec<(String, String)> = stored
        .iter()
        .map(|w| (w.id().to_string(), w.label.clone()))
        .collect();
    let id = config::pick_workspace(workspace, &choices)?;
    let before = stored
        .iter()
        .find(|w| w.id().as_str() == id)
        .expect("picked among them");
    let renamed = Workspace::new(before.credentials.clone(), Some(label), before.added_at_ms)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let through_tray_app = tell_the_tray_app(&Request::RenameWorkspace {
        workspace_id: id.clone(),
        label: renamed.label.clone(),
    });
    if !through_tray_app {
        store.save(&renamed).map_err(config::keychain_failure)?;
    }
    println!("{id} is now called {}.", renamed.label);
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
    let (workspaces, unreadable) = store.contents().map_err(config::keychain_failure)?;
    if workspaces.is_empty() && unreadable.is_empty() {
        println!(
            "No credentials are stored in your keychain. Run 'batchwatch-cli credentials set --workspace <ID>', or set {API_KEY_ENV} and {WORKSPACE_ENV}."
        );
    }
    for Workspace {
        credentials, label, ..
    } in &workspaces
    {
        println!("Workspace ID: {}", credentials.workspace_id);
        println!("  Label: {label}");
        println!("  API key: stored in your keychain (not shown)");
    }
    for name in &unreadable {
        if name == batchwatch_core::secret_store::KEYCHAIN_ACCOUNT {
            println!("Unreadable keychain item of an earlier Batchwatch (left out; 'batchwatch-cli credentials clear' removes it once no workspace is stored)");
        } else {
            println!("Unreadable keychain item: {name} (left out; set that workspace again, or remove it with 'batchwatch-cli credentials clear --workspace {name}')");
        }
    }
    Ok(())
}

/// The batches still running that a running tray app watches in `workspace` (0 without one).
fn running_in(workspace: &str) -> usize {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 0;
    };
    runtime.block_on(async {
        let Some(resident) = crate::resident::running().await else {
            return 0;
        };
        let Ok(state) = resident.call(&Request::GetState {}).await else {
            return 0;
        };
        state["cards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["workspace"] == workspace && c["finished"] == false)
            .count()
    })
}

/// Asks on a terminal before a workspace with running batches goes; refuses without one.
fn confirm_removal(workspace: &str, running: usize) -> Result<(), Failure> {
    let what = format!(
        "the tray app still watches {} in {workspace}; removing it stops watching them (they go on at Trillet)",
        batchwatch_core::format::count(running as u64, "running batch", "running batches")
    );
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Failure::Usage(format!(
            "{what}; run again with --yes to remove it anyway"
        )));
    }
    let answer = prompt_line(&format!("Remove {workspace}? ({what}) [y/N] "))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::Usage("not removed".to_owned()))
    }
}

/// Hands a change to a running tray app (not one on environment credentials, which refuses);
/// whether it took it.
fn tell_the_tray_app(request: &Request) -> bool {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    runtime.block_on(async {
        match crate::resident::running().await {
            Some(resident) => resident.call(request).await.is_ok(),
            None => false,
        }
    })
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
