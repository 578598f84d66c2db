//! What survives a restart: the state file, saved after a short debounce (at once for a
//! finish), and the banner when a save fails, cleared by the next one that works.

use tokio::time::Instant;

use crate::state_file::{SavedState, SCHEMA_VERSION};

use super::*;

impl<S: TrilletApi> Task<S> {
    pub(super) fn schedule_save(&mut self, now: Instant) {
        if self.state_file.is_some() && self.save_at.is_none() {
            self.save_at = Some(now + self.save_debounce);
        }
    }

    /// Writes the state file; returns whether the visible state-file problem changed.
    pub(super) fn save_now(&mut self) -> bool {
        self.save_at = None;
        let Some(file) = &self.state_file else {
            return false;
        };
        let state = SavedState {
            schema: SCHEMA_VERSION,
            batches: self.batches.iter().map(Tracked::saved).collect(),
            settings: self.settings,
            held: self.held.clone(),
        };
        match file.save(&state) {
            // A save that works again clears the banner of the one that did not.
            Ok(()) => self.save_problem.take().is_some(),
            Err(e) => {
                let message = format!(
                    "Batchwatch could not save its list of batches to {}: {e}. Finished batches may be announced again after a restart.",
                    file.path().display()
                );
                // Shown in the window until it is fixed; announced once, not once per save.
                if self.save_problem.as_deref() == Some(message.as_str()) {
                    return false;
                }
                log::error!("{message}");
                self.save_problem = Some(message);
                true
            }
        }
    }
}
