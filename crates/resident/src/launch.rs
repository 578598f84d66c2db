//! How the resident was started: `--demo` runs on the embedded simulator (its own socket, no
//! keychain, no state file), `--endpoint PATH` serves that socket (the process that starts a
//! resident names the one it will wait on). Anything else is ignored, so launchers that
//! append arguments do no harm.

use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub demo: bool,
    pub endpoint: Option<PathBuf>,
}

impl Launch {
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut launch = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => launch.demo = true,
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
        assert_eq!(args(&["batchwatch-resident"]), Launch::default());
        assert_eq!(
            args(&["r", "%U", "--demo", "--endpoint", "/run/x.sock", "--hidden"]),
            Launch {
                demo: true,
                endpoint: Some("/run/x.sock".into())
            }
        );
    }
}
