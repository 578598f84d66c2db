//! The `com.canonical.dbusmenu` object: "Open Batchwatch", one disabled row a batch (the
//! core's tray view), "Refresh now", the notification pause as a check item, "Quit".
//!
//! Flat (no submenus), so every host draws it. Each change bumps the revision and says
//! `LayoutUpdated`; hosts then ask for the layout again.

use std::collections::HashMap;

use tokio::sync::mpsc;
use zbus::interface;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedVariant as OwnedValue, Structure, Variant as Value};

use batchwatch_core::view::MAX_TRAY_ROWS;

use super::TrayAction;

pub const MENU_PATH: &str = "/MenuBar";

const ROOT: i32 = 0;
const OPEN: i32 = 1;
const REFRESH: i32 = 2;
const PAUSE: i32 = 3;
const QUIT: i32 = 4;
const SEPARATORS: [i32; 3] = [5, 6, 7];
/// Batch rows are 100, 101, …
const FIRST_ROW: i32 = 100;

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Action {
        id: i32,
        label: String,
    },
    Row {
        id: i32,
        label: String,
    },
    Check {
        id: i32,
        label: String,
        checked: bool,
    },
    Separator {
        id: i32,
    },
}

pub struct Menu {
    actions: mpsc::UnboundedSender<TrayAction>,
    revision: u32,
    entries: Vec<Entry>,
}

impl Menu {
    pub fn new(actions: mpsc::UnboundedSender<TrayAction>) -> Self {
        let mut menu = Self {
            actions,
            revision: 0,
            entries: Vec::new(),
        };
        menu.show(&["No batches tracked".to_owned()], false);
        menu
    }

    /// Lays the menu out for these batch rows; returns the new revision.
    pub fn show(&mut self, rows: &[String], paused: bool) -> u32 {
        let action = |id, label: &str| Entry::Action {
            id,
            label: label.into(),
        };
        let mut entries = vec![
            action(OPEN, "Open Batchwatch"),
            Entry::Separator { id: SEPARATORS[0] },
        ];
        let rows: Vec<String> = if rows.is_empty() {
            vec!["No batches tracked".into()]
        } else {
            rows.iter().take(MAX_TRAY_ROWS + 1).cloned().collect()
        };
        for (i, label) in rows.into_iter().enumerate() {
            entries.push(Entry::Row {
                id: FIRST_ROW + i32::try_from(i).unwrap_or(0),
                label,
            });
        }
        entries.extend([
            Entry::Separator { id: SEPARATORS[1] },
            action(REFRESH, "Refresh now"),
            Entry::Check {
                id: PAUSE,
                label: "Pause notifications for 1 hour".into(),
                checked: paused,
            },
            Entry::Separator { id: SEPARATORS[2] },
            action(QUIT, "Quit Batchwatch"),
        ]);
        if entries != self.entries {
            self.entries = entries;
            self.revision = self.revision.wrapping_add(1);
        }
        self.revision
    }

    fn layout(&self, id: i32) -> Option<(i32, HashMap<String, OwnedValue>, Vec<OwnedValue>)> {
        if id == ROOT {
            let children = self
                .entries
                .iter()
                .map(|e| node(entry_id(e), properties(e), Vec::new()))
                .collect();
            let mut props = HashMap::new();
            props.insert("children-display".into(), owned("submenu"));
            return Some((ROOT, props, children));
        }
        let entry = self.entries.iter().find(|e| entry_id(e) == id)?;
        Some((id, properties(entry), Vec::new()))
    }
}

fn entry_id(entry: &Entry) -> i32 {
    match entry {
        Entry::Action { id, .. }
        | Entry::Row { id, .. }
        | Entry::Check { id, .. }
        | Entry::Separator { id } => *id,
    }
}

fn owned<'a>(value: impl Into<Value<'a>>) -> OwnedValue {
    OwnedValue::try_from(value.into()).expect("plain values have no file descriptors")
}

/// dbusmenu reads `_` as a mnemonic marker; a literal one is written twice.
fn escaped(label: &str) -> String {
    label.replace('_', "__")
}

fn properties(entry: &Entry) -> HashMap<String, OwnedValue> {
    let mut props = HashMap::new();
    match entry {
        Entry::Action { label, .. } => {
            props.insert("label".into(), owned(escaped(label)));
        }
        Entry::Row { label, .. } => {
            props.insert("label".into(), owned(escaped(label)));
            props.insert("enabled".into(), owned(false));
        }
        Entry::Check { label, checked, .. } => {
            props.insert("label".into(), owned(escaped(label)));
            props.insert("toggle-type".into(), owned("checkmark"));
            props.insert("toggle-state".into(), owned(i32::from(*checked)));
        }
        Entry::Separator { .. } => {
            props.insert("type".into(), owned("separator"));
        }
    }
    props
}

/// One layout node as a variant: `(ia{sv}av)`.
fn node(id: i32, props: HashMap<String, OwnedValue>, children: Vec<OwnedValue>) -> OwnedValue {
    let structure = Structure::from((id, props, children));
    owned(Value::Structure(structure))
}

#[interface(name = "com.canonical.dbusmenu")]
impl Menu {
    #[zbus(property)]
    fn version(&self) -> u32 {
        3
    }

    #[zbus(property)]
    fn text_direction(&self) -> &str {
        "ltr"
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "normal"
    }

    #[zbus(property)]
    fn icon_theme_path(&self) -> Vec<String> {
        Vec::new()
    }

    fn get_layout(
        &self,
        parent_id: i32,
        _recursion_depth: i32,
        _property_names: Vec<String>,
    ) -> zbus::fdo::Result<(u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>))> {
        let layout = self
            .layout(parent_id)
            .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no menu item {parent_id}")))?;
        Ok((self.revision, layout))
    }

    fn get_group_properties(
        &self,
        ids: Vec<i32>,
        _property_names: Vec<String>,
    ) -> Vec<(i32, HashMap<String, OwnedValue>)> {
        self.entries
            .iter()
            .filter(|e| ids.is_empty() || ids.contains(&entry_id(e)))
            .map(|e| (entry_id(e), properties(e)))
            .collect()
    }

    fn get_property(&self, id: i32, name: &str) -> zbus::fdo::Result<OwnedValue> {
        self.entries
            .iter()
            .find(|e| entry_id(e) == id)
            .and_then(|e| properties(e).remove(name))
            .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no property {name} on {id}")))
    }

    fn event(&self, id: i32, event_id: &str, _data: OwnedValue, _timestamp: u32) {
        if event_id != "clicked" {
            return;
        }
        let action = match id {
            OPEN => TrayAction::Open,
            REFRESH => TrayAction::Refresh,
            PAUSE => TrayAction::TogglePause,
            QUIT => TrayAction::Quit,
            _ => return,
        };
        let _ = self.actions.send(action);
    }

    fn event_group(&self, events: Vec<(i32, String, OwnedValue, u32)>) -> Vec<i32> {
        for (id, event_id, data, timestamp) in events {
            self.event(id, &event_id, data, timestamp);
        }
        Vec::new()
    }

    fn about_to_show(&self, _id: i32) -> bool {
        false
    }

    fn about_to_show_group(&self, _ids: Vec<i32>) -> (Vec<i32>, Vec<i32>) {
        (Vec::new(), Vec::new())
    }

    #[zbus(signal)]
    pub async fn layout_updated(
        emitter: &SignalEmitter<'_>,
        revision: u32,
        parent: i32,
    ) -> zbus::Result<()>;
}
