//! The JSON bodies the API returns, as the simulator's own serde types (never the client's), and
//! their construction from the progress model at one sim instant. Field names follow the
//! reference page exactly, including its mix of camelCase and snake_case.

use serde::Serialize;

use crate::batch::{Batch, CallState, CallView, CancelReport};
use crate::clock::SimClock;

/// How many ended calls `recent_calls` lists.
const RECENT_CALLS: usize = 10;

/// `GET /v1/api/batch-calls/{id}/status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusBody {
    status: &'static str,
    is_complete: bool,
    waiting: usize,
    active: usize,
    completed: usize,
    failed: usize,
    total: usize,
    start_time: Option<i64>,
    last_completed_time: Option<i64>,
    completed_time: Option<i64>,
    average_call_duration: f64,
    #[serde(rename = "recent_calls")]
    recent_calls: Vec<RecentCall>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum RecentCall {
    Completed(CompletedCall),
    Failed(FailedCall),
}

#[derive(Debug, Serialize)]
struct CompletedCall {
    #[serde(rename = "jobId")]
    job_id: String,
    status: &'static str,
    phone_number: String,
    #[serde(rename = "completedAt")]
    completed_at: i64,
    duration: i64,
}

#[derive(Debug, Serialize)]
struct FailedCall {
    #[serde(rename = "jobId")]
    job_id: String,
    status: &'static str,
    phone_number: String,
    #[serde(rename = "failedAt")]
    failed_at: i64,
    error: String,
}

/// `GET /v1/api/batch-calls/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DetailBody {
    id: String,
    status: &'static str,
    is_complete: bool,
    total_calls: usize,
    progress: Counters,
    timestamp: i64,
}

#[derive(Debug, Serialize)]
struct Counters {
    waiting: usize,
    active: usize,
    completed: usize,
    failed: usize,
    total: usize,
}

/// `GET /v1/api/batch-calls/{id}/calls`.
#[derive(Debug, Serialize)]
pub(crate) struct CallsBody<'a> {
    calls: Vec<CallRow<'a>>,
    pagination: Pagination,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallRow<'a> {
    job_id: String,
    status: &'static str,
    #[serde(rename = "phone_number")]
    phone_number: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    duration: Option<i64>,
    error: Option<String>,
    metadata: CallMetadata<'a>,
}

/// The row of the CSV the batch was created from. Columns are the user's: for a scripted
/// batch a name before the number, as in many exports; for an uploaded one the file's own
/// columns in the file's order.
#[derive(Debug)]
enum CallMetadata<'a> {
    Generated {
        name: &'static str,
        phone_number: String,
        appointment_day: &'static str,
    },
    Uploaded(&'a [(String, String)]),
}

impl Serialize for CallMetadata<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Generated {
                name,
                phone_number,
                appointment_day,
            } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("name", name)?;
                map.serialize_entry("phone_number", phone_number)?;
                map.serialize_entry("appointment_day", appointment_day)?;
                map.end()
            }
            // In the file's order (a map type would sort or lose it).
            Self::Uploaded(row) => {
                let mut map = serializer.serialize_map(Some(row.len()))?;
                for (column, value) in row.iter() {
                    map.serialize_entry(column, value)?;
                }
                map.end()
            }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    page: usize,
    limit: usize,
    total: usize,
    total_pages: usize,
    has_next: bool,
    has_prev: bool,
}

/// `DELETE /v1/api/batch-calls/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CancelBody {
    batch_id: String,
    status: &'static str,
    message: &'static str,
    details: CancelDetails,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelDetails {
    completed_calls: usize,
    failed_calls: usize,
    cancelled_calls: usize,
    total_calls: usize,
}

/// Which calls `/calls` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallFilter {
    /// Every call, dropped (`cancelled`) ones included.
    All,
    Only(CallState),
}

impl CallFilter {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "all" => Self::All,
            "waiting" => Self::Only(CallState::Waiting),
            "active" => Self::Only(CallState::Active),
            "completed" => Self::Only(CallState::Completed),
            "failed" => Self::Only(CallState::Failed),
            _ => return None,
        })
    }

    fn keeps(self, state: CallState) -> bool {
        match self {
            Self::All => true,
            Self::Only(wanted) => state == wanted,
        }
    }
}

pub(crate) fn status_body(batch: &Batch, clock: &SimClock, now: i64) -> StatusBody {
    let snap = batch.snapshot(now);
    let wall = |t: Option<i64>| t.map(|t| clock.wall_ms(t));
    let recent_calls = batch
        .recent_calls(now, RECENT_CALLS)
        .into_iter()
        .filter_map(|call| recent_call(batch, clock, &call))
        .collect();
    StatusBody {
        status: snap.status.as_str(),
        is_complete: snap.is_complete(),
        waiting: snap.progress.waiting,
        active: snap.progress.active,
        completed: snap.progress.completed,
        failed: snap.progress.failed,
        total: snap.progress.total,
        start_time: wall(snap.start_time),
        last_completed_time: wall(snap.last_ended),
        completed_time: wall(snap.completed_time),
        average_call_duration: snap.average_call_secs,
        recent_calls,
    }
}

fn recent_call(batch: &Batch, clock: &SimClock, call: &CallView<'_>) -> Option<RecentCall> {
    let job_id = batch.job_id(call.index);
    let phone_number = batch.phone_number(call.index);
    let ended_at = clock.wall_ms(call.end?);
    Some(match call.state {
        CallState::Completed => RecentCall::Completed(CompletedCall {
            job_id,
            status: "completed",
            phone_number,
            completed_at: ended_at,
            duration: call.duration_secs.unwrap_or_default(),
        }),
        CallState::Failed => RecentCall::Failed(FailedCall {
            job_id,
            status: "failed",
            phone_number,
            failed_at: ended_at,
            error: call.error.unwrap_or_default().to_owned(),
        }),
        CallState::Waiting | CallState::Active | CallState::Cancelled => return None,
    })
}

pub(crate) fn detail_body(batch: &Batch, clock: &SimClock, now: i64) -> DetailBody {
    let snap = batch.snapshot(now);
    DetailBody {
        id: batch.id().to_owned(),
        status: snap.status.as_str(),
        is_complete: snap.is_complete(),
        total_calls: snap.progress.total,
        progress: Counters {
            waiting: snap.progress.waiting,
            active: snap.progress.active,
            completed: snap.progress.completed,
            failed: snap.progress.failed,
            total: snap.progress.total,
        },
        timestamp: clock.wall_ms(now),
    }
}

/// Page `page` (1-based) of `limit` calls passing `filter`, in index order.
pub(crate) fn calls_body<'a>(
    batch: &'a Batch,
    clock: &SimClock,
    now: i64,
    filter: CallFilter,
    page: usize,
    limit: usize,
) -> CallsBody<'a> {
    let skip = (page - 1).saturating_mul(limit);
    let mut total = 0;
    let mut calls = Vec::new();
    for index in batch.calls_where(now, |state| filter.keeps(state)) {
        if total >= skip && calls.len() < limit {
            calls.push(call_row(batch, clock, &batch.call(index, now)));
        }
        total += 1;
    }
    let total_pages = total.div_ceil(limit);
    CallsBody {
        calls,
        pagination: Pagination {
            page,
            limit,
            total,
            total_pages,
            has_next: page < total_pages,
            has_prev: page > 1,
        },
    }
}

fn call_row<'a>(batch: &'a Batch, clock: &SimClock, call: &CallView<'_>) -> CallRow<'a> {
    CallRow {
        job_id: batch.job_id(call.index),
        status: call.state.as_str(),
        phone_number: batch.phone_number(call.index),
        start_time: call.start.map(|t| clock.wall_ms(t)),
        end_time: call.end.map(|t| clock.wall_ms(t)),
        duration: call.duration_secs,
        error: call.error.map(str::to_owned),
        metadata: match batch.row(call.index) {
            Some(row) => CallMetadata::Uploaded(row),
            None => {
                let (name, phone_number, appointment_day) = batch.contact(call.index);
                CallMetadata::Generated {
                    name,
                    phone_number,
                    appointment_day,
                }
            }
        },
    }
}

pub(crate) fn cancel_body(batch: &Batch, report: &CancelReport) -> CancelBody {
    CancelBody {
        batch_id: batch.id().to_owned(),
        status: "cancelled",
        message: "Batch cancelled. Active calls will finish; waiting calls were dropped.",
        details: CancelDetails {
            completed_calls: report.completed,
            failed_calls: report.failed,
            cancelled_calls: report.cancelled,
            total_calls: report.total,
        },
    }
}
