//! How `batchwatch` was started: `--hidden` (the autostart entry) becomes the resident alone,
//! `--demo` opens the demo (its own resident, on the embedded simulator), `--endpoint PATH`
//! names the resident's socket (the resident passes it when it starts a window). Anything
//! else is ignored, so desktop launchers that append arguments do no harm.

use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub demo: bool,
    pub hidden: bool,
    pub endpoint: Option<PathBuf>,
}

impl Launch {
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
