// The on-screen keyboard: QWERTY with Telex for Vietnamese text, a numeric
// keypad for phone numbers, numbers and dates. It owns the one editing buffer
// on the page; reset() wipes it when a session ends.

import { h, icon } from "./dom.js";
import { apply } from "./telex.js";

const ROWS = [
  ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"],
  ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"],
  ["a", "s", "d", "f", "g", "h", "j", "k", "l"],
  ["shift", "z", "x", "c", "v", "b", "n", "m", "backspace"],
  [",", ".", "-", "/", "space", "done"],
];
const PAD = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["backspace", "0", "done"]];

// editKey is the keyboard's one editing rule, shared by the touch keys and
// window.KioskTelex: key is a character or "backspace" / "space".
export function editKey(buf, key, opts = {}) {
  let out;
  if (key === "backspace") out = [...buf].slice(0, -1).join("");
  else if (key === "space") out = buf + " ";
  else if (opts.digitsOnly) out = /^[0-9]$/.test(key) ? buf + key : buf;
  else if (opts.telex !== false) out = apply(buf, key);
  else out = buf + key;
  const max = opts.maxLength || 0;
  if (max > 0 && [...out].length > max) return buf;
  return out;
}

// Date entry holds up to 8 digits DDMMYYYY and shows them as DD/MM/YYYY.
export function dateDigits(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return m ? m[3] + m[2] + m[1] : "";
}
function dateShow(d) {
  const p = (d + "________").slice(0, 8);
  return p.slice(0, 2) + "/" + p.slice(2, 4) + "/" + p.slice(4);
}
function dateValue(d) {
  if (d.length === 0) return "";
  if (d.length === 8) return d.slice(4) + "-" + d.slice(2, 4) + "-" + d.slice(0, 2);
  return dateShow(d).replace(/_+$/, "").replace(/\/$/, "");
}

let root = null;      // the #kb element
let cur = null;       // {mode, buf, shift, opts}
let timer = 0;

function valueOf() {
  return cur.mode === "date" ? dateValue(cur.buf) : cur.buf;
}

function flush() {
  clearTimeout(timer);
  timer = 0;
  if (cur && cur.opts.onChange) cur.opts.onChange(valueOf());
}

function draw() {
  const { opts, mode } = cur;
  const t = opts.t;
  const shown = mode === "date" ? dateShow(cur.buf) : cur.buf;
  const rows = mode === "text" ? ROWS : PAD;
  const keys = h("div", { class: "kb-keys kb-" + (mode === "text" ? "qwerty" : "pad") });
  for (const row of rows) {
    const r = h("div", { class: "kb-row" });
    for (const k of row) r.append(keyButton(k, t));
    keys.append(r);
  }
  root.replaceChildren(
    h("div", { class: "kb-head" },
      h("p", { id: "kb-label", class: "kb-label", text: opts.label }),
      h("p", { class: "kb-value" + (shown ? "" : " kb-empty"), "aria-live": "polite", "data-kb-value": true,
        text: shown || t("label.empty") }),
      opts.hint ? h("p", { class: "kb-hint", text: opts.hint }) : null),
    keys);
}

function keyButton(k, t) {
  const attrs = { type: "button", class: "key", "data-key": k };
  if (k === "backspace") return h("button", { ...attrs, class: "key key-wide", "aria-label": t("btn.backspace") }, icon("backspace"));
  if (k === "space") return h("button", { ...attrs, class: "key key-space", "aria-label": t("btn.space") }, icon("space"));
  if (k === "shift") {
    return h("button", { ...attrs, class: "key key-wide", "aria-label": t("btn.shift"), "aria-pressed": cur.shift ? "true" : "false" }, icon("shift"));
  }
  if (k === "done") return h("button", { ...attrs, class: "key key-done", text: t("btn.done") });
  const label = cur.shift ? k.toUpperCase() : k;
  return h("button", { ...attrs, text: label });
}

function press(k) {
  if (!cur) return;
  if (k === "done") { close(true); return; }
  if (k === "shift") { cur.shift = !cur.shift; draw(); return; }
  const key = cur.shift && k.length === 1 ? k.toUpperCase() : k;
  if (cur.mode === "date") {
    cur.buf = editKey(cur.buf, key, { digitsOnly: true, maxLength: 8 });
  } else {
    cur.buf = editKey(cur.buf, key, {
      digitsOnly: cur.mode === "numeric",
      telex: cur.opts.telex !== false,
      maxLength: cur.opts.maxLength,
    });
  }
  if (cur.shift && k.length === 1) cur.shift = false;
  draw();
  clearTimeout(timer);
  if (cur.opts.onChange) timer = setTimeout(flush, 300);
}

// init binds the keyboard to its host element once.
export function init(el) {
  root = el;
  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-key]");
    if (b && root.contains(b)) press(b.dataset.key);
  });
}

// open shows the keyboard. opts: mode text|numeric|date, label, value,
// maxLength, telex, hint, t (label lookup), onChange(value) (debounced 300 ms),
// onDone(value).
export function open(opts) {
  if (cur) close(true);
  const mode = opts.mode || "text";
  cur = { mode, opts, shift: false, buf: mode === "date" ? dateDigits(opts.value) : (opts.value || "") };
  root.hidden = false;
  document.documentElement.classList.add("kb-open");
  draw();
  const first = root.querySelector(".key-done");
  if (first) first.focus({ preventScroll: true });
}

// close hides the keyboard; commit sends the last change and calls onDone.
export function close(commit) {
  if (!cur) return;
  const c = cur;
  if (commit) {
    if (timer) flush();
    if (c.opts.onDone) c.opts.onDone(valueOf());
  }
  clearTimeout(timer);
  timer = 0;
  cur = null;
  root.hidden = true;
  root.replaceChildren();
  document.documentElement.classList.remove("kb-open");
}

// reset closes without sending anything and forgets the buffer.
export function reset() { close(false); }

export function isOpen() { return cur !== null; }

// redraw refreshes labels after a language change.
export function redraw(t) {
  if (cur) { cur.opts.t = t; draw(); }
}
