//! A batch's failed calls, explained: pages of `GET …/calls?status=failed` gathered as they
//! are loaded, grouped by reason ("Number busy × 12"), each call with its number, time and
//! duration — and the numbers of a group, ready to copy for a retry campaign.

use serde::Serialize;

use crate::format;
use crate::model::{CallFilter, CallRecord, CallsPage, CallsQuery, MAX_CALLS_PAGE_LIMIT};

/// One failed call, as the drill-down lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedCall {
    pub job_id: String,
    pub phone_number: String,
    pub ended_at_ms: Option<u64>,
    pub duration_text: Option<String>,
}

/// The failed calls that share a reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureGroup {
    pub reason: String,
    pub count: usize,
    pub calls: Vec<FailedCall>,
    /// What "Copy numbers" copies: see [`FailureGroup::numbers`].
    pub numbers: String,
}

impl FailureGroup {
    /// The group's phone numbers, one a line, each once — for "Copy numbers".
    pub fn numbers(&self) -> String {
        let mut seen = std::collections::BTreeSet::new();
        self.calls
            .iter()
            .map(|c| c.phone_number.as_str())
            .filter(|n| !n.is_empty() && seen.insert(*n))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What the API says when a failed call has no error text.
pub const NO_REASON: &str = "No reason given";

/// Failed calls loaded so far, and where the next page starts. A new one starts at page 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCalls {
    calls: Vec<CallRecord>,
    /// Job IDs already listed: while a batch runs, new failures shift the pages, and a call
    /// seen on one page may come again on the next.
    seen: std::collections::HashSet<String>,
    /// The total the API reported with the last page.
    pub total: u64,
    /// The page to ask for next, or `None` when all are loaded.
    pub next_page: Option<u32>,
}

impl FailedCalls {
    pub fn new() -> Self {
        Self {
            calls: Vec::new(),
            seen: std::collections::HashSet::new(),
            total: 0,
            next_page: Some(1),
        }
    }

    /// The request for the next page (100 failed calls), or `None` when all are loaded.
    pub fn next_query(&self) -> Option<CallsQuery> {
        self.next_page.map(|page| CallsQuery {
            page,
            limit: MAX_CALLS_PAGE_LIMIT,
            status: CallFilter::Failed,
        })
    }

    /// Adds a page as it arrives.
    pub fn add_page(&mut self, page: CallsPage) {
        self.total = page.pagination.total;
        self.next_page = page
            .pagination
            .has_next
            .then(|| u32::try_from(page.pagination.page + 1).unwrap_or(u32::MAX));
        for call in page.calls {
            if call.job_id.is_empty() || self.seen.insert(call.job_id.clone()) {
                self.calls.push(call);
            }
        }
    }

    pub fn loaded(&self) -> usize {
        self.calls.len()
    }

    /// The loaded calls grouped by reason, largest group first (then by reason).
    pub fn groups(&self) -> Vec<FailureGroup> {
        let mut groups: Vec<FailureGroup> = Vec::new();
        for call in &self.calls {
            let reason = call
                .error
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .unwrap_or(NO_REASON);
            let row = FailedCall {
                job_id: call.job_id.clone(),
                phone_number: call.phone_number.clone().unwrap_or_default(),
                ended_at_ms: call.end_time,
                duration_text: call.duration.and_then(format::seconds),
            };
            match groups.iter_mut().find(|g| g.reason == reason) {
                Some(group) => {
                    group.count += 1;
                    group.calls.push(row);
                }
                None => groups.push(FailureGroup {
                    reason: reason.to_owned(),
                    count: 1,
                    calls: vec![row],
                    numbers: String::new(),
                }),
            }
        }
        for group in &mut groups {
            group.numbers = group.numbers();
        }
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        groups
    }

    /// What the drill-down shows for `batch_id`.
    pub fn view(&self, batch_id: &str) -> FailedCallsView {
        let loaded = self.loaded();
        FailedCallsView {
            batch_id: batch_id.to_owned(),
            groups: self.groups(),
            loaded,
            total: self.total,
            has_more: self.next_page.is_some(),
            remaining: self.total.saturating_sub(loaded as u64),
            summary: if self.next_page.is_some() {
                format!("{loaded} of {} failed calls loaded", self.total)
            } else {
                format!("All {loaded} failed calls")
            },
        }
    }
}

impl Default for FailedCalls {
    fn default() -> Self {
        Self::new()
    }
}

/// The drill-down of one batch's failed calls, as the window shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedCallsView {
    pub batch_id: String,
    pub groups: Vec<FailureGroup>,
    pub loaded: usize,
    /// As Trillet counted them with the last page.
    pub total: u64,
    pub has_more: bool,
    /// Failed calls not loaded yet, as far as Trillet's total says.
    pub remaining: u64,
    /// "200 of 250 failed calls loaded" / "All 250 failed calls"
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pagination;

    fn call(job: &str, phone: &str, error: Option<&str>) -> CallRecord {
        CallRecord {
            job_id: job.into(),
            status: "failed".into(),
            phone_number: Some(phone.into()),
            start_time: Some(1_000),
            end_time: Some(43_000),
            duration: Some(42.0),
            error: error.map(str::to_owned),
            metadata: None,
        }
    }

    fn page(page: u64, has_next: bool, calls: Vec<CallRecord>) -> CallsPage {
        CallsPage {
            calls,
            pagination: Pagination {
                page,
                limit: 100,
                total: 5,
                total_pages: 2,
                has_next,
                has_prev: page > 1,
            },
        }
    }

    #[test]
    fn pages_group_by_reason_largest_first() {
        let mut failed = FailedCalls::new();
        assert_eq!(failed.next_page, Some(1));
        assert_eq!(
            failed.next_query().map(|q| (q.page, q.limit, q.status)),
            Some((1, 100, CallFilter::Failed))
        );
        failed.add_page(page(
            1,
            true,
            vec![
                call("c1", "+15550001", Some("No answer")),
                call("c2", "+15550002", Some("Number busy")),
                call("c3", "+15550003", Some("Number busy ")),
            ],
        ));
        assert_eq!(failed.next_page, Some(2));
        assert_eq!(failed.view("batch_x").summary, "3 of 5 failed calls loaded");
        failed.add_page(page(
            2,
            false,
            vec![
                call("c4", "+15550002", Some("Number busy")),
                call("c5", "+15550005", None),
            ],
        ));
        assert_eq!(failed.next_page, None);
        assert_eq!(failed.loaded(), 5);

        let groups = failed.groups();
        let summary: Vec<(&str, usize)> = groups
            .iter()
            .map(|g| (g.reason.as_str(), g.count))
            .collect();
        assert_eq!(
            summary,
            vec![("Number busy", 3), ("No answer", 1), (NO_REASON, 1)]
        );
        assert_eq!(
            groups[0].numbers(),
            "+15550002\n+15550003",
            "each number once"
        );
        assert_eq!(groups[0].calls[0].duration_text.as_deref(), Some("42 s"));
        assert_eq!(groups[0].numbers, groups[0].numbers());
        assert_eq!(failed.next_query(), None);
        let view = failed.view("batch_x");
        assert_eq!(view.summary, "All 5 failed calls");
        assert!(!view.has_more);
    }

    #[test]
    fn a_call_seen_again_on_a_shifted_page_is_listed_once() {
        let mut failed = FailedCalls::new();
        failed.add_page(page(
            1,
            true,
            vec![
                call("c1", "+15550001", Some("No answer")),
                call("c2", "+15550002", Some("No answer")),
            ],
        ));
        // A new failure arrived meanwhile: c2 slid onto page 2.
        failed.add_page(page(
            2,
            false,
            vec![
                call("c2", "+15550002", Some("No answer")),
                call("c3", "+15550003", Some("No answer")),
            ],
        ));
        assert_eq!(failed.loaded(), 3);
        assert_eq!(failed.groups()[0].count, 3);
        let view = failed.view("batch_x");
        assert_eq!(view.remaining, 2, "the page said 5 in all");
        failed.total = 1;
        assert_eq!(failed.view("batch_x").remaining, 0, "never negative");
    }
}
