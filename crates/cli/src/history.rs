//! `batchwatch-cli history [--json]`: the record of finished batches the tray app keeps —
//! also those no longer in its list — newest first, each with its final counts, success rate
//! and duration, as a line for people or a JSON object per line for scripts. Read from the
//! tray app's state database without writing to it (the tray app may be running).

use batchwatch_core::format;
use batchwatch_core::state_file::StateFile;

use crate::exit::Failure;
use crate::summary::{self, JsonLine};

pub fn run(json: bool) -> Result<(), Failure> {
    let Some(path) = StateFile::default_path() else {
        return Err(Failure::Usage(
            "no configuration folder is known (neither XDG_CONFIG_HOME nor HOME is set)".into(),
        ));
    };
    let record = StateFile::new(&path)
        .history()
        .map_err(Failure::Unreachable)?;
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
    for finished in &record {
        let when = finished.finished_at_ms;
        if json {
            let mut line: serde_json::Value =
                serde_json::from_str(&JsonLine::new(&finished.id, &finished.last, now).to_line())
                    .unwrap_or_default();
            line["finishedAt"] = when.map_or(serde_json::Value::Null, Into::into);
            println!("{line}");
        } else {
            let finished_at = when
                .map(|ms| format!("  finished {}", format::local_moment(ms, now)))
                .unwrap_or_default();
            println!(
                "{}{finished_at}",
                summary::human_line(&finished.id, &finished.last, now, width)
            );
        }
    }
    Ok(())
}
