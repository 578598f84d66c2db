//! How `batchwatch` (the window) or `batchwatch-resident` was started: `--hidden` (the autostart
//! entry) makes `batchwatch` become the resident alone, `--demo` means the demo (its own
//! resident and socket, on the embedded simulator), `--endpoint PATH` names the resident's
//! socket (whoever starts a resident or a window passes the one it waits on). Anything else is
//! ignored, so desktop launchers that append arguments do no harm.

use std::path::PathBuf;

use super::endpoint::Endpoint;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub demo: bool,
    pub hidden: bool,
    pub endpoint: Option<PathBuf>,
}

impl Launch {
    /// The socket to serve or reach: the one named, else the user's (or the demo's).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
            .clone()
            .map(Endpoint::at)
            .unwrap_or_else(|| Endpoint::for_user(self.demo))
    }

    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut launch = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => launch.demo = true,
                "--hidden" => launch.hidden = true,
                "--endpoint" => launch.endpoint = args.next().map(PathBuf::from),
                _ => {}
            }
        }
        launch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_read_and_others_ignored() {
        let args = |a: &[&str]| Launch::from_args(a.iter().map(|s| s.to_string()));
        assert_eq!(args(&["batchwatch"]), Launch::default());
        assert_eq!(
            args(&[
                "batchwatch",
                "--hidden",
                "%U",
                "--demo",
                "--endpoint",
                "/run/b.sock"
            ]),
            Launch {
                demo: true,
                hidden: true,
                endpoint: Some("/run/b.sock".into()),
            }
        );
    }
}
