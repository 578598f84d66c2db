//! Files written whole or not at all: into a new file beside the target, flushed to disk, then
//! renamed over it. A crash, a full disk or a reader at the wrong moment never sees half a file
//! (an autostart entry without its `Exec=` line, a list of calls cut short).

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` (which names a file in an existing folder) whole or not at all. The
/// file gets the usual permissions of a file the person makes (umask). A link at `path` is
/// replaced by the file, not written through.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = match (path.parent(), path.file_name()) {
        (Some(folder), Some(_)) => folder,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            ))
        }
    };
    // A short name of its own (the target's may already be near the 255-byte limit), and one
    // no reader of the folder takes for the real thing.
    let mut partial = tempfile::Builder::new()
        .prefix(".batchwatch-")
        .suffix(".part")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        })?;
    partial.write_all(bytes)?;
    partial.as_file().sync_all()?;
    partial.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.desktop");
        write(&path, b"first").unwrap();
        write(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["entry.desktop"]);
    }

    #[test]
    fn a_folder_that_does_not_exist_is_an_error_and_makes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/entry.desktop");
        assert_eq!(
            write(&path, b"x").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(!dir.path().join("missing").exists());
    }
}
