// The Batchwatch window. It renders what the app sends (`get_state` on load, then the
// `batchwatch://view` event on every change) and calls commands; every figure and sentence it
// shows was formatted by the core, so the window, tray and terminal agree.

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// ---- rendering -------------------------------------------------------------------------

let latest = null;
const cards = new Map(); // batch ID → its <li>, kept so open details survive updates

function render(payload) {
  latest = payload;
  const { status, tray } = payload;
  $("demo-badge").hidden = !status.demo;
  $("summary").textContent = tray.label || "No batches tracked";

  // "No credentials" is already said, with the form, in the open credentials panel.
  const banner = payload.banner && payload.banner.code !== "no_credentials" ? payload.banner : null;
  $("banner").hidden = !banner;
  $("banner").textContent = banner ? banner.message : "";
  $("banner").dataset.code = banner ? banner.code : "";

  const notices = [];
  if (payload.stateFileProblem) notices.push(payload.stateFileProblem);
  if (!status.notifications.available) notices.push(status.notifications.message || "Desktop notifications are unavailable.");
  if (status.notifications.paused) notices.push("Notifications are paused (tray menu → Pause notifications).");
  $("notices").replaceChildren(...notices.map((text) => el("p", { className: "notice", textContent: text })));

  renderCredentials(status.credentials, status.demo);
  renderCards(payload.cards);
}

function renderCredentials(credentials, demo) {
  $("credentials-state").textContent =
    credentials.state === "stored" ? `— workspace ${credentials.workspaceId}` :
    credentials.state === "demo" ? "— demo" :
    credentials.state === "unavailable" ? "— keychain unavailable" :
    credentials.state === "checking" ? "— reading your keychain…" : "— not set";
  const panel = $("credentials-panel");
  if (credentials.state === "missing" || credentials.state === "unavailable") panel.open = true;
  const message = $("credentials-message");
  if (!message.dataset.sticky) {
    message.textContent = credentials.message;
    message.classList.toggle("error", credentials.state === "unavailable");
  }
  for (const id of ["api-key", "workspace-id", "forget"]) $(id).disabled = demo;
  if (credentials.workspaceId && document.activeElement !== $("workspace-id") && !$("workspace-id").value) {
    $("workspace-id").value = credentials.workspaceId;
  }
}

function renderCards(list) {
  $("empty").hidden = list.length > 0;
  const seen = new Set();
  const ordered = list.map((card) => {
    seen.add(card.id);
    let node = cards.get(card.id);
    if (!node) {
      node = buildCard(card.id);
      cards.set(card.id, node);
    }
    fillCard(node, card);
    return node;
  });
  for (const [id, node] of cards) if (!seen.has(id)) { node.remove(); cards.delete(id); }
  $("cards").replaceChildren(...ordered);
}

function buildCard(id) {
  const refresh = el("button", { type: "button", className: "refresh", textContent: "Refresh" });
  refresh.addEventListener("click", () => call("refresh", { id }));
  const remove = el("button", { type: "button", className: "remove", textContent: "Remove", ariaLabel: `Stop watching ${id}` });
  remove.addEventListener("click", () => call("untrack", { id }));
  const copy = el("button", { type: "button", className: "copy", textContent: "Copy", ariaLabel: `Copy ${id}` });
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(id); copy.textContent = "Copied"; }
    catch { window.getSelection().selectAllChildren(node.querySelector(".id")); copy.textContent = "Selected"; }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  const segments = ["completed", "failed", "active", "waiting"].map((kind) => el("span", { className: `seg ${kind}` }));
  const node = el("li", { className: "card" }, [
    el("div", { className: "card-head" }, [
      el("code", { className: "id", textContent: id, title: id }),
      copy,
      el("span", { className: "percent" }),
      el("span", { className: "chip" }),
    ]),
    el("div", { className: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": `Progress of ${id}` }, segments),
    el("p", { className: "counts" }),
    el("p", { className: "timing" }),
    el("p", { className: "problem", role: "alert" }),
    el("details", { className: "recent" }, [el("summary"), el("ul")]),
    el("div", { className: "actions" }, [refresh, remove]),
  ]);
  return node;
}

function fillCard(node, card) {
  node.dataset.state = card.state;
  node.dataset.stale = String(card.stale);
  node.querySelector(".chip").textContent = card.statusText;
  node.querySelector(".chip").dataset.state = card.state;
  node.querySelector(".percent").textContent = card.percentText;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(card.percent));
  for (const kind of ["completed", "failed", "active", "waiting"]) {
    bar.querySelector(`.${kind}`).style.width = `${card.segments[kind]}%`;
  }
  node.querySelector(".counts").textContent = card.total
    ? `${card.countsText} — ${card.completed + card.failed} of ${card.total}`
    : "";
  const timing = [card.elapsedText, card.etaText, card.averageCallText,
    card.lastUpdatedMs ? `updated ${timeOfDay(card.lastUpdatedMs)}` : null].filter(Boolean);
  node.querySelector(".timing").textContent = timing.join(" · ");
  const problem = node.querySelector(".problem");
  problem.hidden = !card.problem;
  problem.textContent = card.problem ? card.problem.message : "";
  problem.dataset.code = card.problem ? card.problem.code : "";
  node.querySelector(".refresh").hidden = ["completed", "failed", "cancelled"].includes(card.state);

  const recent = node.querySelector(".recent");
  recent.hidden = card.recentCalls.length === 0;
  recent.querySelector("summary").textContent = `Recent calls (${card.recentCalls.length})`;
  recent.querySelector("ul").replaceChildren(...card.recentCalls.map((call) => el("li", {}, [
    el("span", { className: `outcome-${call.outcome}`, textContent: call.outcome === "failed" ? "✗" : "✓", ariaLabel: call.outcome }),
    el("span", { textContent: call.phoneNumber || call.jobId }),
    el("span", { className: call.outcome === "failed" ? "outcome-failed" : "", textContent: call.detail }),
    el("span", { className: "muted", textContent: call.endedAtMs ? timeOfDay(call.endedAtMs) : "" }),
  ])));
}

// ---- actions ---------------------------------------------------------------------------

async function call(command, args) {
  try {
    return await invoke(command, args);
  } catch (error) {
    // Commands fail with {code, message}; the message is written for people.
    showAddFeedback([{ error: error && error.message ? error.message : String(error) }]);
    return undefined;
  }
}

function showAddFeedback(lines) {
  $("add-feedback").replaceChildren(...lines.map((line) =>
    el("li", { className: line.error ? "error" : "", textContent: line.error || line.text })));
}

$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("add-input");
  const text = input.value;
  if (!text.trim()) return;
  const outcome = await call("track", { text });
  if (!outcome) return;
  const lines = [];
  if (outcome.added.length) lines.push({ text: `Watching ${outcome.added.join(", ")}.` });
  if (outcome.already.length) lines.push({ text: `Already watching ${outcome.already.join(", ")}.` });
  for (const rejected of outcome.rejected) lines.push({ error: `“${rejected.token}” was not added: ${rejected.reason}.` });
  showAddFeedback(lines);
  // Keep only what was refused in the box, so it can be corrected.
  input.value = outcome.rejected.map((r) => r.token).join(" ");
});

$("credentials-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("credentials-message");
  const save = event.submitter || $("credentials-form").querySelector("button[type=submit]");
  message.textContent = "Checking…";
  message.classList.remove("error");
  save.disabled = true;
  try {
    const status = await invoke("save_credentials", { apiKey: $("api-key").value, workspaceId: $("workspace-id").value });
    message.textContent = status.message;
    delete message.dataset.sticky;
  } catch (error) {
    message.textContent = error.message || String(error);
    message.classList.add("error");
    message.dataset.sticky = "1";
    return;
  } finally {
    // The key never stays in the page longer than it takes to send it.
    $("api-key").value = "";
    save.disabled = false;
  }
});

$("forget").addEventListener("click", async () => {
  const message = $("credentials-message");
  try {
    const status = await invoke("forget_credentials");
    message.textContent = status.message;
    message.classList.remove("error");
    delete message.dataset.sticky;
    $("workspace-id").value = "";
  } catch (error) {
    message.textContent = error.message || String(error);
    message.classList.add("error");
  }
});

$("refresh-all").addEventListener("click", () => call("refresh", { id: null }));

// ---- start -----------------------------------------------------------------------------

listen("batchwatch://view", (event) => render(event.payload));
invoke("get_state").then(render);
// Elapsed times and "updated" stamps age between polls; re-render what we have each 30 s.
setInterval(() => { if (latest) render(latest); }, 30000);
