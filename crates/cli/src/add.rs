//! `batchwatch-cli add ID… | -`: hands batches to the tray app — starting it hidden when it
//! is not running — and exits 0 once it tracks them. IDs and links are read as the window's
//! box reads a paste; `-` reads them from stdin, so a script that creates a batch can pipe its
//! new ID straight in.

use std::io::Read;

use batchwatch_core::batch_id::MAX_PASTE_BYTES;
use batchwatch_core::control::Request;

use crate::args::batch_ids;
use crate::exit::Failure;

/// The IDs given: the arguments, with `-` standing for whatever stdin holds (read up to the
/// window's paste limit, and refused whole past it).
pub fn read_ids(args: &[String]) -> Result<Vec<String>, Failure> {
    let mut ids = Vec::new();
    for arg in args {
        if arg == "-" {
            let mut text = String::new();
            let limit = u64::try_from(MAX_PASTE_BYTES + 1).unwrap_or(u64::MAX);
            std::io::stdin()
                .take(limit)
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("could not read stdin: {e}")))?;
            ids.push(text);
        } else {
            ids.push(arg.clone());
        }
    }
    Ok(ids)
}

pub async fn run(args: &crate::args::AddArgs, workspace: Option<&str>) -> Result<(), Failure> {
    let texts = read_ids(&args.ids)?;
    let notify = args.notify.map(Into::into);
    // Checked here first, so a typo is refused before any tray app is started.
    let ids = batch_ids(&texts)?;
    let client = crate::resident::running_or_started().await?;
    // Named, or the tray app's only one; with several, asked for (or refused) here.
    let theirs = crate::resident::workspaces(&client).await;
    let workspace = match (workspace, theirs.is_empty()) {
        (named, false) => Some(crate::config::pick_workspace(named, &theirs)?),
        (Some(named), true) => Some(named.to_owned()),
        (None, true) => {
            // The tray app has none read (a keychain locked for it, or slow): ours is asked,
            // so several workspaces still need one named.
            use batchwatch_core::secret_store::{KeyringStore, SecretStore};
            let ours: Vec<(String, String)> = KeyringStore::from_env()
                .workspaces()
                .unwrap_or_default()
                .iter()
                .map(|w| (w.id().to_string(), w.label.clone()))
                .collect();
            match ours.len() {
                0 | 1 => None,
                _ => Some(crate::config::pick_workspace(None, &ours)?),
            }
        }
    };
    let text = ids
        .iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let outcome = client
        .call(&Request::Track {
            text,
            notify,
            workspace,
        })
        .await
        .map_err(crate::resident::failure)?;
    let names = |key: &str| -> Vec<String> {
        outcome[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    for id in names("added") {
        println!("{id}: now watched by the tray app");
    }
    for id in names("already") {
        println!("{id}: already watched");
    }
    let over = names("overLimit");
    if !over.is_empty() {
        let sentence = outcome["overLimitMessage"]
            .as_str()
            .unwrap_or("too many batches");
        return Err(Failure::Unsuccessful(format!(
            "{sentence} ({})",
            over.join(", ")
        )));
    }
    Ok(())
}
