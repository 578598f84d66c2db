// A card's failed calls: loaded a page at a time as the person scrolls, grouped by reason,
// each group's numbers to copy, saved as CSV or started again as a new batch.

import { el, invoke, tauriCore, timeOfDay } from "./dom.js";
import { openRetry } from "./launch.js";

function retryButton(id, reason, label, ariaLabel) {
  const button = el("button", { type: "button", className: "retry", textContent: label, ariaLabel });
  button.addEventListener("click", () => openRetry(id, reason));
  return button;
}

// "Save failed calls as CSV…" (every failed call, or one group's): the window asks where with
// the desktop's save dialog, the tray app loads every page and writes the file. What happened
// stays beside the button until the next save.
function saveButton(id, reason, label, ariaLabel) {
  const button = el("button", { type: "button", className: "save-csv", textContent: label, ariaLabel });
  button.addEventListener("click", async () => {
    const panel = button.closest(".failures");
    // One save at a time per card (a group's button is made anew as pages load).
    if (panel.dataset.saving) return;
    panel.dataset.saving = "1";
    const said = panel.querySelector(".save-status");
    button.disabled = true;
    said.className = "save-status muted";
    said.textContent = panel.dataset.savingText || "Saving…";
    said.hidden = false;
    try {
      const saved = await tauriCore.invoke("save_retry_list", { id, reason });
      if (saved.cancelled) said.hidden = true;
      else said.textContent = saved.message;
    } catch (e) {
      said.className = "save-status error";
      said.textContent = `Not saved: ${e && e.message ? e.message : String(e)}`;
    } finally {
      button.disabled = false;
      delete panel.dataset.saving;
    }
  });
  return button;
}

export function buildFailures(id) {
  const more = el("button", { type: "button", className: "more", textContent: "Load more" });
  const details = el("details", { className: "failures" }, [
    el("summary"),
    el("div", { className: "failures-head" }, [
      el("p", { className: "failures-summary muted", role: "status" }),
      saveButton(id, null, "Save failed calls as CSV…", `Save failed calls as CSV, for ${id}`),
    ]),
    el("p", { className: "save-status muted", role: "status", hidden: true }),
    el("p", { className: "failures-error error", role: "alert", hidden: true }),
    el("div", { className: "groups" }),
    more,
  ]);
  // Each opening is a new generation: an answer for an earlier one (closed meanwhile) is
  // dropped, and "more" waits for the page in flight rather than asking for it twice.
  let generation = 0;
  let loading = false;
  async function load(moreWanted) {
    if (loading && moreWanted) return;
    const mine = generation;
    loading = true;
    more.disabled = true;
    const status = details.querySelector(".failures-summary");
    if (!moreWanted) status.textContent = "Loading failed calls…";
    const error = details.querySelector(".failures-error");
    const started = performance.now();
    try {
      const view = await invoke("failed_calls", { id, more: moreWanted });
      if (mine !== generation) return;
      error.hidden = true;
      renderFailures(details, view);
      // How long the person waited, request to rows on screen (read by the E2E suite).
      if (!moreWanted) details.dataset.firstPageMs = String(Math.round(performance.now() - started));
    } catch (e) {
      if (mine !== generation) return;
      error.textContent = `Could not load failed calls: ${e && e.message ? e.message : String(e)}`;
      error.hidden = false;
      if (!moreWanted) status.textContent = "";
    } finally {
      if (mine === generation) {
        loading = false;
        more.disabled = false;
      }
    }
  }
  // Reopening waits for the close to be done, so the close cannot drop the fresh list.
  let closing = Promise.resolve();
  details.addEventListener("toggle", async () => {
    generation += 1;
    loading = false;
    if (details.open) {
      await closing;
      if (details.open) load(false);
    } else {
      more.hidden = true;
      details.querySelector(".groups").replaceChildren();
      details.querySelector(".failures-summary").textContent = "";
      closing = invoke("close_failed_calls", { id }).catch(() => {});
    }
  });
  more.addEventListener("click", () => load(true));
  // Loaded as the person scrolls: the next page comes when "Load more" comes into view.
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && details.open && !more.hidden) load(true);
  }).observe(more);
  more.hidden = true;
  return details;
}

function renderFailures(details, view) {
  details.querySelector(".failures-summary").textContent = view.summary;
  details.querySelector(".more").hidden = !view.hasMore;
  details.querySelector(".more").textContent = `Load more (${view.remaining} left)`;
  details.querySelector(".groups").replaceChildren(...view.groups.map((group) => {
    const copy = el("button", { type: "button", className: "copy-numbers", textContent: "Copy numbers", ariaLabel: `Copy numbers of “${group.reason}”` });
    // It scrolls past a dozen calls, so it takes the keyboard's focus (arrows scroll it).
    const list = el("ul", { tabIndex: 0, ariaLabel: `Calls of “${group.reason}”` }, group.calls.map((call) => el("li", {}, [
      el("span", { className: "number", textContent: call.phoneNumber || call.jobId }),
      el("span", { className: "muted", textContent: call.endedAtMs ? timeOfDay(call.endedAtMs) : "" }),
      el("span", { className: "muted", textContent: call.durationText || "" }),
    ])));
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(group.numbers); copy.textContent = "Copied"; }
      catch { window.getSelection().selectAllChildren(list); copy.textContent = "Selected — press Ctrl+C"; }
      setTimeout(() => { copy.textContent = "Copy numbers"; }, 2000);
    });
    return el("section", { className: "group", dataset: { reason: group.reason } }, [
      el("div", { className: "group-head" }, [
        el("h3", { textContent: `${group.reason} × ${group.count}` }),
        copy,
        retryButton(view.batchId, group.reason, "Retry these…", `Retry these calls of “${group.reason}” as a new batch`),
        saveButton(view.batchId, group.reason, "Save as CSV…", `Save as CSV the calls of “${group.reason}”`),
      ]),
      list,
    ]);
  }));
}

