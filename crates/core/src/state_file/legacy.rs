//! The JSON state file of earlier versions (`state.json`): read once, written into the
//! database, then renamed `state.json.imported` so it is neither read again nor lost. One
//! that cannot be read is moved aside and reported, as a damaged database is.

use std::fs;
use std::io;
use std::path::Path;

use super::database::Database;
use super::{SavedState, StateProblem, SCHEMA_VERSION};

/// Imports the file at `path` if there is one: the state it held, or `None` without a file.
pub fn import(
    path: &Path,
    database: &mut Database,
    now_ms: u64,
) -> Result<Option<SavedState>, StateProblem> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(set_aside(path, &format!("could not be read ({e})"), now_ms)),
    };
    let state = match serde_json::from_slice::<SavedState>(&bytes) {
        Ok(state) if state.schema > SCHEMA_VERSION => {
            return Err(set_aside(
                path,
                &format!(
                    "was written by a newer Batchwatch (format {})",
                    state.schema
                ),
                now_ms,
            ))
        }
        Ok(state) => state,
        Err(e) => return Err(set_aside(path, &format!("is damaged ({e})"), now_ms)),
    };
    database.write_changes(&state).map(drop).map_err(|e| StateProblem {
        message: format!(
            "The saved list of batches in {} could not be moved into the new database ({e}); it was left as it is, and Batchwatch started with an empty list.",
            path.display()
        ),
        moved_to: None,
    })?;
    let mut done = path.as_os_str().to_owned();
    done.push(".imported");
    // It holds the recent calls' phone numbers: readable by its owner only, like everything
    // Batchwatch keeps (an earlier version wrote it 0644).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
            log::warn!("could not make {} private: {e}", path.display());
        }
    }
    if let Err(e) = fs::rename(path, &done) {
        log::warn!("imported {} but could not rename it: {e}", path.display());
    } else {
        log::info!("imported {} into the state database", path.display());
    }
    Ok(Some(state))
}

fn set_aside(path: &Path, what: &str, now_ms: u64) -> StateProblem {
    super::set_aside(path, what, now_ms).0
}
