//! The messages on the control socket (see the module above for the shape of a line).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroize;

use crate::figures::Sample;
use crate::figures::Seen;
use crate::model::BatchProgress;
use crate::settings::SettingsForm;

/// The answer to [`Request::Status`]: the batch's progress (its API fields, as ever), and for
/// a batch the resident watches what it saw of it lately — so the terminal gives the ETA of
/// the recent pace, as the tray and the window do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusAnswer {
    #[serde(flatten)]
    pub progress: BatchProgress,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<u64>,
    /// What the tray app knows of it when Batchwatch started it (its start time, agent, file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<crate::launch::Launch>,
}

impl StatusAnswer {
    pub fn seen(&self) -> Seen<'_> {
        Seen {
            samples: &self.samples,
            answered_at_ms: self.answered_at_ms,
        }
    }
}

/// What a person chose for a start in the window: the agent (its name for the card), when,
/// callbacks, and whether to start it although the same file was started lately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartChoice {
    pub agent_id: String,
    #[serde(default)]
    pub agent_name: String,
    /// `None`: at once.
    #[serde(default)]
    pub scheduled_at_ms: Option<u64>,
    /// Smart callbacks: how many, and the gaps as typed ("4h", "1d2h").
    #[serde(default)]
    pub callback_attempts: Option<u32>,
    #[serde(default)]
    pub callback_gaps: Vec<String>,
    #[serde(default)]
    pub force: bool,
    /// The content the person reviewed (the check's fingerprint): a start is refused when the
    /// file, or the retry list, is not that one any more.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The workspace to start it in (the first when absent). A retry is always started in its
    /// batch's own workspace.
    #[serde(default)]
    pub workspace: Option<String>,
}

impl StartChoice {
    /// The callbacks asked for, or why they cannot be.
    pub fn callbacks(&self) -> Result<Option<crate::launch::SmartCallbacks>, String> {
        let Some(attempts) = self.callback_attempts else {
            return Ok(None);
        };
        let gaps = self
            .callback_gaps
            .iter()
            .filter(|g| !g.trim().is_empty())
            .map(|g| crate::launch::Gap::parse(g))
            .collect::<Result<Vec<_>, _>>()?;
        crate::launch::SmartCallbacks::new(attempts, gaps).map(Some)
    }
}

/// Who is on the other end, as a client says in its hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// The window process: renders the views it is pushed, sends what the person does.
    Window,
    /// `batchwatch-cli` or a second `batchwatch` launch.
    Terminal,
}

/// The first line a client sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub client: ClientKind,
}

/// An error as both the window and the terminal show it: a code to switch on, a sentence to
/// show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A string that is a secret (the API key on its way from the window to the resident): never
/// printed, wiped when dropped.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What a client asks of the resident. The window's commands keep their names (`op`) and
/// argument names (`args`, camelCase as the window writes them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "op",
    content = "args",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Request {
    /// The whole window payload, as a view push carries it.
    GetState {},
    /// From now on, push every new window view (the latest one when the client is slow).
    Subscribe {},
    /// This window process asks to be the one window: `{"granted":true}`, or `false` when
    /// another is open (which is raised instead).
    ClaimWindow {},
    Track {
        text: String,
        /// When the batches' notifications are shown (`add --notify`); as they are when absent.
        #[serde(default)]
        notify: Option<crate::notify_choice::NotifyChoice>,
        /// The workspace they are in (`add --workspace`); the only one when absent, refused
        /// when there are several.
        #[serde(default)]
        workspace: Option<String>,
    },
    /// A tracked batch's choice of notifications (its card's menu).
    SetNotify {
        id: String,
        notify: crate::notify_choice::NotifyChoice,
    },
    /// The workspace's call agents, ready ones first (one request, within the budget).
    Agents {
        /// Whose agents: a workspace's (the first's when absent).
        #[serde(default)]
        workspace: Option<String>,
    },
    /// Checks a CSV file before a start (the window process sends it for the file the person
    /// chose; the page cannot name one).
    CheckCsv {
        path: std::path::PathBuf,
    },
    /// A tracked batch's failed calls (one reason's group when given) made into the list a
    /// retry starts, checked; kept until it is started.
    PrepareRetry {
        id: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// The question asked before a start, in the core's words.
    DescribeStart {
        calls: u64,
        file_name: String,
        #[serde(flatten)]
        choice: StartChoice,
    },
    /// Starts the file at `path` (sent by the window process for the chosen file), once.
    StartBatch {
        path: std::path::PathBuf,
        #[serde(flatten)]
        choice: StartChoice,
    },
    /// Starts the prepared retry list of batch `id`, once.
    StartRetry {
        id: String,
        #[serde(default)]
        reason: Option<String>,
        #[serde(flatten)]
        choice: StartChoice,
    },
    /// A batch Batchwatch started (the terminal's `start`/`retry`): tracked with what is known
    /// of it — its agent, file, schedule and the batch it retries.
    TrackStarted {
        id: String,
        launch: crate::launch::Launch,
        /// The workspace it was started in (the first when absent).
        #[serde(default)]
        workspace: Option<String>,
    },
    Untrack {
        id: String,
    },
    /// Stops watching every finished batch (their record stays: `batchwatch-cli history`).
    ClearFinished {},
    Refresh {
        #[serde(default)]
        id: Option<String>,
    },
    /// Adds a workspace, or replaces the one with this ID (its key and label); the others stay.
    SaveCredentials {
        api_key: Secret,
        workspace_id: String,
        /// What the person calls it; kept as it was (or the ID) when absent.
        #[serde(default)]
        label: Option<String>,
    },
    /// Gives a stored workspace another label (its key stays as it is).
    RenameWorkspace {
        workspace_id: String,
        label: String,
    },
    /// Removes one workspace (and stops watching its batches), or every one when none is named.
    ForgetCredentials {
        #[serde(default)]
        workspace_id: Option<String>,
    },
    RetryKeychain {},
    PauseNotifications {
        paused: bool,
    },
    SaveSettings {
        form: SettingsForm,
    },
    PreviewSettings {
        form: SettingsForm,
    },
    SetStartAtLogin {
        enabled: bool,
    },
    FailedCalls {
        id: String,
        more: bool,
    },
    CloseFailedCalls {
        id: String,
    },
    /// Every failed call of a tracked batch (all pages, within the budget), written as a retry
    /// list CSV to `path` (a full path, as the window's save dialog gives it); only the group
    /// of `reason` when one is given.
    SaveRetryList {
        id: String,
        #[serde(default)]
        reason: Option<String>,
        path: std::path::PathBuf,
    },
    CancelBatch {
        id: String,
    },
    /// One batch's progress, asked of Trillet within the resident's budget (a batch the
    /// resident does not track is asked about, not added).
    Status {
        id: String,
        /// The workspace to ask in when the batch is not watched (the first when absent).
        #[serde(default)]
        workspace: Option<String>,
    },
    /// Which API base and workspace the resident asks (never the key): a terminal asks
    /// through it only when they are its own.
    About {},
    /// Waits for room in the key's budget and counts one request there: the terminal
    /// companion asks before each request it sends itself, so both share one budget.
    Lease {
        /// Whose key's budget: the workspace's (one the resident does not poll shares a budget
        /// of its own); the first's when absent.
        #[serde(default)]
        workspace: Option<String>,
    },
    /// Ends the resident and its window.
    Quit {},
}

impl Request {
    /// The request named `op` with `args` (`null` or absent reads as `{}`), as a client that
    /// forwards what it was given (the window) sends it.
    pub fn from_parts(op: &str, args: Value) -> Result<Self, Failure> {
        let args = if args.is_null() {
            Value::Object(Default::default())
        } else {
            args
        };
        serde_json::from_value(serde_json::json!({ "op": op, "args": args })).map_err(|e| {
            Failure::new(
                "bad_request",
                format!("Batchwatch did not understand the request {op:?}: {e}"),
            )
        })
    }
}

/// What the resident sends unasked, besides views. (A view goes as
/// `{"push":"view","data":…}` too, but the server writes it straight from the serialized
/// payload and the client keeps only the latest: it is never one of these.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "push", content = "data", rename_all = "snake_case")]
pub enum Push {
    /// Bring the window to the front (a second launch, the tray's "Open").
    Raise,
    /// The resident is quitting: close.
    Quit,
}

/// A line the server sends, read by the client.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ServerLine {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub ok: Option<Value>,
    #[serde(default)]
    pub error: Option<Failure>,
    #[serde(default)]
    pub welcome: Option<Welcome>,
    #[serde(default)]
    pub refused: Option<Failure>,
    #[serde(default)]
    pub push: Option<String>,
    /// A view, kept as the text it came in (it can be megabytes, and the window hands it on).
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub pid: u32,
}

/// A line a client sends after its hello.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestLine {
    pub id: u64,
    pub op: String,
    #[serde(default)]
    pub args: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status answer keeps the API's fields at the top, so a terminal of an earlier
    /// version reads it as the progress it always was; what was seen comes beside them.
    #[test]
    fn a_status_answer_is_the_progress_with_what_was_seen_beside_it() {
        let progress: BatchProgress =
            serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
        let answer = StatusAnswer {
            progress: progress.clone(),
            samples: vec![Sample {
                at_ms: 1_703_101_140_000,
                completed: 90,
                failed: 4,
            }],
            answered_at_ms: Some(1_703_101_200_000),
            launch: None,
        };
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(wire["total"], 150);
        assert_eq!(wire["answeredAtMs"], 1_703_101_200_000u64);
        assert_eq!(wire["samples"][0]["completed"], 90);
        let as_before: BatchProgress = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(as_before, progress);
        let back: StatusAnswer = serde_json::from_value(wire).unwrap();
        assert_eq!(back, answer);

        // From a resident of an earlier version: the progress alone.
        let bare: StatusAnswer =
            serde_json::from_str(crate::model::tests::REFERENCE_EXAMPLE).unwrap();
        assert_eq!(
            (bare.progress, bare.samples.len(), bare.answered_at_ms),
            (progress, 0, None)
        );
    }

    #[test]
    fn requests_read_as_the_window_writes_them() {
        let saved = Request::from_parts(
            "save_credentials",
            serde_json::json!({"apiKey": "sk_1", "workspaceId": "ws"}),
        )
        .unwrap();
        match &saved {
            Request::SaveCredentials {
                api_key,
                workspace_id,
                ..
            } => {
                assert_eq!(api_key.expose(), "sk_1");
                assert_eq!(workspace_id, "ws");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !format!("{saved:?}").contains("sk_1"),
            "the key is never printed"
        );
        assert!(matches!(
            Request::from_parts("get_state", Value::Null).unwrap(),
            Request::GetState {}
        ));
        assert!(matches!(
            Request::from_parts("refresh", serde_json::json!({})).unwrap(),
            Request::Refresh { id: None }
        ));
        let unknown = Request::from_parts("format_disk", Value::Null).unwrap_err();
        assert_eq!(unknown.code, "bad_request");
    }

    #[test]
    fn pushes_round_trip() {
        for push in [Push::Raise, Push::Quit] {
            let line = serde_json::to_string(&push).unwrap();
            assert_eq!(serde_json::from_str::<Push>(&line).unwrap(), push);
        }
        assert_eq!(
            serde_json::to_string(&Push::Raise).unwrap(),
            r#"{"push":"raise"}"#
        );
    }
}
