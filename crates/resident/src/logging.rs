//! The resident's log: each line to stderr and to `resident.log` in the app's log folder
//! (`$XDG_DATA_HOME/dev.batchwatch.app/logs/`, where the window's own log is). When it has grown
//! past [`MAX_LOG_BYTES`] it becomes `resident.log.1` (replacing the one before) and a new file
//! starts: months in the tray cannot fill a disk, and the lines before a problem are still
//! there. Nothing logged holds the key: no request is ever logged whole.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAX_LOG_BYTES: u64 = 1024 * 1024;

struct Logger {
    file: Option<Mutex<LogFile>>,
}

/// The log file, rolled over to `<name>.1` when full.
struct LogFile {
    path: PathBuf,
    file: File,
    max_bytes: u64,
}

impl LogFile {
    fn open(path: &Path, max_bytes: u64) -> Option<Self> {
        let file = File::options().create(true).append(true).open(path).ok()?;
        Some(Self {
            path: path.to_owned(),
            file,
            max_bytes,
        })
    }

    /// Appends `line`, first moving a full file to `<name>.1` (one previous file is kept).
    fn write(&mut self, line: &str) {
        if self.file.metadata().is_ok_and(|m| m.len() > self.max_bytes) {
            let mut previous = self.path.as_os_str().to_owned();
            previous.push(".1");
            let rolled = std::fs::rename(&self.path, &previous).is_ok();
            match File::options().create(true).append(true).open(&self.path) {
                Ok(fresh) if rolled => self.file = fresh,
                // Could not move it aside: start afresh in place rather than grow without end.
                _ => {
                    let _ = self.file.set_len(0);
                }
            }
        }
        let _ = self.file.write_all(line.as_bytes());
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || !record.target().starts_with("batchwatch") {
            return;
        }
        let mut line =
            batchwatch_core::format::log_line_now(record.level(), record.target(), record.args());
        line.push('\n');
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(file) = &self.file {
            file.lock().unwrap_or_else(|p| p.into_inner()).write(&line);
        }
    }

    fn flush(&self) {}
}

pub fn init() {
    let file = batchwatch_core::folders::logs().and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        LogFile::open(&dir.join("resident.log"), MAX_LOG_BYTES)
    });
    let logger = Box::new(Logger {
        file: file.map(Mutex::new),
    });
    if log::set_logger(Box::leak(logger)).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_log_becomes_the_previous_one_and_a_new_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resident.log");
        let mut log = LogFile::open(&path, 100).unwrap();
        for i in 0..6 {
            log.write(&format!("line {i} of twenty bytes\n"));
        }
        // 6 × 23 bytes: past 100 before the sixth line, which starts the new file.
        let previous = std::fs::read_to_string(dir.path().join("resident.log.1")).unwrap();
        assert!(
            previous.starts_with("line 0 ") && previous.contains("line 4 "),
            "{previous}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line 5 of twenty bytes\n"
        );
        // Full again: the one before is replaced, so two files at most.
        for i in 6..12 {
            log.write(&format!("line {i} of twenty bytes\n"));
        }
        let previous = std::fs::read_to_string(dir.path().join("resident.log.1")).unwrap();
        assert!(previous.starts_with("line 5 "), "{previous}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
