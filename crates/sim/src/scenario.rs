//! Named scenarios: ready-made sets of batches for demo mode and tests. `demo` has one batch at
//! each interesting stage, under stable IDs; `empty` has none.

use std::time::Duration;

use crate::agents::Agent;
use crate::batch::Batch;
use crate::script::BatchScript;

/// The `demo` scenario:
/// - `batch_demo_closing`: 40 calls, its last call ends 50 s after it is added (at speed 1);
/// - `batch_demo_campaign`: 1,500 calls, about 20% done, running for about two more hours,
///   8% failures;
/// - `batch_demo_queued`: 200 calls, queued, starts 2 minutes after it is added;
/// - `batch_demo_done`: 120 calls, completed before it was added, with a few failures.
pub fn demo_scenario() -> Vec<BatchScript> {
    vec![
        ending_in(
            BatchScript::new(40)
                .id("batch_demo_closing")
                .concurrency(5)
                .call_duration(Duration::from_secs(30)),
            Duration::from_secs(50),
        ),
        BatchScript::new(1500)
            .id("batch_demo_campaign")
            .concurrency(10)
            .call_duration(Duration::from_secs(45))
            .failure_rate(0.08)
            .started_ago(Duration::from_secs(25 * 60)),
        BatchScript::new(200)
            .id("batch_demo_queued")
            .concurrency(8)
            .call_duration(Duration::from_secs(40))
            .start_delay(Duration::from_secs(120)),
        BatchScript::new(120)
            .id("batch_demo_done")
            .concurrency(6)
            .failure_rate(0.06)
            .finished(),
    ]
}

/// The demo workspace's call agents: two ready, one still a draft.
pub fn demo_agents() -> Vec<Agent> {
    vec![
        Agent::ready("agent_demo_sales", "Sales follow-up (EN)"),
        Agent::ready("agent_demo_reminder", "Appointment reminder"),
        Agent::ready("agent_demo_survey", "Customer survey").status("draft"),
    ]
}

/// What the calls of [`failing_batch`] fail with.
pub const FAILURE_REASONS: [&str; 3] = ["Number busy", "No answer", "Voicemail detected"];

/// A finished batch of 300 calls of which about 250 failed, for the three
/// [`FAILURE_REASONS`]: more than two pages of failed calls, the drill-down's case.
pub fn failing_batch(id: &str) -> BatchScript {
    BatchScript::new(300)
        .id(id)
        .failure_rate(250.0 / 300.0)
        .concurrency(60)
        .failure_reasons(FAILURE_REASONS)
        .finished()
}

/// The scripts and agents of scenario `name`, if there is one by that name.
pub(crate) fn by_name(name: &str) -> Option<(Vec<BatchScript>, Vec<Agent>)> {
    match name {
        "demo" => Some((demo_scenario(), demo_agents())),
        "empty" => Some((Vec::new(), Vec::new())),
        _ => None,
    }
}

/// `script`, started long enough ago that its last call ends `remaining` after it is added.
fn ending_in(script: BatchScript, remaining: Duration) -> BatchScript {
    let id = script.id.clone().unwrap_or_default();
    let probe = Batch::new(id, script.clone(), 0);
    let ends_at = probe
        .snapshot(i64::MAX / 4)
        .completed_time
        .unwrap_or_default();
    let ago = ends_at - i64::try_from(remaining.as_millis()).unwrap_or_default();
    script.started_ago(Duration::from_millis(
        u64::try_from(ago).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchStatus;

    const S: i64 = 1000;

    fn added_at_zero() -> Vec<Batch> {
        demo_scenario()
            .into_iter()
            .map(|s| Batch::new(s.id.clone().unwrap_or_default(), s, 0))
            .collect()
    }

    #[test]
    fn demo_batches_are_at_their_stages() {
        let batches = added_at_zero();
        let ids: Vec<&str> = batches.iter().map(Batch::id).collect();
        assert_eq!(
            ids,
            [
                "batch_demo_closing",
                "batch_demo_campaign",
                "batch_demo_queued",
                "batch_demo_done"
            ]
        );

        let closing = &batches[0];
        assert_eq!(closing.snapshot(0).status, BatchStatus::Processing);
        assert!(closing.snapshot(0).progress.completed > 20);
        assert_eq!(closing.snapshot(44 * S).status, BatchStatus::Processing);
        assert_eq!(closing.snapshot(50 * S).status, BatchStatus::Completed);

        let campaign = batches[1].snapshot(0);
        assert_eq!(campaign.status, BatchStatus::Processing);
        assert_eq!(campaign.progress.total, 1500);
        assert!(campaign.progress.failed > 0);
        assert!(campaign.progress.waiting > 1000, "{campaign:?}");
        assert_eq!(
            batches[1].snapshot(3600 * S).status,
            BatchStatus::Processing
        );

        let queued = &batches[2];
        assert_eq!(queued.snapshot(119 * S).status, BatchStatus::Queued);
        assert_eq!(queued.snapshot(120 * S).status, BatchStatus::Processing);

        let done = batches[3].snapshot(0);
        assert_eq!(done.status, BatchStatus::Completed);
        assert!((1..=15).contains(&done.progress.failed), "{done:?}");
    }

    #[test]
    fn scenarios_by_name() {
        assert_eq!(
            by_name("demo").map(|(s, a)| (s.len(), a.len())),
            Some((4, 3))
        );
        assert_eq!(
            by_name("empty").map(|(s, a)| (s.len(), a.len())),
            Some((0, 0))
        );
        assert!(by_name("nope").is_none());
    }
}
