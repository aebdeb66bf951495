// One function per State.screen. Each returns the children of the screen
// root, built from the state alone; the app module owns the chrome (header,
// Back/Cancel bar, banners) and the connection.

import { h, icon, illustration } from "./dom.js";
import * as kb from "./keyboard.js";

// Intents that stay enabled while state.busy is set (ws-protocol.md §5:
// "also while busy"); leaving staff or technician mode is one of them.
const ALWAYS = new Set(["cancel", "help", "help_cancel", "still_here", "staff_logout"]);

// btn makes a button that sends an intent.
export function btn(ctx, o) {
  const attrs = {
    type: "button",
    class: "btn btn-" + (o.kind || "primary") + (o.cls ? " " + o.cls : ""),
    "data-intent": o.intent,
    "aria-label": o.aria,
    ...(o.attrs || {}),
  };
  const disabled = o.disabled || (ctx.s.busy && !ALWAYS.has(o.intent));
  if (disabled) attrs.disabled = true;
  const b = h("button", attrs, o.icon ? icon(o.icon) : null, h("span", { text: o.label }));
  b.addEventListener("click", () => ctx.send(o.intent, o.data));
  return b;
}

function actions(...buttons) {
  return h("div", { class: "actions" }, ...buttons);
}

function title(text, sub) {
  return [h("h1", { text }), sub ? h("p", { class: "lead", text: sub }) : null];
}

function notice(kind, text, role) {
  return h("p", { class: "notice notice-" + kind, role }, icon(kind === "ok" ? "check" : "warning"), h("span", { text }));
}

// showDate turns an ISO date into the DD/MM/YYYY people read; anything else
// is shown as sent.
export function showDate(v) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v || "");
  return m ? `${m[3]}/${m[2]}/${m[1]}` : (v || "");
}

function dataImage(src) {
  return typeof src === "string" && /^data:image\/(png|jpeg|jpg|gif|webp|bmp);base64,/i.test(src) ? src : null;
}

function money(str, vnd) {
  if (str) return str;
  return vnd > 0 ? vnd.toLocaleString("vi-VN") + " ₫" : "";
}

const screens = {
  idle(ctx) {
    const { t, s } = ctx;
    const other = s.lang === "en" ? "vi" : "en";
    return [
      h("div", { class: "hero" },
        illustration("reader"),
        h("h1", { text: t("title.idle") }),
        h("p", { class: "lead", lang: other, text: ctx.tIn(other, "title.idle") })),
      h("div", { class: "lang-switch", role: "group", "aria-label": t("label.language") },
        btn(ctx, { intent: "set_language", data: { lang: "vi" }, label: "Tiếng Việt", icon: "globe", kind: s.lang === "vi" ? "primary" : "secondary",
          attrs: { lang: "vi", "data-lang": "vi", "aria-pressed": String(s.lang === "vi") } }),
        btn(ctx, { intent: "set_language", data: { lang: "en" }, label: "English", icon: "globe", kind: s.lang === "en" ? "primary" : "secondary",
          attrs: { lang: "en", "data-lang": "en", "aria-pressed": String(s.lang === "en") } })),
      actions(btn(ctx, { intent: "lookup_dossier", label: t("btn.lookup"), icon: "search", kind: "secondary" })),
      // The technician's way in: small and in the corner, so a citizen
      // looking for the next step does not take it for one.
      h("div", { class: "tech-corner" },
        btn(ctx, { intent: "technician_login", label: t("btn.technician"), icon: "wrench", kind: "quiet" })),
    ];
  },

  card_key(ctx) {
    const { t, s, pick } = ctx;
    const v = s.card_key || {};
    const n = v.digits > 0 ? v.digits : 6;
    const digits = ctx.pad.get();
    const boxes = h("div", { class: "can-boxes", "aria-hidden": "true" });
    for (let i = 0; i < n; i++) boxes.append(h("span", { class: "can-box" + (i === digits.length ? " can-next" : ""), text: digits[i] || "" }));
    return [
      // With staff logged in, the card on the reader is a patient's.
      ...title(t(s.staff ? "title.card_key_patient" : "title.card_key").replace("{n}", n)),
      h("div", { class: "split" },
        h("div", { class: "col" },
          boxes,
          h("p", { class: "sr-only", role: "status", text: t("label.can_count").replace("{k}", digits.length).replace("{n}", n) }),
          v.error ? notice("warn", pick(v.error), "alert") : null,
          h("p", { class: "hint" }, icon("qr"), h("span", { text: t(s.staff ? "label.card_qr_patient" : "label.card_qr") }))),
        h("div", { class: "col" },
          keypad(ctx, n, btn(ctx, { intent: "enter_can", data: { can: digits }, label: t("btn.ok"), cls: "key key-ok", disabled: digits.length !== n })))),
    ];
  },

  reading(ctx) {
    const { t, s } = ctx;
    const v = s.reading || {};
    const pct = Math.max(0, Math.min(100, v.percent | 0));
    return [
      ...title(t("title.reading"), t("label.keep_card")),
      h("div", { class: "progress-wrap" },
        h("progress", { max: 100, value: pct, "aria-label": t("title.reading"), "aria-valuetext": pct + "%" }),
        h("p", { class: "progress-text" }, h("span", { class: "pct", text: pct + "%" }), " ",
          h("span", { "data-step": v.step || "", text: t("step." + (v.step || "access")) }))),
    ];
  },

  identity(ctx) {
    const { t, s, pick } = ctx;
    const v = s.identity || {};
    const src = dataImage(v.photo);
    const photo = src
      ? h("img", { class: "photo", src, alt: t("label.photo_alt") })
      : h("div", { class: "photo photo-none", role: "img", "aria-label": t("label.no_photo") }, icon("person"));
    const row = (label, value) => h("div", { class: "kv" }, h("dt", { text: label }), h("dd", { text: value || "—" }));
    const checks = h("ul", { class: "checks", "aria-label": t("label.checks") });
    for (const c of v.checks || []) {
      checks.append(h("li", { class: c.ok ? "ok" : "warn", "data-check": c.name, "data-state": c.state },
        icon(c.ok ? "check" : "warning"),
        h("span", { text: pick(c.label) }),
        h("span", { class: "sr-only", text: c.ok ? t("check.ok") : t("check.warn") })));
    }
    return [
      ...title(t("title.identity")),
      h("p", { class: "name", text: v.full_name || "" }),
      h("div", { class: "id-grid" },
        h("div", { class: "identity" },
          photo,
          h("dl", { class: "kvs id-details" },
            row(t("label.id_number"), v.id_masked),
            row(t("label.dob"), showDate(v.date_of_birth)),
            row(t("label.sex"), v.sex))),
        h("div", { class: "col" },
          checks,
          v.trusted === false ? notice("warn", t("label.untrusted"), "note") : null)),
      actions(
        btn(ctx, { intent: "confirm_identity", label: t("btn.confirm_identity"), icon: "check" }),
        btn(ctx, { intent: "cancel", label: t("btn.not_me"), icon: "close", kind: "secondary" })),
    ];
  },

  services(ctx) {
    const { t, s, pick } = ctx;
    if (s.mode === "hospital") return departments(ctx);
    const tiles = h("div", { class: "tiles" });
    for (const sv of s.services || []) {
      const fee = money(sv.fee, sv.fee_vnd);
      const days = sv.days > 0 ? t("label.days").replace("{n}", sv.days) : t("label.same_day");
      const b = h("button", { type: "button", class: "tile", "data-intent": "choose_service", "data-code": sv.code, disabled: s.busy },
        icon("document"),
        h("span", { class: "tile-name", text: pick(sv.name) }),
        h("span", { class: "tile-meta" },
          h("span", { class: fee ? "fee" : "fee free", text: fee ? t("label.fee").replace("{fee}", fee) : t("label.free") }),
          h("span", { text: days })));
      b.addEventListener("click", () => ctx.send("choose_service", { code: sv.code }));
      tiles.append(b);
    }
    return [...title(t("title.services")), tiles];
  },

  form(ctx) {
    const { t, s, pick } = ctx;
    const v = s.form || {};
    const list = h("div", { class: "fields" });
    (v.fields || []).forEach((f, i) => list.append(field(ctx, f, i)));
    return [
      ...title(pick(v.procedure), t("title.form")),
      list,
      actions(btn(ctx, { intent: "submit_form", label: t("btn.continue"), icon: "next" })),
    ];
  },

  attachments(ctx) {
    const { t, s, pick } = ctx;
    const v = s.attachments || { items: [] };
    const scanning = typeof v.scanning === "number" ? v.scanning : -1;
    const items = v.items || [];
    const list = h("div", { class: "atts" });
    items.forEach((it, i) => {
      const pages = it.pages || [];
      const thumbs = h("ul", { class: "thumbs", "aria-label": t("label.pages_of").replace("{name}", it.name) });
      pages.forEach((p, j) => {
        const src = dataImage(p);
        const alt = t("label.page_alt").replace("{n}", j + 1).replace("{name}", it.name);
        thumbs.append(h("li", { class: "thumb" },
          src ? h("img", { src, alt }) : h("span", { class: "thumb-none", text: alt }),
          btn(ctx, { intent: "remove_page", data: { attachment: i, page: j }, label: t("btn.remove_page"), icon: "trash", kind: "secondary", cls: "btn-small",
            aria: t("btn.remove_page_n").replace("{n}", j + 1).replace("{name}", it.name),
            attrs: { "data-attachment": i, "data-page": j }, disabled: scanning >= 0 })));
      });
      const min = it.min_pages | 0;
      const enough = pages.length >= min;
      list.append(h("section", { class: "att" + (enough ? " att-ok" : ""), "aria-labelledby": "att-h-" + i },
        h("h2", { id: "att-h-" + i }, icon(enough && pages.length ? "check" : "document"), h("span", { text: it.name })),
        h("p", { class: "att-meta", text: t("label.pages_need").replace("{min}", min).replace("{n}", pages.length) }),
        pages.length ? thumbs : null,
        scanning === i
          ? h("div", { class: "progress-wrap" },
            h("progress", { max: 100, value: Math.max(0, Math.min(100, v.progress | 0)), "aria-label": t("label.scanning") }),
            h("p", { class: "progress-text", text: t("label.scanning") + " " + (v.progress | 0) + "%" }))
          : btn(ctx, { intent: "scan_page", data: { attachment: i }, label: t(pages.length ? "btn.scan_more" : "btn.scan"), icon: "scan",
            kind: enough && pages.length ? "secondary" : "primary", attrs: { "data-attachment": i }, disabled: scanning >= 0 })));
    });
    const ready = scanning < 0 && items.every((it) => (it.pages || []).length >= (it.min_pages | 0));
    return [
      ...title(t("title.attachments"), t("label.attach_hint")),
      v.error ? notice("warn", pick(v.error), "alert") : null,
      list,
      actions(btn(ctx, { intent: "attachments_done", label: t("btn.continue"), icon: "next", disabled: !ready })),
    ];
  },

  consent(ctx) {
    const { t, s, pick } = ctx;
    const v = s.consent || {};
    const box = h("div", { class: "consent-text", tabindex: "0", role: "region", "aria-label": t("title.consent") });
    for (const para of pick(v.text).split(/\n+/)) if (para.trim()) box.append(h("p", { text: para }));
    return [
      ...title(t("title.consent")),
      box,
      h("p", { class: "small", text: t("label.consent_version").replace("{v}", v.version || "") }),
      actions(
        btn(ctx, { intent: "accept_consent", data: { version: v.version || "" }, label: t("btn.accept"), icon: "check" }),
        btn(ctx, { intent: "decline_consent", label: t("btn.decline"), icon: "close", kind: "secondary" })),
    ];
  },

  payment(ctx) {
    const { t, s } = ctx;
    const v = s.payment || {};
    const st = v.state || "waiting";
    const amount = money(v.amount, v.amount_vnd);
    const row = (label, value, cls) => h("div", { class: "kv" + (cls ? " " + cls : "") }, h("dt", { text: label }), h("dd", { text: value || "—" }));
    const details = h("dl", { class: "kvs" },
      row(t("label.amount"), amount, "kv-big"),
      row(t("label.purpose"), v.purpose),
      row(t("label.reference"), v.reference),
      row(t("label.payee"), v.payee));
    const out = [...title(t("title.payment"))];
    if (st === "waiting") {
      const src = dataImage(v.qr);
      out.push(h("div", { class: "pay" },
        src ? h("img", { class: "qr", src, alt: t("label.qr_alt") }) : h("p", { class: "qr qr-none", text: t("label.qr_alt") }),
        h("div", { class: "col" },
          h("p", { class: "countdown" }, icon("clock"), h("span", { text: t("label.expires_in") + " " }),
            h("strong", { "data-countdown": String(v.expires_at || 0), text: ctx.mmss(v.expires_at) })),
          details,
          h("p", { class: "hint", text: t("label.pay_hint") }))));
    } else if (st === "paid") {
      out.push(h("div", { class: "big-state ok" }, icon("check", "icon-xl"), h("p", { text: t("status.pay_paid") })), details);
    } else {
      out.push(h("div", { class: "big-state warn" }, icon("warning", "icon-xl"), h("p", { text: t(st === "expired" ? "status.pay_expired" : "status.pay_unavailable") })),
        actions(
          btn(ctx, { intent: "retry", label: t(st === "expired" ? "btn.new_qr" : "btn.retry"), icon: "qr" }),
          btn(ctx, { intent: "cancel", label: t("btn.cancel"), icon: "close", kind: "secondary" })));
    }
    return out;
  },

  submitting(ctx) {
    const { t } = ctx;
    return [h("div", { class: "hero" }, h("div", { class: "spinner", "aria-hidden": "true" }), ...title(t("title.submitting"), t("label.please_wait")))];
  },

  done(ctx) {
    const { t, s, pick } = ctx;
    const v = s.done || {};
    const printMsg = {
      printing: ["print", "status.printing"],
      printed: ["check", "status.printed"],
      failed: ["warning", "status.print_failed"],
      none: ["document", "status.print_none"],
    }[v.print] || ["document", "status.print_none"];
    return [
      h("div", { class: "big-state ok" }, icon("check", "icon-xl")),
      ...title(t("title.done"), pick(v.procedure)),
      h("div", { class: "code-box" },
        h("p", { class: "code-label", text: t("label.ma_ho_so") }),
        h("p", { class: "code", text: v.ma_ho_so || "" })),
      v.days > 0 ? h("p", { class: "lead", text: t("label.result_in").replace("{n}", v.days) }) : null,
      h("p", { class: "notice notice-" + (v.print === "failed" ? "warn" : "info"), "data-print": v.print || "none" },
        icon(printMsg[0]), h("span", { text: t(printMsg[1]) })),
      v.print === "failed" && v.print_error ? h("p", { class: "small", text: pick(v.print_error) }) : null,
      v.print === "failed" || v.print === "none" ? h("p", { class: "lead", text: t("label.write_code") }) : null,
      actions(btn(ctx, { intent: "finish", label: t("btn.finish"), icon: "check" })),
    ];
  },

  dossier_lookup(ctx) {
    const { t } = ctx;
    const typeBtn = h("button", { type: "button", class: "btn btn-secondary", "data-action": "type-code" }, icon("keyboard"), h("span", { text: t("btn.type_code") }));
    typeBtn.addEventListener("click", () => kb.open({
      mode: "text", telex: false, label: t("label.ma_ho_so"), value: "", maxLength: 40, t,
      hint: t("label.type_code_hint"),
      onDone: (val) => {
        const code = val.trim().toUpperCase();
        if (code) ctx.send("lookup_dossier", { ma_ho_so: code });
      },
    }));
    return [
      h("div", { class: "hero" },
        illustration("receipt"),
        ...title(t("title.dossier_lookup"), t("label.scan_receipt"))),
      h("p", { class: "or", text: t("label.or") }),
      actions(typeBtn),
    ];
  },

  dossier_status(ctx) {
    const { t, s, pick } = ctx;
    const v = s.dossier || {};
    const out = [...title(t("title.dossier_status")),
      h("div", { class: "code-box" },
        h("p", { class: "code-label", text: t("label.ma_ho_so") }),
        h("p", { class: "code", text: v.ma_ho_so || "" }))];
    if (v.found) {
      out.push(h("p", { class: "status-text", "data-status-code": String(v.status_code | 0), text: pick(v.status) }));
      if (v.updated_at) out.push(h("p", { class: "lead", text: t("label.updated_at").replace("{t}", v.updated_at) }));
    } else {
      out.push(notice("warn", t("status.not_found"), "status"));
    }
    out.push(actions(btn(ctx, { intent: "finish", label: t("btn.finish"), icon: "check" })));
    return out;
  },

  error(ctx) {
    const { t, s, pick } = ctx;
    const v = s.error || {};
    const acts = v.actions || [];
    const buttons = [];
    if (acts.includes("retry")) buttons.push(btn(ctx, { intent: "retry", label: t("btn.retry"), icon: "retry" }));
    if (acts.includes("restart")) buttons.push(btn(ctx, { intent: "cancel", label: t("btn.restart"), icon: "close", kind: buttons.length ? "secondary" : "primary" }));
    if (acts.includes("help")) buttons.push(btn(ctx, { intent: "help", label: t("btn.help"), icon: "hand", kind: "secondary" }));
    return [
      h("div", { class: "big-state warn" }, icon("warning", "icon-xl")),
      ...title(pick(v.title) || t("title.error"), pick(v.message)),
      acts.includes("remove_card") ? h("p", { class: "hint hint-card" }, icon("card"), h("span", { text: t("label.remove_card") })) : null,
      buttons.length ? actions(...buttons) : null,
    ];
  },

  // ticket is the hospital's end: the queue number, big enough to read from
  // a step back, and whether the printer gave it out.
  ticket(ctx) {
    const { t, s, pick } = ctx;
    const v = s.ticket || {};
    const ins = {
      checked: ["ok", "check", t("ticket.checked")],
      not_checked: ["info", "warning", t("ticket.not_checked")],
      problem: ["warn", "warning", pick(v.note) || t("ticket.problem")],
    }[v.insurance];
    const pr = { printing: "print", printed: "check", failed: "warning" }[v.print];
    return [
      ...title(t("title.ticket")),
      h("div", { class: "ticket" },
        h("p", { class: "ticket-number", "data-ticket": v.number || "", "data-announce": "", text: v.number || "" }),
        h("p", { class: "ticket-dept", text: pick(v.department) }),
        v.issued_at ? h("p", { class: "lead", text: t("label.issued_at").replace("{t}", v.issued_at) }) : null),
      ins ? h("p", { class: "notice notice-" + ins[0], "data-insurance": v.insurance }, icon(ins[1]), h("span", { text: ins[2] })) : null,
      h("p", { class: "notice notice-" + (v.print === "failed" ? "warn" : "info"), "data-print": v.print || "none", "data-announce": "" },
        icon(pr || "document"), h("span", { text: t("status.ticket_" + (pr ? v.print : "none")) })),
      v.print === "failed" && v.print_error ? h("p", { class: "small", text: pick(v.print_error) }) : null,
      v.print === "failed" || !pr ? h("p", { class: "lead", text: t("label.remember_number") }) : null,
      actions(btn(ctx, { intent: "finish", label: t("btn.finish"), icon: "check" })),
    ];
  },

  // staff_pin: a staff card was read; only dots show what was typed.
  staff_pin(ctx) {
    const { t, s, pick } = ctx;
    const v = s.pin || {};
    const max = v.max_digits > 0 ? v.max_digits : 8;
    const min = Math.min(max, v.min_digits > 0 ? v.min_digits : 4);
    const pin = ctx.pad.get();
    const dots = h("div", { class: "pin-dots", "aria-hidden": "true" });
    for (let i = 0; i < max; i++) dots.append(h("span", { class: "pin-dot" + (i < pin.length ? " on" : "") + (i >= min ? " opt" : "") }));
    const range = min === max ? String(min) : min + "–" + max;
    return [
      ...title(t("title.staff_pin").replace("{name}", v.name || ""), t("label.pin_hint").replace("{n}", range)),
      h("div", { class: "split" },
        h("div", { class: "col" },
          dots,
          h("p", { class: "sr-only", role: "status", text: t("label.pin_count").replace("{k}", pin.length) }),
          v.error ? notice("warn", pick(v.error), "alert") : null),
        h("div", { class: "col" },
          keypad(ctx, max, btn(ctx, { intent: "enter_pin", data: { pin }, label: t("btn.ok"), cls: "key key-ok", disabled: pin.length < min })))),
    ];
  },

  staff_home(ctx) {
    const { t, s, pick } = ctx;
    const e = s.error;
    const msg = e ? [pick(e.title), pick(e.message)].filter(Boolean).join(" ") : "";
    return [
      msg ? notice("warn", msg, "alert") : null,
      h("div", { class: "hero" }, illustration("reader"), h("h1", { text: t("title.staff_home") })),
    ];
  },

  // insurance is the staff member's full view of one patient's check.
  insurance(ctx) {
    const { t, s, pick } = ctx;
    const v = s.insurance || {};
    const row = (label, value, cls) => value ? h("div", { class: "kv" + (cls ? " " + cls : "") }, h("dt", { text: label }), h("dd", { text: value })) : null;
    const valid = v.valid_from || v.valid_to ? (v.valid_from || "…") + " – " + (v.valid_to || "…") : "";
    const visits = v.visits || [];
    const th = (k) => h("th", { scope: "col", text: t(k) });
    const out = [
      ...title(t("title.insurance")),
      v.full_name ? h("p", { class: "name", text: v.full_name }) : null,
      insBanner(ctx, v, true),
    ];
    if (v.new_card_number) {
      out.push(h("p", { class: "new-card", "data-new-card": "" }, icon("card"),
        h("span", { text: t("label.new_card") }), h("strong", { text: v.new_card_number })));
    }
    const dl = h("dl", { class: "kvs" },
      row(t("label.card_number"), v.card_number, "kv-big"),
      row(t("label.valid"), valid),
      row(t("label.facility"), v.registered_facility),
      row(t("label.five_year"), v.five_year_date),
      row(t("label.benefit"), pick(v.benefit_level)));
    const grid = h("div", { class: "ins-grid" }, dl.children.length ? dl : null);
    out.push(grid);
    if (visits.length) {
      grid.append(h("table", { class: "visits" },
        h("caption", { text: t("label.visits") }),
        h("thead", null, h("tr", null, th("label.visit_date"), th("label.visit_facility"), th("label.visit_diagnosis"))),
        h("tbody", null, visits.map((x) => h("tr", null,
          h("td", { text: showDate(x.date) }), h("td", { text: x.facility || "" }), h("td", { text: x.diagnosis || "—" }))))));
    }
    out.push(actions(
      btn(ctx, { intent: "next_patient", label: t("btn.next_patient"), icon: "next" }),
      v.retryable && v.state !== "checking" ? btn(ctx, { intent: "retry_insurance", label: t("btn.retry_insurance"), icon: "retry", kind: "secondary" }) : null));
    return out;
  },

  // technician: self-test, devices, logs and provisioning, one panel at a
  // time; the daemon picks the panel, this page only asks for another.
  technician(ctx) {
    const { t, s, pick } = ctx;
    const v = s.tech || {};
    const panel = TECH_PANELS.includes(v.panel) ? v.panel : "selftest";
    const tabs = h("div", { class: "tech-tabs", role: "group", "aria-label": t("label.tech_panels") },
      TECH_PANELS.map((p) => btn(ctx, { intent: "tech_panel", data: { panel: p }, label: t("tech.panel." + p), icon: TECH_ICONS[p],
        kind: p === panel ? "primary" : "secondary", cls: "tech-tab", attrs: { "data-panel": p, "aria-pressed": String(p === panel) } })));
    const who = s.staff && s.staff.name ? h("p", { class: "tech-who" }, icon("person"), h("span", { text: s.staff.name })) : null;
    const msg = v.message && pick(v.message)
      ? h("p", { class: "notice notice-" + (v.ok ? "ok" : "fail"), "data-tech-message": v.ok ? "ok" : "error", "data-announce": "" },
        icon(v.ok ? "check" : "close"), h("span", { text: pick(v.message) }))
      : null;
    const running = v.running
      ? h("p", { class: "tech-running", "data-running": "", "data-announce": "" },
        h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text: t("tech.running." + panel) }))
      : null;
    return [
      h("div", { class: "tech-head" },
        h("h1", { text: t("title.technician") }),
        who,
        btn(ctx, { intent: "staff_logout", label: t("btn.tech_exit"), icon: "logout", kind: "secondary", cls: "tech-exit" })),
      tabs,
      h("section", { class: "tech-panel", "data-panel": panel, "aria-label": t("tech.panel." + panel) },
        ...TECH_RENDER[panel](ctx, v, { msg, running })),
    ];
  },

  goodbye(ctx) {
    const { t } = ctx;
    return [h("div", { class: "hero" }, illustration("takecard"), ...title(t("title.goodbye"), t("label.take_card")))];
  },
};

// renderScreen returns the nodes of state.screen, or of the idle screen for a
// screen this page does not know. While staff are logged in every screen
// starts with their bar, so it is always clear whose mode the kiosk is in.
export function renderScreen(ctx) {
  const f = screens[ctx.s.screen] || screens.idle;
  const out = f(ctx);
  // The technician screen names its user itself, beside its own Exit.
  if (ctx.s.staff && ctx.s.screen !== "technician") out.unshift(staffBar(ctx));
  return out.filter(Boolean);
}

function staffBar(ctx) {
  const { t, s } = ctx;
  const v = s.staff;
  return h("section", { class: "staff-bar", "aria-label": t("label.staff") },
    icon("person"),
    h("p", { class: "staff-who" }, h("strong", { text: v.name || "" }), v.role ? h("span", { text: t("role." + v.role) }) : null),
    btn(ctx, { intent: "staff_logout", label: t("btn.logout"), icon: "logout", kind: "secondary" }));
}

// keypad is the digit pad of the card number and the staff PIN; the digits
// live in the app (ctx.pad) so that a wipe forgets them.
function keypad(ctx, max, ok) {
  const pad = h("div", { class: "keypad", role: "group", "aria-label": ctx.t("label.keypad") });
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "backspace", "0"]) {
    const b = k === "backspace"
      ? h("button", { type: "button", class: "key", "data-key": k, "aria-label": ctx.t("btn.backspace") }, icon("backspace"))
      : h("button", { type: "button", class: "key", "data-key": k, text: k });
    b.addEventListener("click", () => ctx.pad.press(k, max));
    pad.append(b);
  }
  pad.append(ok);
  return pad;
}

function departments(ctx) {
  const { t, s, pick } = ctx;
  const tiles = h("div", { class: "tiles tiles-dept" });
  for (const d of s.departments || []) {
    const b = h("button", { type: "button", class: "tile tile-dept", "data-intent": "choose_department", "data-code": d.code, disabled: s.busy },
      icon("cross"), h("span", { class: "tile-name", text: pick(d.name) }));
    b.addEventListener("click", () => ctx.send("choose_department", { code: d.code }));
    tiles.append(b);
  }
  return [...title(t("title.departments")), insBanner(ctx, s.insurance, false), tiles];
}

// insBanner says where the insurance (BHYT) check stands. For the patient it
// is information beside the one decision, never a step; staff (full) read
// the portal's own message, which names the next step.
function insBanner(ctx, v, full) {
  const { t, pick } = ctx;
  if (!v) return null;
  let kind, lines;
  if (v.state === "checking") {
    kind = "checking";
    lines = [t("ins.checking")];
  } else if (v.state === "not_configured") {
    kind = "not_configured";
    lines = [t("ins.not_configured")];
  } else if (v.ok) {
    kind = "ok";
    lines = [full && pick(v.message) || (v.valid_to ? t("ins.valid_to").replace("{d}", v.valid_to) : pick(v.message) || t("ins.valid"))];
    if (!full && v.benefit_level) lines.push(t("ins.benefit").replace("{b}", pick(v.benefit_level)));
  } else if (v.retryable) {
    kind = "retryable";
    lines = [full ? pick(v.message) || t("ins.retry_staff") : t("ins.retryable")];
  } else {
    kind = "problem";
    lines = [pick(v.message) || t("ins.problem")];
  }
  const tone = { ok: "ok", retryable: "warn", problem: "warn" }[kind] || "info";
  return h("div", { class: "notice ins notice-" + tone, "data-insurance": kind, "data-announce": "" },
    kind === "checking" ? h("span", { class: "spinner", "aria-hidden": "true" }) : icon(tone === "ok" ? "check" : tone === "warn" ? "warning" : "help"),
    h("div", { class: "ins-lines" }, lines.map((l, i) => h("p", { class: i ? "ins-sub" : null, text: l }))));
}

function field(ctx, f, i) {
  const { t, pick } = ctx;
  const label = pick(f.label) + (f.required && !f.locked ? " *" : "");
  const errId = "ferr-" + i;
  const err = f.error ? h("p", { class: "field-error", id: errId }, icon("warning"), h("span", { text: pick(f.error) })) : null;
  const shown = f.type === "date" ? showDate(f.value) : f.value;
  if (f.locked) {
    return h("div", { class: "field field-locked", "data-field": f.key },
      h("span", { class: "field-label" }, icon("lock"), h("span", { text: pick(f.label) })),
      h("span", { class: "field-value", text: shown || "—" }),
      h("span", { class: "tag", text: t("label.from_card") }),
      err);
  }
  if (f.type === "select") {
    const opts = h("div", { class: "options" });
    for (const o of f.options || []) {
      opts.append(btn(ctx, { intent: "set_field", data: { key: f.key, value: o }, label: o, kind: o === f.value ? "primary" : "secondary",
        cls: "opt", attrs: { "data-value": o, "aria-pressed": String(o === f.value) } }));
    }
    return h("fieldset", { class: "field", "data-field": f.key, "aria-describedby": err ? errId : undefined },
      h("legend", { class: "field-label", text: label }), opts, err);
  }
  const mode = f.type === "date" ? "date" : (f.type === "phone" || f.type === "number") ? "numeric" : "text";
  const b = h("button", {
    type: "button", class: "field-btn" + (f.error ? " has-error" : ""), "data-field": f.key, "data-type": f.type || "text",
    "aria-describedby": err ? errId : undefined, disabled: ctx.s.busy,
  },
  h("span", { class: "field-label", text: label }),
  h("span", { class: "field-value" + (shown ? "" : " placeholder"), text: shown || t(mode === "date" ? "label.tap_date" : "label.tap_to_type") }),
  icon(mode === "text" ? "keyboard" : "next"));
  b.addEventListener("click", () => kb.open({
    mode, label: pick(f.label), value: f.value || "", maxLength: f.max_length || 0, t,
    hint: mode === "date" ? t("label.date_hint") : "",
    onChange: (val) => ctx.send("set_field", { key: f.key, value: val }),
  }));
  return h("div", { class: "field" }, b, err);
}

// ---- technician mode ----

const TECH_PANELS = ["selftest", "devices", "logs", "provision"];
const TECH_ICONS = { selftest: "check", devices: "print", logs: "document", provision: "qr" };

// Status and device state → [tone, icon]; the text beside the icon says the
// same, so colour never carries the meaning alone.
const CHECK_LOOK = { ok: ["ok", "check"], warn: ["warn", "warning"], fail: ["fail", "close"] };
const DEVICE_LOOK = { ok: ["ok", "check"], degraded: ["warn", "warning"], starting: ["info", "clock"], absent: ["info", "minus"], failed: ["fail", "close"] };

// tOr translates key, or shows fallback (a raw name) when i18n has no entry.
function tOr(t, key, fallback) {
  const v = t(key);
  return v === key ? fallback : v;
}

function statusCell(tone, iconName, text, attrs) {
  return h("td", { class: "tech-status tone-" + tone, ...attrs }, icon(iconName), h("span", { text }));
}

const TECH_RENDER = {
  selftest(ctx, v, { msg, running }) {
    const { t } = ctx;
    const checks = v.checks || [];
    const n = { ok: 0, warn: 0, fail: 0 };
    for (const c of checks) if (c.status in n) n[c.status]++;
    const out = [
      h("div", { class: "tech-actions" },
        btn(ctx, { intent: "run_selftest", label: t("btn.run_selftest"), icon: "retry", disabled: v.running }),
        running),
      msg,
    ];
    if (!checks.length) {
      out.push(h("p", { class: "tech-empty", text: t("tech.no_checks") }));
      return out;
    }
    out.push(h("p", { class: "tech-summary", "data-ok": n.ok, "data-warn": n.warn, "data-fail": n.fail },
      h("span", { class: "tone-ok" }, icon("check"), h("span", { text: t("tech.sum.ok").replace("{n}", n.ok) })),
      h("span", { class: "tone-warn" }, icon("warning"), h("span", { text: t("tech.sum.warn").replace("{n}", n.warn) })),
      h("span", { class: "tone-fail" }, icon("close"), h("span", { text: t("tech.sum.fail").replace("{n}", n.fail) }))));
    const th = (k) => h("th", { scope: "col", text: t(k) });
    out.push(h("table", { class: "tech-table" },
      h("caption", { class: "sr-only", text: t("tech.results") }),
      h("thead", null, h("tr", null, th("tech.col.status"), th("tech.col.check"), th("tech.col.details"))),
      h("tbody", null, checks.map((c) => {
        const look = CHECK_LOOK[c.status] || ["info", "help"];
        return h("tr", { "data-check": c.name || "", "data-status": c.status || "" },
          statusCell(look[0], look[1], CHECK_LOOK[c.status] ? t("tech.status." + c.status) : c.status || "?"),
          h("td", { class: "tech-name", text: tOr(t, "check." + c.name, c.name || "") }),
          h("td", null,
            h("p", { class: "tech-reason", text: c.reason || "—" }),
            c.hint ? h("p", { class: "tech-hint" }, h("strong", { text: t("tech.hint") + " " }), h("span", { text: c.hint })) : null));
      }))));
    return out;
  },

  devices(ctx, v, { msg, running }) {
    const { t } = ctx;
    const devs = v.devices || [];
    const th = (k) => h("th", { scope: "col", text: t(k) });
    return [
      h("div", { class: "tech-actions" },
        btn(ctx, { intent: "print_test", label: t("btn.print_test"), icon: "print", disabled: v.running }),
        running),
      msg,
      devs.length
        ? h("table", { class: "tech-table" },
          h("caption", { class: "sr-only", text: t("tech.devices") }),
          h("thead", null, h("tr", null, th("tech.col.device"), th("tech.col.status"), th("tech.col.reason"), th("tech.col.attached"))),
          h("tbody", null, devs.map((d) => {
            const look = DEVICE_LOOK[d.state] || ["info", "help"];
            return h("tr", { "data-device": d.name || "", "data-state": d.state || "" },
              h("td", { class: "tech-name", text: tOr(t, "device." + d.name, d.name || "") }),
              statusCell(look[0], look[1], DEVICE_LOOK[d.state] ? t("tech.state." + d.state) : d.state || "?"),
              h("td", { class: "tech-reason", text: d.reason || "—" }),
              h("td", { class: "tech-mono", text: d.attached || "—" }));
          })))
        : h("p", { class: "tech-empty", text: t("tech.no_devices") }),
    ];
  },

  logs(ctx, v, { msg, running }) {
    const { t } = ctx;
    const lines = v.logs || [];
    // A technician who scrolled up to read keeps their place when new lines
    // arrive; one at the bottom follows the newest line.
    const old = document.querySelector("[data-logs]");
    const follow = !old || old.scrollHeight - old.scrollTop - old.clientHeight < 8;
    const keep = old ? old.scrollTop : 0;
    const box = h("div", { class: "tech-logs", "data-logs": "", role: "region", tabindex: "0", "aria-label": t("tech.logs") },
      lines.length
        ? h("ol", { class: "log-lines" }, lines.map(logLine))
        : h("p", { class: "tech-empty", text: t("tech.no_logs") }));
    queueMicrotask(() => { box.scrollTop = follow ? box.scrollHeight : keep; });
    return [running, msg, h("h2", { class: "tech-sub", text: t("tech.logs") }), box];
  },

  provision(ctx, v, { msg, running }) {
    const { t } = ctx;
    return [
      h("div", { class: "hero tech-provision" },
        illustration("receipt"),
        h("h2", { text: t("tech.provision_scan") }),
        h("p", { class: "lead", text: t("tech.provision_hint") })),
      running,
      msg,
    ];
  },
};

// logLine shows one JSON log line as "HH:MM:SS LEVEL msg key=value …"; a
// line that is not a JSON object is shown as it came.
function logLine(raw) {
  let rec = null;
  try { rec = JSON.parse(raw); } catch { /* not JSON */ }
  if (!rec || typeof rec !== "object" || Array.isArray(rec)) return h("li", { class: "log-line", text: String(raw) });
  const { time, level, msg, ...rest } = rec;
  const lvl = String(level || "").toUpperCase();
  const tone = /^(ERROR|FATAL)/.test(lvl) ? "fail" : /^WARN/.test(lvl) ? "warn" : lvl === "DEBUG" ? "debug" : "info";
  const attrs = flatten(rest, "").map(([k, x]) => k + "=" + x).join(" ");
  // Real spaces between the parts, so the line reads (and copies) as one.
  return h("li", { class: "log-line log-" + tone, "data-level": lvl },
    h("span", { class: "log-time", text: clock(time) }), " ",
    h("span", { class: "log-level", text: lvl || "-" }), " ",
    h("span", { class: "log-msg", text: msg === undefined ? "" : String(msg) }),
    attrs ? [" ", h("span", { class: "log-attrs", text: attrs })] : null);
}

// flatten turns slog groups ({"req":{"id":1}}) into req.id=1 pairs, quoting
// values with spaces the way slog's text handler does.
function flatten(obj, prefix) {
  const out = [];
  for (const [k, x] of Object.entries(obj)) {
    const key = prefix + k;
    if (x && typeof x === "object" && !Array.isArray(x)) out.push(...flatten(x, key + "."));
    else {
      const str = typeof x === "string" ? x : JSON.stringify(x);
      out.push([key, typeof x === "string" && (str === "" || /[\s"=]/.test(str)) ? JSON.stringify(str) : str]);
    }
  }
  return out;
}

// clock is the log line's wall-clock time as written by the daemon (its own
// time zone), HH:MM:SS; a Unix time in ms is shown in the page's.
function clock(v) {
  const m = /T(\d{2}:\d{2}:\d{2})/.exec(typeof v === "string" ? v : "");
  if (m) return m[1];
  if (typeof v === "number" && v > 0) return new Date(v).toTimeString().slice(0, 8);
  return typeof v === "string" && v ? v : "--:--:--";
}
