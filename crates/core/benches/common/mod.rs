//! What the benches share: a snapshot as Trillet sends it for a running batch.

use batchwatch_core::BatchProgress;

/// A full snapshot as Trillet sends it: ten recent calls, half of them failed with a reason;
/// `completed` of `total` done, 5 failed, 5 active, 45 waiting. Read from JSON text, as the
/// tray app reads an answer.
pub fn full_snapshot(i: usize, completed: u64, total: u64) -> BatchProgress {
    let calls: Vec<serde_json::Value> = (0..10)
        .map(|c| {
            if c % 2 == 0 {
                serde_json::json!({"jobId": format!("call_{i}_{c}"), "status": "completed", "phone_number": format!("+1555{:07}", i * 10 + c), "completedAt": 1703101200000u64 + c as u64, "duration": 42})
            } else {
                serde_json::json!({"jobId": format!("call_{i}_{c}"), "status": "failed", "phone_number": format!("+1555{:07}", i * 10 + c), "failedAt": 1703101150000u64 + c as u64, "error": "Number busy"})
            }
        })
        .collect();
    serde_json::from_str(&serde_json::json!({
        "status": "processing", "isComplete": false, "waiting": 45, "active": 5, "completed": completed,
        "failed": 5, "total": total, "startTime": 1703097600000u64, "lastCompletedTime": 1703101200000u64,
        "completedTime": null, "averageCallDuration": 45.2, "recent_calls": calls
    }).to_string())
    .unwrap()
}
