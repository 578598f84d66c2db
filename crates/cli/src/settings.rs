//! `batchwatch-cli settings [set NAME VALUE]`: the settings panel from a terminal — every
//! setting with its value and range, and the hooks with each one's last failure; a setting
//! changed through the tray app when it runs (which applies it at once), else in the state
//! database it reads at its next start. A value out of range is refused with the range
//! (exit 2), and nothing is changed.

use batchwatch_core::control::Request;
use batchwatch_core::hooks;
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
            print_hooks(&payload["status"]["hooks"], true);
            Ok(())
        }
        (None, None) => {
            let (_, state) = stored()?;
            print_settings(&SettingsForm::of(&state.settings));
            println!("(The tray app is not running: these are the stored settings.)");
            print_hooks(&hooks_read_now(), false);
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

/// The hooks file as read now, in the tray app's shape, without any run's outcome.
fn hooks_read_now() -> Value {
    let Some(path) = hooks::default_path() else {
        return Value::Null;
    };
    let (problem, listed) = match hooks::file::read(&path) {
        hooks::file::Loaded::Absent => (None, vec![]),
        hooks::file::Loaded::Refused(e) => (Some(e.to_string()), vec![]),
        hooks::file::Loaded::Hooks(read) => (
            None,
            read.iter()
                .map(|h| {
                    serde_json::json!({
                        "line": h.line,
                        "on": h.on,
                        "describe": h.describe(),
                        "lastFailure": null,
                    })
                })
                .collect(),
        ),
    };
    serde_json::json!({
        "file": path.display().to_string(),
        "problem": problem,
        "hooks": listed,
        "dropped": 0,
    })
}

fn print_hooks(status: &Value, running: bool) {
    let file = status["file"].as_str().unwrap_or("hooks.toml");
    if let Some(problem) = status["problem"].as_str() {
        println!("\nHooks are off: {problem}");
        return;
    }
    let listed = status["hooks"].as_array().cloned().unwrap_or_default();
    if listed.is_empty() {
        println!("\nNo hooks ({file} gives none).");
        return;
    }
    println!("\nHooks, from {file}:");
    for hook in listed {
        let on: Vec<&str> = hook["on"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let failure = match (&hook["lastFailure"], running) {
            (Value::Object(f), _) => {
                let at = f
                    .get("atMs")
                    .and_then(Value::as_u64)
                    .map(|ms| {
                        batchwatch_core::format::local_moment(
                            ms,
                            batchwatch_core::monitor::wall_clock_ms(),
                        )
                    })
                    .unwrap_or_default();
                let what = f.get("what").and_then(Value::as_str).unwrap_or("");
                format!(" — last failure {at}: {what}")
            }
            (_, true) => " — no failure".to_owned(),
            (_, false) => String::new(),
        };
        println!(
            "  line {}: on {}: {}{failure}",
            hook["line"],
            on.join(", "),
            hook["describe"].as_str().unwrap_or("")
        );
    }
    if let Some(dropped) = status["dropped"].as_u64().filter(|d| *d > 0) {
        println!("  {dropped} runs were dropped: too many were waiting.");
    }
}
