//! `batchwatch-cli settings [set NAME VALUE]`: the settings panel from a terminal — every
//! setting with its value and range, and the hooks with each one's last failure; a setting
//! changed through the tray app when it runs (which applies it at once), else in the state
//! database it reads at its next start. A value out of range is refused with the range
//! (exit 2), and nothing is changed.

use batchwatch_core::control::Request;
use batchwatch_core::hooks::{self, HooksStatus};
use batchwatch_core::setting_names::{self, Named};
use batchwatch_core::settings::SettingsForm;
use batchwatch_core::state_file::{SavedState, StateFile};
use serde_json::Value;

use crate::args::SettingsAction;
use crate::exit::Failure;

pub async fn run(action: Option<SettingsAction>) -> Result<(), Failure> {
    let resident = crate::resident::running().await;
    match (action, resident) {
        (None, Some(resident)) => {
            let payload = resident
                .call(&Request::GetState {})
                .await
                .map_err(crate::resident::failure)?;
            let form = form_in(&payload)?;
            print_settings(&form);
            // A tray app of the version before has none to say.
            let hooks =
                serde_json::from_value(payload["status"]["hooks"].clone()).unwrap_or_default();
            print_hooks(&hooks, true);
            Ok(())
        }
        (None, None) => {
            let (_, state) = stored()?;
            print_settings(&SettingsForm::of(&state.settings));
            println!("(The tray app is not running: these are the stored settings.)");
            let hooks = hooks::default_path()
                .map(|path| HooksStatus::read_now(&path))
                .unwrap_or_default();
            print_hooks(&hooks, false);
            Ok(())
        }
        (Some(SettingsAction::Set { name, value }), Some(resident)) => {
            let payload = resident
                .call(&Request::GetState {})
                .await
                .map_err(crate::resident::failure)?;
            let form =
                setting_names::set(form_in(&payload)?, &name, &value).map_err(Failure::Usage)?;
            resident
                .call(&Request::SaveSettings { form: form.clone() })
                .await
                .map_err(crate::resident::failure)?;
            println!(
                "{name} is now {} (applied by the tray app).",
                shown(&form, &name)
            );
            Ok(())
        }
        (Some(SettingsAction::Set { name, value }), None) => {
            let (file, state) = stored()?;
            let form = setting_names::set(SettingsForm::of(&state.settings), &name, &value)
                .map_err(Failure::Usage)?;
            let valid = form
                .clone()
                .validate()
                .map_err(|e| Failure::Usage(e.to_string()))?;
            let settings = valid.applied_to(state.settings);
            file.save(&SavedState { settings, ..state })
                .map_err(|e| Failure::Unreachable(format!("could not save the settings: {e}")))?;
            println!(
                "{name} is now {} (stored; the tray app reads it when it starts).",
                shown(&form, &name)
            );
            Ok(())
        }
    }
}

fn shown(form: &SettingsForm, name: &str) -> String {
    setting_names::list(form)
        .into_iter()
        .find(|n| n.name == name)
        .map(|n| n.value)
        .unwrap_or_default()
}

fn form_in(payload: &Value) -> Result<SettingsForm, Failure> {
    serde_json::from_value(payload["settings"].clone()).map_err(|e| {
        Failure::Unreachable(format!("the tray app's settings could not be read: {e}"))
    })
}

/// The state database's settings (and the rest of it, to write back whole).
fn stored() -> Result<(StateFile, SavedState), Failure> {
    let Some(path) = StateFile::default_path() else {
        return Err(Failure::Usage(
            "no configuration folder is known (neither XDG_CONFIG_HOME nor HOME is an absolute path)".into(),
        ));
    };
    let file = StateFile::new(&path);
    let loaded = file.load(batchwatch_core::monitor::wall_clock_ms());
    if let Some(problem) = &loaded.problem {
        if !loaded.writable {
            return Err(Failure::Unreachable(problem.message.clone()));
        }
        eprintln!("batchwatch-cli: {}", problem.message);
    }
    Ok((file, loaded.state))
}

fn print_settings(form: &SettingsForm) {
    let listed = setting_names::list(form);
    let width = |f: fn(&Named) -> usize| listed.iter().map(f).max().unwrap_or(0);
    let (name_w, value_w, range_w) = (
        width(|n| n.name.len()),
        width(|n| n.value.chars().count()),
        width(|n| n.range.chars().count()),
    );
    for n in &listed {
        println!(
            "{:name_w$}  {:value_w$}  {:range_w$}  {}",
            n.name, n.value, n.range, n.about
        );
    }
}

fn print_hooks(status: &HooksStatus, running: bool) {
    if let Some(problem) = &status.problem {
        println!("\nHooks are off: {problem}");
        return;
    }
    if status.hooks.is_empty() {
        println!("\nNo hooks ({} gives none).", status.file);
        return;
    }
    println!("\nHooks, from {}:", status.file);
    let now = batchwatch_core::monitor::wall_clock_ms();
    for hook in &status.hooks {
        let on: Vec<&str> = hook.on.iter().map(|k| k.name()).collect();
        let failure = match (&hook.last_failure, running) {
            (Some(f), _) => format!(
                " — last failure {}: {}",
                batchwatch_core::format::local_moment(f.at_ms, now),
                f.what
            ),
            (None, true) => " — no failure".to_owned(),
            (None, false) => String::new(),
        };
        println!(
            "  line {}: on {}: {}{failure}",
            hook.line,
            on.join(", "),
            hook.describe
        );
    }
    if status.dropped > 0 {
        println!(
            "  {} runs were dropped: too many were waiting.",
            status.dropped
        );
    }
}
