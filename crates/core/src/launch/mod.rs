//! Starting a batch: what is sent ([`StartForm`]), the rules around it, and what Batchwatch
//! remembers of a batch it started ([`Launch`]).
//!
//! A start calls people and costs money, and Trillet documents no way to make it idempotent:
//! sent twice, it starts two campaigns. So a start is sent **at most once** — only a 429 (the
//! request was not taken) may be sent again. Any outcome after which Trillet may have started
//! the batch (no answer, a dropped connection, a 5xx, an answer that cannot be read) is
//! [`StartFailure::Unknown`] and said as it is, and [`crate::state_file::ledger`] records every start sent so the
//! same file with the same agent is not started again from Batchwatch within ten minutes
//! unless the person says so.
//!
//! - [`csv_check`] — the file's check, before anything is sent.
//! - The record of recent starts is the state database's ([`crate::state_file::ledger`]); what
//!   a start sends is the API's ([`crate::api::start`], re-exported here).

pub mod csv_check;

use serde::{Deserialize, Serialize};

pub use crate::api::start::{
    scheduled_at_text, CsvSource, Gap, SmartCallbacks, StartFailure, StartForm,
    MAX_CALLBACK_ATTEMPTS,
};
use crate::batch_id::BatchId;
use crate::format::TimeZone;
use crate::model::Agent;

/// The start time a person typed — `YYYY-MM-DD HH:MM` (or with a `T`) in `zone`, or ISO-8601
/// with an offset — as epoch ms; refused when it is not after `now_ms`.
pub fn parse_start_time(text: &str, zone: &TimeZone, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    let at = match text.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => text
            .replacen(' ', "T", 1)
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|local| local.to_zoned(zone.clone()).ok())
            .map(|zoned| zoned.timestamp())
            .ok_or_else(|| {
                format!("{text:?} is not a time: write it as YYYY-MM-DD HH:MM (your time) or ISO-8601 with an offset")
            })?,
    };
    let ms = u64::try_from(at.as_millisecond()).map_err(|_| format!("{text:?} is in the past"))?;
    check_start_time(ms, now_ms, zone).map_err(|why| format!("{text:?} {why}"))?;
    Ok(ms)
}

/// How far ahead a start may be scheduled: a year.
pub const MAX_SCHEDULE_AHEAD: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// Whether `at_ms` can be a batch's start: after `now_ms`, within [`MAX_SCHEDULE_AHEAD`]; the
/// end of a sentence about it when not.
pub fn check_start_time(at_ms: u64, now_ms: u64, zone: &TimeZone) -> Result<(), String> {
    if at_ms <= now_ms {
        return Err(format!(
            "is in the past (it is {} now); give a later time, or leave it out to start now",
            crate::format::moment_in(now_ms, now_ms, zone)
        ));
    }
    if at_ms - now_ms > MAX_SCHEDULE_AHEAD.as_millis() as u64 {
        return Err("is more than a year from now; give a nearer time".to_owned());
    }
    Ok(())
}

/// The agent `wanted` names: its ID, else its exact name (one agent only).
pub fn resolve_agent(agents: &[Agent], wanted: &str) -> Result<Agent, String> {
    let wanted = wanted.trim();
    if let Some(agent) = agents.iter().find(|a| a.id == wanted) {
        return Ok(agent.clone());
    }
    let named: Vec<&Agent> = agents.iter().filter(|a| a.name == wanted).collect();
    match named.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let known: Vec<String> = agents
                .iter()
                .map(|a| format!("{:?} ({})", a.name, a.id))
                .collect();
            Err(if known.is_empty() {
                format!("no agent {wanted:?}: this workspace has no call agents")
            } else {
                format!(
                    "no agent {wanted:?} in this workspace; its agents: {}",
                    known.join(", ")
                )
            })
        }
        many => Err(format!(
            "{} agents are named {wanted:?}; give one's ID: {}",
            many.len(),
            many.iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The agents as a list shows them: ready ones first, then by name.
pub fn ready_first(mut agents: Vec<Agent>) -> Vec<Agent> {
    agents.sort_by(|a, b| {
        (!a.is_ready(), a.name.to_lowercase(), &a.id).cmp(&(
            !b.is_ready(),
            b.name.to_lowercase(),
            &b.id,
        ))
    });
    agents
}

/// What Batchwatch knows of a batch it started that the status endpoint does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    pub agent_id: String,
    pub agent_name: String,
    pub file_name: String,
    /// When it was started from Batchwatch (epoch ms).
    pub started_at_ms: u64,
    /// When it is scheduled to start (epoch ms); `None`: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at_ms: Option<u64>,
    /// The batch whose failed calls it calls again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<BatchId>,
}

/// The question asked before a start: how many calls, by which agent, when — "Start 1,240
/// calls from contacts.csv with the agent "Sales" (agent_1) now?".
pub fn confirm_text(
    calls: u64,
    file_name: &str,
    agent: &Agent,
    scheduled_at_ms: Option<u64>,
    callbacks: Option<&SmartCallbacks>,
    zone: &TimeZone,
    now_ms: u64,
) -> String {
    let when = match scheduled_at_ms {
        Some(at) => format!("at {}", crate::format::moment_in(at, now_ms, zone)),
        None => "now".to_owned(),
    };
    let mut text = format!(
        "Start {} {} from {file_name} with the agent {:?} ({}) {when}",
        csv_check::thousands(calls),
        if calls == 1 { "call" } else { "calls" },
        agent.name,
        agent.id
    );
    if let Some(callbacks) = callbacks {
        text.push_str(&format!(", with {}", callbacks.describe()));
    }
    text.push('?');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, name: &str, status: &str) -> Agent {
        Agent {
            id: id.into(),
            name: name.into(),
            status: status.into(),
        }
    }

    #[test]
    fn start_times_in_the_persons_zone_or_with_an_offset() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        // 2026-12-05 12:00 UTC.
        let now = 1_796_472_000_000;
        let local = parse_start_time("2026-12-06 09:30", &zone, now).unwrap();
        assert_eq!(scheduled_at_text(local), "2026-12-06T08:30:00Z");
        assert_eq!(parse_start_time("2026-12-06T09:30", &zone, now), Ok(local));
        let offset = parse_start_time("2026-12-06T09:30:00+00:00", &zone, now).unwrap();
        assert_eq!(scheduled_at_text(offset), "2026-12-06T09:30:00Z");
        let past = parse_start_time("2026-12-05 12:59", &zone, now).unwrap_err();
        assert!(past.contains("in the past"), "{past}");
        // Past the calendar a clock can hold, or just far: refused, never "start now".
        for far in [
            "2028-01-01 09:00",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
        ] {
            assert!(parse_start_time(far, &zone, now).is_err(), "{far}");
        }
        assert!(parse_start_time("tomorrow", &zone, now)
            .unwrap_err()
            .contains("YYYY-MM-DD HH:MM"));
    }

    #[test]
    fn agents_by_id_or_exact_name() {
        let agents = vec![
            agent("a1", "Sales", "ready"),
            agent("a2", "Survey", "draft"),
            agent("a3", "Twin", "ready"),
            agent("a4", "Twin", "ready"),
        ];
        assert_eq!(resolve_agent(&agents, "a2").unwrap().name, "Survey");
        assert_eq!(resolve_agent(&agents, "Sales").unwrap().id, "a1");
        let twin = resolve_agent(&agents, "Twin").unwrap_err();
        assert!(twin.contains("a3, a4"), "{twin}");
        let none = resolve_agent(&agents, "sales").unwrap_err();
        assert!(none.contains("\"Sales\" (a1)"), "{none}");
        let ids: Vec<String> = ready_first(agents).into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["a1", "a3", "a4", "a2"]);
    }

    #[test]
    fn the_question_says_how_many_by_whom_and_when() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let now = 1_796_472_000_000;
        let sales = agent("a1", "Sales", "ready");
        assert_eq!(
            confirm_text(1240, "contacts.csv", &sales, None, None, &zone, now),
            "Start 1,240 calls from contacts.csv with the agent \"Sales\" (a1) now?"
        );
        let callbacks = SmartCallbacks::new(2, vec![]).unwrap();
        assert_eq!(
            confirm_text(1, "c.csv", &sales, Some(now + 3_600_000), Some(&callbacks), &zone, now),
            "Start 1 call from c.csv with the agent \"Sales\" (a1) at 14:00 CET, with 2 callbacks, 4 h apart?"
        );
    }
}
