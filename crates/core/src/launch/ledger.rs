//! The record of starts sent from Batchwatch (the `starts` table of the state database, shared
//! by the tray app and the terminal): a start is written down before it is sent and settled
//! with what came of it, so the same file with the same agent is not started again within
//! [`REPEAT_WINDOW`] — not after a double click, not after "Trillet did not answer", not after
//! a crash in the middle — unless the person says to start it anyway.
//!
//! A start that Trillet refused (nothing started) is struck out: fixing the file and trying
//! again is what a person should do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use crate::batch_id::BatchId;

/// How long a start holds back the same file with the same agent.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A start of the same file with the same agent within [`REPEAT_WINDOW`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentStart {
    pub sent_at_ms: u64,
    /// The batch it started; `None` when the outcome is not known.
    pub batch_id: Option<BatchId>,
}

impl RecentStart {
    /// Why the start is held back: "This file was started with this agent 3 min ago (batch_x).
    /// Starting it again calls every number again." — `force` names the way past it.
    pub fn refusal(&self, now_ms: u64, force: &str) -> String {
        let ago = crate::format::duration(Duration::from_millis(
            now_ms.saturating_sub(self.sent_at_ms),
        ));
        let what = match &self.batch_id {
            Some(id) => format!("This file was started with this agent {ago} ago (as {id})"),
            None => format!(
                "This file was sent to Trillet with this agent {ago} ago and Trillet did not say whether it started"
            ),
        };
        format!("{what}. Starting it again calls every number again; {force}.")
    }
}

/// How a start ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Started(BatchId),
    /// It may have started.
    Unknown,
    /// Trillet refused it: nothing started, nothing to hold back.
    NotStarted,
}

/// The ledger in one state database.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The ledger in the state database of this user (`None` without a home).
    pub fn for_user() -> Option<Self> {
        crate::state_file::StateFile::default_path().map(Self::at)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> Result<rusqlite::Connection, String> {
        crate::state_file::open_database(&self.path)
            .map_err(|e| format!("The record of recent starts ({}) {e}", self.path.display()))
    }

    /// The latest start of `fingerprint` with `agent_id` within the window before `now_ms`.
    pub fn recent(
        &self,
        fingerprint: &str,
        agent_id: &str,
        now_ms: u64,
    ) -> Result<Option<RecentStart>, String> {
        let since = now_ms.saturating_sub(REPEAT_WINDOW.as_millis() as u64);
        let row: Option<(i64, Option<String>)> = self
            .connection()?
            .query_row(
                "SELECT sent_at_ms, batch_id FROM starts
                 WHERE fingerprint = ?1 AND agent_id = ?2 AND sent_at_ms >= ?3
                   AND outcome <> 'not_started'
                 ORDER BY sent_at_ms DESC LIMIT 1",
                params![fingerprint, agent_id, to_i64(since)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| format!("The record of recent starts could not be read ({e})"))?;
        Ok(row.map(|(at, id)| RecentStart {
            sent_at_ms: u64::try_from(at).unwrap_or_default(),
            batch_id: id.and_then(|id| BatchId::parse(&id).ok()),
        }))
    }

    /// Writes down a start about to be sent (committed before it returns) and returns its
    /// entry, to settle once the answer is in. Older entries than the window go at the same
    /// time: the table stays as small as the starts of ten minutes.
    pub fn sending(&self, fingerprint: &str, agent_id: &str, now_ms: u64) -> Result<i64, String> {
        let connection = self.connection()?;
        let since = now_ms.saturating_sub(REPEAT_WINDOW.as_millis() as u64);
        let write = || -> rusqlite::Result<i64> {
            connection.execute("DELETE FROM starts WHERE sent_at_ms < ?1", [to_i64(since)])?;
            connection.execute(
                "INSERT INTO starts (fingerprint, agent_id, sent_at_ms, outcome)
                 VALUES (?1, ?2, ?3, 'sending')",
                params![fingerprint, agent_id, to_i64(now_ms)],
            )?;
            Ok(connection.last_insert_rowid())
        };
        write().map_err(|e| {
            format!("The start could not be written down first ({e}), so it was not sent")
        })
    }

    /// Records how start `entry` ended. A failure here is not the person's problem (the start
    /// stays "not known", which holds the file back as it should): it is returned to be logged.
    pub fn settle(&self, entry: i64, settled: &Settled) -> Result<(), String> {
        let (outcome, batch) = match settled {
            Settled::Started(id) => ("started", Some(id.as_str())),
            Settled::Unknown => ("unknown", None),
            Settled::NotStarted => ("not_started", None),
        };
        self.connection()?
            .execute(
                "UPDATE starts SET outcome = ?1, batch_id = ?2 WHERE seq = ?3",
                params![outcome, batch, entry],
            )
            .map(drop)
            .map_err(|e| format!("The start's outcome could not be written down ({e})"))
    }
}

fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn a_start_holds_the_same_file_and_agent_back_for_ten_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        let t0 = 1_000 * MIN;
        assert_eq!(ledger.recent("f1", "a1", t0).unwrap(), None);

        let entry = ledger.sending("f1", "a1", t0).unwrap();
        // Before it is settled (a crash mid-request) it holds the file back as not known.
        let pending = ledger.recent("f1", "a1", t0 + MIN).unwrap().unwrap();
        assert_eq!(pending.batch_id, None);
        let id = BatchId::parse("batch_1").unwrap();
        ledger.settle(entry, &Settled::Started(id.clone())).unwrap();

        let again = ledger.recent("f1", "a1", t0 + 3 * MIN).unwrap().unwrap();
        assert_eq!(again.batch_id, Some(id));
        assert_eq!(
            again.refusal(t0 + 3 * MIN, "pass --force to start it anyway"),
            "This file was started with this agent 3 min ago (as batch_1). Starting it again calls every number again; pass --force to start it anyway."
        );
        // Another agent, another file, or later than the window: free.
        assert_eq!(ledger.recent("f1", "a2", t0 + MIN).unwrap(), None);
        assert_eq!(ledger.recent("f2", "a1", t0 + MIN).unwrap(), None);
        assert_eq!(ledger.recent("f1", "a1", t0 + 11 * MIN).unwrap(), None);
    }

    #[test]
    fn a_refused_start_holds_nothing_back_and_an_unknown_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        let refused = ledger.sending("f1", "a1", 0).unwrap();
        ledger.settle(refused, &Settled::NotStarted).unwrap();
        assert_eq!(ledger.recent("f1", "a1", MIN).unwrap(), None);
        let unknown = ledger.sending("f1", "a1", MIN).unwrap();
        ledger.settle(unknown, &Settled::Unknown).unwrap();
        let held = ledger.recent("f1", "a1", 2 * MIN).unwrap().unwrap();
        assert!(held
            .refusal(2 * MIN, "x")
            .contains("did not say whether it started"));
    }

    #[test]
    fn old_entries_are_dropped_when_a_new_one_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        ledger.sending("f1", "a1", 0).unwrap();
        ledger.sending("f2", "a1", 30 * MIN).unwrap();
        let connection = ledger.connection().unwrap();
        let left: i64 = connection
            .query_row("SELECT COUNT(*) FROM starts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn a_database_that_is_not_one_is_said_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, b"not a database at all, just text").unwrap();
        let ledger = Ledger::at(&path);
        let error = ledger.recent("f1", "a1", 0).unwrap_err();
        assert!(error.starts_with("The record of recent starts"), "{error}");
        assert!(ledger.sending("f1", "a1", 0).is_err());
    }
}
