// DOM building without innerHTML: every string from the state goes in as text,
// so a hostile name read from a chip can never become markup.

const SVG = "http://www.w3.org/2000/svg";

// h builds an element. attrs: class, text, data-*, aria-*, on* handlers,
// boolean attributes (true/false), anything else via setAttribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

// Icon outlines on a 24×24 grid (stroke icons unless noted).
const ICONS = {
  speaker: ["M4 9h4l5-4v14l-5-4H4z", "M16 8.5a5 5 0 0 1 0 7", "M18.5 6a8.5 8.5 0 0 1 0 12"],
  help: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M9.3 9.3a2.8 2.8 0 1 1 3.9 2.6c-.8.4-1.2 1-1.2 1.8v.6", "M12 17.2v.3"],
  textsize: ["M3 19l5-13l5 13", "M4.8 14.5h6.4", "M14 19l3.5-9l3.5 9", "M15.2 16h4.6"],
  contrast: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", { d: "M12 3a9 9 0 0 1 0 18z", fill: true }],
  close: ["M6 6l12 12", "M18 6L6 18"],
  back: ["M15 5l-7 7l7 7"],
  retry: ["M20 12a8 8 0 1 1-2.4-5.7", "M20 4v5h-5"],
  next: ["M9 5l7 7l-7 7"],
  check: ["M4.5 12.5l5 5l10-11"],
  warning: ["M12 3.5l9.5 17h-19z", "M12 10v5", "M12 17.6v.2"],
  lock: ["M6 11h12v10H6z", "M8.5 11V8a3.5 3.5 0 0 1 7 0v3"],
  card: ["M3 6h18v12H3z", "M6 10h5", "M6 14h8", "M15.5 9.5h3v3h-3z"],
  qr: ["M4 4h6v6H4z", "M14 4h6v6h-6z", "M4 14h6v6H4z", "M14 14h2v2h-2z", "M18 18h2v2h-2z", "M14 18v2", "M18 14h2"],
  scan: ["M4 8V4h4", "M16 4h4v4", "M20 16v4h-4", "M8 20H4v-4", "M4 12h16"],
  trash: ["M5 7h14", "M9 7V4h6v3", "M7 7l1 13h8l1-13", "M10.5 11v6", "M13.5 11v6"],
  print: ["M7 9V3h10v6", "M5 9h14a2 2 0 0 1 2 2v6h-4", "M7 17H3v-6a2 2 0 0 1 2-2", "M7 14h10v7H7z"],
  globe: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M3 12h18", "M12 3c3 3.5 3 14.5 0 18", "M12 3c-3 3.5-3 14.5 0 18"],
  search: ["M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13z", "M15.5 15.5L21 21"],
  keyboard: ["M2.5 6h19v12h-19z", "M6 10h1", "M9.5 10h1", "M13 10h1", "M16.5 10h1", "M7 14h10"],
  backspace: ["M8 5h12v14H8l-6-7z", "M11 9l6 6", "M17 9l-6 6"],
  shift: ["M12 4l8 8h-4.5v7h-7v-7H4z"],
  space: ["M4 10v4h16v-4"],
  person: ["M12 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8z", "M4 21c0-4.5 3.6-7 8-7s8 2.5 8 7"],
  hand: ["M8 13V6a1.5 1.5 0 0 1 3 0v5", "M11 11V4.5a1.5 1.5 0 0 1 3 0V11", "M14 11V6a1.5 1.5 0 0 1 3 0v7c0 4-2.5 8-6.5 8c-2.5 0-4-1.5-5.5-3.5L3 14c-.8-1.2.7-2.6 1.8-1.6L8 15"],
  clock: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 7v5l3.5 2"],
  document: ["M6 3h8l4 4v14H6z", "M14 3v4h4", "M9 12h6", "M9 16h6"],
  cross: ["M9.5 3.5h5v6h6v5h-6v6h-5v-6h-6v-5h6z"],
  logout: ["M14 4h5v16h-5", "M10 8l-4 4l4 4", "M6 12h10"],
  wrench: ["M14.7 6.3a1 1 0 0 0 0 1.4l1.6 1.6a1 1 0 0 0 1.4 0l3.8-3.8a6 6 0 0 1-7.9 7.9l-6.9 6.9a2.1 2.1 0 0 1-3-3l6.9-6.9a6 6 0 0 1 7.9-7.9z"],
  minus: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M7.5 12h9"],
};

// icon returns a decorative inline SVG (hidden from assistive technology:
// the button or text beside it carries the name).
export function icon(name, cls) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "icon" + (cls ? " " + cls : ""));
  for (const p of ICONS[name] || []) {
    const path = document.createElementNS(SVG, "path");
    const d = typeof p === "string" ? p : p.d;
    path.setAttribute("d", d);
    if (typeof p === "object" && p.fill) path.setAttribute("class", "fill");
    svg.append(path);
  }
  return svg;
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// illustration draws the larger pictures: a card on the reader, a receipt QR
// under the scanner, a card being taken back.
export function illustration(kind) {
  const svg = svgEl("svg", { viewBox: "0 0 240 160", "aria-hidden": "true", focusable: "false", class: "art art-" + kind });
  if (kind === "reader" || kind === "takecard") {
    svg.append(svgEl("rect", { x: 30, y: 96, width: 180, height: 46, rx: 10, class: "art-base" }));
    svg.append(svgEl("rect", { x: 50, y: 106, width: 140, height: 8, rx: 4, class: "art-slot" }));
    const card = svgEl("g", { class: kind === "reader" ? "art-card art-card-in" : "art-card art-card-out" });
    card.append(svgEl("rect", { x: 60, y: 20, width: 120, height: 76, rx: 8, class: "art-cardface" }));
    card.append(svgEl("rect", { x: 72, y: 36, width: 26, height: 32, rx: 3, class: "art-photo" }));
    card.append(svgEl("rect", { x: 106, y: 38, width: 60, height: 7, rx: 3, class: "art-line" }));
    card.append(svgEl("rect", { x: 106, y: 52, width: 46, height: 7, rx: 3, class: "art-line" }));
    card.append(svgEl("rect", { x: 150, y: 68, width: 20, height: 16, rx: 2, class: "art-chip" }));
    svg.append(card);
    const arrow = svgEl("path", { d: kind === "reader" ? "M210 20v40m-10-10l10 10l10-10" : "M210 60V20m-10 10l10-10l10 10", class: "art-arrow" });
    svg.append(arrow);
  } else if (kind === "receipt") {
    svg.append(svgEl("rect", { x: 70, y: 10, width: 100, height: 140, rx: 6, class: "art-cardface" }));
    for (const [x, y] of [[85, 30], [125, 30], [85, 70]]) {
      svg.append(svgEl("rect", { x, y, width: 30, height: 30, class: "art-qr" }));
    }
    svg.append(svgEl("rect", { x: 130, y: 75, width: 10, height: 10, class: "art-qr" }));
    svg.append(svgEl("rect", { x: 145, y: 88, width: 10, height: 10, class: "art-qr" }));
    svg.append(svgEl("rect", { x: 85, y: 115, width: 70, height: 7, rx: 3, class: "art-line" }));
    svg.append(svgEl("path", { d: "M20 60h30m-10-10l10 10l-10 10", class: "art-arrow" }));
  }
  return svg;
}
