//! The events of a batch's life that are worth telling — one list, used by notifications, hooks
//! and the log — and the one JSON object a hook is handed for each (on its stdin, or as a
//! webhook's body).
//!
//! What decides an event is elsewhere ([`crate::change`], grid-tested); here is only what an
//! event is called and what it carries.

use serde::Serialize;

use crate::batch_id::BatchId;
use crate::launch::Launch;
use crate::model::BatchProgress;

/// The kinds of event, by the names a hooks file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The batch left the queue and began calling.
    Started,
    /// The batch completed, failed or was cancelled (the payload's `status` says which).
    Finished,
    /// A running batch's failure rate reached the user's threshold.
    FailureRate,
    /// A running batch made no progress for the user's stall minutes.
    Stalled,
    /// Trillet refused the key; polling stopped.
    CredentialsRejected,
}

impl EventKind {
    pub const ALL: [Self; 5] = [
        Self::Started,
        Self::Finished,
        Self::FailureRate,
        Self::Stalled,
        Self::CredentialsRejected,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Finished => "finished",
            Self::FailureRate => "failure_rate",
            Self::Stalled => "stalled",
            Self::CredentialsRejected => "credentials_rejected",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One event as a hook receives it. Never holds a credential: the workspace ID names the
/// workspace, the key is nowhere here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event: EventKind,
    /// `None` only for `credentials_rejected`, which is about the key, not a batch.
    pub batch_id: Option<BatchId>,
    pub status: Option<String>,
    pub is_complete: Option<bool>,
    pub completed: Option<u64>,
    pub failed: Option<u64>,
    pub active: Option<u64>,
    pub waiting: Option<u64>,
    pub total: Option<u64>,
    /// When Batchwatch saw it, ISO-8601 in UTC.
    pub at: String,
    /// The sentence a notification says, so a chat webhook can post it as-is.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The agent that makes the calls, when Batchwatch started the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
}

impl Event {
    /// An event of a batch, as of the answer `progress`.
    pub fn of_batch(
        kind: EventKind,
        id: &BatchId,
        progress: &BatchProgress,
        text: String,
        at_ms: u64,
        workspace: Option<&str>,
        launch: Option<&Launch>,
    ) -> Self {
        Self {
            event: kind,
            batch_id: Some(id.clone()),
            status: Some(progress.status.as_str().to_owned()),
            is_complete: Some(progress.is_complete),
            completed: Some(progress.completed),
            failed: Some(progress.failed),
            active: Some(progress.active),
            waiting: Some(progress.waiting),
            total: Some(progress.total),
            at: iso(at_ms),
            text,
            workspace: workspace.map(str::to_owned),
            agent: launch.map(|l| Agent {
                id: l.agent_id.clone(),
                name: l.agent_name.clone(),
            }),
        }
    }

    /// Trillet refused the key of `workspace`.
    pub fn credentials_rejected(text: String, at_ms: u64, workspace: Option<&str>) -> Self {
        Self {
            event: EventKind::CredentialsRejected,
            batch_id: None,
            status: None,
            is_complete: None,
            completed: None,
            failed: None,
            active: None,
            waiting: None,
            total: None,
            at: iso(at_ms),
            text,
            workspace: workspace.map(str::to_owned),
            agent: None,
        }
    }
}

/// A notification's title and body as one sentence for a hook: "Batch b completed — 145
/// completed, 5 failed in 1 h 2 min".
pub fn sentence(title: &str, body: &str) -> String {
    if body.is_empty() {
        title.to_owned()
    } else {
        format!("{title} — {body}")
    }
}

fn iso(at_ms: u64) -> String {
    i64::try_from(at_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BatchStatus;

    #[test]
    fn names_round_trip_and_are_what_a_hooks_file_says() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.name())
            );
        }
        assert_eq!(EventKind::from_name("finish"), None);
    }

    #[test]
    fn a_batch_event_carries_the_essentials_and_no_key() {
        let progress = BatchProgress {
            status: BatchStatus::Completed,
            is_complete: true,
            waiting: 0,
            active: 0,
            completed: 145,
            failed: 5,
            total: 150,
            start_time: None,
            last_completed_time: None,
            completed_time: None,
            average_call_duration: None,
            recent_calls: vec![],
        };
        let launch = Launch {
            agent_id: "agent_1".into(),
            agent_name: "Sales".into(),
            file_name: "contacts.csv".into(),
            started_at_ms: 0,
            scheduled_at_ms: None,
            retry_of: None,
        };
        let event = Event::of_batch(
            EventKind::Finished,
            &BatchId::parse("batch_1").unwrap(),
            &progress,
            sentence("Batch batch_1 completed", "145 completed, 5 failed"),
            1_703_097_600_000,
            Some("ws_1"),
            Some(&launch),
        );
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({
                "event": "finished", "batchId": "batch_1", "status": "completed",
                "isComplete": true, "completed": 145, "failed": 5, "active": 0, "waiting": 0,
                "total": 150, "at": "2023-12-20T18:40:00Z",
                "text": "Batch batch_1 completed — 145 completed, 5 failed",
                "workspace": "ws_1", "agent": {"id": "agent_1", "name": "Sales"}
            })
        );
    }
}
