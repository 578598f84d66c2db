//! A Trillet workspace as Batchwatch knows it: its credentials and the label the person gave
//! it ("Acme US"), and the rules for picking one of several — by ID, or the only one.
//!
//! Trillet scopes every request by the pair `x-api-key` + `x-workspace-id`; one key may open
//! several workspaces, and its rate limit is the key's, so the monitor groups workspaces by key
//! (a lane each). The key stays in [`Credentials`] (redacted everywhere); nothing here prints it.

use std::fmt;

use crate::credentials::{Credentials, InvalidCredential, WorkspaceId};

/// The longest label kept, in characters: a tray row and a card heading show it whole.
pub const MAX_LABEL_CHARS: usize = 64;

/// The most workspaces stored: each is a keychain item read at start.
pub const MAX_WORKSPACES: usize = 32;

/// One workspace: the credentials every request for it carries, and its label.
#[derive(Clone, PartialEq, Eq)]
pub struct Workspace {
    pub credentials: Credentials,
    /// What the person calls it; the workspace ID when they gave none.
    pub label: String,
    /// When it was stored (epoch ms): the order workspaces are listed in, the first stored
    /// first. The one stored by a version before workspaces is 0, so it stays first.
    pub added_at_ms: u64,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("id", &self.credentials.workspace_id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Why a label was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWorkspace {
    #[error(transparent)]
    Credential(#[from] InvalidCredential),
    #[error("the label is longer than {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
    #[error("the label contains control characters")]
    LabelHasControlCharacters,
    #[error("Batchwatch keeps at most {MAX_WORKSPACES} workspaces; remove one first")]
    TooMany,
}

impl Workspace {
    /// A workspace from typed-in values: the label trimmed, the workspace ID when blank.
    pub fn new(
        credentials: Credentials,
        label: Option<&str>,
        added_at_ms: u64,
    ) -> Result<Self, InvalidWorkspace> {
        let label = label.map(str::trim).filter(|l| !l.is_empty());
        if let Some(label) = label {
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(InvalidWorkspace::LabelTooLong);
            }
            if label.chars().any(char::is_control) {
                return Err(InvalidWorkspace::LabelHasControlCharacters);
            }
        }
        let label = label.map_or_else(|| credentials.workspace_id.to_string(), str::to_owned);
        Ok(Self {
            credentials,
            label,
            added_at_ms,
        })
    }

    pub fn id(&self) -> &WorkspaceId {
        &self.credentials.workspace_id
    }

    /// (ID, label), as [`choices`] lists them.
    pub fn named(&self) -> (&str, &str) {
        (self.id().as_str(), &self.label)
    }
}

/// The workspace to store for `credentials` given again or anew, among those `stored`: one
/// saved again keeps its place and, unless a new label is given, its label; a new one goes
/// last, unless [`MAX_WORKSPACES`] are stored.
pub fn to_store(
    stored: &[Workspace],
    credentials: Credentials,
    label: Option<&str>,
    now_ms: u64,
) -> Result<Workspace, InvalidWorkspace> {
    let before = stored.iter().find(|w| *w.id() == credentials.workspace_id);
    if before.is_none() && stored.len() >= MAX_WORKSPACES {
        return Err(InvalidWorkspace::TooMany);
    }
    Workspace::new(
        credentials,
        label.or(before.map(|w| w.label.as_str())),
        before.map_or(now_ms, |w| w.added_at_ms),
    )
}

/// The workspace a command means: the one named, else the only one stored. With several and
/// none named, the choice is the caller's to ask for — the error lists them.
pub fn choose<'a>(
    workspaces: &'a [Workspace],
    named: Option<&str>,
) -> Result<&'a Workspace, ChooseError> {
    match named.map(str::trim) {
        Some(named) => workspaces
            .iter()
            .find(|w| w.id().as_str() == named)
            .ok_or_else(|| ChooseError::Unknown {
                named: named.to_owned(),
                choices: choices(workspaces.iter().map(Workspace::named)),
            }),
        None => match workspaces {
            [] => Err(ChooseError::None),
            [only] => Ok(only),
            _ => Err(ChooseError::Several(choices(
                workspaces.iter().map(Workspace::named),
            ))),
        },
    }
}

/// "ws_us (Acme US), ws_eu": each (ID, label), the label left out where it is the ID.
pub fn choices<'a>(workspaces: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    workspaces
        .into_iter()
        .map(|(id, label)| match id == label {
            true => id.to_owned(),
            false => format!("{id} ({label})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why no workspace could be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    #[error("No workspace is stored.")]
    None,
    #[error("Several workspaces are stored; name one with --workspace: {0}.")]
    Several(String),
    #[error("No workspace {named:?} is stored (the workspaces: {choices}).")]
    Unknown { named: String, choices: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(id: &str, label: Option<&str>) -> Workspace {
        Workspace::new(Credentials::new("sk_1", id).unwrap(), label, 0).unwrap()
    }

    #[test]
    fn labels_are_trimmed_bounded_and_default_to_the_id() {
        assert_eq!(ws("ws_1", None).label, "ws_1");
        assert_eq!(ws("ws_1", Some("  ")).label, "ws_1");
        assert_eq!(ws("ws_1", Some(" Acme US ")).label, "Acme US");
        let creds = Credentials::new("sk_1", "ws_1").unwrap();
        let long = "x".repeat(MAX_LABEL_CHARS + 1);
        assert_eq!(
            Workspace::new(creds.clone(), Some(&long), 0),
            Err(InvalidWorkspace::LabelTooLong)
        );
        assert_eq!(
            Workspace::new(creds, Some("a\nb"), 0),
            Err(InvalidWorkspace::LabelHasControlCharacters)
        );
    }

    #[test]
    fn a_workspace_stored_again_keeps_its_place_and_label() {
        let stored =
            [Workspace::new(Credentials::new("sk_1", "ws_1").unwrap(), Some("One"), 5).unwrap()];
        let again = to_store(&stored, Credentials::new("sk_2", "ws_1").unwrap(), None, 99).unwrap();
        assert_eq!((again.label.as_str(), again.added_at_ms), ("One", 5));
        assert_eq!(again.credentials.api_key.expose_for_header(), "sk_2");
        let renamed = to_store(
            &stored,
            Credentials::new("sk_2", "ws_1").unwrap(),
            Some("Uno"),
            99,
        )
        .unwrap();
        assert_eq!(renamed.label, "Uno");
        let new = to_store(&stored, Credentials::new("sk_2", "ws_2").unwrap(), None, 99).unwrap();
        assert_eq!((new.label.as_str(), new.added_at_ms), ("ws_2", 99));
        let full: Vec<Workspace> = (0..MAX_WORKSPACES)
            .map(|i| ws(&format!("ws_{i}"), None))
            .collect();
        assert_eq!(
            to_store(&full, Credentials::new("sk_2", "ws_new").unwrap(), None, 0),
            Err(InvalidWorkspace::TooMany)
        );
    }

    #[test]
    fn choosing_names_one_or_takes_the_only_one() {
        let one = [ws("ws_us", Some("Acme US"))];
        assert_eq!(choose(&one, None).unwrap().id().as_str(), "ws_us");
        let two = [ws("ws_us", Some("Acme US")), ws("ws_eu", None)];
        assert_eq!(choose(&two, Some("ws_eu")).unwrap().label, "ws_eu");
        assert_eq!(
            choose(&two, None).unwrap_err().to_string(),
            "Several workspaces are stored; name one with --workspace: ws_us (Acme US), ws_eu."
        );
        assert!(matches!(
            choose(&two, Some("ws_x")),
            Err(ChooseError::Unknown { .. })
        ));
        assert_eq!(choose(&[], None), Err(ChooseError::None));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let text = format!("{:?}", ws("ws_1", Some("A")));
        assert!(!text.contains("sk_1") && text.contains("ws_1"), "{text}");
    }
}
