//! Reads the hooks file again when it changes: an inotify watch on its folder (the file may
//! not exist yet, and editors replace files by renaming), woken by the kernel, so it costs
//! nothing while nothing changes.

use super::HookRunner;

/// Watches the runner's file until the runner is dropped. Returns why it cannot watch (the
/// file is then read at start only, and the caller says so).
#[cfg(target_os = "linux")]
pub fn watch_file(runner: &HookRunner) -> std::io::Result<()> {
    use rustix::fs::inotify;
    use tokio::io::unix::AsyncFd;

    let path = runner.path().to_owned();
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::other("the hooks file has no folder"));
    };
    let name = name.to_owned();
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
    inotify::add_watch(
        &fd,
        folder,
        inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::ATTRIB,
    )?;
    // `new` is deprecated for fds the AsyncFd does not own (one closed while registered); this
    // one owns its OwnedFd, and the safe crate cannot call the `unsafe` replacement.
    #[allow(deprecated)]
    let fd = AsyncFd::new(fd)?;
    let weak = runner.weak();
    tokio::spawn(async move {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return;
            };
            let mut ours = false;
            let mut reader = inotify::Reader::new(fd.get_ref(), &mut buf);
            loop {
                match reader.next() {
                    Ok(event) => {
                        ours |= event
                            .file_name()
                            .is_some_and(|n| n.to_bytes() == name.as_encoded_bytes());
                    }
                    Err(rustix::io::Errno::WOULDBLOCK) => break,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => {
                        log::warn!("stopped watching the hooks file: {e}");
                        return;
                    }
                }
            }
            ready.clear_ready();
            if !ours {
                // Something else in the folder (the state database) changed.
                continue;
            }
            let Some(runner) = weak.upgrade() else {
                return;
            };
            runner.reload();
        }
    });
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn watch_file(_: &HookRunner) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "changes are read at the next start on this system",
    ))
}
