//! `batchwatch-cli history [--json]`: the record of finished batches the tray app keeps —
//! also those no longer in its list — newest first, each with its final counts, success rate
//! and duration, as a line for people or a JSON object per line for scripts. Read from the
//! tray app's state database without writing to it (the tray app may be running).
//! `--delete ID…` and `--clear` delete records (only records: the tray app's list is its own).

use batchwatch_core::format;
use batchwatch_core::state_file::StateFile;

use crate::args::HistoryArgs;
use crate::exit::Failure;
use crate::summary::{self, JsonLine};

pub fn run(args: &HistoryArgs) -> Result<(), Failure> {
    let Some(path) = StateFile::default_path() else {
        return Err(Failure::Usage(
            "no configuration folder is known (neither XDG_CONFIG_HOME nor HOME is an absolute path)".into(),
        ));
    };
    let file = StateFile::new(&path);
    if args.clear {
        let deleted = file.forget_history(None).map_err(Failure::Unreachable)?;
        println!(
            "Deleted {} from the record.",
            format::count(deleted.len() as u64, "finished batch", "finished batches")
        );
        return Ok(());
    }
    if !args.delete.is_empty() {
        return delete(&file, &args.delete);
    }
    list(&file, args.json)
}

/// Deletes the records of `asked` (IDs or links, as every command reads them); an ID with no
/// record is said on stderr (exit 4), after the others are deleted. A malformed ID deletes
/// nothing (exit 2).
fn delete(file: &StateFile, asked: &[String]) -> Result<(), Failure> {
    let ids = crate::args::batch_ids(asked)?;
    let deleted = file
        .forget_history(Some(&ids))
        .map_err(Failure::Unreachable)?;
    for id in &deleted {
        println!("Deleted {id} from the record.");
    }
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !deleted.contains(id))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::UnknownBatch(format!(
            "not in the record: {}",
            missing.join(", ")
        )))
    }
}

/// A record as `--json` prints it: `status --json`'s line, when it finished (epoch ms), and for
/// a batch Batchwatch started, the batch it retries and its campaign's first batch.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryLine<'a> {
    #[serde(flatten)]
    line: JsonLine<'a>,
    finished_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_of: Option<&'a batchwatch_core::BatchId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<&'a batchwatch_core::BatchId>,
    /// The workspace it ran in (none for a record from before workspaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace: Option<&'a str>,
}

/// The campaigns in the record (batches with retries), each attempt's first batch by ID.
fn campaigns(
    record: &[batchwatch_core::state_file::Finished],
) -> Vec<batchwatch_core::campaign::Campaign> {
    use batchwatch_core::campaign::{campaigns, Attempt};
    let attempts: Vec<Attempt<'_>> = record
        .iter()
        .map(|f| Attempt {
            id: &f.id,
            retry_of: f.launch.as_ref().and_then(|l| l.retry_of.as_ref()),
            total: f.last.total,
            completed: f.last.completed,
            failed: f.last.failed,
            ended: true,
        })
        .collect();
    campaigns(&attempts)
}

/// The first batch of the campaign `id` is an attempt of, if any.
fn campaign_of<'a>(
    id: &batchwatch_core::BatchId,
    record: &'a [batchwatch_core::state_file::Finished],
    campaigns: &'a [batchwatch_core::campaign::Campaign],
) -> Option<&'a batchwatch_core::BatchId> {
    let mut at = id;
    for _ in 0..record.len() {
        if let Some(c) = campaigns.iter().find(|c| &c.root == at) {
            return Some(&c.root);
        }
        at = record
            .iter()
            .find(|f| &f.id == at)?
            .launch
            .as_ref()?
            .retry_of
            .as_ref()?;
    }
    None
}

fn list(file: &StateFile, json: bool) -> Result<(), Failure> {
    let record = file.history().map_err(Failure::Unreachable)?;
    let now = batchwatch_core::monitor::wall_clock_ms();
    if record.is_empty() && !json {
        println!("No finished batches yet.");
        return Ok(());
    }
    let width = record
        .iter()
        .map(|f| f.id.as_str().len())
        .max()
        .unwrap_or(0);
    let campaigns = campaigns(&record);
    // A workspace column when the record spans several (one from before workspaces shows "-").
    let workspaces: std::collections::HashSet<Option<&str>> =
        record.iter().map(|f| f.workspace.as_deref()).collect();
    let workspace_width = (workspaces.len() > 1).then(|| {
        record
            .iter()
            .map(|f| f.workspace.as_deref().map_or(1, str::len))
            .max()
            .unwrap_or(1)
    });
    for finished in &record {
        let when = finished.finished_at_ms;
        let f = batchwatch_core::figures(&finished.last, now);
        if json {
            let line = HistoryLine {
                line: JsonLine::new(&finished.id, &finished.last, &f),
                finished_at: when,
                retry_of: finished.launch.as_ref().and_then(|l| l.retry_of.as_ref()),
                campaign: campaign_of(&finished.id, &record, &campaigns),
                workspace: finished.workspace.as_deref(),
            };
            println!(
                "{}",
                serde_json::to_string(&line).expect("a record always serializes")
            );
        } else {
            let finished_at = when
                .map(|ms| format!("  finished {}", format::local_moment(ms, now)))
                .unwrap_or_default();
            let success = format::success(&f)
                .map(|s| format!("  {s}"))
                .unwrap_or_default();
            let workspace = workspace_width
                .map(|w| format!("{:<w$}  ", finished.workspace.as_deref().unwrap_or("-")))
                .unwrap_or_default();
            println!(
                "{workspace}{}{success}{finished_at}",
                summary::human_line(&finished.id, &finished.last, &f, width)
            );
        }
    }
    if !json {
        for campaign in &campaigns {
            println!("Campaign {}", campaign.text());
        }
    }
    Ok(())
}
