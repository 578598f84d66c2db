//! The durable state: tracked batches in order, their last snapshots, which finishes were
//! already announced, and the settings — one JSON file, written atomically.
//!
//! A save writes a temporary file beside the real one, fsyncs it, renames it over the real
//! one and fsyncs the directory, so a crash leaves the old file or the new one, never a torn
//! mix. A file that cannot be read or parsed is moved aside (`state.json.corrupt-<ms>`) and
//! reported — never silently replaced by an empty list.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::batch_id::BatchId;
use crate::model::{BatchProgress, CancelOutcome};
pub use crate::settings::Settings;

/// Bumped when the file's meaning changes; older builds refuse newer files (moving them aside).
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
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedState {
    pub schema: u32,
    #[serde(default)]
    pub batches: Vec<SavedBatch>,
    #[serde(default)]
    pub settings: Settings,
}

impl Default for SavedState {
    fn default() -> Self {
        Self {
            schema: SCHEMA_VERSION,
            batches: Vec::new(),
            settings: Settings::default(),
        }
    }
}

/// What went wrong reading the file, for the user.
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

/// The state file at a path the caller chose. Clones share the count of writes.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    writes: Arc<AtomicU64>,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writes: Arc::default(),
        }
    }

    /// How many times the file was written through this handle (or a clone): what a tray app
    /// left running costs the disk, for the benchmarks and the tests that count it.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `$XDG_CONFIG_HOME/batchwatch/state.json` (or `~/.config/…`), the app's default.
    pub fn default_path() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("batchwatch").join("state.json"))
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    /// Reads the file; a missing file is an empty state. `now_ms` names a moved-aside file.
    pub fn load(&self, now_ms: u64) -> Loaded {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Loaded {
                    state: SavedState::default(),
                    problem: None,
                    writable: true,
                }
            }
            Err(e) => return self.set_aside(format!("could not be read ({e})"), now_ms),
        };
        match serde_json::from_slice::<SavedState>(&bytes) {
            Ok(state) if state.schema > SCHEMA_VERSION => self.set_aside(
                format!(
                    "was written by a newer Batchwatch (format {})",
                    state.schema
                ),
                now_ms,
            ),
            Ok(state) => Loaded {
                state,
                problem: None,
                writable: true,
            },
            Err(e) => self.set_aside(format!("is damaged ({e})"), now_ms),
        }
    }

    fn set_aside(&self, what: String, now_ms: u64) -> Loaded {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".corrupt-{now_ms}"));
        let aside = self.path.with_file_name(name);
        let (message, moved_to, writable) = match fs::rename(&self.path, &aside) {
            Ok(()) => (
                format!(
                    "The saved list of batches {what}. It was kept as {} and Batchwatch started with an empty list; add your batches again.",
                    aside.display()
                ),
                Some(aside),
                true,
            ),
            Err(e) => (
                format!(
                    "The saved list of batches at {} {what}, and could not be moved aside ({e}). Batchwatch will not overwrite it; fix or remove it and restart.",
                    self.path.display()
                ),
                None,
                false,
            ),
        };
        Loaded {
            state: SavedState::default(),
            problem: Some(StateProblem { message, moved_to }),
            writable,
        }
    }

    /// Writes `state` atomically (see the module docs).
    pub fn save(&self, state: &SavedState) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        self.save_bytes(&bytes)
    }

    /// The atomic write, for bytes already serialized.
    pub fn save_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // It holds phone numbers and call errors: only its owner may read it (the folder 0700
        // when Batchwatch creates it, the file 0600 on every write).
        private_dir_all(dir)?;
        let temp = self.temp_path();
        {
            let mut file = private_file(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        fs::rename(&temp, &self.path)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    }
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

/// Created (or truncated) for writing, readable by its owner only.
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // `mode` applies only when the file is created; a temp file left by a crash keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn only_its_owner_can_read_the_file_or_list_the_folder_batchwatch_made() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/batchwatch/state.json");
        // A temp file a crash left behind, readable by all, is not reused as it is.
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path.with_file_name("state.json.tmp"), b"{}").unwrap();
        fs::set_permissions(
            path.with_file_name("state.json.tmp"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let file = StateFile::new(&path);
        file.save(&SavedState::default()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);

        let fresh = dir.path().join("new/batchwatch/state.json");
        StateFile::new(&fresh).save(&SavedState::default()).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        assert_eq!(mode(fresh.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
    }

    fn sample() -> SavedState {
        let progress: BatchProgress =
            serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
        SavedState {
            schema: SCHEMA_VERSION,
            batches: vec![
                SavedBatch {
                    id: BatchId::parse("batch_b").unwrap(),
                    last: Some(Arc::new(progress)),
                    last_updated_ms: Some(1_703_101_200_000),
                    finish_notified: false,
                    not_found: false,
                    failure_alerted: true,
                    cancellation: None,
                },
                SavedBatch {
                    id: BatchId::parse("batch_a").unwrap(),
                    last: None,
                    last_updated_ms: None,
                    finish_notified: true,
                    not_found: true,
                    failure_alerted: false,
                    cancellation: Some(Arc::new(CancelOutcome {
                        batch_id: "batch_a".into(),
                        status: crate::model::BatchStatus::Cancelled,
                        message: Some("Batch call cancelled successfully".into()),
                        details: crate::model::CancelDetails {
                            completed_calls: 3,
                            failed_calls: 1,
                            cancelled_calls: 6,
                            total_calls: 10,
                        },
                    })),
                },
            ],
            settings: Settings {
                notifications: false,
                notifications_paused_until_ms: Some(1_703_104_800_000),
                failure_alert_percent: Some(30),
                poll: crate::schedule::PollPolicy {
                    floor: std::time::Duration::from_secs(45),
                    budget: 20,
                    ..Default::default()
                },
            },
        }
    }

    #[test]
    fn round_trip_keeps_order_snapshots_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("nested/state.json"));
        file.save(&sample()).unwrap();
        let loaded = file.load(1);
        assert_eq!(loaded.problem, None);
        assert_eq!(loaded.state, sample());
        assert!(!file.temp_path().exists(), "no temp file left behind");
    }

    #[test]
    fn missing_file_is_empty_without_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = StateFile::new(dir.path().join("state.json")).load(1);
        assert_eq!(loaded.state, SavedState::default());
        assert!(loaded.problem.is_none() && loaded.writable);
    }

    #[test]
    fn corrupt_and_newer_files_are_moved_aside_and_reported() {
        for (content, phrase) in [
            (&b"{\"schema\":1,\"batches\":[{\"id\":"[..], "is damaged"),
            (
                b"{\"schema\":1,\"batches\":[{\"id\":\"../etc\"}]}",
                "is damaged",
            ),
            (b"{\"schema\":99}", "newer Batchwatch"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.json");
            fs::write(&path, content).unwrap();
            let loaded = StateFile::new(&path).load(1234);
            let problem = loaded.problem.expect("reported");
            assert!(problem.message.contains(phrase), "{}", problem.message);
            let aside = dir.path().join("state.json.corrupt-1234");
            assert_eq!(problem.moved_to.as_deref(), Some(aside.as_path()));
            assert_eq!(
                fs::read(&aside).unwrap(),
                content,
                "the bad file is kept, byte for byte"
            );
            assert!(!path.exists());
            assert!(loaded.writable);
            assert!(loaded.state.batches.is_empty());
        }
    }

    #[test]
    fn settings_missing_fields_take_defaults() {
        let state: SavedState =
            serde_json::from_str(r#"{"schema":1,"batches":[{"id":"b1"}]}"#).unwrap();
        assert_eq!(state.settings, Settings::default());
        assert!(!state.batches[0].finish_notified);
    }
}
