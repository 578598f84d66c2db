//! Following the resident: each view it pushes becomes one `batchwatch://view` event for the
//! page; "raise" shows the window, "quit" closes it; and when the resident goes, the page hears
//! `batchwatch://resident-gone` and offers to start it again.

use std::sync::{Arc, Mutex};

use batchwatch_core::control::{Client, Push, Request};
use batchwatch_core::view::sent::SentCards;
use serde_json::value::RawValue;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::window::{self, MAIN};

/// The page event carrying the whole payload.
pub const VIEW_EVENT: &str = "batchwatch://view";
/// The page event saying the resident has stopped.
pub const GONE_EVENT: &str = "batchwatch://resident-gone";

/// The cards the page was last given (see [`SentCards`]): one for the window's life, forgotten
/// whenever the page asks for the whole view.
#[derive(Default)]
pub struct Sent(Mutex<SentCards>);

impl Sent {
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).forget();
    }

    /// The view as JSON text for the page (built from the view's own valid pieces: sent as it
    /// is, not parsed again).
    fn thin(&self, view: &RawValue) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).thin(view)
    }
}

pub fn spawn<R: Runtime>(app: AppHandle<R>, client: Arc<Client>) {
    tauri::async_runtime::spawn(async move {
        let mut views = client.views();
        let mut pushes = client.take_pushes();
        if client.call(&Request::Subscribe {}).await.is_err() {
            let _ = app.emit_to(MAIN, GONE_EVENT, ());
            return;
        }
        loop {
            tokio::select! {
                // Pushes first: a "quit" and the close that follows it arrive together.
                biased;
                push = async { pushes.as_mut()?.recv().await }, if pushes.is_some() => match push {
                    Some(Push::Raise) => window::show_from_anywhere(&app),
                    Some(Push::Quit) => {
                        app.exit(0);
                        return;
                    }
                    None => pushes = None,
                },
                changed = views.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let view = views.borrow_and_update().clone();
                    if let Some(view) = view {
                        let view = app.state::<Sent>().thin(&view);
                        let _ = app.emit_str_to(MAIN, VIEW_EVENT, view);
                    }
                }
                () = client.closed() => break,
            }
        }
        // The connection ended: no news when the resident's last word was "quit".
        if quit_was_pushed(&mut pushes) {
            app.exit(0);
            return;
        }
        log::warn!("the resident has stopped");
        let _ = app.emit_to(MAIN, GONE_EVENT, ());
    });
}

/// Whether the resident's last word, still queued, was "quit" (then its going is no news).
fn quit_was_pushed(pushes: &mut Option<tokio::sync::mpsc::Receiver<Push>>) -> bool {
    let Some(pushes) = pushes else { return false };
    while let Ok(push) = pushes.try_recv() {
        if push == Push::Quit {
            return true;
        }
    }
    false
}
