//! Where the control socket lives, and the lock that makes one resident per user (per demo).
//!
//! `$XDG_RUNTIME_DIR/batchwatch/` (or, without one, `<tmp>/batchwatch-<uid>/`), made 0700 and
//! refused when another user owns it. The resident holds `<name>.lock` (an `flock`) for as
//! long as it runs: a second resident finds it held and knows one is already there, with no
//! race between two that start at once, and a socket file a crash left behind is replaced.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Overrides where the socket is (tests and `--endpoint`).
pub const ENDPOINT_ENV: &str = "BATCHWATCH_ENDPOINT";

/// A control socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    socket: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("Batchwatch is already running (it holds {0})")]
    AlreadyRunning(PathBuf),
    #[error("{path}: {message}")]
    Unsafe { path: PathBuf, message: String },
    #[error("cannot open the control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A bound endpoint: the listener (taken by the server, so closing it stops new clients at
/// once), and the lock held while it lives. Dropping it removes the socket file.
#[derive(Debug)]
pub struct Bound {
    listener: Option<UnixListener>,
    socket: PathBuf,
    _lock: File,
}

impl Bound {
    /// The listening socket, once (the server's to own and close).
    pub fn take_listener(&mut self) -> Option<UnixListener> {
        self.listener.take()
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Endpoint {
    /// The user's endpoint — the demo has its own, so a demo never reaches (or blocks) the
    /// person's own Batchwatch. [`ENDPOINT_ENV`] overrides the real one.
    pub fn for_user(demo: bool) -> Self {
        if !demo {
            if let Some(path) = std::env::var_os(ENDPOINT_ENV).filter(|p| !p.is_empty()) {
                return Self::at(PathBuf::from(path));
            }
        }
        Self::at(crate::folders::runtime().join(if demo { "demo.sock" } else { "control.sock" }))
    }

    pub fn at(socket: PathBuf) -> Self {
        Self { socket }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn lock_path(&self) -> PathBuf {
        self.socket.with_extension("lock")
    }

    /// Takes the endpoint: the folder made private, the lock taken, a stale socket replaced.
    pub fn bind(&self) -> Result<Bound, BindError> {
        let io_error = |source| BindError::Io {
            path: self.socket.clone(),
            source,
        };
        let dir = self.socket.parent().unwrap_or(Path::new("/"));
        private_dir(dir)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path())
            .map_err(io_error)?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(BindError::AlreadyRunning(self.lock_path()))
            }
            Err(e) => return Err(io_error(e.into())),
        }
        // Ours now: whatever socket file is there was left by a resident that is gone.
        match std::fs::remove_file(&self.socket) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
        let listener = UnixListener::bind(&self.socket).map_err(io_error)?;
        std::fs::set_permissions(&self.socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io_error)?;
        listener.set_nonblocking(true).map_err(io_error)?;
        Ok(Bound {
            listener: Some(listener),
            socket: self.socket.clone(),
            _lock: lock,
        })
    }
}

/// Makes `dir` (0700, with any missing parents) or checks the one there: a real folder (not a
/// link), owned by us. An existing folder's mode is left alone (it may be the person's own, as
/// with `BATCHWATCH_ENDPOINT`); the socket itself is 0600 and every peer's uid is checked.
fn private_dir(dir: &Path) -> Result<(), BindError> {
    let unsafe_dir = |message: String| BindError::Unsafe {
        path: dir.to_owned(),
        message,
    };
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        return Err(unsafe_dir(format!("cannot create it ({e})")));
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| unsafe_dir(e.to_string()))?;
    if !meta.is_dir() {
        return Err(unsafe_dir(
            "it is a link or not a folder; Batchwatch will not put its control socket there".into(),
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(unsafe_dir(
            "another user owns this folder; Batchwatch will not put its control socket there"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::at(dir.path().join("run/batchwatch/control.sock"));
        let mut first = endpoint.bind().unwrap();
        assert!(first.take_listener().is_some());
        assert!(
            first.take_listener().is_none(),
            "the listener is taken once"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("run/batchwatch")), 0o700);
        assert_eq!(mode(endpoint.socket()), 0o600);
        assert!(matches!(endpoint.bind(), Err(BindError::AlreadyRunning(_))));
        // A crash leaves the socket file behind; the lock goes with the process.
        drop(first);
        std::fs::write(endpoint.socket(), b"").unwrap();
        let again = endpoint.bind().unwrap();
        assert!(std::os::unix::net::UnixStream::connect(endpoint.socket()).is_ok());
        drop(again);
        assert!(
            !endpoint.socket().exists(),
            "the socket goes with its holder"
        );
    }
}
