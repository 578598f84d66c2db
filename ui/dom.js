// What every part of the window shares: the one way to the resident, and building the page.

// Every request goes to the resident (the tray process) through the window's one forwarding
// command, under the names the page has always used.
export const tauriCore = window.__TAURI__.core;
export const invoke = (op, args) => tauriCore.invoke("call", { op, args: args ?? {} });
export const { listen } = window.__TAURI__.event;

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// An error as the page shows it: commands fail with {code, message}, the message written for
// people.
export function said(error) {
  return error && error.message ? error.message : String(error);
}

// Writes that leave the page alone when nothing changed: each write to the page, even of the
// same text, makes it lay out again — over every card, with 2,000 of them.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function setProp(node, name, value) {
  if (node[name] !== value) node[name] = value;
}

export function setClass(node, name, on) {
  if (node.classList.contains(name) !== on) node.classList.toggle(name, on);
}

export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

// What each node's children were last made from (kept beside the node, not in the page's
// markup: a key can be a whole list as JSON).
const madeFrom = new WeakMap();

// Replaces `node`'s children with `make()` when `key` (what they are made from) changed;
// whether it did.
export function replaceIfChanged(node, key, make) {
  if (madeFrom.get(node) === key) return false;
  madeFrom.set(node, key);
  node.replaceChildren(...make());
  return true;
}

// The next replaceIfChanged of `node` makes its children again, whatever its key.
export function remakeNext(node) {
  madeFrom.delete(node);
}
