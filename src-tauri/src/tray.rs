//! The tray icon: built once at start, then edited in place from the core's tray view.
//!
//! Linux trays (libayatana-appindicator) show no tooltip, deliver no left clicks and cannot
//! swap menus, so the summary goes out three ways — icon, label (`set_title`) and disabled
//! menu rows edited with `set_text` — and the menu carries every action. The tooltip is set
//! too, for the platforms that have one.

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use batchwatch_core::view::tray_icon;
use batchwatch_core::view::{TrayState, TrayView, MAX_TRAY_ROWS};

use crate::state::AppState;
use crate::window;

pub const OPEN: &str = "open";
pub const REFRESH: &str = "refresh";
pub const PAUSE: &str = "pause-notifications";
pub const QUIT: &str = "quit";
/// Menu position of the first batch row (after "Open Batchwatch" and a separator).
const FIRST_ROW: usize = 2;

/// The tray icon's edge in pixels; panels scale it to their 16–24 px.
const ICON_SIZE: u32 = 32;

/// The icon drawn for a state and aggregate percent (see `batchwatch_core::view::tray_icon`).
fn icon_for(state: TrayState, percent: Option<u8>) -> Image<'static> {
    let drawn = tray_icon::render(state, percent, ICON_SIZE);
    Image::new_owned(drawn.rgba, drawn.size, drawn.size)
}

/// The tray and the menu items it edits.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    menu: Menu<R>,
    /// One per possible row: `MAX_TRAY_ROWS` batches plus "and N more".
    rows: Vec<MenuItem<R>>,
    /// How many of `rows` are in the menu now.
    shown: usize,
    pause: CheckMenuItem<R>,
    last: Option<TrayView>,
}

impl<R: Runtime> Tray<R> {
    pub fn build(app: &AppHandle<R>) -> tauri::Result<Self> {
        let open = MenuItem::with_id(app, OPEN, "Open Batchwatch", true, None::<&str>)?;
        let rows = (0..=MAX_TRAY_ROWS)
            .map(|i| MenuItem::with_id(app, format!("batch-row-{i}"), "", false, None::<&str>))
            .collect::<tauri::Result<Vec<_>>>()?;
        let refresh = MenuItem::with_id(app, REFRESH, "Refresh now", true, None::<&str>)?;
        let pause = CheckMenuItem::with_id(
            app,
            PAUSE,
            "Pause notifications for 1 hour",
            true,
            false,
            None::<&str>,
        )?;
        let quit = MenuItem::with_id(app, QUIT, "Quit Batchwatch", true, None::<&str>)?;
        let separators = [
            PredefinedMenuItem::separator(app)?,
            PredefinedMenuItem::separator(app)?,
            PredefinedMenuItem::separator(app)?,
        ];
        let items: Vec<&dyn IsMenuItem<R>> = vec![
            &open,
            &separators[0],
            &rows[0],
            &separators[1],
            &refresh,
            &pause,
            &separators[2],
            &quit,
        ];
        let menu = Menu::with_items(app, &items)?;
        rows[0].set_text("No batches tracked")?;
        let icon = TrayIconBuilder::with_id("batchwatch")
            .icon(icon_for(TrayState::Idle, None))
            .tooltip("Batchwatch")
            .title("")
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(on_menu_event)
            .build(app)?;
        Ok(Self {
            icon,
            menu,
            rows,
            shown: 1,
            pause,
            last: None,
        })
    }

    /// Brings the tray in line with `view`, touching only what changed.
    pub fn apply(&mut self, view: &TrayView) -> tauri::Result<()> {
        let last = self.last.take();
        // Redrawn only when what it shows changes: each new icon is a new file for the panel.
        if last.as_ref().map(|l| (l.state, l.percent)) != Some((view.state, view.percent)) {
            self.icon
                .set_icon(Some(icon_for(view.state, view.percent)))?;
        }
        if last.as_ref().map(|l| &l.label) != Some(&view.label) {
            self.icon.set_title(Some(&view.label))?;
        }
        if last.as_ref().map(|l| &l.tooltip) != Some(&view.tooltip) {
            self.icon.set_tooltip(Some(&view.tooltip))?;
        }
        let wanted = view.rows.len().clamp(1, self.rows.len());
        for i in self.shown..wanted {
            self.menu.insert(&self.rows[i], FIRST_ROW + i)?;
        }
        for i in wanted..self.shown {
            self.menu.remove(&self.rows[i])?;
        }
        self.shown = wanted;
        for (i, text) in view.rows.iter().take(wanted).enumerate() {
            if last.as_ref().and_then(|l| l.rows.get(i)) != Some(text) {
                self.rows[i].set_text(text)?;
            }
        }
        self.last = Some(view.clone());
        Ok(())
    }

    pub fn set_paused(&self, paused: bool) -> tauri::Result<()> {
        if self.pause.is_checked()? != paused {
            self.pause.set_checked(paused)?;
        }
        Ok(())
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: tauri::menu::MenuEvent) {
    match event.id().as_ref() {
        OPEN => {
            if let Err(e) = window::show(app) {
                log::error!("could not open the window: {e}");
            }
        }
        REFRESH => app.state::<AppState>().monitor.refresh(None),
        PAUSE => {
            // Checked: pause for an hour from now; unchecked: resume. Decided by the monitor
            // against the settings it holds, so two quick clicks pause and then resume.
            app.state::<AppState>().monitor.toggle_notification_pause();
        }
        QUIT => app.exit(0),
        _ => {}
    }
}
