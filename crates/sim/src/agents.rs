//! The workspace's call agents: what `GET /v1/api/agents` lists (a bare array, every field the
//! docs show) and what a start's `agentId` must name.

use serde::Serialize;

/// A call agent of one workspace, as a test or the demo sets it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// `_id`.
    pub id: String,
    pub name: String,
    /// `ready` for an agent that can call; anything else is listed as it is.
    pub status: String,
    /// The workspace it belongs to; `None`: the simulator's first workspace.
    pub workspace_id: Option<String>,
}

impl Agent {
    /// A ready voice agent of the simulator's first workspace.
    pub fn ready(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "ready".to_owned(),
            workspace_id: None,
        }
    }

    /// The same agent with another status (`"draft"`, …).
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    /// The same agent in another workspace.
    pub fn in_workspace(mut self, workspace: &str) -> Self {
        self.workspace_id = Some(workspace.to_owned());
        self
    }
}

/// One element of the list, fields as the docs' example has them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AgentBody<'a> {
    tts_model: TtsModel,
    #[serde(rename = "_id")]
    id: &'a str,
    workspace_id: &'a str,
    user_id: &'static str,
    name: &'a str,
    llm_model: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    settings: AgentSettings,
    status: &'a str,
    active_sessions: [(); 0],
    created_at: &'static str,
    updated_at: &'static str,
    #[serde(rename = "__v")]
    version: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TtsModel {
    language: &'static str,
    provider: &'static str,
    voice_id: &'static str,
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct AgentSettings {
    speed: f64,
    volume: f64,
    temperature: f64,
}

/// The list body for `workspace`: its agents, in the order they were added.
pub(crate) fn agents_body<'a>(
    agents: &'a [Agent],
    workspace: &'a str,
    first_workspace: &'a str,
) -> Vec<AgentBody<'a>> {
    agents
        .iter()
        .filter(|a| a.workspace_id.as_deref().unwrap_or(first_workspace) == workspace)
        .map(|a| AgentBody {
            tts_model: TtsModel {
                language: "en",
                provider: "cartesia",
                voice_id: "sim-voice-1",
                name: "Sarah",
            },
            id: &a.id,
            workspace_id: workspace,
            user_id: "sim-user-1",
            name: &a.name,
            llm_model: "gpt-4o-mini",
            kind: "voice",
            settings: AgentSettings {
                speed: 1.0,
                volume: 1.0,
                temperature: 0.7,
            },
            status: &a.status,
            active_sessions: [],
            created_at: "2026-01-19T02:57:27.923Z",
            updated_at: "2026-01-19T02:57:27.923Z",
            version: 0,
        })
        .collect()
}

/// Whether `workspace` has an agent `id`.
pub(crate) fn has_agent(
    agents: &[Agent],
    workspace: &str,
    first_workspace: &str,
    id: &str,
) -> bool {
    agents
        .iter()
        .any(|a| a.id == id && a.workspace_id.as_deref().unwrap_or(first_workspace) == workspace)
}
