//! The durable state: tracked batches in order, their last snapshots, which finishes were
//! already announced, and the settings — in one SQLite database (`state.db`, WAL mode).
//!
//! A save writes only what changed since the last one, in one transaction: an identical
//! answer writes nothing, one changed answer one row — so a tray app left running for months
//! writes almost nothing while nothing changes, and its writes do not grow with the number of
//! batches. A commit is durable before [`StateFile::save`] returns (the "announced" flag is
//! committed before the notification is sent), and a crash at any moment leaves every
//! committed row (SQLite's journal).
//!
//! A database that cannot be opened or fails its integrity check is moved aside
//! (`state.db.corrupt-<ms>`) and reported — never silently replaced by an empty list. The
//! state file of earlier versions (`state.json` beside it) is imported once, then renamed
//! `state.json.imported`.
//!
//! - [`database`] — reading and the changed-rows-only write, and the record of finished
//!   batches (kept when they leave the tracked list).
//! - [`schema`] — the schema's migrations and opening a database brought up to date.
//! - [`ledger`] — the starts of the last ten minutes, so one is not sent twice by mistake.
//! - [`plot`] — a plot's samples packed into a few hundred bytes.
//! - [`legacy`] — reading the old JSON file, for the import.

mod database;
pub mod ledger;
mod legacy;
mod plot;
mod schema;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::batch_id::BatchId;
use crate::figures::Sample;
use crate::model::{BatchProgress, CancelOutcome};
pub use crate::settings::Settings;

use database::Database;
pub use database::Finished;

/// A connection to the state database at `path`, schema up to date (created when missing),
/// for a record kept beside the tracked batches ([`ledger`]); the error ends a sentence that
/// starts with the database's name.
fn open_database(path: &Path) -> Result<rusqlite::Connection, String> {
    schema::open_current(path).map_err(|e| e.to_string())
}

/// The format of the `state.json` of earlier versions, the one a [`SavedState`] read from
/// JSON carries: an old file of a newer format is set aside, not imported. (The database's
/// own version is `PRAGMA user_version`, with its migrations in [`database`]; this one no
/// longer changes.)
pub const SCHEMA_VERSION: u32 = 1;

/// One tracked batch as remembered across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedBatch {
    pub id: BatchId,
    #[serde(default)]
    pub last: Option<Arc<BatchProgress>>,
    /// When `last` was received (epoch ms).
    #[serde(default)]
    pub last_updated_ms: Option<u64>,
    /// The batch's finish was announced (or it was first seen finished): never announce again.
    #[serde(default)]
    pub finish_notified: bool,
    /// Trillet answered 404: not polled again unless the user asks.
    #[serde(default)]
    pub not_found: bool,
    /// The failure-rate alert was sent: never again for this batch.
    #[serde(default)]
    pub failure_alerted: bool,
    /// What Trillet answered when the user cancelled the batch from Batchwatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Arc<CancelOutcome>>,
    /// What Batchwatch knows of a batch it started (agent, file, schedule, the batch retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Arc<crate::launch::Launch>>,
    /// The running batch's counters, sampled at most once a minute over the last hour: the
    /// card's throughput plot.
    /// (Shared with the monitor, which replaces it when a sample is added: a save compares
    /// it by pointer.)
    #[serde(default, skip_serializing_if = "no_samples")]
    pub samples: Arc<Vec<Sample>>,
    /// When an answer last moved its status or its ended calls (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_at_ms: Option<u64>,
    /// The current stall was announced: not again until the counters move.
    #[serde(default)]
    pub stall_alerted: bool,
    /// When its notifications are shown (its card's choice).
    #[serde(default)]
    pub notify: crate::notify_choice::NotifyChoice,
    /// The workspace it is asked in; `None` for a batch saved before workspaces, which joins
    /// the first workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<crate::credentials::WorkspaceId>,
}

fn no_samples(samples: &Arc<Vec<Sample>>) -> bool {
    samples.is_empty()
}

/// Everything saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedState {
    pub schema: u32,
    #[serde(default)]
    pub batches: Vec<SavedBatch>,
    #[serde(default)]
    pub settings: Settings,
    /// Notifications held through quiet hours, for the summary at their end.
    #[serde(default)]
    pub held: crate::quiet::Held,
}

impl Default for SavedState {
    fn default() -> Self {
        Self {
            schema: SCHEMA_VERSION,
            batches: Vec::new(),
            settings: Settings::default(),
            held: Default::default(),
        }
    }
}

/// What went wrong reading the state, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateProblem {
    pub message: String,
    /// Where the unreadable file was moved, if it could be.
    pub moved_to: Option<PathBuf>,
}

/// The outcome of [`StateFile::load`].
#[derive(Debug)]
pub struct Loaded {
    pub state: SavedState,
    pub problem: Option<StateProblem>,
    /// False when a bad file could not be moved aside: saving would destroy it, so don't.
    pub writable: bool,
}

/// How many more times a busy database is opened again at start (each waits a second).
const BUSY_TRIES: usize = 30;

/// The state database at a path the caller chose. Clones share the database connection and
/// the count of writes.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    writes: Arc<AtomicU64>,
    database: Arc<Mutex<Option<Database>>>,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writes: Arc::default(),
            database: Arc::default(),
        }
    }

    /// How many transactions changed the database through this handle (or a clone): what a
    /// tray app left running costs the disk, for the tests that count it.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `state.db` in [`crate::folders::config`], the app's default.
    pub fn default_path() -> Option<PathBuf> {
        Some(crate::folders::config()?.join("state.db"))
    }

    /// The state file of earlier versions, imported once: `state.json` beside the database.
    pub fn legacy_path(&self) -> PathBuf {
        self.path.with_file_name("state.json")
    }

    /// The record of finished batches, newest first — also of those no longer tracked. Read
    /// without writing (the tray app may be running); no database yet is no record yet.
    pub fn history(&self) -> Result<Vec<Finished>, String> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        database::read_history(&self.path)
            .map_err(|e| format!("The saved record at {} {e}.", self.path.display()))
    }

    /// Deletes records of finished batches: those of `ids`, or all of them with `None`. A
    /// batch still tracked keeps its card (the tray app's list is not this record). Returns
    /// the IDs deleted; none when there is no database yet.
    pub fn forget_history(&self, ids: Option<&[BatchId]>) -> Result<Vec<BatchId>, String> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        database::forget_history(&self.path, ids)
            .map_err(|e| format!("The saved record at {} {e}.", self.path.display()))
    }

    fn database(&self) -> std::sync::MutexGuard<'_, Option<Database>> {
        self.database.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens (or creates) the database and reads it; on first start, imports the old JSON
    /// file. `now_ms` names a moved-aside file.
    pub fn load(&self, now_ms: u64) -> Loaded {
        let existed = self.path.exists();
        // Busy is not damage: another Batchwatch (a terminal writing down a start) holds it for
        // a moment, and each try waits a second for it.
        let mut opened = Database::open(&self.path);
        for _ in 0..BUSY_TRIES {
            match &opened {
                Err(e) if e.is_busy() => opened = Database::open(&self.path),
                _ => break,
            }
        }
        let mut database = match opened {
            Ok(database) => database,
            Err(e) if e.is_busy() => {
                return Loaded {
                    state: SavedState::default(),
                    problem: Some(StateProblem {
                        message: format!("The saved list of batches {e}: Batchwatch started with an empty list and will not write over it; restart it in a moment."),
                        moved_to: None,
                    }),
                    writable: false,
                }
            }
            Err(e) => return self.set_aside(&self.path, &e.to_string(), now_ms),
        };
        let read = database.read();
        let mut state = match read {
            Ok(state) => state,
            Err(e) => {
                drop(database);
                return self.set_aside(&self.path, &e.to_string(), now_ms);
            }
        };
        let mut problem = None;
        if !existed && state.batches.is_empty() && self.legacy_path() != self.path {
            match legacy::import(&self.legacy_path(), &mut database, now_ms) {
                Ok(Some(imported)) => {
                    self.writes.fetch_add(1, Ordering::Relaxed);
                    state = imported;
                }
                Ok(None) => {}
                Err(legacy_problem) => problem = Some(legacy_problem),
            }
        }
        *self.database() = Some(database);
        Loaded {
            state,
            problem,
            writable: true,
        }
    }

    /// Writes what changed in `state` since the last save, in one transaction (see the module
    /// docs). Opens the database first when [`Self::load`] has not.
    pub fn save(&self, state: &SavedState) -> io::Result<()> {
        let mut guard = self.database();
        if guard.is_none() {
            let mut database = Database::open(&self.path).map_err(io::Error::other)?;
            database.read().map_err(io::Error::other)?;
            *guard = Some(database);
        }
        let database = guard.as_mut().expect("opened above");
        if database.write_changes(state).map_err(io::Error::other)? {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn set_aside(&self, path: &Path, what: &str, now_ms: u64) -> Loaded {
        let (problem, writable) = set_aside(path, what, now_ms);
        Loaded {
            state: SavedState::default(),
            problem: Some(problem),
            writable,
        }
    }
}

/// Moves an unreadable file (and a database's journal beside it) to `<name>.corrupt-<ms>` and
/// says so; `false` when it could not be moved (then nothing may overwrite it).
fn set_aside(path: &Path, what: &str, now_ms: u64) -> (StateProblem, bool) {
    let aside = corrupt_name(path, now_ms);
    let moved = fs::rename(path, &aside);
    if moved.is_ok() {
        for suffix in ["-wal", "-shm"] {
            let mut journal = path.as_os_str().to_owned();
            journal.push(suffix);
            let mut journal_aside = aside.as_os_str().to_owned();
            journal_aside.push(suffix);
            let _ = fs::rename(journal, journal_aside);
        }
    }
    match moved {
        Ok(()) => (
            StateProblem {
                message: format!(
                    "The saved list of batches {what}. It was kept as {} and Batchwatch started with an empty list; add your batches again.",
                    aside.display()
                ),
                moved_to: Some(aside),
            },
            true,
        ),
        Err(e) => (
            StateProblem {
                message: format!(
                    "The saved list of batches at {} {what}, and could not be moved aside ({e}). Batchwatch will not overwrite it; fix or remove it and restart.",
                    path.display()
                ),
                moved_to: None,
            },
            false,
        ),
    }
}

/// `<name>.corrupt-<ms>` beside `path`.
fn corrupt_name(path: &Path, now_ms: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{now_ms}"));
    path.with_file_name(name)
}

#[cfg(unix)]
fn private_dir_all(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir_all(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Makes sure `path` exists and only its owner may read it (SQLite gives its journal the
/// database file's permissions).
fn private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
