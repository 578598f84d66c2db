//! A campaign: a batch and the retries Batchwatch started from it (each calling again the
//! numbers an earlier attempt did not reach), told as one line — how many numbers were reached
//! over how many attempts, and how many are still unreached.
//!
//! A retry holds only numbers its parent failed to reach, each once, so:
//! - reached = the completed calls of every attempt;
//! - unreached = every attempt's failed calls less those called again by a retry of it (its
//!   total) — for a plain chain, the last attempt's failed calls; with a retry of one reason's
//!   group only, the other groups stay unreached, as they are — and the calls an ended attempt
//!   never made (dropped by a cancel).
//!
//! These count calls, as Trillet's counters do: a number listed twice in a campaign's file is
//! two calls.

use std::collections::HashMap;

use serde::Serialize;

use crate::batch_id::BatchId;

/// One attempt as the campaign reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    pub id: &'a BatchId,
    /// The batch whose failed calls it calls again.
    pub retry_of: Option<&'a BatchId>,
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
    /// Over, with no call still in progress.
    pub ended: bool,
}

/// A batch with at least one retry, and what its attempts add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    /// The first attempt.
    pub root: BatchId,
    pub attempts: u64,
    /// The first attempt's calls: the numbers the campaign set out to reach.
    pub numbers: u64,
    pub reached: u64,
    pub unreached: u64,
    /// Some attempt has not ended yet.
    pub running: bool,
}

impl Campaign {
    /// "batch_x: 27 of 30 reached over 2 attempts, 3 still unreached" (", a retry is still
    /// running" while one is).
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}: {} of {} reached over {} attempts, {} still unreached",
            self.root,
            crate::launch::csv_check::thousands(self.reached),
            crate::launch::csv_check::thousands(self.numbers),
            self.attempts,
            crate::launch::csv_check::thousands(self.unreached),
        );
        if self.running {
            text.push_str(", an attempt is still running");
        }
        text
    }
}

/// The campaigns among `attempts` (those with a retry among them), in the order their first
/// attempts come. A retry whose parent is not among them starts a campaign of its own.
pub fn campaigns(attempts: &[Attempt<'_>]) -> Vec<Campaign> {
    // Built once: the window makes this with every view, over up to 2,000 batches.
    let index: HashMap<&BatchId, usize> = attempts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id, i))
        .collect();
    let mut retried: HashMap<&BatchId, u64> = HashMap::new();
    for attempt in attempts {
        if let Some(parent) = attempt.retry_of {
            *retried.entry(parent).or_default() += attempt.total;
        }
    }
    // Each attempt's first attempt, following the links up (a loop, which only a damaged
    // record could hold, stops where it closes).
    let root_of = |start: usize| {
        let mut at = start;
        for _ in 0..attempts.len() {
            match attempts[at].retry_of.and_then(|p| index.get(p).copied()) {
                Some(parent) if parent != start => at = parent,
                _ => break,
            }
        }
        at
    };
    let mut campaigns: Vec<Campaign> = Vec::new();
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    for (i, attempt) in attempts.iter().enumerate() {
        let root = root_of(i);
        let at = *by_root.entry(root).or_insert_with(|| {
            campaigns.push(Campaign {
                root: attempts[root].id.clone(),
                attempts: 0,
                numbers: attempts[root].total,
                reached: 0,
                unreached: 0,
                running: false,
            });
            campaigns.len() - 1
        });
        let entry = &mut campaigns[at];
        let retried = retried.get(attempt.id).copied().unwrap_or(0);
        entry.attempts += 1;
        entry.reached += attempt.completed;
        // An ended attempt's calls neither completed nor failed were never made (a cancel).
        let never_made = if attempt.ended {
            attempt
                .total
                .saturating_sub(attempt.completed + attempt.failed)
        } else {
            0
        };
        entry.unreached += attempt.failed.saturating_sub(retried) + never_made;
        entry.running |= !attempt.ended;
    }
    campaigns.retain(|c| c.attempts > 1);
    campaigns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BatchId {
        BatchId::parse(s).unwrap()
    }

    #[test]
    fn a_chain_adds_up_its_attempts() {
        let (a, b, c, lone) = (
            id("batch_a"),
            id("batch_b"),
            id("batch_c"),
            id("batch_lone"),
        );
        let attempts = [
            Attempt {
                id: &a,
                retry_of: None,
                total: 100,
                completed: 70,
                failed: 30,
                ended: true,
            },
            Attempt {
                id: &lone,
                retry_of: None,
                total: 10,
                completed: 10,
                failed: 0,
                ended: true,
            },
            Attempt {
                id: &b,
                retry_of: Some(&a),
                total: 30,
                completed: 20,
                failed: 10,
                ended: true,
            },
            Attempt {
                id: &c,
                retry_of: Some(&b),
                total: 10,
                completed: 4,
                failed: 6,
                ended: false,
            },
        ];
        let found = campaigns(&attempts);
        assert_eq!(
            found,
            [Campaign {
                root: a.clone(),
                attempts: 3,
                numbers: 100,
                reached: 94,
                unreached: 6,
                running: true,
            }]
        );
        assert_eq!(
            found[0].text(),
            "batch_a: 94 of 100 reached over 3 attempts, 6 still unreached, an attempt is still running"
        );
    }

    #[test]
    fn calls_a_cancel_dropped_are_unreached() {
        let (a, b) = (id("batch_a"), id("batch_b"));
        let attempts = [
            // Cancelled after 60 calls: 40 never made.
            Attempt {
                id: &a,
                retry_of: None,
                total: 100,
                completed: 50,
                failed: 10,
                ended: true,
            },
            Attempt {
                id: &b,
                retry_of: Some(&a),
                total: 10,
                completed: 10,
                failed: 0,
                ended: true,
            },
        ];
        assert_eq!(campaigns(&attempts)[0].unreached, 40);
    }

    #[test]
    fn a_retry_of_one_group_leaves_the_others_unreached() {
        let (a, busy) = (id("batch_a"), id("batch_busy"));
        let attempts = [
            Attempt {
                id: &a,
                retry_of: None,
                total: 1000,
                completed: 900,
                failed: 100,
                ended: true,
            },
            // Only the 60 "Number busy" calls were started again; 40 others stay unreached.
            Attempt {
                id: &busy,
                retry_of: Some(&a),
                total: 60,
                completed: 50,
                failed: 10,
                ended: true,
            },
        ];
        let found = campaigns(&attempts);
        assert_eq!((found[0].reached, found[0].unreached), (950, 50));
        assert_eq!(
            found[0].text(),
            "batch_a: 950 of 1,000 reached over 2 attempts, 50 still unreached"
        );
    }

    #[test]
    fn an_orphan_retry_is_no_campaign_and_a_damaged_loop_ends() {
        let (gone, r, x, y) = (
            id("batch_gone"),
            id("batch_r"),
            id("batch_x"),
            id("batch_y"),
        );
        let attempts = [
            Attempt {
                id: &r,
                retry_of: Some(&gone),
                total: 5,
                completed: 5,
                failed: 0,
                ended: true,
            },
            Attempt {
                id: &x,
                retry_of: Some(&y),
                total: 5,
                completed: 1,
                failed: 4,
                ended: true,
            },
            Attempt {
                id: &y,
                retry_of: Some(&x),
                total: 4,
                completed: 4,
                failed: 0,
                ended: true,
            },
        ];
        // Returns (a loop is followed at most once around), and a lone retry is no campaign.
        let found = campaigns(&attempts);
        assert!(found.iter().all(|c| c.root != r), "{found:?}");
    }
}
