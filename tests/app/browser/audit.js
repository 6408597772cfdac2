// The in-page audit of the browser harness (harness.rs): returns { lang, problems, text }.
const problems = [];
const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
const visible = (el) => {
  if (!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)) return false;
  const s = getComputedStyle(el);
  return s.visibility !== "hidden" && s.display !== "none";
};
const describe = (el) => el.outerHTML.slice(0, 160);

// Every visible input has a label: label[for], aria-label or aria-labelledby.
for (const el of document.querySelectorAll("input, select, textarea")) {
  const type = (el.getAttribute("type") || "").toLowerCase();
  if (["hidden", "submit", "button", "reset", "image"].includes(type) || !visible(el)) continue;
  const byFor = el.id
    ? Array.from(document.querySelectorAll('label[for="' + CSS.escape(el.id) + '"]')).some((l) => text(l))
    : false;
  const byAria = (el.getAttribute("aria-label") || "").trim() !== "";
  const byIds = (el.getAttribute("aria-labelledby") || "")
    .split(/\s+/)
    .filter(Boolean)
    .some((id) => text(document.getElementById(id)));
  if (!(byFor || byAria || byIds)) problems.push("input without a label: " + describe(el));
}

// ARIA and label references point at elements that exist; ids are unique.
for (const attr of ["aria-describedby", "aria-labelledby", "aria-controls", "for"]) {
  for (const el of document.querySelectorAll("[" + attr + "]")) {
    for (const id of (el.getAttribute(attr) || "").split(/\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) problems.push(attr + " points at missing #" + id + ": " + describe(el));
    }
  }
}
const seen = new Set();
for (const el of document.querySelectorAll("[id]")) {
  if (seen.has(el.id)) problems.push("duplicate id #" + el.id);
  seen.add(el.id);
}

// One h1, a title, names on every link and button, alt on images.
const h1s = document.querySelectorAll("h1").length;
if (h1s !== 1) problems.push(h1s + " h1 elements");
if (!document.title.trim()) problems.push("empty <title>");
for (const el of document.querySelectorAll("a[href], button")) {
  if (visible(el) && !text(el) && !(el.getAttribute("aria-label") || "").trim()) {
    problems.push("link or button without a name: " + describe(el));
  }
}
for (const img of document.querySelectorAll("img")) {
  if (!img.hasAttribute("alt")) problems.push("img without alt: " + describe(img));
}

// Nothing wider than the screen (phones scroll down, not sideways).
if (document.documentElement.scrollWidth > window.innerWidth + 1) {
  problems.push("the page is " + document.documentElement.scrollWidth + " px wide on a " + window.innerWidth + " px screen");
}

// Readable contrast (WCAG AA): 4.5:1, or 3:1 for large text.
const parse = (c) => {
  const m = /rgba?\(([^)]+)\)/.exec(c || "");
  if (!m) return null;
  const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, bottom) => {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
};
const backgroundOf = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) {
      layers.push(c);
      if (c[3] >= 1) break;
    }
  }
  let bg = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
};
const luminance = (c) => {
  const f = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
for (const el of document.body.querySelectorAll("*")) {
  const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !visible(el)) continue;
  const r = el.getBoundingClientRect();
  if (r.right <= 0 || r.bottom <= 0) continue; // off-screen until focused (skip link)
  const s = getComputedStyle(el);
  const fg0 = parse(s.color);
  if (!fg0) continue;
  const bg = backgroundOf(el);
  const fg = over(fg0, bg);
  const l1 = luminance(fg);
  const l2 = luminance(bg);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(s.fontSize);
  const bold = parseInt(s.fontWeight, 10) >= 700;
  const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < need) {
    problems.push("contrast " + ratio.toFixed(2) + ":1 < " + need + ":1 for " + JSON.stringify(text(el).slice(0, 50)));
  }
}

// All text a person meets: visible text, the title, and names given by attributes.
const names = [];
for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt], input[type=submit], input[type=button]")) {
  for (const a of ["aria-label", "title", "placeholder", "alt", "value"]) {
    const v = el.getAttribute(a);
    if (v && (a !== "value" || el.type === "submit" || el.type === "button")) names.push(v);
  }
}
return {
  lang: document.documentElement.lang,
  problems,
  text: [document.title, document.body.innerText].concat(names).join("\n"),
};
