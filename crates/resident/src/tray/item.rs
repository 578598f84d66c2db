//! The `org.kde.StatusNotifierItem` object: the icon, label, tooltip and clicks.

use tokio::sync::mpsc;
use zbus::interface;
use zbus::object_server::SignalEmitter;
use zbus::OwnedObjectPath;

use super::{TrayAction, MENU_PATH};

/// Where the item is served: the path panels look at when given only a bus name.
pub const ITEM_PATH: &str = "/StatusNotifierItem";

/// (width, height, ARGB32 bytes in network order).
pub type Pixmap = (i32, i32, Vec<u8>);

pub struct Item {
    actions: mpsc::UnboundedSender<TrayAction>,
    pub icon: Pixmap,
    pub label: String,
    pub tooltip: String,
}

impl Item {
    pub fn new(actions: mpsc::UnboundedSender<TrayAction>, icon: Pixmap) -> Self {
        Self {
            actions,
            icon,
            label: String::new(),
            tooltip: "Batchwatch".into(),
        }
    }
}

#[interface(name = "org.kde.StatusNotifierItem")]
impl Item {
    #[zbus(property)]
    fn category(&self) -> &str {
        "ApplicationStatus"
    }

    #[zbus(property)]
    fn id(&self) -> &str {
        "batchwatch"
    }

    #[zbus(property)]
    fn title(&self) -> &str {
        "Batchwatch"
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "Active"
    }

    #[zbus(property)]
    fn window_id(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn icon_name(&self) -> &str {
        ""
    }

    #[zbus(property)]
    fn icon_theme_path(&self) -> &str {
        ""
    }

    #[zbus(property)]
    fn icon_pixmap(&self) -> Vec<Pixmap> {
        vec![self.icon.clone()]
    }

    #[zbus(property)]
    fn overlay_icon_name(&self) -> &str {
        ""
    }

    #[zbus(property)]
    fn attention_icon_name(&self) -> &str {
        ""
    }

    /// (icon name, icon pixmaps, title, description).
    #[zbus(property)]
    fn tool_tip(&self) -> (String, Vec<Pixmap>, String, String) {
        (
            String::new(),
            Vec::new(),
            "Batchwatch".into(),
            self.tooltip.clone(),
        )
    }

    /// A click on the icon is "Activate" (open the window); the menu is for the other button.
    #[zbus(property)]
    fn item_is_menu(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn menu(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(MENU_PATH).expect("a valid object path")
    }

    /// The text beside the icon on hosts that show one (GNOME's AppIndicator extension).
    #[zbus(property, name = "XAyatanaLabel")]
    fn x_ayatana_label(&self) -> &str {
        &self.label
    }

    #[zbus(property, name = "XAyatanaLabelGuide")]
    fn x_ayatana_label_guide(&self) -> &str {
        ""
    }

    fn activate(&self, _x: i32, _y: i32) {
        let _ = self.actions.send(TrayAction::Open);
    }

    fn secondary_activate(&self, _x: i32, _y: i32) {
        let _ = self.actions.send(TrayAction::Open);
    }

    /// Hosts that draw no menu themselves ask for one; ours is the dbusmenu.
    fn context_menu(&self, _x: i32, _y: i32) {}

    fn scroll(&self, _delta: i32, _orientation: &str) {}

    #[zbus(signal)]
    pub async fn new_icon(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn new_tool_tip(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal, name = "XAyatanaNewLabel")]
    pub async fn x_ayatana_new_label(
        emitter: &SignalEmitter<'_>,
        label: &str,
        guide: &str,
    ) -> zbus::Result<()>;
}
