// Telex input for Vietnamese: turns plain key presses into accented letters on
// the word being typed, so the on-screen keyboard needs no dead keys or extra
// rows. Pure functions only; the keyboard module owns the buffer.

// Each base vowel followed by its five toned forms: sắc, huyền, hỏi, ngã, nặng.
const TONED = {
  a: "aáàảãạ", "ă": "ăắằẳẵặ", "â": "âấầẩẫậ", e: "eéèẻẽẹ", "ê": "êếềểễệ",
  i: "iíìỉĩị", o: "oóòỏõọ", "ô": "ôốồổỗộ", "ơ": "ơớờởỡợ", u: "uúùủũụ",
  "ư": "ưứừửữự", y: "yýỳỷỹỵ",
};
const TONE_KEYS = { s: 1, f: 2, r: 3, x: 4, j: 5 };
const MARKED = new Set(["ă", "â", "ê", "ô", "ơ", "ư"]);
const CIRCUMFLEX = { a: "â", e: "ê", o: "ô" };

// DECOMP maps every vowel form (lower case) to [base, tone].
const DECOMP = new Map();
for (const [base, forms] of Object.entries(TONED)) {
  [...forms].forEach((c, tone) => DECOMP.set(c, [base, tone]));
}

const isVowel = (c) => Object.prototype.hasOwnProperty.call(TONED, c);
const isLetter = (c) => /\p{L}/u.test(c);

// nucleus finds the vowel cluster of a syllable given its toneless letters;
// "qu" and "gi" before another vowel count as the initial consonant.
function nucleus(bases) {
  let i = 0;
  while (i < bases.length && !isVowel(bases[i])) i++;
  if (i >= bases.length) return null;
  if (i === 1 && i + 1 < bases.length && isVowel(bases[i + 1]) &&
      ((bases[0] === "q" && bases[1] === "u") || (bases[0] === "g" && bases[1] === "i"))) {
    i++;
  }
  let j = i;
  while (j < bases.length && isVowel(bases[j])) j++;
  return { start: i, end: j, hasFinal: j < bases.length };
}

// toneIndex is where the tone mark goes, by the modern placement rule.
export function toneIndex(bases) {
  const n = nucleus(bases);
  if (!n) return -1;
  const { start, end, hasFinal } = n;
  for (let k = end - 1; k >= start; k--) if (MARKED.has(bases[k])) return k;
  const len = end - start;
  if (len === 1) return start;
  if (hasFinal) return end - 1;
  if (len === 2) {
    const pair = bases[start] + bases[start + 1];
    return pair === "oa" || pair === "oe" || pair === "uy" ? start + 1 : start;
  }
  return start + 1;
}

function build(bases, upper, tone) {
  const at = tone ? toneIndex(bases) : -1;
  return bases.map((b, i) => {
    let c = i === at ? TONED[b][tone] : b;
    if (upper[i]) c = c.toUpperCase();
    return c;
  }).join("");
}

// transform applies key (one letter) to word; null means "append it as typed".
function transform(word, key) {
  const k = key.toLowerCase();
  const chars = [...word];
  const upper = chars.map((c) => c !== c.toLowerCase());
  let tone = 0;
  const bases = chars.map((c) => {
    const d = DECOMP.get(c.toLowerCase());
    if (!d) return c.toLowerCase();
    if (d[1]) tone = d[1];
    return d[0];
  });
  const n = nucleus(bases);

  if (k === "z") {
    if (!n || !tone) return null;
    return build(bases, upper, 0);
  }
  if (TONE_KEYS[k]) {
    if (!n) return null;
    if (tone === TONE_KEYS[k]) return build(bases, upper, 0) + key; // "ass" -> "as"
    return build(bases, upper, TONE_KEYS[k]);
  }
  if (k === "d") {
    if (bases[0] === "d") { bases[0] = "đ"; return build(bases, upper, tone); }
    if (bases[0] === "đ") { bases[0] = "d"; return build(bases, upper, tone) + key; }
    return null;
  }
  if (CIRCUMFLEX[k]) {
    if (!n) return null;
    for (let i = n.end - 1; i >= n.start; i--) {
      if (bases[i] === k) { bases[i] = CIRCUMFLEX[k]; return build(bases, upper, tone); }
      if (bases[i] === CIRCUMFLEX[k]) { bases[i] = k; return build(bases, upper, tone) + key; }
    }
    return null;
  }
  if (k === "w") {
    if (!n) return build(bases, upper, tone) + (key === "W" ? "Ư" : "ư");
    const s = n.start, e = n.end;
    const find = (c) => { for (let i = s; i < e; i++) if (bases[i] === c) return i; return -1; };
    for (let i = s; i + 1 < e; i++) {
      const pair = bases[i] + bases[i + 1];
      if (pair === "uo" || pair === "ưo" || pair === "uơ") {
        bases[i] = "ư"; bases[i + 1] = "ơ";
        return build(bases, upper, tone);
      }
      if (pair === "oa") { bases[i + 1] = "ă"; return build(bases, upper, tone); }
    }
    for (const [from, to] of [["u", "ư"], ["o", "ơ"], ["a", "ă"]]) {
      const i = find(from);
      if (i >= 0) { bases[i] = to; return build(bases, upper, tone); }
    }
    // Pressed again: undo the horn or breve and type the w itself.
    for (let i = s; i + 1 < e; i++) {
      if (bases[i] === "ư" && bases[i + 1] === "ơ") {
        bases[i] = "u"; bases[i + 1] = "o";
        return build(bases, upper, tone) + key;
      }
    }
    for (const [from, to] of [["ư", "u"], ["ơ", "o"], ["ă", "a"]]) {
      const i = find(from);
      if (i >= 0) { bases[i] = to; return build(bases, upper, tone) + key; }
    }
    return null;
  }
  return null;
}

// apply types one key into text, with Telex applied to the last word.
export function apply(text, key) {
  if ([...key].length !== 1 || !isLetter(key)) return text + key;
  const m = /\p{L}*$/u.exec(text);
  const prefix = text.slice(0, m.index);
  const word = m[0];
  const out = transform(word, key);
  return prefix + (out === null ? word + key : out);
}
