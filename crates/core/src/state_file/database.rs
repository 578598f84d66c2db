//! The SQLite side: reading every row, and a save that writes only the rows that changed (the
//! schema and its migrations are [`super::schema`]'s).
//!
//! One row a tracked batch, in the order tracked (`seq`, given once, so removing one batch
//! rewrites no other): the snapshot and a cancellation as JSON (the API's own bodies), the
//! flags as columns, its plot's samples packed small ([`super::plot`]) so that an answer and
//! its new sample are one page written; the settings in a one-row table. WAL mode with
//! `synchronous = FULL`: a commit is on disk when it returns.
//!
//! What was last written is remembered as the very values the monitor holds (`Arc`s it
//! shares), so a save passes over an unchanged batch by comparing pointers: it serializes only
//! what changed, and its cost follows the changes, not the number of batches.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::schema::{known_version, open_current};
use super::{plot, SavedBatch, SavedState, Settings, SCHEMA_VERSION};
use crate::batch_id::BatchId;

/// Why the database cannot be used, as the end of a sentence ("The saved list of batches …").
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct Unreadable {
    text: String,
    busy: bool,
}

impl Unreadable {
    pub(super) fn new(text: String) -> Self {
        Self { text, busy: false }
    }

    /// Held by another writer past the wait: nothing is wrong with it, and it is worth another
    /// try — never a reason to set it aside.
    pub fn is_busy(&self) -> bool {
        self.busy
    }
}

impl From<rusqlite::Error> for Unreadable {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => Self {
                text: "is busy (another program is writing it); try again".into(),
                busy: true,
            },
            _ => Self::new(format!("is damaged ({e})")),
        }
    }
}

/// Whether two optional shared values are the same: the same allocation (what an unchanged
/// batch has), else equal contents (an identical answer parsed again).
fn same<T: PartialEq>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}

/// Whether `batch` would write the same row as `written`.
fn unchanged(written: &SavedBatch, batch: &SavedBatch) -> bool {
    written.last_updated_ms == batch.last_updated_ms
        && written.finish_notified == batch.finish_notified
        && written.not_found == batch.not_found
        && written.failure_alerted == batch.failure_alerted
        && same(&written.last, &batch.last)
        && same(&written.cancellation, &batch.cancellation)
        && same(&written.launch, &batch.launch)
        && (Arc::ptr_eq(&written.samples, &batch.samples) || written.samples == batch.samples)
        && written.moved_at_ms == batch.moved_at_ms
        && written.stall_alerted == batch.stall_alerted
        && written.notify == batch.notify
        && written.workspace == batch.workspace
}

/// A batch as the database last had it: its place in the order, and the values written.
#[derive(Debug)]
struct Written {
    seq: i64,
    batch: SavedBatch,
    /// The last save that found it still tracked: each is counted once, however many times
    /// a list read from an old file names it.
    seen_in: u64,
}

#[derive(Debug)]
pub struct Database {
    connection: Connection,
    /// Every row as last written (or read), by batch ID.
    written: HashMap<String, Written>,
    settings: Option<String>,
    /// The held notifications as last written ("" for none).
    held: String,
    next_seq: i64,
    /// Counts saves, for [`Written::seen_in`].
    saves: u64,
}

impl Database {
    /// Opens (creating, private) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, Unreadable> {
        Ok(Self {
            connection: open_current(path)?,
            written: HashMap::new(),
            settings: None,
            held: String::new(),
            next_seq: 1,
            saves: 0,
        })
    }

    /// Every tracked batch in order, and the settings; remembered as written.
    pub fn read(&mut self) -> Result<SavedState, Unreadable> {
        let mut batches = Vec::new();
        let mut written = HashMap::new();
        {
            let mut rows = self.connection.prepare(
                "SELECT seq, id, last, last_updated_ms, finish_notified, not_found,
                     failure_alerted, cancellation, plot, launch, moved_at_ms, stall_alerted, notify,
                     workspace
                 FROM batches ORDER BY seq",
            )?;
            let mut query = rows.query([])?;
            while let Some(r) = query.next()? {
                let seq: i64 = r.get(0)?;
                let id: String = r.get(1)?;
                let damaged = |what: &str, e: &dyn std::fmt::Display| {
                    Unreadable::new(format!("is damaged (batch {id:?}: {what}: {e})"))
                };
                let json = |column: usize| -> rusqlite::Result<Option<String>> { r.get(column) };
                let batch = SavedBatch {
                    id: BatchId::parse(&id).map_err(|e| damaged("its ID", &e))?,
                    last: json(2)?
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| damaged("its snapshot", &e))?,
                    last_updated_ms: r
                        .get::<_, Option<i64>>(3)?
                        .and_then(|ms| u64::try_from(ms).ok()),
                    finish_notified: r.get(4)?,
                    not_found: r.get(5)?,
                    failure_alerted: r.get(6)?,
                    cancellation: json(7)?
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| damaged("its cancellation", &e))?,
                    // A plot that cannot be read is only a plot: it starts again.
                    samples: Arc::new(
                        r.get::<_, Option<Vec<u8>>>(8)?
                            .and_then(|bytes| plot::decode(&bytes))
                            .unwrap_or_default(),
                    ),
                    // What we knew of how it was started is only a label: lost, not fatal.
                    launch: json(9)?
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok()),
                    moved_at_ms: r
                        .get::<_, Option<i64>>(10)?
                        .and_then(|ms| u64::try_from(ms).ok()),
                    stall_alerted: r.get(11)?,
                    // A choice this version does not know reads as the default.
                    notify: r
                        .get::<_, Option<String>>(12)?
                        .and_then(|n| crate::notify_choice::NotifyChoice::from_name(&n))
                        .unwrap_or_default(),
                    // One that is not a workspace ID (edited) joins the first, as from before.
                    workspace: r
                        .get::<_, Option<String>>(13)?
                        .and_then(|w| crate::credentials::WorkspaceId::new(&w).ok()),
                };
                self.next_seq = self.next_seq.max(seq + 1);
                written.insert(
                    id,
                    Written {
                        seq,
                        batch: batch.clone(),
                        seen_in: 0,
                    },
                );
                batches.push(batch);
            }
        }
        let settings_text: Option<String> = self
            .connection
            .query_row("SELECT saved FROM settings WHERE one = 1", [], |r| r.get(0))
            .optional()?;
        let settings = match &settings_text {
            Some(text) => serde_json::from_str::<Settings>(text)
                .map_err(|e| Unreadable::new(format!("is damaged (its settings: {e})")))?,
            None => Settings::default(),
        };
        let held_text: Option<String> = self
            .connection
            .query_row("SELECT saved FROM held WHERE one = 1", [], |r| r.get(0))
            .optional()?;
        // What was held is a summary's worth of titles: unreadable, it is dropped, not fatal.
        let held = held_text
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        self.written = written;
        self.settings = settings_text;
        self.held = held_text.unwrap_or_default();
        Ok(SavedState {
            schema: SCHEMA_VERSION,
            batches,
            settings,
            held,
        })
    }

    /// Writes the rows of `state` that differ from what was written, deletes the rows of
    /// batches no longer tracked, in one transaction; `false` when nothing differed (and
    /// nothing was written).
    pub fn write_changes(&mut self, state: &SavedState) -> Result<bool, rusqlite::Error> {
        let mut next_seq = self.next_seq;
        self.saves += 1;
        let mut still_tracked = 0;
        // (the batch, its place, whether its answer is new)
        let mut changed: Vec<(&SavedBatch, i64, bool)> = Vec::new();
        for batch in &state.batches {
            match self.written.get_mut(batch.id.as_str()) {
                Some(w) => {
                    if w.seen_in != self.saves {
                        w.seen_in = self.saves;
                        still_tracked += 1;
                    }
                    if !unchanged(&w.batch, batch) {
                        changed.push((batch, w.seq, !same(&w.batch.last, &batch.last)));
                    }
                }
                None => {
                    changed.push((batch, next_seq, true));
                    next_seq += 1;
                }
            }
        }
        // Only when fewer of the written batches are still tracked than were written is one gone.
        let gone: Vec<String> = if still_tracked < self.written.len() {
            let kept: std::collections::HashSet<&str> =
                state.batches.iter().map(|b| b.id.as_str()).collect();
            self.written
                .keys()
                .filter(|id| !kept.contains(id.as_str()))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let settings = serde_json::to_string(&state.settings).ok();
        let settings_changed = settings.is_some() && settings != self.settings;
        let held = if state.held.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&state.held).unwrap_or_default()
        };
        let held_changed = held != self.held;
        if changed.is_empty() && gone.is_empty() && !settings_changed && !held_changed {
            return Ok(false);
        }

        let transaction = self.connection.transaction()?;
        {
            let mut upsert = transaction.prepare_cached(
                "INSERT INTO batches (seq, id, last, last_updated_ms, finish_notified, not_found, failure_alerted, cancellation, launch, plot, moved_at_ms, stall_alerted, notify, workspace)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT(id) DO UPDATE SET last = ?3, last_updated_ms = ?4, finish_notified = ?5,
                     not_found = ?6, failure_alerted = ?7, cancellation = ?8, launch = ?9, plot = ?10,
                     moved_at_ms = ?11, stall_alerted = ?12, notify = ?13, workspace = ?14",
            )?;
            // A batch that has ended goes into the record (again, should its final answer
            // change: a cancel's last calls finishing) — only for a new answer: a row rewritten
            // for its other columns leaves the record, and one the person deleted, as it is.
            let mut record = transaction.prepare_cached(
                "INSERT INTO history (id, finished_at_ms, final, launch, workspace) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET finished_at_ms = ?2, final = ?3, launch = ?4, workspace = ?5",
            )?;
            for &(batch, seq, new_answer) in &changed {
                let last = to_json(batch.last.as_deref());
                let launch = to_json(batch.launch.as_deref());
                let plot = (!batch.samples.is_empty()).then(|| plot::encode(&batch.samples));
                let workspace = batch.workspace.as_ref().map(|w| w.as_str());
                upsert.execute(params![
                    seq,
                    batch.id.as_str(),
                    last,
                    batch
                        .last_updated_ms
                        .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                    batch.finish_notified,
                    batch.not_found,
                    batch.failure_alerted,
                    to_json(batch.cancellation.as_deref()),
                    launch,
                    plot,
                    batch
                        .moved_at_ms
                        .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                    batch.stall_alerted,
                    batch.notify.stored(),
                    workspace,
                ])?;
                if new_answer && batch.last.as_ref().is_some_and(|l| l.has_ended()) {
                    record.execute(params![
                        batch.id.as_str(),
                        finished_at(batch),
                        last,
                        launch,
                        workspace
                    ])?;
                }
            }
            let mut delete = transaction.prepare_cached("DELETE FROM batches WHERE id = ?1")?;
            for id in &gone {
                delete.execute([id])?;
            }
            if settings_changed {
                transaction.execute(
                    "INSERT INTO settings (one, saved) VALUES (1, ?1)
                     ON CONFLICT(one) DO UPDATE SET saved = ?1",
                    [&settings],
                )?;
            }
            if held_changed && held.is_empty() {
                transaction.execute("DELETE FROM held", [])?;
            } else if held_changed {
                transaction.execute(
                    "INSERT INTO held (one, saved) VALUES (1, ?1)
                     ON CONFLICT(one) DO UPDATE SET saved = ?1",
                    [&held],
                )?;
            }
        }
        transaction.commit()?;

        for (batch, seq, _) in changed {
            self.written.insert(
                batch.id.as_str().to_owned(),
                Written {
                    seq,
                    batch: batch.clone(),
                    seen_in: self.saves,
                },
            );
        }
        for id in gone {
            self.written.remove(&id);
        }
        if settings_changed {
            self.settings = settings;
        }
        self.held = held;
        self.next_seq = next_seq;
        Ok(true)
    }
}

/// A value as the JSON its column keeps.
fn to_json<T: serde::Serialize>(value: Option<&T>) -> Option<String> {
    value.and_then(|v| serde_json::to_string(v).ok())
}

/// When a batch ended ([`crate::model::BatchProgress::ended_at`]), as SQLite keeps it.
fn finished_at(batch: &SavedBatch) -> Option<i64> {
    let last = batch.last.as_ref()?;
    last.ended_at(batch.last_updated_ms)
        .and_then(|ms| i64::try_from(ms).ok())
}

/// A finished batch in the record: its final answer and when it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub id: BatchId,
    pub finished_at_ms: Option<u64>,
    pub last: crate::model::BatchProgress,
    /// How Batchwatch started it, when it did (the batch it retries links a campaign).
    pub launch: Option<crate::launch::Launch>,
    /// The workspace it ran in; `None` for a record from before workspaces (the first one's).
    pub workspace: Option<String>,
}

/// The record of finished batches in the database at `path`, newest first, read without
/// writing anything (the tray app may be running).
pub fn read_history(path: &Path) -> Result<Vec<Finished>, Unreadable> {
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Unreadable::new(format!("could not be opened ({e})")))?;
    let version: u32 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 2 {
        return Ok(Vec::new());
    }
    // The launch column came with version 5; before it, no batch was started from Batchwatch.
    let launch = if version >= 5 { "launch" } else { "NULL" };
    // The workspace came with version 10; before it, every record was the first workspace's.
    let workspace = if version >= 10 { "workspace" } else { "NULL" };
    let mut rows = connection.prepare(&format!(
        "SELECT id, finished_at_ms, final, {launch}, {workspace} FROM history ORDER BY finished_at_ms DESC, id"
    ))?;
    let mut query = rows.query([])?;
    let mut out = Vec::new();
    while let Some(r) = query.next()? {
        let id: String = r.get(0)?;
        let at: Option<i64> = r.get(1)?;
        let text: String = r.get(2)?;
        let launch: Option<String> = r.get(3)?;
        let workspace: Option<String> = r.get(4)?;
        let (Ok(id), Ok(last)) = (BatchId::parse(&id), serde_json::from_str(&text)) else {
            // One damaged record does not hide the others.
            continue;
        };
        out.push(Finished {
            id,
            finished_at_ms: at.and_then(|ms| u64::try_from(ms).ok()),
            last,
            // A label: one that cannot be read is left out, the record kept.
            launch: launch.and_then(|l| serde_json::from_str(&l).ok()),
            workspace,
        });
    }
    Ok(out)
}

/// Deletes records from the history in the database at `path` — those of `ids`, or every one
/// when `ids` is `None` — in one transaction, beside a running tray app (its writes wait a
/// moment for ours, as ours for its). Returns the IDs deleted. Never creates the database
/// nor changes its schema: no database, or one before the history, has no record to delete.
pub fn forget_history(path: &Path, ids: Option<&[BatchId]>) -> Result<Vec<BatchId>, Unreadable> {
    let mut connection =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| Unreadable::new(format!("could not be opened ({e})")))?;
    connection.busy_timeout(std::time::Duration::from_secs(1))?;
    if known_version(&connection)? < 2 {
        return Ok(Vec::new());
    }
    let deleted =
        delete_records(&mut connection, ids).map_err(|e| match e.sqlite_error_code() {
            // Held by another writer past the wait: not damage, and worth another try.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Unreadable::new("is busy (another program is writing it); try again".into())
            }
            _ => Unreadable::from(e),
        })?;
    Ok(deleted
        .iter()
        .filter_map(|id| BatchId::parse(id).ok())
        .collect())
}

fn delete_records(
    connection: &mut Connection,
    ids: Option<&[BatchId]>,
) -> Result<Vec<String>, rusqlite::Error> {
    let transaction = connection.transaction()?;
    let mut deleted = Vec::new();
    {
        let mut one = transaction.prepare("DELETE FROM history WHERE id = ?1 RETURNING id")?;
        let mut all = transaction.prepare("DELETE FROM history RETURNING id")?;
        match ids {
            Some(ids) => {
                for id in ids {
                    for gone in one.query_map([id.as_str()], |r| r.get::<_, String>(0))? {
                        deleted.push(gone?);
                    }
                }
            }
            None => {
                for gone in all.query_map([], |r| r.get::<_, String>(0))? {
                    deleted.push(gone?);
                }
            }
        }
    }
    transaction.commit()?;
    Ok(deleted)
}
