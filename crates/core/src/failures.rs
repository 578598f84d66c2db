//! A batch's failed calls, explained: pages of `GET …/calls?status=failed` gathered as they
//! are loaded, grouped by reason ("Number busy × 12"), each call with its number, time and
//! duration — and the numbers of a group, ready to copy for a retry campaign.
//!
//! Paging is bounded whatever the server says: it ends at `totalPages`, stops early at a page
//! that repeats the previous one (or brings nothing while claiming more), and never goes past
//! [`MAX_PAGES`] — and the view says when it stopped early.

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
    /// What "Copy numbers" copies: the group's phone numbers, one a line, each once.
    pub numbers: String,
}

impl FailureGroup {
    fn new(reason: &str, calls: Vec<FailedCall>) -> Self {
        let mut seen = std::collections::BTreeSet::new();
        let numbers = calls
            .iter()
            .map(|c| c.phone_number.as_str())
            .filter(|n| !n.is_empty() && seen.insert(*n))
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            reason: reason.to_owned(),
            count: calls.len(),
            calls,
            numbers,
        }
    }
}

/// What the API says when a failed call has no error text.
pub const NO_REASON: &str = "No reason given";

/// The reason a failed call is grouped under: its error text, trimmed, or [`NO_REASON`].
pub fn reason_of(call: &CallRecord) -> &str {
    call.error
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .unwrap_or(NO_REASON)
}

/// The most pages one drill-down asks for: 20,000 failed calls at 100 a page.
pub const MAX_PAGES: u32 = 200;

/// Why paging ended before the server said it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppedEarly {
    /// The page was the previous one again, or empty while claiming more: asking on would loop.
    Repeated { page: u32 },
    /// [`MAX_PAGES`] were loaded and the server still claims more.
    PageLimit,
}

impl StoppedEarly {
    pub fn sentence(self) -> String {
        match self {
            Self::Repeated { page } => format!(
                "stopped early: Trillet's page {page} brought no call not seen before, although it said more were coming"
            ),
            Self::PageLimit => {
                format!("stopped early: Batchwatch loads at most {MAX_PAGES} pages")
            }
        }
    }
}

/// Failed calls loaded so far, and where the next page starts. A new one starts at page 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCalls {
    calls: Vec<CallRecord>,
    /// Job IDs already listed: while a batch runs, new failures shift the pages, and a call
    /// seen on one page may come again on the next.
    seen: std::collections::HashSet<String>,
    /// The total the API reported with the last page.
    pub total: u64,
    /// The page to ask for next, or `None` when all are loaded (or paging stopped early).
    pub next_page: Option<u32>,
    /// Pages added so far.
    pages: u32,
    /// Set when paging ended before the server said it was done.
    pub stopped_early: Option<StoppedEarly>,
}

impl FailedCalls {
    pub fn new() -> Self {
        Self {
            calls: Vec::new(),
            seen: std::collections::HashSet::new(),
            total: 0,
            next_page: Some(1),
            pages: 0,
            stopped_early: None,
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

    /// Adds a page as it arrives (the answer to [`Self::next_query`]) and decides whether
    /// another is asked for.
    pub fn add_page(&mut self, page: CallsPage) {
        let asked = self.next_page.unwrap_or(1);
        self.pages = self.pages.saturating_add(1);
        self.total = page.pagination.total;
        let before = self.calls.len();
        for call in page.calls {
            if call.job_id.is_empty() || self.seen.insert(call.job_id.clone()) {
                self.calls.push(call);
            }
        }
        let claims_more = page.pagination.has_next
            && (page.pagination.total_pages == 0 || u64::from(asked) < page.pagination.total_pages);
        self.next_page = None;
        if claims_more {
            // A page with no call not seen before (a repeat, a reshuffle, an empty page):
            // asking on could go round for ever.
            if self.calls.len() == before {
                self.stopped_early = Some(StoppedEarly::Repeated { page: asked });
            } else if self.pages >= MAX_PAGES || asked == u32::MAX {
                self.stopped_early = Some(StoppedEarly::PageLimit);
            } else {
                self.next_page = Some(asked + 1);
            }
        }
    }

    /// The failed calls loaded so far, each once, in the order they came.
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }

    pub fn loaded(&self) -> usize {
        self.calls.len()
    }

    /// The loaded calls grouped by reason, largest group first (then by reason).
    pub fn groups(&self) -> Vec<FailureGroup> {
        let mut by_reason: Vec<(&str, Vec<FailedCall>)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for call in &self.calls {
            let reason = reason_of(call);
            let row = FailedCall {
                job_id: call.job_id.clone(),
                phone_number: call.phone_number.clone().unwrap_or_default(),
                ended_at_ms: call.end_time,
                duration_text: call.duration.and_then(format::seconds),
            };
            match index.get(reason) {
                Some(&i) => by_reason[i].1.push(row),
                None => {
                    index.insert(reason, by_reason.len());
                    by_reason.push((reason, vec![row]));
                }
            }
        }
        let mut groups: Vec<FailureGroup> = by_reason
            .into_iter()
            .map(|(reason, calls)| FailureGroup::new(reason, calls))
            .collect();
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
            summary: match (self.next_page, self.stopped_early) {
                (_, Some(stop)) => format!(
                    "{loaded} of {} failed calls loaded; {}",
                    self.total,
                    stop.sentence()
                ),
                (Some(_), None) => format!("{loaded} of {} failed calls loaded", self.total),
                (None, None) => format!("All {loaded} failed calls"),
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
            groups[0].numbers, "+15550002\n+15550003",
            "each number once"
        );
        assert_eq!(groups[0].calls[0].duration_text.as_deref(), Some("42 s"));
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

    fn numbered(from: usize, n: usize) -> Vec<CallRecord> {
        (from..from + n)
            .map(|i| call(&format!("c{i}"), &format!("+1555{i:07}"), Some("No answer")))
            .collect()
    }

    #[test]
    fn paging_ends_at_total_pages_whatever_has_next_says() {
        let mut failed = FailedCalls::new();
        failed.add_page(page(1, true, numbered(0, 3)));
        assert_eq!(failed.next_page, Some(2));
        // totalPages is 2: a second page claiming more is still the last.
        failed.add_page(page(2, true, numbered(3, 2)));
        assert_eq!(failed.next_page, None);
        assert_eq!(failed.stopped_early, None);
        assert_eq!(failed.view("b").summary, "All 5 failed calls");
    }

    fn endless(p: u64, calls: Vec<CallRecord>) -> CallsPage {
        let mut page = page(p, true, calls);
        page.pagination.total_pages = 0;
        page.pagination.total = 1_000_000;
        page
    }

    #[test]
    fn a_repeated_or_empty_page_that_claims_more_stops_paging() {
        let mut failed = FailedCalls::new();
        failed.add_page(endless(1, numbered(0, 2)));
        failed.add_page(endless(2, numbered(0, 2)));
        assert_eq!(failed.next_page, None);
        assert_eq!(
            failed.stopped_early,
            Some(StoppedEarly::Repeated { page: 2 })
        );
        let view = failed.view("b");
        assert!(!view.has_more);
        assert_eq!(
            view.summary,
            "2 of 1000000 failed calls loaded; stopped early: Trillet's page 2 brought no call not seen before, although it said more were coming"
        );

        let mut failed = FailedCalls::new();
        failed.add_page(endless(1, vec![]));
        assert_eq!(failed.next_query(), None);
        assert!(failed.stopped_early.is_some());

        // Two pages served in turn, reshuffled: the third asked brings nothing new.
        let mut failed = FailedCalls::new();
        failed.add_page(endless(1, numbered(0, 2)));
        failed.add_page(endless(2, numbered(2, 2)));
        let mut again = numbered(0, 2);
        again.reverse();
        failed.add_page(endless(3, again));
        assert_eq!(
            failed.stopped_early,
            Some(StoppedEarly::Repeated { page: 3 })
        );
    }

    #[test]
    fn paging_never_passes_the_page_limit() {
        let mut failed = FailedCalls::new();
        let mut asked = 0;
        while let Some(q) = failed.next_query() {
            asked += 1;
            assert!(asked <= MAX_PAGES, "asked for page {}", q.page);
            let from = (q.page as usize - 1) * 2;
            failed.add_page(endless(u64::from(q.page), numbered(from, 2)));
        }
        assert_eq!(asked, MAX_PAGES);
        assert_eq!(failed.stopped_early, Some(StoppedEarly::PageLimit));
        assert_eq!(failed.loaded(), 2 * MAX_PAGES as usize);
    }
}
