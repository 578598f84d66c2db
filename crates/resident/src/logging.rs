//! The resident's log: each line to stderr and to `resident.log` in the app's log folder
//! (`$XDG_DATA_HOME/dev.batchwatch.app/logs/`, where the window's own log is). The file is
//! started afresh when it has grown past [`MAX_LOG_BYTES`], so months in the tray cannot fill
//! a disk. Nothing logged holds the key: no request is ever logged whole.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

const MAX_LOG_BYTES: u64 = 1024 * 1024;

struct Logger {
    file: Option<Mutex<File>>,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || !record.target().starts_with("batchwatch") {
            return;
        }
        let now = timestamp();
        let line = format!(
            "{now} {} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if file.metadata().is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
                let _ = file.set_len(0);
            }
            let _ = file.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// Seconds since the epoch, with milliseconds: enough to line up with the window's log.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("[{}.{:03}]", now.as_secs(), now.subsec_millis())
}

/// The app's log folder, as the window's log plugin has it on Linux.
pub fn log_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".local/share")))?;
    Some(data.join("dev.batchwatch.app/logs"))
}

pub fn init() {
    let file = log_dir().and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        File::options()
            .create(true)
            .append(true)
            .open(dir.join("resident.log"))
            .ok()
    });
    let logger = Box::new(Logger {
        file: file.map(Mutex::new),
    });
    if log::set_logger(Box::leak(logger)).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
