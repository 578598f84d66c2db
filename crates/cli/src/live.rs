//! What `watch` shows while it runs: one indicatif progress bar per batch on a terminal, or a
//! plain line per change when output goes to a file or a pipe (where redrawn bars would be
//! noise). Either way it is a [`View`] of the polling loop's events.

use std::collections::HashMap;
use std::io::IsTerminal;

use batchwatch_core::{BatchId, BatchProgress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::summary;
use crate::watch::{Event, View};

pub enum Live {
    Bars(Bars),
    Plain(Plain),
}

impl Live {
    /// Bars only when both streams are a terminal: a redirected stdout means a log is wanted.
    pub fn for_terminal(ids: &[BatchId]) -> Self {
        if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            Self::Bars(Bars::new(ids))
        } else {
            Self::Plain(Plain::new(ids))
        }
    }
}

impl View for Live {
    fn show(&mut self, event: Event<'_>) {
        match self {
            Self::Bars(bars) => bars.show(event),
            Self::Plain(plain) => plain.show(event),
        }
    }
}

fn id_width(ids: &[BatchId]) -> usize {
    ids.iter().map(|id| id.as_str().len()).max().unwrap_or(0)
}

pub struct Bars {
    // Kept so the bars stay drawn together until the watch ends.
    _multi: MultiProgress,
    bars: HashMap<BatchId, ProgressBar>,
    /// What each line spends before its message: the ID column, the bar, the gaps.
    fixed_width: usize,
}

/// The bar's own width in the template below.
const BAR_WIDTH: usize = 24;

impl Bars {
    fn new(ids: &[BatchId]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix}  {bar:24.cyan/blue}  {msg}")
            .expect("the template is valid")
            .progress_chars("█▉▊▋▌▍▎▏ ");
        let width = id_width(ids);
        let fixed_width = width + 2 + BAR_WIDTH + 2;
        let bars = ids
            .iter()
            .map(|id| {
                // Length 1 until the first answer: indicatif draws a length of 0 as full.
                let bar = multi.add(ProgressBar::new(1).with_style(style.clone()));
                bar.set_prefix(format!("{:<width$}", id.as_str()));
                bar.set_message("asking Trillet…");
                (id.clone(), bar)
            })
            .collect();
        Self {
            _multi: multi,
            bars,
            fixed_width,
        }
    }

    /// Room for a message on the terminal as it is now (it may have been resized), so a line
    /// never wraps: a wrapped line breaks the redraw of every bar below it.
    fn message_width(&self) -> usize {
        let columns = console::Term::stderr()
            .size_checked()
            .map_or(120, |(_, cols)| usize::from(cols));
        // One column spare: some terminals wrap a line that fills the last one.
        columns.saturating_sub(self.fixed_width + 1)
    }

    /// `text` cut to the room there is (what matters most is said first).
    fn fit(&self, text: String) -> String {
        let room = self.message_width();
        if text.chars().count() <= room {
            text
        } else {
            text.chars()
                .take(room.saturating_sub(1))
                .chain(['…'])
                .collect()
        }
    }

    fn show(&mut self, event: Event<'_>) {
        match event {
            Event::Progress {
                id,
                progress,
                now_ms,
            } => {
                let Some(bar) = self.bars.get(id) else { return };
                let f = batchwatch_core::figures(progress, now_ms);
                bar.set_length(f.size.max(1));
                bar.set_position(f.finished);
                let text = summary::state_text_within(progress, &f, self.message_width());
                if progress.has_ended() {
                    bar.finish_with_message(text);
                } else {
                    bar.set_message(text);
                }
            }
            Event::Retrying { id, error, wait } => {
                if let Some(bar) = self.bars.get(id) {
                    let text = format!("retrying in {} — {error}", summary::wait_text(wait));
                    bar.set_message(self.fit(text));
                }
            }
            Event::NotFound { id, error } => {
                if let Some(bar) = self.bars.get(id) {
                    let text = format!("no longer polled — {error}");
                    bar.abandon_with_message(self.fit(text));
                }
            }
        }
    }
}

pub struct Plain {
    width: usize,
    /// What each batch last looked like, so only changes are printed.
    last: HashMap<BatchId, String>,
}

impl Plain {
    fn new(ids: &[BatchId]) -> Self {
        Self {
            width: id_width(ids),
            last: HashMap::new(),
        }
    }

    fn show(&mut self, event: Event<'_>) {
        if let Some(line) = self.line_for(event) {
            println!("{line}");
        }
    }

    /// The line to print for `event`, or `None` when nothing a person cares about changed.
    fn line_for(&mut self, event: Event<'_>) -> Option<String> {
        let width = self.width;
        match event {
            Event::Progress {
                id,
                progress,
                now_ms,
            } => {
                // The ETA moves on every poll; only status and counters make a new line.
                let key = change_key(progress);
                if self.last.get(id) == Some(&key) {
                    return None;
                }
                self.last.insert(id.clone(), key);
                let f = batchwatch_core::figures(progress, now_ms);
                Some(summary::human_line(id, progress, &f, width))
            }
            Event::Retrying { id, error, wait } => {
                // Forgotten so the first answer after the trouble is printed again.
                self.last.remove(id);
                Some(format!(
                    "{:<width$}  {error} — retrying in {}",
                    id.as_str(),
                    summary::wait_text(wait)
                ))
            }
            Event::NotFound { id, error } => Some(format!(
                "{:<width$}  {error} — no longer polled",
                id.as_str()
            )),
        }
    }
}

fn change_key(p: &BatchProgress) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        p.status, p.is_complete, p.waiting, p.active, p.completed, p.failed, p.total
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use batchwatch_core::ApiError;

    fn progress(completed: u64, start_time: u64) -> BatchProgress {
        serde_json::from_value(serde_json::json!({
            "status": "processing", "isComplete": false, "completed": completed,
            "waiting": 10 - completed, "total": 10, "startTime": start_time,
        }))
        .unwrap()
    }

    #[test]
    fn plain_lines_appear_only_when_something_changed() {
        let a = BatchId::parse("a").unwrap();
        let long = BatchId::parse("longer_id").unwrap();
        let mut plain = Plain::new(&[a.clone(), long]);
        let p1 = progress(1, 1);
        let shown = |plain: &mut Plain, p: &BatchProgress| {
            plain.line_for(Event::Progress {
                id: &a,
                progress: p,
                now_ms: 1_000_000,
            })
        };

        let first = shown(&mut plain, &p1).expect("the first snapshot is shown");
        assert!(
            first.starts_with("a          processing   10%"),
            "{first:?}"
        );
        // Same counters, different start (hence timing): nothing new to say.
        assert_eq!(shown(&mut plain, &progress(1, 2)), None);
        assert!(shown(&mut plain, &progress(2, 1)).is_some());

        let error = ApiError::Server {
            status: 500,
            message: "Failed to get batch progress".into(),
        }
        .to_string();
        let retry = plain
            .line_for(Event::Retrying {
                id: &a,
                error: &error,
                wait: Duration::from_millis(400),
            })
            .unwrap();
        assert!(
            retry.contains("server error (500)") && retry.ends_with("retrying in 0.4 s"),
            "{retry}"
        );
        assert!(
            shown(&mut plain, &progress(2, 1)).is_some(),
            "recovery is shown"
        );
    }
}
