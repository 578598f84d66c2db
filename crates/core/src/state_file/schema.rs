//! The database's schema: its migrations, one step a version (`PRAGMA user_version`), and
//! opening a database brought up to date — refused when damaged or written by a newer
//! Batchwatch.

use std::path::Path;

use rusqlite::{params, Connection, Transaction};

use super::database::Unreadable;
use super::{plot, private_dir_all, private_file};
use crate::figures::Sample;

/// One step of the schema, from its version to the next.
pub(super) enum Migration {
    Sql(&'static str),
    /// A step SQL alone cannot take (it re-encodes values).
    Code(fn(&Transaction) -> rusqlite::Result<()>),
}

impl Migration {
    pub(super) fn apply(&self, transaction: &Transaction) -> rusqlite::Result<()> {
        match self {
            Self::Sql(sql) => transaction.execute_batch(sql),
            Self::Code(step) => step(transaction),
        }
    }
}

/// Each entry brings the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration::Sql(
        "CREATE TABLE batches (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        last TEXT,
        last_updated_ms INTEGER,
        finish_notified INTEGER NOT NULL DEFAULT 0,
        not_found INTEGER NOT NULL DEFAULT 0,
        failure_alerted INTEGER NOT NULL DEFAULT 0,
        cancellation TEXT
    );
    CREATE TABLE settings (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        saved TEXT NOT NULL
    );",
    ),
    // The record of finished batches, kept when they leave the tracked list.
    Migration::Sql(
        "CREATE TABLE history (
        id TEXT PRIMARY KEY,
        finished_at_ms INTEGER,
        final TEXT NOT NULL
    );",
    ),
    // The counters sampled for the throughput plot, as JSON.
    Migration::Sql("ALTER TABLE batches ADD COLUMN samples TEXT;"),
    // ... moved to a table of their own: in the batch's row, every changed answer rewrote an
    // hour of samples with it (9 KiB a changed answer with 10 batches, 21 KiB with 1,000).
    Migration::Sql(
        "CREATE TABLE plots (
        id TEXT PRIMARY KEY,
        samples TEXT NOT NULL
    );
    INSERT INTO plots (id, samples) SELECT id, samples FROM batches WHERE samples IS NOT NULL;
    ALTER TABLE batches DROP COLUMN samples;",
    ),
    // The starts sent from Batchwatch, so the same file is not started twice by mistake
    // (`state_file::ledger`); what Batchwatch knows of a batch it started (`launch::Launch`, as
    // JSON), kept in the record too: a campaign's attempts are linked by it.
    Migration::Sql(
        "CREATE TABLE starts (
        seq INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        batch_id TEXT
    );
    ALTER TABLE batches ADD COLUMN launch TEXT;
    ALTER TABLE history ADD COLUMN launch TEXT;",
    ),
    // ... and back into the batch's row, packed small: an answer and its new sample were two
    // pages written (14 KiB a changed answer with 1,000 batches), now one.
    Migration::Code(plots_into_rows),
    // When a batch last made progress and whether its current stall was announced: a stall
    // goes on, announced once, across a restart.
    Migration::Sql(
        "ALTER TABLE batches ADD COLUMN moved_at_ms INTEGER;
    ALTER TABLE batches ADD COLUMN stall_alerted INTEGER NOT NULL DEFAULT 0;",
    ),
    // Each batch's choice of notifications (NULL: always, as every batch before).
    Migration::Sql("ALTER TABLE batches ADD COLUMN notify TEXT;"),
    // The notifications held through quiet hours (`quiet::Held`, as JSON), told at their end.
    Migration::Sql(
        "CREATE TABLE held (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        saved TEXT NOT NULL
    );",
    ),
    // The workspace each batch and record belongs to (NULL: from before workspaces; the
    // monitor gives such batches to the first workspace, the one the old credential became).
    Migration::Sql(
        "ALTER TABLE batches ADD COLUMN workspace TEXT;
    ALTER TABLE history ADD COLUMN workspace TEXT;",
    ),
];

/// Migration 6: each plot's JSON samples, packed, into its batch's new `plot` column.
fn plots_into_rows(transaction: &Transaction) -> rusqlite::Result<()> {
    transaction.execute_batch("ALTER TABLE batches ADD COLUMN plot BLOB;")?;
    {
        let mut plots = transaction.prepare("SELECT id, samples FROM plots")?;
        let mut pack = transaction.prepare("UPDATE batches SET plot = ?2 WHERE id = ?1")?;
        let mut rows = plots.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let samples: String = r.get(1)?;
            // A plot that cannot be read is only a plot: it starts again.
            if let Ok(samples) = serde_json::from_str::<Vec<Sample>>(&samples) {
                pack.execute(params![id, plot::encode(&samples)])?;
            }
        }
    }
    // Emptied, not dropped: a tray app of the version before, still running through the
    // upgrade, goes on writing it (and saving its batches) until it restarts.
    transaction.execute_batch("DELETE FROM plots;")
}

/// A connection to the database at `path` (created, private, when missing) with its schema
/// brought up to date: refused when it is damaged or a newer Batchwatch wrote it.
pub(crate) fn open_current(path: &Path) -> Result<Connection, Unreadable> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir_all(dir).map_err(|e| Unreadable::new(format!("could not be created ({e})")))?;
    }
    private_file(path).map_err(|e| Unreadable::new(format!("could not be opened ({e})")))?;
    let mut connection = Connection::open(path)?;
    // A file that is not a database fails here, at its first read.
    let check: String = connection.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(Unreadable::new(format!("is damaged ({check})")));
    }
    // A reader elsewhere (a backup tool) may hold a lock for a moment; waited out, briefly.
    connection.busy_timeout(std::time::Duration::from_secs(1))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    // Each step reads the version again inside a transaction that holds the database: the
    // tray app and a terminal (its ledger of starts) may open it at the same moment, and the
    // second must find the first one's migration done, not run it again and call that damage.
    loop {
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version = known_version(&transaction)? as usize;
        let Some(migration) = MIGRATIONS.get(version) else {
            break;
        };
        migration.apply(&transaction)?;
        transaction.pragma_update(None, "user_version", version + 1)?;
        transaction.commit()?;
    }
    Ok(connection)
}

/// The schema version of the database, refused when a newer Batchwatch wrote it.
pub(super) fn known_version(connection: &Connection) -> Result<u32, Unreadable> {
    let version: u32 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    if version > known {
        return Err(Unreadable::new(format!(
            "was written by a newer Batchwatch (format {version})"
        )));
    }
    Ok(version)
}
