// The Batchwatch window. It renders what the app sends (`get_state` on load, then the
// `batchwatch://view` event on every change) and calls commands; every figure and sentence it
// shows was formatted by the core, so the window, tray and terminal agree.

import { $, el, invoke, listen, remakeNext, replaceIfChanged, setClass, setHidden, setProp, setText, tauriCore, timeOfDay } from "./dom.js";
import { buildFailures } from "./failures.js";
import { fillLaunchLine, openNewBatch, openRetry, setupLaunch } from "./launch.js";

// ---- rendering -------------------------------------------------------------------------

let latest = null;
// Batch ID → its card's record: the <li> (kept, so open details survive updates), the card it
// was last given and the one it shows, its workspace tag, whether it is furnished, and what
// of it was last announced. Kept in
// script, not read back from the page: with 2,000 cards every read of the page counts.
const cards = new Map();
const recordOf = new WeakMap(); // <li> → its record
const headings = new Map(); // workspace ID → its heading <li>, with several workspaces

// What the person chose, kept across windows: the workspace shown, the groups folded, the
// workspace batches were last added to.
const remembered = {
  get(key, fallback) {
    try { return JSON.parse(localStorage.getItem(`batchwatch.${key}`)) ?? fallback; } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(`batchwatch.${key}`, JSON.stringify(value)); } catch { /* private mode: not kept */ }
  },
};

// The label's parts ("62%", "2 running", "ETA 1 h 22 min") wrap between each other, never
// inside one: a narrow window must not leave "min" alone on a line.
function renderSummary(label) {
  replaceIfChanged($("summary"), label, () => label.split(" · ").flatMap((part, i) => [
    ...(i ? [document.createTextNode(" · ")] : []),
    el("span", { className: "nowrap", textContent: part }),
  ]));
}

// A whole view asked for (get_state): drawn unless a view made later was drawn meanwhile.
// The window process passes views on as changes to the last one it passed on; an older whole
// view drawn after a newer one would leave the page holding cards it is never told changed.
function renderWhole(payload) {
  if (latest && payload.nowMs < latest.nowMs) return;
  render(payload);
}

// What the last view cost the page, script and layout, and when the first cards were on it
// (ms since the page began): read by the end-to-end suite's many-batches test.
const figures = { renders: 0, renderMs: null, layoutMs: null, firstCardsMs: null, cardsGiven: 0 };
window.batchwatchFigures = figures;

// The payload with every card whole. A view names a card the page already has, as it had it,
// as {id, unchanged: true} (the window process's SentCards): with 2,000 batches, one batch's
// new answer is one card to read and redraw, not all of them. The card it had is its record's.
// Null when it names one this page was never given (a view that overtook the first
// get_state): then the whole view is asked for.
function withHeldCards(payload) {
  const cardsNow = [];
  let given = 0;
  for (const card of payload.cards) {
    if (!card.unchanged) {
      given += 1;
      cardsNow.push(card);
      continue;
    }
    const record = cards.get(card.id);
    if (!record || !record.card) return null;
    cardsNow.push(record.card);
  }
  figures.cardsGiven = given;
  return { ...payload, cards: cardsNow };
}

function render(given) {
  const started = performance.now();
  const payload = withHeldCards(given);
  if (!payload) {
    invoke("get_state").then(renderWhole);
    return;
  }
  latest = payload;
  const { status, tray } = payload;
  setHidden($("demo-badge"), !status.demo);
  renderSummary(tray.label || "No batches tracked");

  // "No credentials" is already said, with the form, in the open credentials panel.
  const banner = payload.banner && payload.banner.code !== "no_credentials" ? payload.banner : null;
  setHidden($("banner"), !banner);
  setText($("banner"), banner ? banner.message : "");
  setProp($("banner").dataset, "code", banner ? banner.code : "");

  const notices = [];
  if (payload.stateFileProblem) notices.push(payload.stateFileProblem);
  if (!status.notifications.available) notices.push(status.notifications.message || "Desktop notifications are unavailable.");
  const settings = payload.settings;
  if (settings.notificationsPausedUntilMs) notices.push(`Notifications are paused until ${timeOfDay(settings.notificationsPausedUntilMs)}.`);
  else if (!settings.notifications) notices.push("Notifications are off (Settings).");
  replaceIfChanged($("notices"), notices.join("\n"), () => notices.map((text) => el("p", { className: "notice", textContent: text })));

  renderCredentials(status.credentials, status.demo);
  renderSettings(settings, status);
  const workspaces = payload.workspaces || [];
  renderWorkspaceChoices(workspaces);
  renderCards(payload.cards, workspaces);
  announceChanges(payload.cards);
  // A batch and its retries, added up, head the Finished section.
  const campaigns = payload.campaigns || [];
  replaceIfChanged($("campaigns"), JSON.stringify(campaigns), () => campaigns.map((c) => el("li", { textContent: c.text, dataset: { root: c.root } })));
  if (campaigns.length) setHidden($("finished"), false);
  // The layout forced here, where the next frame would do it anyway, so it is counted.
  const scripted = performance.now();
  void document.body.offsetHeight;
  const finishedAt = performance.now();
  figures.renders += 1;
  figures.renderMs = finishedAt - started;
  figures.layoutMs = finishedAt - scripted;
  if (payload.cards.length && figures.firstCardsMs == null) figures.firstCardsMs = finishedAt;
}

// The form shows the stored settings until the person starts editing it.
let settingsDirty = false;

// The stored settings the form was last filled with (null: fill it at the next view).
let settingsShown = null;

function renderSettings(settings, status) {
  const stored = JSON.stringify(settings);
  if (!settingsDirty && settingsShown !== stored) {
    settingsShown = stored;
    $("floor-secs").value = settings.floorSecs;
    $("budget").value = settings.budget;
    $("notifications-on").checked = settings.notifications;
    $("failure-alert-on").checked = settings.failureAlertPercent != null;
    if (settings.failureAlertPercent != null) $("failure-alert-percent").value = settings.failureAlertPercent;
    $("stall-on").checked = settings.stallMinutes > 0;
    if (settings.stallMinutes > 0) $("stall-minutes").value = settings.stallMinutes;
    $("sounds-on").checked = settings.sounds;
    $("quiet-on").checked = settings.quietHours != null;
    if (settings.quietHours) [$("quiet-from").value, $("quiet-to").value] = settings.quietHours.split("-");
    setText($("settings-consequence"), settings.consequence);
    setClass($("settings-consequence"), "error", false);
  }
  setProp($("failure-alert-percent"), "disabled", !$("failure-alert-on").checked);
  setProp($("stall-minutes"), "disabled", !$("stall-on").checked);
  setProp($("quiet-from"), "disabled", !$("quiet-on").checked);
  setProp($("quiet-to"), "disabled", !$("quiet-on").checked);
  const paused = settings.notificationsPausedUntilMs;
  setText($("pause-state"), paused ? `Notifications paused until ${timeOfDay(paused)}.` : "");
  setText($("pause"), paused ? "Resume notifications" : "Pause notifications for 1 hour");
  setProp($("pause").dataset, "paused", paused ? "1" : "");
  setHidden($("settings-demo"), !status.demo);
  setProp($("start-at-login"), "checked", status.startAtLogin);
  setProp($("start-at-login"), "disabled", status.demo);
  renderHooks(status.hooks, status.demo);
}

// What the hooks file gave: each hook, the events it is for, and its last failure.
function renderHooks(hooks, demo) {
  // A tray app of the version before sends none.
  hooks = hooks || { file: "hooks.toml", problem: null, hooks: [], dropped: 0 };
  const file = demo
    ? "The demo runs no hooks."
    : hooks.hooks.length
      ? `From ${hooks.file}:`
      : `No hooks. Commands and webhooks to run on a batch's events go in ${hooks.file}.`;
  setText($("hooks-file"), file);
  setHidden($("hooks-problem"), !hooks.problem);
  setText($("hooks-problem"), hooks.problem ? `Hooks are off: ${hooks.problem}` : "");
  replaceIfChanged($("hooks-list"), JSON.stringify([hooks.hooks, hooks.dropped]), () => hookItems(hooks));
}

function hookItems(hooks) {
  const items = hooks.hooks.map((hook) => {
    const failure = hook.lastFailure
      ? el("span", { className: "error", textContent: ` Last failure at ${timeOfDay(hook.lastFailure.atMs)}: ${hook.lastFailure.what}.` })
      : null;
    return el("li", {}, [
      el("span", { textContent: `On ${hook.on.join(", ")}: ${hook.describe} (line ${hook.line}).` }),
      ...(failure ? [failure] : []),
    ]);
  });
  if (hooks.dropped > 0) {
    items.push(el("li", { className: "error", textContent: `${hooks.dropped} hook runs were dropped: too many were waiting.` }));
  }
  return items;
}

// The stored workspaces, each with Rename and Remove; Remove asks first while it still has
// running batches (removing it stops watching them).
function renderWorkspaceList(credentials, demo) {
  const workspaces = credentials.state === "stored" ? credentials.workspaces || [] : [];
  const box = $("workspaces-list");
  setHidden(box, workspaces.length === 0);
  setHidden($("credentials-form-title"), workspaces.length === 0);
  // Not while the person is renaming or confirming in it: the next view would undo their typing.
  if (box.contains(document.activeElement) && box.querySelector("input, .confirm-remove")) return;
  replaceIfChanged(box, JSON.stringify([workspaces, demo]), () => workspaces.map((w) => {
    const what = el("span", { className: "what", textContent: w.label === w.id ? w.id : `${w.label} (${w.id})` });
    const rename = el("button", { type: "button", textContent: "Rename", ariaLabel: `Rename ${w.label}`, disabled: demo });
    const remove = el("button", { type: "button", textContent: "Remove", ariaLabel: `Remove ${w.label}`, disabled: demo });
    const item = el("li", { dataset: { workspace: w.id } }, [what, rename, remove]);
    rename.addEventListener("click", () => {
      const input = el("input", { type: "text", value: w.label, maxLength: 64, ariaLabel: `New label for ${w.id}` });
      const save = el("button", { type: "button", className: "primary", textContent: "Save label" });
      const keep = el("button", { type: "button", textContent: "Cancel" });
      // The list made again at once, from the view the page has (the rename's own is on its way).
      const done = () => { box.replaceChildren(); remakeNext(box); if (latest) render(latest); };
      save.addEventListener("click", async () => {
        if (await credentialsCall("rename_workspace", { workspaceId: w.id, label: input.value })) done();
      });
      keep.addEventListener("click", done);
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") save.click();
        if (e.key === "Escape") { e.preventDefault(); keep.click(); }
      });
      item.replaceChildren(input, save, keep);
      input.focus();
    });
    remove.addEventListener("click", async () => {
      const running = latest ? latest.cards.filter((c) => c.workspace === w.id && !c.finished).length : 0;
      if (!running) {
        await credentialsCall("forget_credentials", { workspaceId: w.id });
        return;
      }
      const yes = el("button", { type: "button", className: "danger", textContent: `Remove and stop watching` });
      const no = el("button", { type: "button", textContent: "Keep it" });
      const confirm = el("div", { className: "confirm-remove", role: "alertdialog", ariaLabel: `Remove ${w.label}?` }, [
        el("p", { textContent: `${w.label} still has ${running === 1 ? "1 running batch" : `${running} running batches`}. Removing it deletes its key from your keychain and stops watching them (they go on at Trillet).` }),
        el("div", { className: "row" }, [yes, no]),
      ]);
      const dismiss = () => { confirm.remove(); remove.focus(); };
      no.addEventListener("click", dismiss);
      confirm.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); dismiss(); } });
      yes.addEventListener("click", async () => {
        confirm.remove();
        await credentialsCall("forget_credentials", { workspaceId: w.id });
      });
      item.append(confirm);
      no.focus();
    });
    return item;
  }));
}

// A credentials request from the panel, its answer or error in the panel's message line.
async function credentialsCall(command, args) {
  const message = $("credentials-message");
  try {
    const status = await invoke(command, args);
    message.textContent = status.message;
    message.classList.remove("error");
    delete message.dataset.sticky;
    return status;
  } catch (error) {
    message.textContent = error.message || String(error);
    message.classList.add("error");
    message.dataset.sticky = "1";
    return undefined;
  }
}

function renderCredentials(credentials, demo) {
  renderWorkspaceList(credentials, demo);
  const count = (credentials.workspaces || []).length;
  setText($("credentials-state"),
    credentials.state === "stored" && count > 1 ? `— ${count} workspaces` :
    credentials.state === "stored" ? `— workspace ${credentials.workspaceId}` :
    credentials.state === "demo" ? "— demo" :
    credentials.state === "environment" ? `— workspace ${credentials.workspaceId}, from the environment` :
    credentials.state === "unavailable" ? "— keychain unavailable" :
    credentials.state === "checking" ? "— reading your keychain…" : "— not set");
  const panel = $("credentials-panel");
  if ((credentials.state === "missing" || credentials.state === "unavailable") && !panel.open) panel.open = true;
  const message = $("credentials-message");
  if (!message.dataset.sticky) {
    setText(message, credentials.message);
    setClass(message, "error", credentials.state === "unavailable");
  }
  for (const id of ["api-key", "workspace-id", "workspace-label", "forget"]) setProp($(id), "disabled", demo);
  // With several, Forget removes them all (each has its own Remove above).
  setText($("forget"), count > 1 ? "Forget all" : "Forget");
  // A locked or absent keychain is read again when it starts; this asks at once.
  setHidden($("keychain-retry"), credentials.state !== "unavailable");
  if (count === 1 && credentials.workspaceId && document.activeElement !== $("workspace-id") && !$("workspace-id").value) {
    $("workspace-id").value = credentials.workspaceId;
  }
}

// With several workspaces: the filter over the cards and the add box's choice, each kept.
function renderWorkspaceChoices(workspaces) {
  const several = workspaces.length > 1;
  for (const [id, all, key] of [["workspace-filter", "All workspaces", "filter"], ["add-workspace", null, "addTo"]]) {
    const select = $(id);
    setHidden(select, !several);
    if (!several || document.activeElement === select) continue;
    const made = replaceIfChanged(select, JSON.stringify(workspaces.map((w) => [w.id, w.label])), () => [
      ...(all ? [el("option", { value: "", textContent: all })] : []),
      ...workspaces.map((w) => el("option", { value: w.id, textContent: w.label })),
    ]);
    if (!made) continue;
    // A workspace removed meanwhile falls back to all (the filter) or the first (adding).
    const wanted = remembered.get(key, "");
    const options = [...select.options];
    select.value = options.some((o) => o.value === wanted) ? wanted : options[0].value;
  }
}

$("workspace-filter").addEventListener("change", () => {
  remembered.set("filter", $("workspace-filter").value);
  renderList();
});
$("add-workspace").addEventListener("change", () => remembered.set("addTo", $("add-workspace").value));

// A workspace's heading: its label (a button that folds its cards away) and its own summary.
function heading(workspace) {
  let node = headings.get(workspace.id);
  if (!node) {
    const toggle = el("button", { type: "button", ariaExpanded: "true" });
    toggle.addEventListener("click", () => {
      const folded = new Set(remembered.get("folded", []));
      if (folded.has(workspace.id)) folded.delete(workspace.id); else folded.add(workspace.id);
      remembered.set("folded", [...folded]);
      renderList();
    });
    node = el("li", { className: "ws-head", dataset: { workspace: workspace.id } }, [
      el("h2", {}, [toggle]),
      el("span", { className: "ws-summary" }),
    ]);
    headings.set(workspace.id, node);
  }
  const folded = remembered.get("folded", []).includes(workspace.id);
  const toggle = node.querySelector("button");
  setText(toggle, workspace.label);
  toggle.setAttribute("aria-expanded", String(!folded));
  toggle.setAttribute("aria-label", `${workspace.label}: ${folded ? "show" : "hide"} its batches`);
  setText(node.querySelector(".ws-summary"), workspace.summary);
  setProp(node.dataset, "attention", String(workspace.attention));
  return node;
}

function renderCards(list, workspaces) {
  setHidden($("empty"), list.length > 0);
  const several = workspaces.length > 1;
  const labels = new Map(workspaces.map((w) => [w.id, w.label]));
  const seen = new Set();
  const ordered = list.map((card) => {
    seen.add(card.id);
    let record = cards.get(card.id);
    if (!record) {
      record = { node: buildCard(card.id), card: null, shown: null, tag: "", furnished: false, said: null };
      recordOf.set(record.node, record);
      cards.set(card.id, record);
    }
    // Filled again only when its card changed (an unchanged card is the same object), and
    // only once furnished.
    record.card = card;
    const tag = several ? labels.get(card.workspace) || "no workspace" : "";
    if (record.tag !== tag) {
      record.tag = tag;
      record.shown = null;
    }
    if (record.furnished && record.shown !== card) fillRecord(record);
    return record.node;
  });
  for (const [id, record] of cards) {
    if (seen.has(id)) continue;
    nearScreen.unobserve(record.node);
    record.node.remove();
    cards.delete(id);
  }
  // One workspace shown, when the person chose one; then what the filter box matches.
  const only = several ? $("workspace-filter").value : "";
  const matches = matcher($("filter").value, several ? labels : null);
  const shown = list.map((card, i) => [card, ordered[i]])
    .filter(([card]) => (!only || card.workspace === only) && matches(card));
  setHidden($("list-tools"), list.length === 0);
  setHidden($("shown-count"), shown.length === list.length);
  setText($("shown-count"), `${shown.length} of ${list.length} shown`);
  // Finished batches (over, no call still in progress) go below, newest first.
  const finished = shown.filter(([card]) => card.finished);
  finished.sort(([a], [b]) => (b.endedAtMs ?? 0) - (a.endedAtMs ?? 0));
  const running = shown.filter(([card]) => !card.finished);
  running.sort(SORTS[$("sort").value]);
  let placed = running.map(([, node]) => node);
  if (several) {
    // Under each workspace's heading, in the order they were stored; folded ones show only it.
    const folded = new Set(remembered.get("folded", []));
    const known = new Set(workspaces.map((w) => w.id));
    placed = [];
    for (const workspace of workspaces.filter((w) => !only || w.id === only)) {
      placed.push(heading(workspace));
      if (folded.has(workspace.id)) continue;
      placed.push(...running.filter(([card]) => card.workspace === workspace.id).map(([, node]) => node));
    }
    placed.push(...running.filter(([card]) => !known.has(card.workspace)).map(([, node]) => node));
  }
  for (const [id, node] of headings) if (!workspaces.some((w) => w.id === id)) headings.delete(id);
  placeChildren($("cards"), placed);
  placeChildren($("finished-cards"), finished.map(([, node]) => node));
  // The first ones at once (no frame without them); the rest as they come near the screen.
  let furnishing = FURNISHED_AT_ONCE;
  for (const node of [...placed, ...finished.map(([, n]) => n)]) {
    if (furnishing === 0) break;
    const record = recordOf.get(node);
    if (!record) continue; // a workspace heading
    furnish(record);
    furnishing -= 1;
  }
  setHidden($("finished"), finished.length === 0);
}

// The filter box: every word typed must be in the batch's ID, status or workspace.
function matcher(text, labels) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return () => true;
  return (card) => {
    const about = `${card.id} ${card.statusText} ${card.state} ${labels ? labels.get(card.workspace) || "" : ""}`.toLowerCase();
    return words.every((word) => about.includes(word));
  };
}

// The orders the sort offers over the running batches ([card, node] pairs; sorting is stable,
// so ties keep the order they were added in).
const SORTS = {
  added: () => 0,
  progress: ([a], [b]) => b.percent - a.percent,
  eta: ([a], [b]) => (a.etaMinutes ?? Infinity) - (b.etaMinutes ?? Infinity),
  problems: ([a], [b]) => Number(Boolean(b.problem || b.stallText)) - Number(Boolean(a.problem || a.stallText)),
};

// What the filter, the sort, the workspace shown and a folded workspace change: the list alone.
function renderList() {
  if (latest) renderCards(latest.cards, latest.workspaces || []);
}

$("filter").addEventListener("input", renderList);
$("sort").value = remembered.get("sort", "added");
if (!$("sort").value) $("sort").value = "added";
$("sort").addEventListener("change", () => {
  remembered.set("sort", $("sort").value);
  renderList();
});

// A finish, a stall or a problem, said once through the polite live region: only changes
// this window saw happen (its first view says nothing; the cards are there to read). What a
// card last showed of those is kept on its record (renderCards made one for every card).
function announceChanges(list) {
  const lines = [];
  for (const card of list) {
    const record = cards.get(card.id);
    const now = { finished: card.finished, stall: card.stallText || "", problem: card.problem ? card.problem.code : "" };
    const before = record.said;
    if (before && before.finished === now.finished && before.stall === now.stall && before.problem === now.problem) continue;
    record.said = now;
    if (!before) continue;
    if (now.finished && !before.finished) lines.push(`${card.progressText}.`);
    else if (now.stall && !before.stall) lines.push(`${card.id}: ${card.stallText}.`);
    if (now.problem && now.problem !== before.problem) lines.push(`${card.id}: ${card.problem.message}`);
  }
  if (lines.length) $("announcer").textContent = lines.join(" ");
}

// Moves nodes only when the list's order changed: a card left in place keeps its scroll,
// its open drill-down and the element under the pointer.
function placeChildren(list, nodes) {
  const current = list.children;
  if (current.length === nodes.length && nodes.every((node, i) => current[i] === node)) return;
  // Moving a card takes the focus from whatever in it had it: given back, so a sort by
  // progress never drops the keyboard's place.
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  list.replaceChildren(...nodes);
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
}

$("clear-finished").addEventListener("click", () => call("clear_finished"));

// A card's shell: its place in the list, furnished (its parts made and filled) when it first
// comes near the screen. 2,000 batches cost 2,000 empty list items, not 90,000 elements.
const FURNISHED_AT_ONCE = 40;
const nearScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) if (entry.isIntersecting) furnish(recordOf.get(entry.target));
}, { rootMargin: "400px 0px" });

function buildCard(id) {
  const node = el("li", { className: "card", dataset: { id } });
  nearScreen.observe(node);
  return node;
}

function furnish(record) {
  if (!record || record.furnished) return;
  record.furnished = true;
  nearScreen.unobserve(record.node);
  fillParts(record.node, record.node.dataset.id);
  if (record.card) fillRecord(record);
}

function fillRecord(record) {
  fillCard(record.node, record.card, record.tag);
  record.shown = record.card;
}

function fillParts(node, id) {
  const refresh = el("button", { type: "button", className: "refresh", textContent: "Refresh" });
  refresh.addEventListener("click", () => call("refresh", { id }));
  const remove = el("button", { type: "button", className: "remove", textContent: "Remove", ariaLabel: `Remove ${id} (stop watching it)` });
  remove.addEventListener("click", () => call("untrack", { id }));
  const copy = el("button", { type: "button", className: "copy", textContent: "Copy", ariaLabel: `Copy ${id}` });
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(id); copy.textContent = "Copied"; }
    catch { window.getSelection().selectAllChildren(node.querySelector(".id")); copy.textContent = "Selected"; }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  const segments = ["completed", "failed", "active", "waiting"].map((kind) => el("span", { className: `seg ${kind}` }));
  const cancel = el("button", { type: "button", className: "cancel", textContent: "Cancel batch…" });
  const retry = el("button", { type: "button", className: "retry-all", textContent: "Retry failed calls…", ariaLabel: `Retry failed calls of ${id} as a new batch` });
  retry.addEventListener("click", () => openRetry(id, null));
  // When this batch's notifications are shown (its hooks run whatever is chosen).
  const notify = el("select", { className: "notify", ariaLabel: `Notifications for ${id}` }, [
    el("option", { value: "always", textContent: "Notify: always" }),
    el("option", { value: "failures", textContent: "Notify: if calls failed" }),
    el("option", { value: "never", textContent: "Notify: never" }),
  ]);
  notify.addEventListener("change", () => call("set_notify", { id, notify: notify.value }));
  const confirmBox = buildCancelConfirm(id, cancel);
  const removeBox = buildRemoveConfirm(id, remove);
  cancel.addEventListener("click", () => {
    confirmBox.hidden = false;
    confirmBox.querySelector(".keep").focus();
  });
  node.append(
    el("div", { className: "card-head" }, [
      el("code", { className: "id", textContent: id, title: id }),
      el("span", { className: "ws-tag", hidden: true }),
      copy,
      el("span", { className: "percent" }),
      el("span", { className: "chip" }),
    ]),
    el("p", { className: "launch-line muted", hidden: true }),
    el("div", { className: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": `Progress of ${id}` }, segments),
    plotElement(id),
    el("p", { className: "counts" }),
    el("p", { className: "timing" }),
    el("p", { className: "problem" }),
    el("p", { className: "stall", hidden: true }),
    el("p", { className: "cancellation", role: "status" }),
    el("details", { className: "recent" }, [el("summary"), el("ul")]),
    buildFailures(id),
    confirmBox,
    removeBox,
    el("div", { className: "actions" }, [notify, retry, cancel, refresh, remove]),
  );
}

// ---- a card's questions ----------------------------------------------------------------

// A question on a card, hidden until asked: its "keep" answer or Escape closes it and gives
// the focus back to the card's button that asked (`askedBy`).
function cardQuestion(className, label, children, keep, askedBy) {
  const box = el("div", { className, role: "alertdialog", ariaLabel: label, hidden: true }, children);
  const dismiss = () => {
    box.hidden = true;
    askedBy.focus();
  };
  keep.addEventListener("click", dismiss);
  box.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); dismiss(); } });
  return box;
}

// Delete on a card asks first.

function buildRemoveConfirm(id, askedBy) {
  const yes = el("button", { type: "button", className: "confirm-remove-card danger", textContent: "Stop watching" });
  const no = el("button", { type: "button", textContent: "Keep watching" });
  const box = cardQuestion("remove-question", `Stop watching ${id}?`, [
    el("p", { textContent: `Stop watching ${id}? It goes on at Trillet; add it again any time.` }),
    el("div", { className: "row" }, [yes, no]),
  ], no, askedBy);
  yes.addEventListener("click", () => { box.hidden = true; call("untrack", { id }); });
  return box;
}

// ---- cancel ----------------------------------------------------------------------------

function buildCancelConfirm(id, askedBy) {
  const confirm = el("button", { type: "button", className: "confirm danger", textContent: "Cancel batch" });
  const keep = el("button", { type: "button", className: "keep", textContent: "Keep it running" });
  const box = cardQuestion("confirm-cancel", `Cancel ${id}?`, [
    el("p", { className: "what" }),
    el("p", { className: "cancel-error error", role: "alert", hidden: true }),
    el("div", { className: "row" }, [confirm, keep]),
  ], keep, askedBy);
  confirm.addEventListener("click", async () => {
    const error = box.querySelector(".cancel-error");
    confirm.disabled = true;
    confirm.textContent = "Cancelling…";
    error.hidden = true;
    try {
      await invoke("cancel_batch", { id });
      box.hidden = true;
    } catch (e) {
      // Never swallowed: the reason stays on the card until the next try.
      error.textContent = `Not cancelled: ${e && e.message ? e.message : String(e)}`;
      error.hidden = false;
    } finally {
      confirm.disabled = false;
      confirm.textContent = "Cancel batch";
    }
  });
  return box;
}

// The throughput plot: calls finished per minute over the last hour, a bar per sample
// (newest on the right), completed and failed stacked in their colours. Plain SVG.
const SVG = "http://www.w3.org/2000/svg";
const PLOT_BARS = 60;

function plotElement(id) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "plot");
  svg.setAttribute("viewBox", `0 0 ${PLOT_BARS * 2} 24`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Calls finished per minute for ${id}, over the last hour`);
  return svg;
}

function fillPlot(svg, bars, paceText) {
  // Its place is kept while it has no bars yet, so the card never jumps when the first comes
  // (a click aimed at a button below would land elsewhere).
  svg.style.visibility = bars.length ? "visible" : "hidden";
  const shown = bars.slice(-PLOT_BARS);
  // Drawn again only when its bars or its pace changed (a view comes with every answer).
  replaceIfChanged(svg, `${paceText || ""}|${JSON.stringify(shown)}`, () => plotParts(shown, paceText));
}

function plotParts(shown, paceText) {
  // Each bar is [completed, failed] calls a minute.
  const peak = Math.max(1, ...shown.map(([completed, failed]) => completed + failed));
  const rects = [];
  shown.forEach(([completedPerMinute, failedPerMinute], i) => {
    const x = (PLOT_BARS - shown.length + i) * 2;
    const failed = (failedPerMinute / peak) * 24;
    const completed = (completedPerMinute / peak) * 24;
    for (const [kind, height, y] of [["failed", failed, 24 - failed], ["completed", completed, 24 - failed - completed]]) {
      if (height <= 0) continue;
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("class", kind);
      r.setAttribute("x", String(x));
      r.setAttribute("y", String(y));
      r.setAttribute("width", "1.6");
      r.setAttribute("height", String(height));
      rects.push(r);
    }
  });
  // The pace the ETA comes from, as the core measures it (the same in the tray).
  const title = document.createElementNS(SVG, "title");
  title.textContent = paceText || "";
  return [title, ...rects];
}

function fillCard(node, card, tagText) {
  const tag = node.querySelector(".ws-tag");
  tag.hidden = !tagText;
  tag.textContent = tagText;
  node.dataset.state = card.state;
  node.dataset.workspace = card.workspace || "";
  fillLaunchLine(node, card);
  fillPlot(node.querySelector(".plot"), card.throughput || [], card.paceText);
  node.dataset.stale = String(card.stale);
  node.querySelector(".chip").textContent = card.statusText;
  node.querySelector(".chip").dataset.state = card.state;
  node.querySelector(".percent").textContent = card.percentText;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(card.percent));
  bar.setAttribute("aria-valuetext", card.progressText);
  for (const kind of ["completed", "failed", "active", "waiting"]) {
    bar.querySelector(`.${kind}`).style.width = `${card.segments[kind]}%`;
  }
  node.querySelector(".counts").textContent = card.total
    ? `${card.countsText} — ${card.completed + card.failed} of ${card.total}`
    : "";
  const timing = [card.elapsedText, card.etaText, card.successText, card.averageCallText,
    card.lastUpdatedMs ? `updated ${timeOfDay(card.lastUpdatedMs)}` : null].filter(Boolean);
  node.querySelector(".timing").textContent = timing.join(" · ");
  const problem = node.querySelector(".problem");
  problem.hidden = !card.problem;
  problem.textContent = card.problem ? card.problem.message : "";
  problem.dataset.code = card.problem ? card.problem.code : "";
  node.querySelector(".refresh").hidden = ["completed", "failed", "cancelled"].includes(card.state);
  node.querySelector(".cancel").hidden = !card.canCancel;
  const confirmBox = node.querySelector(".confirm-cancel");
  if (!card.canCancel) confirmBox.hidden = true;
  confirmBox.querySelector(".what").textContent =
    `Cancel ${card.id}? Its ${card.waiting} waiting calls are dropped and never made; ` +
    `the ${card.active} calls in progress finish. This cannot be undone.`;
  const notify = node.querySelector(".notify");
  // Not while the person has it open: the next view would undo their choice under the pointer.
  if (document.activeElement !== notify) notify.value = card.notify;
  const stall = node.querySelector(".stall");
  stall.hidden = !card.stallText;
  stall.textContent = card.stallText || "";
  const cancellation = node.querySelector(".cancellation");
  cancellation.hidden = !card.cancellationText;
  cancellation.textContent = card.cancellationText || "";
  const failures = node.querySelector(".failures");
  failures.hidden = card.failed === 0;
  failures.dataset.savingText = card.savingText || "";
  failures.querySelector("summary").textContent = `Failed calls (${card.failed})`;

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
  const outcome = await call("track", { text, workspace: $("add-workspace").hidden ? null : $("add-workspace").value || null });
  if (!outcome) return;
  const lines = [];
  if (outcome.added.length) lines.push({ text: `Watching ${outcome.added.join(", ")}.` });
  if (outcome.already.length) lines.push({ text: `Already watching ${outcome.already.join(", ")}.` });
  for (const rejected of outcome.rejected) lines.push({ error: `“${rejected.token}” was not added: ${rejected.reason}.` });
  if (outcome.overLimitMessage) lines.push({ error: outcome.overLimitMessage });
  showAddFeedback(lines);
  // Keep only what was refused in the box, so it can be corrected (or added later).
  input.value = [...outcome.rejected.map((r) => r.token), ...outcome.overLimit].join(" ");
});

$("keychain-retry").addEventListener("click", async () => {
  const message = $("credentials-message");
  message.textContent = "Reading your keychain…";
  delete message.dataset.sticky;
  await call("retry_keychain", {});
});

$("credentials-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("credentials-message");
  const save = event.submitter || $("credentials-form").querySelector("button[type=submit]");
  message.textContent = "Checking…";
  message.classList.remove("error");
  save.disabled = true;
  try {
    const status = await invoke("save_credentials", {
      apiKey: $("api-key").value,
      workspaceId: $("workspace-id").value,
      label: $("workspace-label").value.trim() || null,
    });
    message.textContent = status.message;
    delete message.dataset.sticky;
    $("workspace-label").value = "";
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

// With several workspaces, or batches still running, "Forget" asks first: every key goes.
function forgetNeedsConfirming() {
  const credentials = latest ? latest.status.credentials : null;
  const count = credentials ? (credentials.workspaces || []).length : 0;
  const running = latest ? latest.cards.filter((c) => !c.finished).length : 0;
  return count > 1 || running > 0 ? { count, running } : null;
}

$("forget").addEventListener("click", async () => {
  const asking = forgetNeedsConfirming();
  if (asking && !$("forget").dataset.confirmed) {
    const yes = el("button", { type: "button", className: "danger", textContent: asking.count > 1 ? `Forget all ${asking.count}` : "Forget" });
    const no = el("button", { type: "button", textContent: "Keep them" });
    const box = el("div", { className: "confirm-remove", role: "alertdialog", ariaLabel: "Forget the stored credentials?" }, [
      el("p", { textContent: `${asking.count > 1 ? `The keys of all ${asking.count} workspaces are` : "The key is"} deleted from your keychain and polling stops${asking.running ? ` for ${asking.running === 1 ? "1 running batch" : `${asking.running} running batches`} (they stay listed, and go on at Trillet)` : ""}.` }),
      el("div", { className: "row" }, [yes, no]),
    ]);
    const dismiss = () => { box.remove(); $("forget").focus(); };
    no.addEventListener("click", dismiss);
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); dismiss(); } });
    yes.addEventListener("click", () => {
      box.remove();
      $("forget").dataset.confirmed = "1";
      $("forget").click();
    });
    $("credentials-form").append(box);
    no.focus();
    return;
  }
  delete $("forget").dataset.confirmed;
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

function settingsForm() {
  // Number(), not parseInt(): "5.9" must be refused, not quietly read as 5.
  const number = (id) => ($(id).value.trim() === "" ? Number.NaN : Number($(id).value));
  return {
    floorSecs: number("floor-secs"),
    budget: number("budget"),
    notifications: $("notifications-on").checked,
    failureAlertPercent: $("failure-alert-on").checked ? number("failure-alert-percent") : null,
    stallMinutes: $("stall-on").checked ? number("stall-minutes") : 0,
    sounds: $("sounds-on").checked,
    quietHours: $("quiet-on").checked ? `${$("quiet-from").value}-${$("quiet-to").value}` : null,
  };
}

// Range checks are the app's (their words come back from preview_settings); here only what
// cannot travel as a whole number.
function invalidNumbers(form) {
  return [form.floorSecs, form.budget, form.failureAlertPercent ?? 1, form.stallMinutes].some((n) => !Number.isSafeInteger(n));
}

// 0 minutes would turn the stall alert off while its box stays ticked: the box is how to do that.
const STALL_NEEDS_MINUTES = "The stall alert needs 1–240 minutes; untick it to turn it off.";
function stallOffByNumber(form) {
  return $("stall-on").checked && form.stallMinutes < 1;
}

// Closing the panel drops unsaved edits: it shows the stored settings when opened again.
$("settings-panel").addEventListener("toggle", () => {
  if (!$("settings-panel").open) {
    settingsDirty = false;
    settingsShown = null;
    $("settings-message").textContent = "";
    if (latest) render(latest);
  }
});

// Every edit says at once what it would mean ("With 12 batches, each updates every 15 s.")
// or why it cannot be saved; the words come from the app.
// Answers can arrive out of order (each edit is its own request): only the newest is shown.
let previewAsked = 0;
$("settings-form").addEventListener("input", async () => {
  settingsDirty = true;
  const asked = ++previewAsked;
  $("failure-alert-percent").disabled = !$("failure-alert-on").checked;
  $("stall-minutes").disabled = !$("stall-on").checked;
  $("quiet-from").disabled = $("quiet-to").disabled = !$("quiet-on").checked;
  const line = $("settings-consequence");
  const form = settingsForm();
  if (invalidNumbers(form)) {
    line.textContent = "Enter whole numbers.";
    line.classList.add("error");
    return;
  }
  if (stallOffByNumber(form)) {
    line.textContent = STALL_NEEDS_MINUTES;
    line.classList.add("error");
    return;
  }
  try {
    const said = await invoke("preview_settings", { form });
    if (!settingsDirty || asked !== previewAsked) return; // closed, saved or edited meanwhile
    line.textContent = said;
    line.classList.remove("error");
  } catch (e) {
    if (!settingsDirty || asked !== previewAsked) return;
    line.textContent = e.message || String(e);
    line.classList.add("error");
  }
});

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("settings-message");
  const form = settingsForm();
  try {
    if (invalidNumbers(form)) throw new Error("Enter whole numbers.");
    if (stallOffByNumber(form)) throw new Error(STALL_NEEDS_MINUTES);
    await invoke("save_settings", { form });
    settingsDirty = false;
    settingsShown = null;
    message.textContent = "Saved.";
    message.classList.remove("error");
  } catch (e) {
    message.textContent = e.message || String(e);
    message.classList.add("error");
  }
});

$("pause").addEventListener("click", () => call("pause_notifications", { paused: !$("pause").dataset.paused }));

$("start-at-login").addEventListener("change", async () => {
  const box = $("start-at-login");
  const message = $("start-at-login-message");
  const wanted = box.checked;
  try {
    box.checked = await invoke("set_start_at_login", { enabled: wanted });
    message.textContent = box.checked ? "Batchwatch will start in the tray when you log in." : "";
    message.classList.remove("error");
  } catch (e) {
    box.checked = !wanted;
    message.textContent = e.message || String(e);
    message.classList.add("error");
  }
});

// ---- start -----------------------------------------------------------------------------

listen("batchwatch://view", (event) => {
  $("resident-gone").hidden = true;
  render(event.payload);
});
// The tray process stopped (a crash, a kill): say so, and offer to start it again.
listen("batchwatch://resident-gone", () => {
  $("resident-gone").hidden = false;
});
$("restart-resident").addEventListener("click", async () => {
  $("restart-resident").disabled = true;
  try {
    renderWhole(await tauriCore.invoke("restart_resident"));
    $("resident-gone").hidden = true;
  } catch (e) {
    $("resident-gone-message").textContent = e && e.message ? e.message : String(e);
  } finally {
    $("restart-resident").disabled = false;
  }
});
// ---- the keyboard ----------------------------------------------------------------------

const editable = (node) => node instanceof HTMLElement &&
  (node.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(node.tagName));

document.addEventListener("keydown", (event) => {
  const plainCtrl = event.ctrlKey && !event.altKey && !event.shiftKey && !event.metaKey;
  const key = event.key.toLowerCase();
  if (plainCtrl && key === "n") {
    event.preventDefault();
    openNewBatch();
  } else if (plainCtrl && key === "f") {
    event.preventDefault();
    if (!$("list-tools").hidden) { $("filter").focus(); $("filter").select(); }
  } else if (plainCtrl && key === "r") {
    event.preventDefault();
    $("refresh-all").click();
  } else if (plainCtrl && key === "v" && !editable(event.target)) {
    // Focused before the paste happens, the add box is where it lands.
    const input = $("add-input");
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    if (input.value && !input.value.endsWith(" ")) input.value += " ";
  } else if (event.key === "Delete" && !editable(event.target)) {
    const card = event.target.closest && event.target.closest(".card");
    if (!card) return;
    event.preventDefault();
    card.querySelector(".remove-question").hidden = false;
    card.querySelector(".confirm-remove-card").focus();
  } else if (event.key === "Escape" && !event.defaultPrevented) {
    closeSomething(event.target);
  }
});

// Escape closes what is open, innermost first. A question, a rename and the new-batch panel
// answer it themselves and say so (preventDefault); then the filter box clears, then the panel
// holding the focus closes, else the last one open.
function closeSomething(target) {
  if (target === $("filter")) {
    if ($("filter").value) { $("filter").value = ""; renderList(); }
    return;
  }
  if (!$("launch").hidden) { $("launch-close").click(); return; }
  const panels = [...document.querySelectorAll("details.panel[open], .card details[open]")];
  const holding = panels.find((panel) => panel.contains(target)) ||
    (target === document.body ? panels[panels.length - 1] : null);
  if (holding) {
    holding.open = false;
    holding.querySelector("summary").focus();
  }
}

setupLaunch();
invoke("get_state").then(renderWhole);
