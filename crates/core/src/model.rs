//! The Trillet batch-call API's response bodies, field for field as documented.
//!
//! Field names follow the wire (camelCase, except `recent_calls` and `phone_number`). Timestamps
//! are milliseconds since the Unix epoch; optional fields default when missing or null; unknown
//! fields are ignored and unknown `status` strings are kept as they came.

use std::fmt;

use compact_str::CompactString;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, as every Trillet timestamp is.
pub type EpochMillis = u64;

/// A batch's `status`. Strings this build does not know are kept, shown as-is, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BatchStatus {
    Queued,
    Processing,
    Completed,
    Cancelled,
    Failed,
    Other(String),
}

impl BatchStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }

    pub fn from_wire(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "cancelled" | "canceled" => Self::Cancelled,
            "failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BatchStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BatchStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from_wire(&s))
    }
}

/// `GET /v1/api/batch-calls/{batchId}/status` — the body Batchwatch polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchProgress {
    pub status: BatchStatus,
    pub is_complete: bool,
    #[serde(default)]
    pub waiting: u64,
    #[serde(default)]
    pub active: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub total: u64,
    #[serde(default, deserialize_with = "lenient_millis")]
    pub start_time: Option<EpochMillis>,
    #[serde(default, deserialize_with = "lenient_millis")]
    pub last_completed_time: Option<EpochMillis>,
    #[serde(default, deserialize_with = "lenient_millis")]
    pub completed_time: Option<EpochMillis>,
    /// Seconds, averaged over ended calls.
    #[serde(default)]
    pub average_call_duration: Option<f64>,
    #[serde(
        rename = "recent_calls",
        default,
        deserialize_with = "calls_kept_tight"
    )]
    pub recent_calls: Vec<RecentCall>,
}

impl BatchProgress {
    /// Calls that have ended, whichever way (saturating: the counters are the server's word).
    pub fn ended_calls(&self) -> u64 {
        self.completed.saturating_add(self.failed)
    }

    /// The run has ended: complete, or in a status that never changes again. A finish is
    /// announced when a batch is first seen this way.
    pub fn has_ended(&self) -> bool {
        self.is_complete
            || matches!(
                self.status,
                BatchStatus::Completed | BatchStatus::Cancelled | BatchStatus::Failed
            )
    }

    /// Nothing about the batch will change again, so it is no longer polled. A cancelled
    /// batch has ended at once, but its calls in progress still run to their end: until
    /// they have, its counters still move.
    pub fn is_settled(&self) -> bool {
        self.has_ended() && !(self.status == BatchStatus::Cancelled && self.active > 0)
    }

    /// When an ended batch ended, as well as its answers tell: Trillet's completion time, else
    /// its last completed call, else `answered_at_ms` (when the ending answer came). `None`
    /// while it runs.
    pub fn ended_at(&self, answered_at_ms: Option<EpochMillis>) -> Option<EpochMillis> {
        if !self.has_ended() {
            return None;
        }
        self.completed_time
            .or(self.last_completed_time)
            .or(answered_at_ms)
    }
}

/// One entry of `recent_calls`: a completed call carries `completedAt` and `duration`, a failed
/// one `failedAt` and `error`. Its texts are short (an ID, a status, a number, a reason) and
/// kept in place, not each in an allocation of its own: ten of them are held for every
/// tracked batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
// Absent fields stay absent when written back (state file, `--json`), as on the wire.
pub struct RecentCall {
    #[serde(default)]
    pub job_id: CompactString,
    #[serde(default)]
    pub status: CompactString,
    #[serde(
        rename = "phone_number",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number: Option<CompactString>,
    #[serde(
        default,
        deserialize_with = "lenient_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_at: Option<EpochMillis>,
    #[serde(
        default,
        deserialize_with = "lenient_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub failed_at: Option<EpochMillis>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CompactString>,
}

impl RecentCall {
    /// When the call ended, whichever way it ended.
    pub fn ended_at(&self) -> Option<EpochMillis> {
        self.completed_at.or(self.failed_at)
    }
}

/// The counters inside [`BatchDetail::progress`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressCounters {
    #[serde(default)]
    pub waiting: u64,
    #[serde(default)]
    pub active: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub total: u64,
}

/// `GET /v1/api/batch-calls/{batchId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDetail {
    pub id: String,
    pub status: BatchStatus,
    #[serde(default)]
    pub is_complete: bool,
    #[serde(default)]
    pub total_calls: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub progress: ProgressCounters,
    /// When the service produced the answer; a number or a string, as given.
    #[serde(default)]
    pub timestamp: Option<serde_json::Value>,
}

/// The `status` filter of the per-call listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallFilter {
    #[default]
    All,
    Waiting,
    Active,
    Completed,
    Failed,
}

impl CallFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// Largest page the per-call listing serves.
pub const MAX_CALLS_PAGE_LIMIT: u32 = 100;

/// A request for one page of `GET /v1/api/batch-calls/{batchId}/calls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallsQuery {
    /// 1-based.
    pub page: u32,
    /// 1..=100; larger values are clamped.
    pub limit: u32,
    pub status: CallFilter,
}

impl Default for CallsQuery {
    fn default() -> Self {
        Self {
            page: 1,
            limit: MAX_CALLS_PAGE_LIMIT,
            status: CallFilter::All,
        }
    }
}

/// One call of the per-call listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    #[serde(default)]
    pub job_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(rename = "phone_number", default)]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_millis")]
    pub start_time: Option<EpochMillis>,
    #[serde(default, deserialize_with = "lenient_millis")]
    pub end_time: Option<EpochMillis>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default)]
    pub page: u64,
    #[serde(default)]
    pub limit: u64,
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub total_pages: u64,
    #[serde(default)]
    pub has_next: bool,
    #[serde(default)]
    pub has_prev: bool,
}

/// `GET /v1/api/batch-calls/{batchId}/calls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallsPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub calls: Vec<CallRecord>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelDetails {
    #[serde(default)]
    pub completed_calls: u64,
    #[serde(default)]
    pub failed_calls: u64,
    #[serde(default)]
    pub cancelled_calls: u64,
    #[serde(default)]
    pub total_calls: u64,
}

/// `DELETE /v1/api/batch-calls/{batchId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelOutcome {
    pub batch_id: String,
    pub status: BatchStatus,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: CancelDetails,
}

/// One call agent of `GET /v1/api/agents` (a bare array): what Batchwatch shows and sends
/// of it; the rest of its fields are read past.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `ready` for an agent that can call.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
}

impl Agent {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// `POST /v1/api/batch-calls`: the new batch's ID and what Trillet says of it. `answer` is
/// the whole body as received, for `batchwatch-cli start --json`.
#[derive(Debug, Clone, PartialEq)]
pub struct StartAnswer {
    pub batch_id: crate::BatchId,
    pub total_calls: Option<u64>,
    pub status: Option<String>,
    pub message: Option<String>,
    pub answer: serde_json::Map<String, serde_json::Value>,
}

impl<'de> Deserialize<'de> for StartAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let answer = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let text = |key: &str| answer.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let id = text("batchId").ok_or_else(|| D::Error::missing_field("batchId"))?;
        let batch_id = crate::BatchId::parse(&id)
            .map_err(|e| D::Error::custom(format!("batchId {id:?}: {e}")))?;
        Ok(Self {
            batch_id,
            total_calls: answer.get("totalCalls").and_then(serde_json::Value::as_u64),
            status: text("status"),
            message: text("message"),
            answer,
        })
    }
}

/// Timestamps are documented as numbers of milliseconds; accept integral floats too, and treat
/// null as absent. Anything else is a decoding error, not a silent zero.
fn lenient_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EpochMillis>, D::Error> {
    let value = Option::<serde_json::Number>::deserialize(d)?;
    Ok(match value {
        None => None,
        Some(n) => match (n.as_u64(), n.as_f64()) {
            (Some(ms), _) => Some(ms),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => Some(f.round() as u64),
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "timestamp {n} is not a time"
                )))
            }
        },
    })
}

/// The recent calls, `null` as none, in a list no larger than they are: a list read from JSON
/// grows by doubling (10 calls in room for 16), and the snapshot is kept for every tracked
/// batch until its next answer.
fn calls_kept_tight<'de, D>(d: D) -> Result<Vec<RecentCall>, D::Error>
where
    D: Deserializer<'de>,
{
    let mut calls: Vec<RecentCall> = null_as_default(d)?;
    calls.shrink_to_fit();
    Ok(calls)
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The example response of the reference page, verbatim.
    pub(crate) const REFERENCE_EXAMPLE: &str = r#"{
"status": "processing",
"isComplete": false,
"waiting": 45,
"active": 5,
"completed": 95,
"failed": 5,
"total": 150,
"startTime": 1703097600000,
"lastCompletedTime": 1703101200000,
"completedTime": null,
"averageCallDuration": 45.2,
"recent_calls": [
{
"jobId": "call_123",
"status": "completed",
"phone_number": "+1234567890",
"completedAt": 1703101200000,
"duration": 42
},
{
"jobId": "call_124",
"status": "failed",
"phone_number": "+1987654321",
"failedAt": 1703101150000,
"error": "Number busy"
}
]
}"#;

    #[test]
    fn reference_example_parses_to_exactly_its_values() {
        let p: BatchProgress = serde_json::from_str(REFERENCE_EXAMPLE).unwrap();
        assert_eq!(
            p,
            BatchProgress {
                status: BatchStatus::Processing,
                is_complete: false,
                waiting: 45,
                active: 5,
                completed: 95,
                failed: 5,
                total: 150,
                start_time: Some(1_703_097_600_000),
                last_completed_time: Some(1_703_101_200_000),
                completed_time: None,
                average_call_duration: Some(45.2),
                recent_calls: vec![
                    RecentCall {
                        job_id: "call_123".into(),
                        status: "completed".into(),
                        phone_number: Some("+1234567890".into()),
                        completed_at: Some(1_703_101_200_000),
                        failed_at: None,
                        duration: Some(42.0),
                        error: None,
                    },
                    RecentCall {
                        job_id: "call_124".into(),
                        status: "failed".into(),
                        phone_number: Some("+1987654321".into()),
                        completed_at: None,
                        failed_at: Some(1_703_101_150_000),
                        duration: None,
                        error: Some("Number busy".into()),
                    },
                ],
            }
        );
    }

    #[test]
    fn unknown_status_missing_and_null_fields_and_extras_are_tolerated() {
        let body = r#"{"status":"paused_by_carrier","isComplete":false,"waiting":1,"active":0,
            "completed":0,"failed":0,"total":1,"startTime":null,"averageCallDuration":null,
            "recent_calls":null,"somethingNew":{"x":1}}"#;
        let p: BatchProgress = serde_json::from_str(body).unwrap();
        assert_eq!(p.status, BatchStatus::Other("paused_by_carrier".into()));
        assert_eq!(p.status.to_string(), "paused_by_carrier");
        assert_eq!(p.start_time, None);
        assert_eq!(p.completed_time, None);
        assert_eq!(p.average_call_duration, None);
        assert!(p.recent_calls.is_empty());
    }

    #[test]
    fn a_timestamp_that_is_not_a_number_is_an_error_not_a_zero() {
        let body = r#"{"status":"processing","isComplete":false,"startTime":"yesterday"}"#;
        assert!(serde_json::from_str::<BatchProgress>(body).is_err());
        let body = r#"{"status":"processing","isComplete":false,"startTime":1703097600000.0}"#;
        let p: BatchProgress = serde_json::from_str(body).unwrap();
        assert_eq!(p.start_time, Some(1_703_097_600_000));
    }

    #[test]
    fn progress_round_trips_with_wire_names() {
        let p: BatchProgress = serde_json::from_str(REFERENCE_EXAMPLE).unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["isComplete"], false);
        assert_eq!(json["recent_calls"][0]["phone_number"], "+1234567890");
        assert_eq!(json["recent_calls"][1]["failedAt"], 1_703_101_150_000_u64);
        assert!(
            json["recent_calls"][1].get("completedAt").is_none(),
            "absent stays absent"
        );
        let back: BatchProgress = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }
}
