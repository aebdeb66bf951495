// The kiosk screen: it connects to kioskd over the kiosk.v1 websocket, renders
// whatever State arrives and sends the citizen's taps back as intents. It holds
// no business logic, and forgets everything personal when a session ends.

import { h, icon } from "./dom.js";
import * as kb from "./keyboard.js";
import { editKey } from "./keyboard.js";
import { renderScreen, btn } from "./screens.js";

const KEY_STORE = "kiosk.key";
const SCALES = [1, 1.25, 1.5];
const STEPPED = ["form", "attachments", "consent", "payment"];
const BACK_ON = new Set(["form", "attachments", "consent", "payment"]);
const NO_CANCEL = new Set(["idle", "goodbye", "done", "dossier_status", "ticket", "staff_home", "insurance", "technician"]);
const PAD_ON = new Set(["card_key", "staff_pin"]);
const WIPE_ON = new Set(["idle", "goodbye"]);

const $ = (id) => document.getElementById(id);
const root = document.documentElement;
const main = $("screen");
const top = $("top");
const bar = $("bar");
const banner = $("help-banner");
const live = $("live");
const modal = $("timeout");
const overlay = $("reconnect");

// Test hooks: no personal data, ever.
const ui = { screen: main.dataset.screen || "idle", seq: 0, connected: false };
window.KioskUI = ui;
window.KioskTelex = Object.freeze({
  // type types keys into an empty field through the keyboard's own editing
  // rule; " " is the space bar and "\b" backspace.
  type(keys) {
    let buf = "";
    for (const k of [...String(keys)]) buf = editKey(buf, k === " " ? "space" : k === "\b" ? "backspace" : k, { telex: true });
    return buf;
  },
});

let i18n = null;
let st = null;           // the last state; replaced wholesale, never merged
let pending = null;      // a state that arrived before i18n.json
let lastSession = "";
let lastScreen = "";
let lastCue = null;
let lastLive = "";
let lastExtra = "";
let padBuf = "";         // digits typed on the keypad: a CAN or a staff PIN
let scale = 0;
let speech = null;
let stillSentAt = 0;

// ---- text ----
function tIn(lang, key) {
  const e = i18n && i18n[key];
  if (!e) return key;
  return e[lang] || e.vi || key;
}
const lang = () => (st && st.lang === "en" ? "en" : "vi");
const t = (key) => tIn(lang(), key);
const pick = (x) => (x && typeof x === "object" ? (lang() === "en" ? x.en || x.vi : x.vi || x.en) || "" : "");

function mmss(ms) {
  const left = Math.max(0, Math.ceil(((ms || 0) - Date.now()) / 1000));
  return Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
}

// ---- connection ----
let secret = "";
let ws = null;
let backoff = 500;
let pingTimer = 0;
let pongTimer = 0;
let retryTimer = 0;
let downSince = performance.now();
let idSeq = 0;

function readSecret() {
  const m = /^#k=([0-9a-f]{64})$/.exec(location.hash);
  if (m) {
    try { sessionStorage.setItem(KEY_STORE, m[1]); } catch { /* private mode: keep in memory */ }
    history.replaceState(null, "", location.pathname + location.search);
    return m[1];
  }
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch { return ""; }
}

function setConnected(on) {
  if (ui.connected === on) return;
  ui.connected = on;
  if (!on) downSince = performance.now();
  else overlay.hidden = true;
}

function connect() {
  clearTimeout(retryTimer);
  let sock;
  try {
    sock = new WebSocket("ws://" + location.host + "/ws", ["kiosk.v1", "kiosk.key." + secret]);
  } catch {
    reconnectLater();
    return;
  }
  ws = sock;
  sock.onmessage = (ev) => {
    if (sock !== ws) return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    onFrame(msg);
  };
  sock.onclose = () => { if (sock === ws) drop(); };
}

function drop() {
  const s = ws;
  ws = null;
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
  if (s) { s.onclose = null; s.onmessage = null; try { s.close(); } catch { /* already closed */ } }
  setConnected(false);
  reconnectLater();
}

function reconnectLater() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

function sendFrame(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(obj));
  return true;
}

function ping() {
  if (!sendFrame({ type: "ping", id: "p" + (++idSeq) })) return;
  clearTimeout(pongTimer);
  pongTimer = setTimeout(drop, 5000);
}

function onFrame(msg) {
  switch (msg.type) {
    case "hello":
      setConnected(true);
      backoff = 500;
      clearInterval(pingTimer);
      pingTimer = setInterval(ping, Math.max(1000, Math.min(msg.heartbeat_ms || 10000, 10000)));
      break;
    case "state":
      setConnected(true);
      if (msg.state && typeof msg.state === "object") accept(msg.state);
      break;
    case "pong":
      clearTimeout(pongTimer);
      break;
    case "error":
      console.warn("kioskd refused a frame:", msg.code, msg.message || "");
      break;
    default:
      break;
  }
}

// send sends an intent; the screen changes only when a new state arrives.
function send(name, data) {
  if (name === "enter_can" || name === "enter_pin") padBuf = "";
  const f = { type: "intent", id: "c" + (++idSeq), name };
  if (data !== undefined) f.data = data;
  sendFrame(f);
}

// ---- state ----
function accept(s) {
  if (!i18n) { pending = s; return; }
  const ended = lastSession !== "" && !s.session;
  // A staff session outlives its patients: when the staff member moves on
  // (the insurance view goes, or staff_home comes back) the patient is
  // forgotten just as if a session had ended.
  const nextPatient = (st && st.insurance && !s.insurance) || (s.staff && s.screen === "staff_home" && ui.screen !== "staff_home");
  if (ended || nextPatient || WIPE_ON.has(s.screen)) wipe();
  if (ended) resetAccessibility();
  if (!PAD_ON.has(s.screen) || s.screen !== ui.screen) padBuf = "";
  playCue(s.cue);
  st = s;
  lastSession = s.session || "";
  ui.seq = s.seq || 0;
  ui.screen = s.screen || "idle";
  render();
}

// wipe forgets everything a session showed: screen nodes, keyboard buffer,
// typed digits, live announcements.
function wipe() {
  kb.reset();
  padBuf = "";
  st = null;
  main.replaceChildren();
  bar.replaceChildren();
  banner.replaceChildren();
  live.textContent = "";
  lastLive = "";
  lastExtra = "";
  modal.hidden = true;
  modal.replaceChildren();
}

function resetAccessibility() {
  scale = 0;
  root.style.setProperty("--scale", String(SCALES[0]));
  root.classList.remove("hc");
}

// playCue plays a cue once: the first state after a page load only sets the
// mark, so a reload does not replay an old sound; a lower n means kioskd
// restarted and starts the count again.
function playCue(cue) {
  const n = cue && typeof cue.n === "number" ? cue.n : null;
  if (lastCue === null) { lastCue = n === null ? 0 : n; return; }
  if (n === null || n === lastCue) return;
  if (n > lastCue && /^[a-z_]+$/.test(cue.sound || "")) play("/sounds/" + cue.sound + ".wav");
  lastCue = n;
}

function play(url) {
  try {
    const a = new Audio(url);
    a.play().catch(() => { /* no audio device or autoplay refused: the screen says it too */ });
    return a;
  } catch { return null; }
}

function speak() {
  if (!st || !/^say\.[a-z_]+$/.test(st.say || "")) return;
  if (speech) speech.pause();
  const key = modal.hidden ? st.say : "say.timeout";
  speech = play("/speech/" + lang() + "/" + key + ".wav");
}

const ctx = {
  get s() { return st; },
  t, pick, tIn: (l, k) => tIn(l, k), send, mmss,
  pad: {
    get: () => padBuf,
    press(k, n) {
      padBuf = k === "backspace" ? padBuf.slice(0, -1) : padBuf.length < n ? padBuf + k : padBuf;
      render();
    },
  },
};

function render() {
  if (!st) return;
  const s = st;
  root.lang = lang();
  document.title = t("brand." + (s.mode === "hospital" ? "hospital" : "ward"));
  const same = lastScreen === s.screen;
  const scroll = same ? main.scrollTop : 0;
  if (!same) kb.reset();
  main.dataset.screen = s.screen;
  main.setAttribute("aria-busy", String(!!s.busy));
  main.replaceChildren(...renderScreen(ctx));
  main.scrollTop = scroll;
  renderTop(s);
  renderBar(s);
  renderBanner(s);
  announce(s, same);
  lastScreen = s.screen;
  if (!same && main.focus) main.focus({ preventScroll: true });
  kb.redraw(t);
  tick();
}

function stepOf(s) {
  for (const k of STEPPED) {
    const v = s[k];
    if (s.screen === k && v && v.steps > 0) return [v.step, v.steps];
  }
  return null;
}

function toolButton(action, label, iconName, extra) {
  return h("button", { type: "button", class: "tool", "data-action": action, ...extra }, icon(iconName), h("span", { text: label }));
}

function renderTop(s) {
  const step = stepOf(s);
  top.replaceChildren(
    h("div", { class: "top-id" },
      h("p", { class: "brand", text: t("brand." + (s.mode === "hospital" ? "hospital" : "ward")) }),
      step ? h("p", { class: "step", "data-step": step[0], "data-steps": step[1], text: t("label.step").replace("{x}", step[0]).replace("{y}", step[1]) }) : null),
    h("div", { class: "tools" },
      toolButton("speak", t("btn.speak"), "speaker", { class: "tool tool-speak" }),
      toolButton("text-size", t("btn.text_size") + " " + Math.round(SCALES[scale] * 100) + "%", "textsize"),
      toolButton("contrast", t("btn.contrast"), "contrast", { "aria-pressed": String(root.classList.contains("hc")) }),
      btn(ctx, { intent: "help", label: t("btn.help"), icon: "hand", kind: "help", cls: "tool", attrs: { "aria-pressed": String(!!s.help) } })));
}

function renderBar(s) {
  const items = [];
  if (BACK_ON.has(s.screen)) items.push(btn(ctx, { intent: "back", label: t("btn.back"), icon: "back", kind: "secondary" }));
  if (!NO_CANCEL.has(s.screen)) items.push(btn(ctx, { intent: "cancel", label: t("btn.cancel"), icon: "close", kind: "danger", cls: "cancel" }));
  bar.hidden = items.length === 0;
  bar.setAttribute("aria-label", t("label.nav"));
  bar.replaceChildren(...items);
}

function renderBanner(s) {
  banner.hidden = !s.help;
  if (!s.help) { banner.replaceChildren(); return; }
  banner.replaceChildren(
    icon("hand"),
    h("p", { text: t("status.help") }),
    btn(ctx, { intent: "help_cancel", label: t("btn.help_cancel"), kind: "secondary" }));
}

// announce tells screen readers what changed, politely and only once.
function announce(s, same) {
  let msg = "";
  if (s.screen === "reading" && s.reading) msg = t("step." + (s.reading.step || "access"));
  else if (s.screen === "payment" && s.payment) msg = t("status.pay_" + (s.payment.state || "waiting"));
  else if (s.screen === "done" && s.done) msg = t("status." + ({ printing: "printing", printed: "printed", failed: "print_failed" }[s.done.print] || "print_none"));
  else if (s.screen === "attachments" && s.attachments && s.attachments.scanning >= 0) msg = t("label.scanning");
  else if (!same) {
    const h1 = main.querySelector("h1");
    msg = h1 ? h1.textContent : "";
  }
  // Parts of a screen that change in place (the insurance check, the
  // ticket's print) are marked data-announce and read when they change.
  const extra = [...main.querySelectorAll("[data-announce]")].map((el) => el.innerText.trim().replace(/\s*\n\s*/g, ". ")).join(". ");
  if (extra && extra !== lastExtra) msg = msg ? msg + ". " + extra : extra;
  lastExtra = extra;
  if (s.help) msg = (msg ? msg + ". " : "") + t("status.help");
  if (msg && msg !== lastLive) live.textContent = msg;
  lastLive = msg;
}

// ---- timers: countdowns and the inactivity warning ----
function tick() {
  const now = Date.now();
  for (const el of main.querySelectorAll("[data-countdown]")) el.textContent = mmss(Number(el.dataset.countdown));
  const to = st && st.timeout;
  const show = !!(to && now >= to.warn_at && ui.connected);
  if (show) {
    if (modal.hidden) {
      modal.replaceChildren(
        h("div", { class: "modal-box" },
          icon("clock", "icon-xl"),
          h("h2", { id: "timeout-title", text: t("title.timeout") }),
          h("p", { class: "lead" }, h("span", { text: t("label.timeout_in") + " " }), h("strong", { "data-timeout": "", text: mmss(to.ends_at) })),
          btn(ctx, { intent: "still_here", label: t("btn.still_here"), icon: "hand" })));
      modal.hidden = false;
      live.textContent = t("title.timeout");
    } else {
      const c = modal.querySelector("[data-timeout]");
      if (c) c.textContent = mmss(to.ends_at);
    }
  } else if (!modal.hidden) {
    modal.hidden = true;
    modal.replaceChildren();
  }
  if (!ui.connected && secret && performance.now() - downSince > 1500) overlay.hidden = false;
}

function stillHere(e) {
  // The button itself sends on click; a touch anywhere else counts too.
  if (modal.hidden || (e.target.closest && e.target.closest('[data-intent="still_here"]'))) return;
  const now = Date.now();
  if (now - stillSentAt > 1000) { stillSentAt = now; send("still_here"); }
  e.preventDefault();
  e.stopPropagation();
}

// ---- page chrome, accessibility toggles, lockdown ----
function onClick(e) {
  const b = e.target.closest("[data-action]");
  if (!b) return;
  const a = b.dataset.action;
  if (a === "speak") speak();
  else if (a === "text-size") {
    scale = (scale + 1) % SCALES.length;
    root.style.setProperty("--scale", String(SCALES[scale]));
    if (st) render();
  } else if (a === "contrast") {
    root.classList.toggle("hc");
    if (st) render();
  }
}

function lockdown() {
  const stop = (e) => e.preventDefault();
  const editable = (el) => el && el.closest && el.closest("input, textarea, [contenteditable=true]");
  document.addEventListener("contextmenu", stop);
  document.addEventListener("selectstart", (e) => { if (!editable(e.target)) e.preventDefault(); });
  document.addEventListener("dragstart", stop);
  document.addEventListener("dragover", stop);
  document.addEventListener("drop", stop);
  document.addEventListener("gesturestart", stop);
  document.addEventListener("dblclick", stop);
  document.addEventListener("auxclick", stop);
  document.addEventListener("mousedown", (e) => { if (e.button === 1) e.preventDefault(); });
  document.addEventListener("touchmove", (e) => { if (e.touches.length > 1) e.preventDefault(); }, { passive: false });
  window.addEventListener("wheel", (e) => { if (e.ctrlKey) e.preventDefault(); }, { passive: false });
  document.addEventListener("keydown", (e) => {
    const k = e.key;
    const ctrl = e.ctrlKey || e.metaKey;
    if (k === "F5" || k === "BrowserBack" || k === "BrowserForward" || k === "BrowserRefresh" ||
        (ctrl && /^[rRwWnNtTpPsSoOlL+=\-0_]$/.test(k)) ||
        (e.altKey && (k === "ArrowLeft" || k === "ArrowRight" || k === "Home")) ||
        (k === "Backspace" && !editable(e.target))) {
      e.preventDefault();
    }
  });
}

async function loadI18n() {
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const r = await fetch("/i18n.json", { cache: "no-store" });
      if (r.ok) return await r.json();
    } catch { /* server not up yet */ }
    await new Promise((res) => setTimeout(res, delay));
  }
}

function start() {
  lockdown();
  kb.init($("kb"));
  document.addEventListener("click", onClick);
  document.addEventListener("pointerdown", stillHere, true);
  resetAccessibility();
  setInterval(tick, 250);
  secret = readSecret();
  if (!secret) {
    $("nokey").hidden = false;
    return;
  }
  loadI18n().then((d) => {
    i18n = d;
    if (pending) { const p = pending; pending = null; accept(p); }
  });
  connect();
}

start();
