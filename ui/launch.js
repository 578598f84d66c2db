// "New batch…" and "Retry failed calls…": one panel that shows what will be started (the
// file's check with its preview, or a batch's failed calls as a list), asks for the agent,
// when and callbacks, says in the core's words what will happen, and starts it once.
//
// The file is chosen in the desktop's open dialog (or dropped on the window); the window
// process keeps its path, the page never names one. A start is never sent twice from here:
// the Start button is disabled from the click until the answer, and a refused or unknown
// outcome keeps everything the person chose on the panel.

import { $, el, invoke, listen, said, tauriCore } from "./dom.js";

const REMEMBERED_AGENT = "batchwatch.lastAgent";

// What the panel starts: the chosen file, or a batch's failed calls (one reason's group).
let target = null; // { kind: "file" } | { kind: "retry", id, reason }
let checked = null; // the check's result the panel shows
let agentsLoaded = null; // the agents of this opening (asked once per opening)

function show(text, isError) {
  $("launch-message").textContent = text || "";
  $("launch-message").classList.toggle("error", Boolean(isError));
}

// What was confirmed is what is sent: any change (the file, the agent, the time, callbacks) or
// any failure takes the confirm step and "Start anyway" away until the next review.
function resetConfirm() {
  $("launch-confirm").hidden = true;
  $("launch-anyway").hidden = true;
}

function open(kind) {
  const panel = $("launch");
  // The workspace is decided as the panel opens and kept for this opening (agents, question,
  // start alike), whatever the add box or the cards do meanwhile.
  target = { ...kind, workspace: workspaceFor(kind) };
  checked = null;
  agentsLoaded = null;
  show("");
  resetConfirm();
  // Each opening starts from "now", without callbacks: nothing of an earlier one is sent.
  document.querySelector("input[name=launch-when][value=now]").checked = true;
  $("launch-at").value = "";
  $("launch-callbacks-on").checked = false;
  $("launch-title").textContent = kind.kind === "retry"
    ? (kind.reason ? `Retry “${kind.reason}” of ${kind.id}` : `Retry the failed calls of ${kind.id}`)
    : "New batch";
  $("launch-file-row").hidden = kind.kind === "retry";
  renderChecked();
  panel.hidden = false;
  loadAgents();
  (kind.kind === "retry" ? $("launch-agent") : $("launch-choose")).focus();
}

function close() {
  $("launch").hidden = true;
  target = null;
  checked = null;
}

export function openNewBatch() {
  open({ kind: "file" });
}

// From a card ("Retry failed calls…") or a group of its failed calls ("Retry these…").
export async function openRetry(id, reason) {
  open({ kind: "retry", id, reason: reason || null });
  $("launch-summary").textContent = "Loading the failed calls from Trillet (every page, within the key's budget)…";
  const asked = target;
  try {
    const list = await invoke("prepare_retry", { id, reason: reason || null });
    if (target !== asked) return;
    checked = list;
    renderChecked();
    chooseAgent(list.agentId);
  } catch (e) {
    if (target !== asked) return;
    $("launch-summary").textContent = "";
    show(`Nothing to retry: ${said(e)}`, true);
  }
}

function renderChecked() {
  const c = checked;
  $("launch-file").textContent = c ? c.fileName : "or drop one on this window";
  $("launch-summary").textContent = c ? c.summary : "";
  $("launch-repeats").hidden = !(c && c.repeatsText);
  $("launch-repeats").textContent = c && c.repeatsText ? c.repeatsText : "";
  $("launch-bad").hidden = !(c && c.badRowsText);
  $("launch-bad").textContent = c && c.badRowsText ? `${c.badRowsText}. Fix those rows and choose the file again.` : "";
  const preview = $("launch-preview");
  const rows = c ? c.report.preview : [];
  $("launch-preview-wrap").hidden = rows.length === 0;
  preview.querySelector("thead").replaceChildren(el("tr", {}, (c ? c.report.columns : []).map((name) => el("th", { scope: "col", textContent: name }))));
  preview.querySelector("tbody").replaceChildren(...rows.map((row) => el("tr", {}, row.map((cell) => el("td", { textContent: cell })))));
  $("launch-review").disabled = !(c && c.startable);
}

// The workspace a start goes to (null: the only one): a retry's, its batch's own (the tray
// app holds to that whatever is sent); a file's, the one chosen in the add box.
function workspaceFor(kind) {
  if (kind.kind === "retry") {
    const card = document.querySelector(`.card[data-id="${CSS.escape(kind.id)}"]`);
    return (card && card.dataset.workspace) || null;
  }
  const select = $("add-workspace");
  return select.hidden ? null : select.value || null;
}

function startWorkspace() {
  return target ? target.workspace : null;
}

async function loadAgents() {
  if (agentsLoaded) return;
  const select = $("launch-agent");
  const asked = target;
  agentsLoaded = invoke("agents", { workspace: startWorkspace() });
  $("launch-agent-message").textContent = "Loading the workspace's agents…";
  try {
    const agents = await agentsLoaded;
    if (target !== asked) return;
    select.replaceChildren(...agents.map((agent) => el("option", {
      value: agent._id,
      textContent: agent.status === "ready" ? agent.name : `${agent.name} (${agent.status})`,
      dataset: { name: agent.name },
    })));
    $("launch-agent-message").textContent = agents.length ? "" : "This workspace has no call agents: create one in Trillet first.";
    chooseAgent(checked && checked.agentId);
  } catch (e) {
    agentsLoaded = null;
    if (target !== asked) return;
    $("launch-agent-message").textContent = `Could not load the agents: ${said(e)}`;
  }
}

// The parent's agent for a retry when Batchwatch started the parent, else the one chosen last.
function chooseAgent(preferred) {
  const select = $("launch-agent");
  const options = [...select.options].map((o) => o.value);
  const wanted = [preferred, localStorage.getItem(REMEMBERED_AGENT)].find((id) => id && options.includes(id));
  if (wanted) select.value = wanted;
}

// What the person chose, as the tray app reads it; a sentence when it cannot be sent.
function choice(force) {
  const select = $("launch-agent");
  const option = select.selectedOptions[0];
  if (!option) throw new Error("Choose the agent that places the calls.");
  const at = document.querySelector("input[name=launch-when]:checked").value === "at";
  let scheduledAtMs = null;
  if (at) {
    const value = $("launch-at").value;
    if (!value) throw new Error("Give the date and time to start at, or choose Start now.");
    // The input is in the person's own time; the tray app sends it as UTC.
    scheduledAtMs = new Date(value).getTime();
    if (!(scheduledAtMs > Date.now())) throw new Error("That time has passed: give a later one, or choose Start now.");
  }
  const callbacks = $("launch-callbacks-on").checked;
  return {
    agentId: option.value,
    agentName: option.dataset.name,
    scheduledAtMs,
    callbackAttempts: callbacks ? Number($("launch-callbacks").value) : null,
    callbackGaps: callbacks ? [$("launch-gap").value] : [],
    force: Boolean(force),
    // The content reviewed: the tray app refuses to start anything else.
    fingerprint: checked.report.fingerprint,
    workspace: startWorkspace(),
  };
}

async function review() {
  show("");
  resetConfirm();
  try {
    const chosen = choice(false);
    const question = await invoke("describe_start", { calls: checked.report.rows, fileName: checked.fileName, ...chosen });
    $("launch-question").textContent = question;
    $("launch-go").textContent = `Start ${checked.report.rows.toLocaleString("en-US")} ${checked.report.rows === 1 ? "call" : "calls"}`;
    $("launch-confirm").hidden = false;
    $("launch-go").focus();
  } catch (e) {
    show(said(e), true);
  }
}

async function start(force) {
  const go = $("launch-go");
  if (go.disabled) return;
  go.disabled = true;
  $("launch-anyway").disabled = true;
  show("Starting…");
  try {
    const chosen = choice(force);
    const started = target.kind === "retry"
      ? await invoke("start_retry", { id: target.id, reason: target.reason, ...chosen })
      : await tauriCore.invoke("start_chosen", { choice: chosen });
    localStorage.setItem(REMEMBERED_AGENT, chosen.agentId);
    close();
    $("add-feedback").replaceChildren(el("li", { textContent: started.message }));
  } catch (e) {
    // Everything chosen stays; the reason is said, and only a start held back may be forced.
    const code = e && e.code;
    if (code === "unknown_outcome" || code === "resident_gone") {
      // It may have started: never "Not started", and no Start until a new review.
      resetConfirm();
      show(`The outcome is unknown: ${said(e)}`, true);
    } else {
      show(`Not started: ${said(e)}`, true);
      if (code === "recent_start") $("launch-anyway").hidden = false;
      else resetConfirm();
    }
  } finally {
    go.disabled = false;
    $("launch-anyway").disabled = false;
  }
}

async function chooseFile() {
  show("");
  try {
    const result = await tauriCore.invoke("choose_csv");
    if (result.cancelled) return;
    resetConfirm();
    checked = result;
    renderChecked();
  } catch (e) {
    resetConfirm();
    checked = null;
    renderChecked();
    show(said(e), true);
  }
}

// A card's line about how Batchwatch started it, when it starts, and its retries.
export function fillLaunchLine(node, card) {
  const parts = [card.launchText, card.startsText].filter(Boolean);
  if (card.retryOf) parts.push(`Retry of ${card.retryOf}`);
  if (card.retries && card.retries.length) parts.push(`Retried as ${card.retries.join(", ")}`);
  const line = node.querySelector(".launch-line");
  line.hidden = parts.length === 0;
  line.textContent = parts.join(" · ");
  node.querySelector(".retry-all").hidden = card.failed === 0;
}

export function setupLaunch() {
  $("new-batch").addEventListener("click", openNewBatch);
  $("launch-close").addEventListener("click", close);
  $("launch-choose").addEventListener("click", chooseFile);
  $("launch-review").addEventListener("click", review);
  $("launch-back").addEventListener("click", () => { $("launch-confirm").hidden = true; $("launch-review").focus(); });
  $("launch-go").addEventListener("click", () => start(false));
  $("launch-anyway").addEventListener("click", () => start(true));
  $("launch").addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  for (const input of document.querySelectorAll("#launch input, #launch select")) {
    // A change after "Review…" asks for a new review: what is confirmed is what is sent.
    input.addEventListener("input", resetConfirm);
  }
  $("launch-at").addEventListener("focus", () => {
    document.querySelector("input[name=launch-when][value=at]").checked = true;
    resetConfirm();
  });
  // A file dropped on the window: the window process checked it; the panel shows the result.
  listen("batchwatch://csv-dropped", (event) => {
    if (!target || target.kind !== "file") open({ kind: "file" });
    const { checked: result, error } = event.payload;
    checked = result || null;
    resetConfirm();
    renderChecked();
    show(error ? error.message : "", Boolean(error));
  });
}
