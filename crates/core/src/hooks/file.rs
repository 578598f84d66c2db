//! The hooks file, `~/.config/batchwatch/hooks.toml`: what to run or call on which events.
//!
//! Every problem is one sentence naming its line, and a file with any problem gives no hooks
//! at all (half a file could run the wrong command); nothing else in Batchwatch depends on it.
//! Since it names commands to run as the person, a file or folder that another user could
//! write is refused, as ssh refuses such a config.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::batch_id::BatchId;
use crate::events::EventKind;

/// The file's name in the config folder.
pub const FILE_NAME: &str = "hooks.toml";
/// A hooks file is a few lines; past this it is refused unread.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Hooks one file may hold.
pub const MAX_HOOKS: usize = 32;
/// Words in one command (its program and arguments).
const MAX_ARGS: usize = 64;

/// One hook as the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub on: Vec<EventKind>,
    pub action: Action,
    /// Only events of this workspace.
    pub workspace: Option<String>,
    /// Only events of these batches.
    pub batches: Option<Vec<BatchId>>,
    /// Where it starts in the file (from 1), to name it.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A program and its arguments, run without a shell.
    Run(Vec<String>),
    /// A URL the event is POSTed to.
    Webhook(url::Url),
}

impl Hook {
    /// Whether `event` of `batch` in `workspace` is one this hook is for.
    pub fn wants(
        &self,
        event: EventKind,
        batch: Option<&BatchId>,
        workspace: Option<&str>,
    ) -> bool {
        self.on.contains(&event)
            && self
                .workspace
                .as_deref()
                .is_none_or(|w| workspace == Some(w))
            && self
                .batches
                .as_ref()
                .is_none_or(|ids| batch.is_some_and(|b| ids.contains(b)))
    }

    /// How the hook is named in the log and the settings panel, never with what may be a
    /// secret: a command by its program (its arguments may carry a token), a webhook by its
    /// host (a chat service's webhook path is its token).
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Run(argv) => match argv.len() - 1 {
                0 => format!("run {}", argv[0]),
                1 => format!("run {} (with 1 argument)", argv[0]),
                n => format!("run {} (with {n} arguments)", argv[0]),
            },
            Action::Webhook(url) => format!(
                "webhook to {}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or(""),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
        }
    }
}

impl Hook {
    /// What tells two hooks apart (where and what, in full), for keeping each one's last
    /// failure; never shown.
    pub(crate) fn identity(&self) -> String {
        format!("{}\n{:?}", self.line, self.action)
    }
}

/// Why the file gives no hooks, in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{FILE_NAME}, line {line}: {}", self.message),
            None => write!(f, "{FILE_NAME}: {}", self.message),
        }
    }
}

impl std::error::Error for FileError {}

impl FileError {
    fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            line: Some(line_of(text, span.start)),
            message: message.into(),
        }
    }

    fn whole(message: impl Into<String>) -> Self {
        Self {
            line: None,
            message: message.into(),
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    hook: Vec<Spanned<RawHook>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    on: Option<Spanned<Vec<Spanned<String>>>>,
    run: Option<Spanned<Vec<String>>>,
    webhook: Option<Spanned<String>>,
    workspace: Option<Spanned<String>>,
    batches: Option<Vec<Spanned<String>>>,
}

/// The hooks in `text`, or the first problem.
pub fn parse(text: &str) -> Result<Vec<Hook>, FileError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_owned();
        match e.span() {
            Some(span) => FileError::at(text, span, message),
            None => FileError::whole(message),
        }
    })?;
    if raw.hook.len() > MAX_HOOKS {
        let span = raw.hook[MAX_HOOKS].span();
        return Err(FileError::at(
            text,
            span,
            format!("at most {MAX_HOOKS} hooks; this is one more"),
        ));
    }
    raw.hook
        .into_iter()
        .map(|spanned| {
            let span = spanned.span();
            hook(text, span, spanned.into_inner())
        })
        .collect()
}

fn hook(text: &str, span: Range<usize>, raw: RawHook) -> Result<Hook, FileError> {
    let names = EventKind::ALL.map(EventKind::name).join(", ");
    let Some(on) = raw.on else {
        return Err(FileError::at(
            text,
            span,
            format!("a hook needs `on`, the events it is for ({names})"),
        ));
    };
    if on.get_ref().is_empty() {
        return Err(FileError::at(
            text,
            on.span(),
            format!("`on` is empty: name at least one event ({names})"),
        ));
    }
    let mut events = Vec::new();
    for name in on.into_inner() {
        let kind = EventKind::from_name(name.get_ref()).ok_or_else(|| {
            FileError::at(
                text,
                name.span(),
                format!(
                    "no event is called \"{}\" (the events: {names})",
                    name.get_ref()
                ),
            )
        })?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    let action = match (raw.run, raw.webhook) {
        (Some(run), None) => {
            let argv = run.get_ref();
            if argv.is_empty() || argv[0].trim().is_empty() {
                return Err(FileError::at(
                    text,
                    run.span(),
                    "`run` needs the program to run, then its arguments",
                ));
            }
            if argv.len() > MAX_ARGS {
                return Err(FileError::at(
                    text,
                    run.span(),
                    format!("`run` may hold at most {MAX_ARGS} words"),
                ));
            }
            if argv.iter().any(|a| a.contains('\0')) {
                return Err(FileError::at(
                    text,
                    run.span(),
                    "`run` holds a NUL character",
                ));
            }
            Action::Run(run.into_inner())
        }
        (None, Some(webhook)) => Action::Webhook(
            webhook_url(webhook.get_ref()).map_err(|m| FileError::at(text, webhook.span(), m))?,
        ),
        (Some(_), Some(webhook)) => {
            return Err(FileError::at(
                text,
                webhook.span(),
                "a hook has either `run` or `webhook`, not both",
            ))
        }
        (None, None) => {
            return Err(FileError::at(
                text,
                span,
                "a hook needs `run` (a command) or `webhook` (a URL)",
            ))
        }
    };
    let workspace = raw
        .workspace
        .map(|w| {
            let id = w.get_ref().trim();
            if id.is_empty() {
                Err(FileError::at(text, w.span(), "`workspace` is empty"))
            } else {
                Ok(id.to_owned())
            }
        })
        .transpose()?;
    let batches = raw
        .batches
        .map(|ids| {
            ids.into_iter()
                .map(|id| {
                    BatchId::parse(id.get_ref())
                        .map_err(|e| FileError::at(text, id.span(), format!("`batches`: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(Hook {
        on: events,
        action,
        workspace,
        batches,
        line: line_of(text, span.start),
    })
}

/// A webhook's URL: https anywhere, plain http only to this machine (nothing readable on the
/// way), no credentials in it.
fn webhook_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("`webhook` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("`webhook` must not hold a user name or password".into());
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err("`webhook` must be https (plain http only to this machine: localhost, 127.0.0.1 or [::1])".into()),
        other => Err(format!("`webhook` must be an https URL, not {other}")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// What reading the file came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No file: no hooks, and nothing wrong.
    Absent,
    Hooks(Arc<Vec<Hook>>),
    /// The file is there but gives no hooks, for this reason.
    Refused(FileError),
}

impl Loaded {
    pub fn hooks(&self) -> &[Hook] {
        match self {
            Self::Hooks(hooks) => hooks,
            _ => &[],
        }
    }
}

/// Reads the hooks file at `path`: its folder and itself must be the person's and writable by
/// no one else, and it must be small.
pub fn read(path: &Path) -> Loaded {
    match read_checked(path) {
        Ok(Some(text)) => match parse(&text) {
            Ok(hooks) => Loaded::Hooks(Arc::new(hooks)),
            Err(e) => Loaded::Refused(e),
        },
        Ok(None) => Loaded::Absent,
        Err(e) => Loaded::Refused(e),
    }
}

fn read_checked(path: &Path) -> Result<Option<String>, FileError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FileError::whole(format!("could not be opened ({e})"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| FileError::whole(format!("could not be read ({e})")))?;
    if !meta.is_file() {
        return Err(FileError::whole("is not a file"));
    }
    owned_and_private(&meta, "the file")?;
    if let Some(folder) = path.parent() {
        let folder_meta = std::fs::metadata(folder)
            .map_err(|e| FileError::whole(format!("its folder could not be read ({e})")))?;
        owned_and_private(&folder_meta, "its folder")?;
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::whole(format!(
            "is {} bytes; a hooks file may be at most {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.by_ref()
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| FileError::whole(format!("could not be read as UTF-8 text ({e})")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::whole(format!(
            "grew past {MAX_FILE_BYTES} bytes while being read"
        )));
    }
    Ok(Some(text))
}

#[cfg(unix)]
fn owned_and_private(meta: &std::fs::Metadata, what: &str) -> Result<(), FileError> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(FileError::whole(format!(
            "{what} belongs to another user (uid {}); hooks run commands as you, so they are off",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(FileError::whole(format!(
            "{what} can be changed by other users (mode {:o}); hooks run commands as you, so they are off until it is private (chmod go-w)",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn owned_and_private(_: &std::fs::Metadata, _: &str) -> Result<(), FileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[hook]]
on = ["finished", "stalled"]
run = ["/usr/local/bin/next-step", "--campaign"]

[[hook]]
on = ["finished"]
webhook = "https://hooks.example.com/services/T0/B0/XX"
workspace = "ws_123"
batches = ["batch_1"]
"#;

    #[test]
    fn the_documented_example_reads() {
        let hooks = parse(EXAMPLE).unwrap();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].on, [EventKind::Finished, EventKind::Stalled]);
        assert_eq!(
            hooks[0].action,
            Action::Run(vec!["/usr/local/bin/next-step".into(), "--campaign".into()])
        );
        assert_eq!(hooks[0].line, 2);
        assert_eq!(hooks[1].line, 6);
        assert_eq!(hooks[1].describe(), "webhook to https://hooks.example.com");
        assert_eq!(
            hooks[0].describe(),
            "run /usr/local/bin/next-step (with 1 argument)",
            "arguments may hold a token: never shown"
        );
        let b1 = BatchId::parse("batch_1").unwrap();
        let b2 = BatchId::parse("batch_2").unwrap();
        assert!(hooks[1].wants(EventKind::Finished, Some(&b1), Some("ws_123")));
        assert!(!hooks[1].wants(EventKind::Finished, Some(&b2), Some("ws_123")));
        assert!(!hooks[1].wants(EventKind::Finished, Some(&b1), Some("ws_9")));
        assert!(!hooks[1].wants(EventKind::Stalled, Some(&b1), Some("ws_123")));
        assert!(hooks[0].wants(EventKind::Stalled, Some(&b2), None));
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn every_problem_names_its_line() {
        let cases = [
            ("[[hook]]\non = [\"finished\"\nrun = [\"x\"]\n", 3, "missing comma"),
            ("\n\n[[hook]]\non = [\"finish\"]\nrun = [\"/bin/true\"]\n", 4, "no event is called \"finish\""),
            ("[[hook]]\nrun = [\"/bin/true\"]\n", 1, "needs `on`"),
            ("[[hook]]\non = []\nrun = [\"/bin/true\"]\n", 2, "`on` is empty"),
            ("[[hook]]\non = [\"finished\"]\n", 1, "needs `run`"),
            ("[[hook]]\non = [\"finished\"]\nrun = []\n", 3, "needs the program"),
            ("[[hook]]\non = [\"finished\"]\nrun = [\"/bin/true\"]\nwebhook = \"https://a.example\"\n", 4, "not both"),
            ("[[hook]]\non = [\"finished\"]\nwebhook = \"http://hooks.example.com/x\"\n", 3, "must be https"),
            ("[[hook]]\non = [\"finished\"]\nwebhook = \"ftp://a.example/x\"\n", 3, "not ftp"),
            ("[[hook]]\non = [\"finished\"]\nwebhook = \"https://u:p@a.example/x\"\n", 3, "user name or password"),
            ("[[hook]]\non = [\"finished\"]\nwebhook = \"not a url\"\n", 3, "not a URL"),
            ("[[hook]]\non = [\"finished\"]\nrun = [\"/bin/true\"]\nshell = true\n", 4, "shell"),
            ("[[hook]]\non = [\"finished\"]\nrun = [\"/bin/true\"]\nbatches = [\"no spaces\"]\n", 4, "`batches`"),
            ("[[hook]]\non = [\"finished\"]\nrun = [\"/bin/true\"]\nworkspace = \" \"\n", 4, "`workspace` is empty"),
            ("[[hook]]\non = \"finished\"\nrun = [\"/bin/true\"]\n", 2, ""),
        ];
        for (text, line, says) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
            assert!(e.message.contains(says), "{text:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("hooks.toml, line {line}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn loopback_webhooks_may_be_plain_http() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            let text = format!("[[hook]]\non = [\"finished\"]\nwebhook = \"{url}\"\n");
            assert!(parse(&text).is_ok(), "{url}");
        }
    }

    #[test]
    fn too_many_hooks_are_refused_at_the_first_one_too_many() {
        let one = "[[hook]]\non = [\"finished\"]\nrun = [\"/bin/true\"]\n";
        let text = one.repeat(MAX_HOOKS + 1);
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(MAX_HOOKS * 3 + 1));
        assert!(parse(&one.repeat(MAX_HOOKS)).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_write_or_a_large_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(read(&path), Loaded::Absent);
        std::fs::write(&path, EXAMPLE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).hooks().len(), 2);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let Loaded::Refused(e) = read(&path) else {
            panic!("a world-writable file was read")
        };
        assert!(e.message.contains("can be changed by other users"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let Loaded::Refused(e) = read(&path) else {
            panic!("a file in a world-writable folder was read")
        };
        assert!(e.message.starts_with("its folder can be changed"), "{e}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();

        std::fs::write(&path, "#".repeat(MAX_FILE_BYTES as usize + 1)).unwrap();
        let Loaded::Refused(e) = read(&path) else {
            panic!("a huge file was read")
        };
        assert!(e.message.contains("at most 65536"), "{e}");
    }
}
