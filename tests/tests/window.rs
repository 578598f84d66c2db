//! The window itself, end to end: how it closes, what an accessibility audit finds in each
//! state a person reaches, the keyboard, and many batches.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use batchwatch_e2e::desktop::{Desktop, KEY, WORKSPACE};
use batchwatch_e2e::{eventually, os};

const WAIT: Duration = Duration::from_secs(30);

/// Both cores kept busy (`yes > /dev/null` on each) for as long as it lives; it stops exactly
/// the processes it started, by PID.
struct BusyCores(Vec<Child>);

impl BusyCores {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self(
            (0..cores)
                .map(|_| {
                    Command::new("yes")
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("yes runs")
                })
                .collect(),
        )
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn fifty_windows_in_a_row_each_close_at_the_first_request_with_both_cores_busy() {
    let mut desktop = Desktop::new("fifty_closes");
    let (code, out, err) = desktop.cli(&["credentials", "set", "--workspace", WORKSPACE], KEY);
    assert_eq!(code, 0, "{out}{err}");
    let app = batchwatch_e2e::desktop::app_binary();
    let app = app.to_string_lossy().into_owned();
    let _busy = BusyCores::start();
    for round in 0..50 {
        let window = desktop.launch(&[]);
        let pid = window.id();
        eventually(&format!("window {round} to be shown"), WAIT, || {
            os::window_exists("Batchwatch", &app).then_some(())
        });
        // One request, as a window manager's close button sends it; never a second.
        os::close_window("Batchwatch", &app);
        let status = eventually(&format!("window {round} to close"), WAIT, || {
            desktop.direct(round).try_wait().unwrap()
        });
        assert!(
            status.success(),
            "window {round} (pid {pid}) exited with {status:?}"
        );
        assert!(
            !os::window_exists("Batchwatch", &app),
            "no window is left after close {round}"
        );
    }
}
