//! The tray: a StatusNotifierItem with a dbusmenu, served over the session bus by the
//! resident itself (no GTK, no libappindicator).
//!
//! What a person sees is the same on every host: the icon (a ring of the aggregate percent),
//! the label beside it where the host shows one (`XAyatanaLabel`: GNOME's AppIndicator
//! extension, Ubuntu), the tooltip where the host shows one (KDE, XFCE), and the menu rows
//! everywhere. A click on the icon opens the window (`Activate`); the menu carries every
//! action. A panel that starts after Batchwatch (or restarts) is registered with again.
//!
//! - [`item`] — the `org.kde.StatusNotifierItem` object; [`menu`] — the `com.canonical.dbusmenu`
//!   one.

mod item;
mod menu;

use batchwatch_core::view::{tray_icon, TrayState, TrayView};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use zbus::Connection;

pub use item::ITEM_PATH;
pub use menu::MENU_PATH;

/// What the tray asks of the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    Open,
    Refresh,
    TogglePause,
    Quit,
}

/// The icon's edge in pixels; panels scale it to their 16–24 px.
const ICON_SIZE: u32 = 32;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// The tray on the bus, and what it shows.
pub struct Tray {
    connection: Connection,
    last: Option<(TrayView, bool)>,
}

impl Tray {
    /// Serves the item and its menu on the session bus and registers with the panel's watcher
    /// (now and whenever one starts); the person's clicks arrive on `actions`.
    pub async fn start(actions: mpsc::UnboundedSender<TrayAction>) -> zbus::Result<Self> {
        let name = format!("org.kde.StatusNotifierItem-{}-1", std::process::id());
        let connection = zbus::connection::Builder::session()
            .name(name.as_str())
            .serve_at(
                ITEM_PATH,
                item::Item::new(actions.clone(), icon(TrayState::Idle, None)),
            )
            .serve_at(MENU_PATH, menu::Menu::new(actions))
            .build()
            .await?;
        let registering = connection.clone();
        tokio::spawn(async move {
            if let Err(e) = register_whenever_a_watcher_runs(&registering, &name).await {
                log::warn!("tray: cannot follow the panel's tray host: {e}");
            }
        });
        Ok(Self {
            connection,
            last: None,
        })
    }

    /// Its session bus connection, for whatever else listens on the bus (a keychain starting).
    pub fn bus(&self) -> Connection {
        self.connection.clone()
    }

    /// Brings the tray in line with `view`, telling the panel only what changed.
    pub async fn apply(&mut self, view: &TrayView, paused: bool) -> zbus::Result<()> {
        let last = self.last.take();
        let server = self.connection.object_server();
        let item = server.interface::<_, item::Item>(ITEM_PATH).await?;
        let emitter = item.signal_emitter().clone();
        let was = last.as_ref().map(|(v, _)| v);
        if was.map(|l| (l.state, l.percent)) != Some((view.state, view.percent)) {
            item.get_mut().await.icon = icon(view.state, view.percent);
            item::Item::new_icon(&emitter).await?;
        }
        if was.map(|l| &l.label) != Some(&view.label) {
            item.get_mut().await.label = view.label.clone();
            item::Item::x_ayatana_new_label(&emitter, &view.label, "").await?;
        }
        if was.map(|l| &l.tooltip) != Some(&view.tooltip) {
            item.get_mut().await.tooltip = view.tooltip.clone();
            item::Item::new_tool_tip(&emitter).await?;
        }
        if was.map(|l| &l.rows) != Some(&view.rows)
            || last.as_ref().map(|(_, p)| *p) != Some(paused)
        {
            let menu = server.interface::<_, menu::Menu>(MENU_PATH).await?;
            let revision = menu.get_mut().await.show(&view.rows, paused);
            menu::Menu::layout_updated(menu.signal_emitter(), revision, 0).await?;
        }
        self.last = Some((view.clone(), paused));
        Ok(())
    }
}

/// The icon for a state and aggregate percent, as StatusNotifierItem wants it: ARGB32 in
/// network byte order.
fn icon(state: TrayState, percent: Option<u8>) -> item::Pixmap {
    let drawn = tray_icon::render(state, percent, ICON_SIZE);
    let mut argb = Vec::with_capacity(drawn.rgba.len());
    for px in drawn.rgba.chunks_exact(4) {
        argb.extend_from_slice(&[px[3], px[0], px[1], px[2]]);
    }
    let size = i32::try_from(drawn.size).unwrap_or(i32::MAX);
    (size, size, argb)
}

/// Registers the item with the StatusNotifierWatcher, and again each time one appears on the
/// bus (a panel started after Batchwatch, or restarted).
async fn register_whenever_a_watcher_runs(connection: &Connection, name: &str) -> zbus::Result<()> {
    let bus = zbus::fdo::DBusProxy::new(connection).await?;
    let mut owners = bus
        .receive_name_owner_changed_with_args(&[(0, WATCHER)])
        .await?;
    register(connection, name).await;
    while let Some(change) = owners.next().await {
        if change.args().is_ok_and(|a| a.new_owner().is_some()) {
            register(connection, name).await;
        }
    }
    Ok(())
}

async fn register(connection: &Connection, name: &str) {
    let answer = connection
        .call_method(
            Some(WATCHER),
            "/StatusNotifierWatcher",
            Some(WATCHER),
            "RegisterStatusNotifierItem",
            &(name,),
        )
        .await;
    match answer {
        Ok(_) => log::info!("tray: registered with the panel"),
        Err(e) => log::info!("tray: no panel to show it yet ({e}); waiting for one"),
    }
}
