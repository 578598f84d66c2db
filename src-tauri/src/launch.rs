//! How Batchwatch was started: `--demo` runs on the embedded simulator, `--hidden` starts in
//! the tray without a window (for autostart).

/// The command-line switches the app understands; anything else is ignored, so desktop
/// launchers that append arguments do no harm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Launch {
    pub demo: bool,
    pub hidden: bool,
}

impl Launch {
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut launch = Self::default();
        for arg in args {
            match arg.as_str() {
                "--demo" => launch.demo = true,
                "--hidden" => launch.hidden = true,
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
            args(&["batchwatch", "--demo"]),
            Launch {
                demo: true,
                hidden: false
            }
        );
        assert_eq!(
            args(&["batchwatch", "--hidden", "%U", "--demo"]),
            Launch {
                demo: true,
                hidden: true
            }
        );
    }
}
