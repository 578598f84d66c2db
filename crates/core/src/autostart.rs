//! "Start at login": an XDG autostart entry (`$XDG_CONFIG_HOME/autostart/batchwatch.desktop`)
//! that starts Batchwatch with `--hidden`, straight into the tray.
//!
//! Written here rather than through `tauri-plugin-autostart`: on Linux that plugin (via the
//! `auto-launch` crate) ignores `$XDG_CONFIG_HOME` and writes the program path into `Exec`
//! unquoted, so an install path with a space gives an entry that never starts. The entry is the
//! setting: whether the file exists is the only truth, so it cannot disagree with a copy kept
//! elsewhere.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name.
pub const ENTRY_NAME: &str = "batchwatch.desktop";
/// What the entry starts Batchwatch with: no window, just the tray.
pub const HIDDEN_ARG: &str = "--hidden";

/// The autostart entry in one config directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autostart {
    path: PathBuf,
}

impl Autostart {
    /// The entry under `config_dir` (the XDG config home).
    pub fn in_config_dir(config_dir: &Path) -> Self {
        Self {
            path: config_dir.join("autostart").join(ENTRY_NAME),
        }
    }

    /// The entry where the desktop session looks ([`crate::folders::autostart`]).
    pub fn for_user() -> Option<Self> {
        Some(Self {
            path: crate::folders::autostart()?.join(ENTRY_NAME),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry exists and was not switched off elsewhere (a session's startup-applications
    /// dialog sets `Hidden=true` or `X-GNOME-Autostart-enabled=false` rather than deleting it).
    pub fn is_enabled(&self) -> bool {
        fs::read_to_string(&self.path).is_ok_and(|text| {
            let key = |name: &str| entry_value(&text, name);
            key("Hidden") != Some("true") && key("X-GNOME-Autostart-enabled") != Some("false")
        })
    }

    /// Writes the entry to start `program` with `--hidden` at login (replacing an older one, or
    /// a link in its place, with the file itself).
    pub fn enable(&self, program: &Path) -> io::Result<()> {
        let text = entry(program)?;
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        // Whole or not at all: a session starting, or a window checking, never reads an entry
        // without its `Exec=` line.
        crate::whole_file::write(&self.path, text.as_bytes())
    }

    /// Removes the entry; an absent entry is already disabled.
    pub fn disable(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The program a login should start: the AppImage when running from one (its mounted path
/// changes every run), else this executable.
pub fn current_program() -> io::Result<PathBuf> {
    match std::env::var_os("APPIMAGE") {
        Some(image) if !image.is_empty() => Ok(PathBuf::from(image)),
        _ => std::env::current_exe(),
    }
}

/// The desktop entry's text. A desktop entry is UTF-8, so a program path that is not cannot be
/// written into one.
pub fn entry(program: &Path) -> io::Result<String> {
    let program = program.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the program's path {} is not UTF-8, which a desktop entry cannot hold",
                program.display()
            ),
        )
    })?;
    let exec = format!("{} {HIDDEN_ARG}", exec_argument(program));
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Batchwatch\n\
         Comment=Watch Trillet batch calls from the tray\n\
         Exec={}\n\
         Terminal=false\n\
         StartupNotify=false\n\
         X-GNOME-Autostart-enabled=true\n",
        escape_value(&exec)
    ))
}

/// The value of `key` in the `[Desktop Entry]` group (spaces around `=` allowed, as the spec
/// says; other groups, such as actions, ignored).
fn entry_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut in_entry = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if let Some((k, v)) = line.split_once('=') {
            if in_entry && k.trim() == key {
                return Some(v.trim());
            }
        }
    }
    None
}

/// One `Exec` argument, quoted as the Desktop Entry spec asks when it holds a reserved
/// character (inside the quotes, `"`, `` ` ``, `$` and `\` are backslash-escaped).
fn exec_argument(arg: &str) -> String {
    const RESERVED: &[char] = &[
        ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(',
        ')', '`',
    ];
    if !arg.is_empty() && !arg.contains(RESERVED) {
        return arg.replace('%', "%%");
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A string value of a desktop entry: backslashes (and line breaks) escaped once more.
fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_text(program: &Path) -> String {
        entry(program).unwrap()
    }

    fn exec_line(text: &str) -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("an Exec line")
    }

    #[test]
    fn a_plain_path_is_written_as_is_with_hidden() {
        let text = entry_text(Path::new("/usr/bin/batchwatch"));
        assert!(text.starts_with("[Desktop Entry]\nType=Application\n"));
        assert_eq!(exec_line(&text), "/usr/bin/batchwatch --hidden");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn paths_with_reserved_characters_are_quoted_per_the_spec() {
        assert_eq!(
            exec_line(&entry_text(Path::new("/opt/My Apps/batchwatch"))),
            "\"/opt/My Apps/batchwatch\" --hidden"
        );
        // `$` escaped inside the quotes; the backslash itself doubled again for the value.
        assert_eq!(
            exec_line(&entry_text(Path::new("/home/a$b/batch watch"))),
            "\"/home/a\\\\$b/batch watch\" --hidden"
        );
        assert_eq!(
            exec_line(&entry_text(Path::new("/opt/100%/batchwatch"))),
            "/opt/100%%/batchwatch --hidden"
        );
    }

    #[test]
    fn enable_writes_and_disable_removes_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = Autostart::in_config_dir(dir.path());
        assert_eq!(
            autostart.path(),
            dir.path().join("autostart/batchwatch.desktop")
        );
        assert!(!autostart.is_enabled());
        autostart
            .disable()
            .expect("disabling what is absent is fine");

        autostart.enable(Path::new("/usr/bin/batchwatch")).unwrap();
        assert!(autostart.is_enabled());
        assert_eq!(
            fs::read_to_string(autostart.path()).unwrap(),
            entry_text(Path::new("/usr/bin/batchwatch"))
        );
        autostart.disable().unwrap();
        assert!(!autostart.is_enabled());

        // Switched off by the desktop's own dialog: not enabled, though the file is there.
        let entry = entry_text(Path::new("/usr/bin/batchwatch"));
        fs::write(autostart.path(), format!("{entry}Hidden = true\n")).unwrap();
        assert!(!autostart.is_enabled());
        let gnome_off = entry.replace(
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-enabled=false",
        );
        fs::write(autostart.path(), gnome_off).unwrap();
        assert!(!autostart.is_enabled());
        // A key of another group is not the entry's.
        fs::write(
            autostart.path(),
            format!("{entry}[Desktop Action Quit]\nHidden=true\n"),
        )
        .unwrap();
        assert!(autostart.is_enabled());
        assert!(
            dir.path().join("autostart").is_dir(),
            "the directory stays for others' entries"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_refused_not_mangled() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/opt/bad\xff/batchwatch"));
        let error = entry(odd).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let dir = tempfile::tempdir().unwrap();
        let autostart = Autostart::in_config_dir(dir.path());
        assert!(autostart.enable(odd).is_err());
        assert!(!autostart.path().exists(), "nothing half-written");
    }
}
