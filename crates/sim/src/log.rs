//! The request log: every request the simulator received, in arrival order, with the status it
//! was answered with, so tests can assert how a client behaved (how often, how fast, which key).

use std::time::Duration;

const BATCH_PATH: &str = "/v1/api/batch-calls/";

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Sim milliseconds since the simulator started, at arrival.
    pub sim_ms: u64,
    pub method: String,
    /// The URI path, without the query.
    pub path: String,
    /// The path segment after `/v1/api/batch-calls/`, as sent (not validated).
    pub batch_id: Option<String>,
    /// The `x-api-key` header, if the request had a non-empty one.
    pub api_key: Option<String>,
    /// The `x-workspace-id` header, if the request had a non-empty one.
    pub workspace_id: Option<String>,
    /// The answered status; 0 while the answer is pending or when the connection was dropped
    /// without one (`Fault::DropConnection`).
    pub status: u16,
}

/// Records in arrival order, each with a sequence number so a late answer finds its record.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    records: Vec<(u64, RequestRecord)>,
    next_seq: u64,
}

impl RequestLog {
    /// Adds a record (status still 0) and returns its sequence number.
    pub(crate) fn open(&mut self, record: RequestRecord) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.records.push((seq, record));
        seq
    }

    /// Sets the status of record `seq`, unless the log was cleared since.
    pub(crate) fn close(&mut self, seq: u64, status: u16) {
        if let Ok(at) = self.records.binary_search_by_key(&seq, |(s, _)| *s) {
            self.records[at].1.status = status;
        }
    }

    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().map(|(_, r)| r.clone()).collect()
    }

    pub(crate) fn count_for_batch(&self, batch_id: &str) -> usize {
        self.records
            .iter()
            .filter(|(_, r)| r.batch_id.as_deref() == Some(batch_id))
            .count()
    }

    /// The most requests carrying `key` that arrived within any span of sim time shorter
    /// than `window`.
    pub(crate) fn max_in_window(&self, key: &str, window: Duration) -> usize {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        if window_ms == 0 {
            return 0;
        }
        let times: Vec<u64> = self
            .records
            .iter()
            .filter(|(_, r)| r.api_key.as_deref() == Some(key))
            .map(|(_, r)| r.sim_ms)
            .collect();
        let mut best = 0;
        let mut first = 0;
        for (last, &t) in times.iter().enumerate() {
            while t.saturating_sub(times[first]) >= window_ms {
                first += 1;
            }
            best = best.max(last + 1 - first);
        }
        best
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
    }
}

/// The batch ID segment of an API path, if the path is under `/v1/api/batch-calls/`.
pub(crate) fn batch_id_in_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(BATCH_PATH)?;
    let segment = rest.split('/').next().unwrap_or_default();
    (!segment.is_empty()).then(|| segment.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sim_ms: u64, key: &str) -> RequestRecord {
        RequestRecord {
            sim_ms,
            method: "GET".into(),
            path: "/v1/api/batch-calls/b/status".into(),
            batch_id: Some("b".into()),
            api_key: Some(key.into()),
            workspace_id: Some("ws".into()),
            status: 0,
        }
    }

    #[test]
    fn max_in_window_slides_over_sim_time() {
        let mut log = RequestLog::default();
        for t in [0, 10, 59_999, 60_000, 60_001, 119_000] {
            log.open(record(t, "k"));
        }
        log.open(record(30, "other"));
        assert_eq!(log.max_in_window("k", Duration::from_secs(60)), 4);
        assert_eq!(log.max_in_window("k", Duration::from_secs(1)), 3);
        assert_eq!(log.max_in_window("k", Duration::from_millis(1)), 1);
        assert_eq!(log.max_in_window("nobody", Duration::from_secs(60)), 0);
        assert_eq!(log.count_for_batch("b"), 7);
    }

    #[test]
    fn close_finds_its_record_and_ignores_cleared_ones() {
        let mut log = RequestLog::default();
        let a = log.open(record(0, "k"));
        let b = log.open(record(1, "k"));
        log.close(b, 200);
        log.close(a, 429);
        let statuses: Vec<u16> = log.records().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [429, 200]);
        log.clear();
        log.close(b, 500);
        assert!(log.records().is_empty());
    }

    #[test]
    fn batch_ids_come_from_the_path() {
        assert_eq!(
            batch_id_in_path("/v1/api/batch-calls/batch_1/status").as_deref(),
            Some("batch_1")
        );
        assert_eq!(
            batch_id_in_path("/v1/api/batch-calls/batch_1").as_deref(),
            Some("batch_1")
        );
        assert_eq!(batch_id_in_path("/v1/api/batch-calls/"), None);
        assert_eq!(batch_id_in_path("/elsewhere/batch_1"), None);
    }
}
