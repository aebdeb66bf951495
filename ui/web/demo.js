// The demo panel drives kioskd's simulators for staff training: insert a
// sample card, take it out, pay the pending VietQR fee, toggle faults. It
// talks only to /demo/api/* with the per-boot key; it renders with DOM APIs.

const KEY_STORE = "kiosk.key";
const $ = (id) => document.getElementById(id);

function readSecret() {
  const m = /^#k=([0-9a-f]{64})$/.exec(location.hash);
  if (m) {
    try { sessionStorage.setItem(KEY_STORE, m[1]); } catch { /* keep in memory */ }
    history.replaceState(null, "", location.pathname + location.search);
    return m[1];
  }
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch { return ""; }
}

const secret = readSecret();
let busy = false;
let last = null;

// two builds "Tiếng Việt" with the English line underneath.
function two(vi, en) {
  const f = document.createDocumentFragment();
  f.append(document.createTextNode(vi));
  const s = document.createElement("span");
  s.lang = "en";
  s.textContent = en;
  f.append(s);
  return f;
}

function el(tag, cls, ...kids) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.append(...kids);
  return e;
}

function showError(vi, en) {
  const e = $("error");
  if (!vi) { e.hidden = true; e.replaceChildren(); return; }
  e.replaceChildren(two(vi, en));
  e.hidden = false;
}

async function api(path, body) {
  const init = { headers: { "X-Kiosk-Key": secret }, cache: "no-store" };
  if (body) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (!r.ok) {
    const text = (await r.text()).trim().slice(0, 300);
    throw new Error("HTTP " + r.status + (text ? ": " + text : ""));
  }
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

async function act(action, arg) {
  if (busy) return;
  busy = true;
  render(last);
  try {
    await api("/demo/api/action", { action, arg: arg || "" });
    showError("");
    await poll();
  } catch (err) {
    showError("Thao tác không thành công – " + err.message, "The action failed – " + err.message);
  } finally {
    busy = false;
    render(last);
  }
}

function button(label, action, arg, opts = {}) {
  const b = el("button", "btn" + (opts.primary ? " btn-primary" : "") + (opts.on ? " btn-on" : ""), label);
  b.type = "button";
  b.dataset.action = action;
  if (arg) b.dataset.arg = arg;
  b.disabled = busy || !!opts.disabled;
  b.addEventListener("click", () => act(action, arg));
  return b;
}

function render(st) {
  if (!st) return;
  const cards = $("cards");
  cards.replaceChildren(...(st.cards || []).map((c) => {
    const inserted = st.inserted === c.name;
    return el("li", inserted ? "row row-on" : "row",
      el("span", "label", c.label || c.name, inserted ? el("strong", "badge", two("Đang cắm", "Inserted")) : ""),
      button(two("Cắm thẻ", "Insert"), "insert_card", c.name, { primary: true, disabled: inserted }));
  }));
  $("remove").disabled = busy || !st.inserted;
  const pending = st.pending_payment || "";
  $("pending").replaceChildren(pending
    ? two("Khoản phí đang chờ: " + pending, "Pending fee: " + pending)
    : two("Không có khoản phí đang chờ.", "No fee pending."));
  $("pay").disabled = busy || !pending;
  $("faults").replaceChildren(...(st.faults || []).map((f) => {
    const lab = f.label || {};
    return el("li", f.on ? "row row-on" : "row",
      el("span", "label", two(lab.vi || f.name, lab.en || f.name),
        f.on ? el("strong", "badge badge-fault", two("Đang bật", "On")) : ""),
      button(f.on ? two("Tắt sự cố", "Turn off") : two("Bật sự cố", "Turn on"), "fault", f.name, { on: !!f.on }));
  }));
  $("status").replaceChildren(two("Đã kết nối, cập nhật mỗi giây.", "Connected, refreshed every second."));
}

async function poll() {
  try {
    last = await api("/demo/api/state");
    render(last);
    if (!busy) showError("");
  } catch (err) {
    $("status").replaceChildren(two("Mất kết nối với kioskd.", "Lost contact with kioskd."));
    showError("Không đọc được trạng thái – " + err.message, "Could not read the state – " + err.message);
  }
}

function start() {
  document.addEventListener("contextmenu", (e) => e.preventDefault());
  if (!secret) {
    $("nokey").hidden = false;
    $("demo").hidden = true;
    return;
  }
  $("remove").addEventListener("click", () => act("remove_card"));
  $("pay").addEventListener("click", () => act("pay"));
  $("scanform").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("code").value.trim();
    if (code) act("scan_code", code);
  });
  poll();
  setInterval(() => { if (!busy) poll(); }, 1000);
}

start();
