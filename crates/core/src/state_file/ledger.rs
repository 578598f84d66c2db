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

/// What [`Ledger::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Written down as being sent: its entry, to settle.
    Recorded(i64),
    /// Not written: the same start went out within the window.
    HeldBack(RecentStart),
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
        super::StateFile::default_path().map(Self::at)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> Result<rusqlite::Connection, String> {
        super::open_database(&self.path).map_err(|e| {
            format!(
                "The record of recent starts ({}) {e}, so nothing was sent",
                self.path.display()
            )
        })
    }

    /// Writes down a start about to be sent — unless (without `force`) the same content was
    /// started with the same agent within the window, which is returned instead — and returns
    /// its entry, to settle once the answer is in. The look and the write are one transaction
    /// that holds the database, so two starts at the same moment (the window and a terminal)
    /// cannot both pass. Entries older than the window go at the same time: the table stays as
    /// small as ten minutes of starts. Committed before it returns.
    pub fn claim(
        &self,
        fingerprint: &str,
        agent_id: &str,
        now_ms: u64,
        force: bool,
    ) -> Result<Claim, String> {
        let mut connection = self.connection()?;
        let since = to_i64(now_ms.saturating_sub(REPEAT_WINDOW.as_millis() as u64));
        let mut write = || -> rusqlite::Result<Claim> {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !force {
                let recent: Option<(i64, Option<String>)> = transaction
                    .query_row(
                        "SELECT sent_at_ms, batch_id FROM starts
                         WHERE fingerprint = ?1 AND agent_id = ?2 AND sent_at_ms >= ?3
                           AND outcome <> 'not_started'
                         ORDER BY sent_at_ms DESC LIMIT 1",
                        params![fingerprint, agent_id, since],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((at, id)) = recent {
                    return Ok(Claim::HeldBack(RecentStart {
                        sent_at_ms: u64::try_from(at).unwrap_or_default(),
                        batch_id: id.and_then(|id| BatchId::parse(&id).ok()),
                    }));
                }
            }
            transaction.execute("DELETE FROM starts WHERE sent_at_ms < ?1", [since])?;
            transaction.execute(
                "INSERT INTO starts (fingerprint, agent_id, sent_at_ms, outcome)
                 VALUES (?1, ?2, ?3, 'sending')",
                params![fingerprint, agent_id, to_i64(now_ms)],
            )?;
            let entry = transaction.last_insert_rowid();
            transaction.commit()?;
            Ok(Claim::Recorded(entry))
        };
        write().map_err(|e| {
            format!("The start could not be written down first ({e}), so nothing was sent")
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

    fn recorded(claim: Claim) -> i64 {
        match claim {
            Claim::Recorded(entry) => entry,
            held => panic!("held back: {held:?}"),
        }
    }

    fn held(claim: Claim) -> RecentStart {
        match claim {
            Claim::HeldBack(recent) => recent,
            recorded => panic!("not held back: {recorded:?}"),
        }
    }

    #[test]
    fn a_start_holds_the_same_file_and_agent_back_for_ten_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        let t0 = 1_000 * MIN;
        let entry = recorded(ledger.claim("f1", "a1", t0, false).unwrap());
        // Before it is settled (a crash mid-request) it holds the file back as not known.
        let pending = held(ledger.claim("f1", "a1", t0 + MIN, false).unwrap());
        assert_eq!(pending.batch_id, None);
        let id = BatchId::parse("batch_1").unwrap();
        ledger.settle(entry, &Settled::Started(id.clone())).unwrap();

        let again = held(ledger.claim("f1", "a1", t0 + 3 * MIN, false).unwrap());
        assert_eq!(again.batch_id, Some(id));
        assert_eq!(
            again.refusal(t0 + 3 * MIN, "pass --force to start it anyway"),
            "This file was started with this agent 3 min ago (as batch_1). Starting it again calls every number again; pass --force to start it anyway."
        );
        // Another agent, another file, or later than the window: free.
        recorded(ledger.claim("f1", "a2", t0 + MIN, false).unwrap());
        recorded(ledger.claim("f2", "a1", t0 + MIN, false).unwrap());
        recorded(ledger.claim("f1", "a1", t0 + 11 * MIN, false).unwrap());
        // Forced: written down although held back.
        recorded(ledger.claim("f1", "a1", t0 + 12 * MIN, true).unwrap());
    }

    #[test]
    fn a_refused_start_holds_nothing_back_and_an_unknown_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        let refused = recorded(ledger.claim("f1", "a1", 0, false).unwrap());
        ledger.settle(refused, &Settled::NotStarted).unwrap();
        let unknown = recorded(ledger.claim("f1", "a1", MIN, false).unwrap());
        ledger.settle(unknown, &Settled::Unknown).unwrap();
        let again = held(ledger.claim("f1", "a1", 2 * MIN, false).unwrap());
        assert!(again
            .refusal(2 * MIN, "x")
            .contains("did not say whether it started"));
    }

    /// Two starts of one file at one moment, from two processes' worth of connections: one is
    /// written down, the other held back — never both.
    #[test]
    fn two_starts_at_once_are_never_both_written_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Ledger::at(&path).claim("warm", "a0", 0, false).unwrap();
        for round in 0..20u64 {
            let fingerprint = format!("f{round}");
            let claims: Vec<Claim> = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..2)
                    .map(|_| {
                        let (ledger, fingerprint) = (Ledger::at(&path), fingerprint.clone());
                        scope.spawn(move || ledger.claim(&fingerprint, "a1", MIN, false).unwrap())
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let written = claims
                .iter()
                .filter(|c| matches!(c, Claim::Recorded(_)))
                .count();
            assert_eq!(written, 1, "round {round}: {claims:?}");
        }
    }

    #[test]
    fn old_entries_are_dropped_when_a_new_one_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("state.db"));
        ledger.claim("f1", "a1", 0, false).unwrap();
        ledger.claim("f2", "a1", 30 * MIN, false).unwrap();
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
        let error = Ledger::at(&path).claim("f1", "a1", 0, false).unwrap_err();
        assert!(error.starts_with("The record of recent starts"), "{error}");
        assert!(error.ends_with("so nothing was sent"), "{error}");
    }
}
