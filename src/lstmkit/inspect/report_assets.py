"""The style sheet and script that :mod:`lstmkit.inspect.report` inlines into every report.

They are plain strings so that a report is one file that opens from disk with no network: the
script reads the trace from ``<script type="application/json" id="trace-data">`` and draws
everything on ``<canvas>`` elements. Each canvas, once drawn, carries ``data-drawn`` (what it shows,
e.g. ``"c:lstm:1:0"`` = quantity, panel, layer, direction) and ``data-checksum`` (a hash of its
pixels), so that a browser test can tell that switching a control changed the picture.
"""

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1250px;
  padding: 0 16px 48px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 22px; margin: 18px 0 2px; } h2 { font-size: 17px; margin: 22px 0 6px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px;
  margin: 12px 0; }
.meta, .hint, figcaption { color: #666; font-size: 12px; }
.notices { background: #fff6d5; border-color: #e0c050; }
.findings { background: #eaf4ff; border-color: #8ab4e8; }
.notices ul, .findings ul { margin: 4px 0; padding-left: 20px; }
#controls { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 14px; }
#controls label { font-size: 13px; } #controls select { margin-left: 4px; }
.text { white-space: pre-wrap; font-family: ui-monospace, monospace; line-height: 1.9;
  max-height: 340px; overflow: auto; }
.tok { padding: 1px 0; border-radius: 2px; cursor: default; }
.tok:hover { outline: 2px solid #000; }
.text.spaced .tok { margin-right: 5px; }
.scroll { overflow-x: auto; }
canvas { display: block; }
[hidden] { display: none !important; }
.small-multiples { display: flex; flex-wrap: wrap; gap: 10px; }
.small-multiples figure { margin: 0; cursor: pointer; }
.small-multiples figure.selected canvas { outline: 2px solid #d0309a; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.memory-row { cursor: pointer; } tr.memory-row:hover { background: #f2f2f2; }
tr.memory-row.selected { background: #fbe3f3; }
.word { margin-right: 12px; white-space: nowrap; color: #1d1d1f; }
.word-maps { display: flex; flex-wrap: wrap; gap: 10px; }
.word-maps figure, #caption-section figure { margin: 0; text-align: center; }
.word-maps figcaption { font-size: 12px; color: #1d1d1f; }
.ramp { display: inline-block; width: 80px; height: 10px; vertical-align: middle; }
#tooltip { position: fixed; z-index: 5; pointer-events: none; background: #222; color: #fff;
  font-size: 12px; padding: 5px 8px; border-radius: 4px; white-space: pre; max-width: 420px; }
"""

JS = r"""
"use strict";
const DATA = JSON.parse(document.getElementById("trace-data").textContent);
const $ = (id) => document.getElementById(id);
const NAMES = { f: "forget gate f", i: "input gate i", o: "output gate o", g: "candidate g",
  c: "cell state c", h: "hidden state h" };
const SMALL = ["f", "i", "o", "g", "c", "h"];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const DIVERGING = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130],
  [178, 24, 43]];
const state = { panel: 0, layer: 0, direction: 0, quantity: "c", unit: -1, memory: -1 };

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const show = (tok) => String(tok).replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/ /g, "␣");
const short = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
const fmt = (v) => (v === null ? "n/a" : Number(v).toPrecision(4));
const panel = () => DATA.panels[state.panel];
const layerIndex = () => state.layer * panel().directions + state.direction;
const matrixOf = (q) => panel().quantities[q][layerIndex()];
// Every canvas is read back for its checksum, so ask for a context made for that.
const context = (canvas) => canvas.getContext("2d", { willReadFrequently: true });

function ramp(stops, t) {
  const x = clamp(t, 0, 1) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(x));
  const u = x - k;
  return stops[k].map((a, j) => Math.round(a + (stops[k + 1][j] - a) * u));
}
function maxAbs(rows) {
  let m = 0;
  for (const row of rows) for (const v of (Array.isArray(row) ? row : [row])) {
    if (v !== null) m = Math.max(m, Math.abs(v));
  }
  return m || 1;
}
function extent(rows) {  // lowest to highest value, on VIRIDIS (no spread: rows may be long)
  let lo = Infinity, hi = -Infinity;
  for (const row of rows) for (const v of row) {
    if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (!(hi > lo)) { lo = (lo === Infinity ? 0 : lo) - 1; hi = lo + 2; }
  return { lo, hi, stops: VIRIDIS };
}
function scaleFor(q, rows) {
  if (q === "f" || q === "i" || q === "o") return { lo: 0, hi: 1, stops: VIRIDIS };
  if (q === "g" || q === "h") return { lo: -1, hi: 1, stops: DIVERGING };
  if (q === "attention") return { lo: 0, hi: maxAbs(rows), stops: VIRIDIS };
  if (q === "posterior") return { lo: 0, hi: 1, stops: VIRIDIS };
  if (q === "spectrogram") return extent(rows);
  const m = maxAbs(rows);
  return { lo: -m, hi: m, stops: DIVERGING };
}
function colour(scale, v) {
  if (v === null) return [190, 190, 190];
  return ramp(scale.stops, (v - scale.lo) / (scale.hi - scale.lo));
}
function markDrawn(canvas, what) {
  const px = context(canvas).getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 2166136261;
  for (let k = 0; k < px.length; k++) { h ^= px[k]; h = Math.imul(h, 16777619); }
  canvas.dataset.drawn = what;
  canvas.dataset.checksum = (h >>> 0).toString(16);
}

// A rows x cols grid of coloured cells with optional labels, a highlighted row and a legend.
function drawGrid(canvas, g) {
  const font = 11, left = g.rowLabels ? 58 : 4, top = g.rowLabels ? 16 : 4;
  const bottom = g.colLabels ? 66 : 4, w = g.cols * g.cellW, h = g.rows * g.cellH;
  canvas.width = left + w + 70;
  canvas.height = top + Math.max(h, 60) + bottom;
  const ctx = context(canvas);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (w > 0 && h > 0) {
    const img = ctx.createImageData(w, h);
    for (let r = 0; r < g.rows; r++) for (let c = 0; c < g.cols; c++) {
      const rgb = colour(g.scale, g.value(r, c));
      for (let y = r * g.cellH; y < (r + 1) * g.cellH; y++) {
        for (let x = c * g.cellW; x < (c + 1) * g.cellW; x++) {
          const p = 4 * (y * w + x);
          img.data[p] = rgb[0]; img.data[p + 1] = rgb[1]; img.data[p + 2] = rgb[2];
          img.data[p + 3] = 255;
        }
      }
    }
    ctx.putImageData(img, left, top);
  }
  ctx.font = font + "px sans-serif";
  ctx.fillStyle = "#222";
  if (g.colLabels) {
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let c = 0; c < g.cols; c += Math.max(1, Math.ceil((font + 1) / g.cellW))) {
      ctx.save();
      ctx.translate(left + (c + 0.5) * g.cellW, top + h + 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(short(show(g.colLabels[c]), 10), 0, 0);
      ctx.restore();
    }
  }
  if (g.rowLabels) {
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let r = 0; r < g.rows; r += Math.max(1, Math.ceil((font + 1) / g.cellH))) {
      ctx.fillText(short(show(g.rowLabels[r]), 9), left - 4, top + (r + 0.5) * g.cellH);
    }
    ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
    ctx.fillText(g.axes || "", 2, 12);
  }
  ctx.fillStyle = "#d0309a";  // memory units: a triangle right of the row, pointing at it
  for (const r of g.marked || []) {
    const y = top + (r + 0.5) * g.cellH, x = left + w;
    ctx.beginPath(); ctx.moveTo(x + 1, y); ctx.lineTo(x + 8, y - 4); ctx.lineTo(x + 8, y + 4);
    ctx.fill();
  }
  if (g.highlight >= 0) {
    ctx.strokeStyle = "#d0309a"; ctx.lineWidth = 2;
    ctx.strokeRect(left - 1, top + g.highlight * g.cellH - 1, w + 2, g.cellH + 2);
  }
  const lh = Math.max(h, 60), lx = left + w + 10;
  for (let y = 0; y < lh; y++) {
    const v = g.scale.hi - (y / lh) * (g.scale.hi - g.scale.lo);
    ctx.fillStyle = "rgb(" + colour(g.scale, v) + ")";
    ctx.fillRect(lx, top + y, 12, 1);
  }
  ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.textBaseline = "top";
  ctx.fillText(fmt(g.scale.hi), lx + 15, top);
  ctx.textBaseline = "bottom";
  ctx.fillText(fmt(g.scale.lo), lx + 15, top + lh);
  canvas.grid = Object.assign({ left, top }, g);
}

function drawGates() {
  const p = panel(), T = p.tokens.length, U = p.units.length, where = layerIndex();
  const order = p.order[where], shown = order.map((k) => p.units[k]);  // alike units together
  const hi = shown.indexOf(state.unit);
  const marked = DATA.memory.filter((m) => m.panel === p.name && m.layer === state.layer &&
    m.direction === state.direction).map((m) => shown.indexOf(m.unit)).filter((r) => r >= 0);
  const grid = (q, cellW, cellH, labels) => {
    const m = p.quantities[q][where];
    return { rows: U, cols: T, value: (r, c) => m[c][order[r]], scale: scaleFor(q, m), cellW,
      cellH, colLabels: labels ? p.tokens : null, rowLabels: labels ? shown : null, highlight: hi,
      marked, axes: "unit ↓ (alike together)  time →", names: [q, shown, p.tokens] };
  };
  const what = [p.name, state.layer, state.direction].join(":");
  const big = $("heatmap");
  drawGrid(big, grid(state.quantity, clamp(Math.floor(1100 / T), 1, 16),
    clamp(Math.floor(380 / U), 1, 12), true));
  markDrawn(big, state.quantity + ":" + what);
  for (const q of SMALL) {
    const canvas = $("heatmap-" + q);
    drawGrid(canvas, grid(q, clamp(Math.floor(330 / T), 1, 6), clamp(Math.floor(110 / U), 1, 4)));
    markDrawn(canvas, q + ":" + what);
    canvas.parentElement.classList.toggle("selected", q === state.quantity);
  }
  const dir = p.directions > 1 ? (state.direction ? "backward" : "forward") : "";
  $("heatmap-caption").textContent = NAMES[state.quantity] + ", panel " + p.name + ", layer " +
    state.layer + " " + dir + " — " + T + " time steps x " + U + " units, alike units together" +
    (DATA.memory.length ? "; ◀ marks a memory unit" : "");
}

function drawText() {
  const p = panel(), q = state.quantity, m = matrixOf(q), r = p.units.indexOf(state.unit);
  const series = r < 0 ? p.means[q][layerIndex()] : m.map((row) => row[r]);
  const scale = r < 0 && q === "c" ? scaleFor(q, series) : scaleFor(q, m);
  const box = $("text");
  box.replaceChildren();
  // Tokens that carry no whitespace of their own (dates, subwords) would run together.
  box.classList.toggle("spaced", !p.tokens.some((tok) => /\s/.test(tok)));
  p.tokens.forEach((tok, t) => {
    const span = document.createElement("span");
    const rgb = colour(scale, series[t]);
    span.className = "tok";
    span.textContent = tok;
    span.dataset.t = t;
    span.style.background = "rgb(" + rgb + ")";
    span.style.color = rgb[0] * 0.3 + rgb[1] * 0.59 + rgb[2] * 0.11 > 140 ? "#000" : "#fff";
    box.append(span);
  });
  box.dataset.drawn = q + ":" + p.name + ":" + state.layer + ":" + state.direction + ":" +
    state.unit;
  $("text-caption").textContent = "Colour: " + NAMES[q] + (r < 0 ? ", mean over units" :
    ", unit " + state.unit) + " (" + fmt(scale.lo) + " … " + fmt(scale.hi) + ")" +
    (p.top_next ? ". Hover a token for the model's top-5 next tokens." : ".");
}

function tokenTip(t) {
  const p = panel(), r = p.units.indexOf(state.unit);
  const v = r < 0 ? p.means[state.quantity][layerIndex()][t] : matrixOf(state.quantity)[t][r];
  let text = "#" + t + "  " + show(p.tokens[t]) + "\n" + state.quantity + " = " + fmt(v);
  if (p.top_next && p.top_next[t]) {
    text += "\nnext token:";
    for (const [tok, prob] of p.top_next[t]) {
      text += "\n  " + (prob * 100).toFixed(1) + "%  " + show(tok);
    }
  }
  return text;
}
function showTip(event, text) {
  const tip = $("tooltip");
  tip.textContent = text;
  tip.hidden = false;
  tip.style.left = Math.min(event.clientX + 14, window.innerWidth - 300) + "px";
  tip.style.top = event.clientY + 14 + "px";
}
function gridTip(event) {
  const g = event.target.grid;
  if (!g) return;
  const rect = event.target.getBoundingClientRect();
  const c = Math.floor((event.clientX - rect.left - g.left) / g.cellW);
  const r = Math.floor((event.clientY - rect.top - g.top) / g.cellH);
  if (r < 0 || c < 0 || r >= g.rows || c >= g.cols) { $("tooltip").hidden = true; return; }
  const [q, rows, cols] = g.names;
  showTip(event, q + " = " + fmt(g.value(r, c)) + "\n" + show(rows[r]) + " / " + show(cols[c]));
}

function drawLine(canvas, series, labels, what) {
  const W = 900, H = 236, left = 56, top = 12, bottom = 72, w = W - left - 12, h = H - top - bottom;
  canvas.width = W; canvas.height = H;
  const ctx = context(canvas);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const values = series.flatMap((s) => (s.band ? s.band[0].concat(s.band[1]) : s.values))
    .filter((v) => v !== null);
  let lo = values.reduce((a, b) => Math.min(a, b), Infinity);
  let hi = values.reduce((a, b) => Math.max(a, b), -Infinity);
  if (!values.length) { lo = 0; hi = 0; }
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const n = labels.length, x = (k) => left + (n > 1 ? (k / (n - 1)) * w : w / 2);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * h;
  ctx.strokeStyle = "#bbb"; ctx.strokeRect(left, top, w, h);
  ctx.font = "11px sans-serif"; ctx.fillStyle = "#222";
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  ctx.fillText(fmt(hi), left - 4, top); ctx.fillText(fmt(lo), left - 4, top + h);
  if (lo < 0 && hi > 0) { ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(left, y(0));
    ctx.lineTo(left + w, y(0)); ctx.stroke(); }
  for (let k = 0; k < n; k += Math.max(1, Math.ceil((n * 12) / w))) {
    ctx.save(); ctx.translate(x(k), top + h + 4); ctx.rotate(-Math.PI / 2);
    ctx.fillText(short(show(labels[k]), 10), 0, 0); ctx.restore();
  }
  for (const s of series) {
    if (s.band) {
      ctx.fillStyle = s.colour; ctx.beginPath();
      s.band[0].forEach((v, k) => ctx.lineTo(x(s.offset + k), y(v)));
      for (let k = s.band[1].length - 1; k >= 0; k--) ctx.lineTo(x(s.offset + k), y(s.band[1][k]));
      ctx.closePath(); ctx.fill();
      continue;
    }
    ctx.strokeStyle = s.colour; ctx.lineWidth = 1.6; ctx.beginPath();
    s.values.forEach((v, k) => (v === null ? null : ctx.lineTo(x(s.offset + k), y(v))));
    ctx.stroke();
  }
  markDrawn(canvas, what);
}

function selectMemory(k) {
  const m = DATA.memory[k];
  state.memory = k;
  state.panel = Math.max(0, DATA.panels.findIndex((p) => p.name === m.panel));
  Object.assign(state, { layer: m.layer, direction: m.direction, unit: m.unit, quantity: "c" });
  fillControls();
  redraw();
  document.querySelectorAll("tr.memory-row").forEach((tr) =>
    tr.classList.toggle("selected", Number(tr.dataset.index) === k));
  $("unit-caption").textContent = m.label + ": cell state of " + m.panel + " layer " + m.layer +
    " direction " + m.direction + " unit " + m.unit + " over the tokens";
  $("unit-chart").hidden = false;
  drawLine($("unit-chart"), [{ values: m.trace, offset: 0, colour: "#d0309a" }],
    DATA.panels[state.panel].tokens, "memory:" + k);
}
function buildMemory() {
  const body = $("memory-body");
  if (!DATA.memory.length) {
    $("memory-table").hidden = true;
    $("unit-caption").textContent = "The trace names no memory units.";
  }
  DATA.memory.forEach((m, k) => {
    const tr = document.createElement("tr");
    tr.className = "memory-row"; tr.dataset.index = k;
    for (const [v, num] of [[k + 1, 1], [m.label, 0], [m.panel, 0], [m.layer, 1],
      [m.direction, 1], [m.unit, 1], [fmt(m.correlation), 1]]) {
      const td = document.createElement("td");
      td.textContent = v; if (num) td.className = "num";
      tr.append(td);
    }
    tr.addEventListener("click", () => selectMemory(k));
    body.append(tr);
  });
}

function drawAttention() {
  const a = DATA.attention, S = a.src.length, T = a.tgt.length;
  drawGrid($("attention"), { rows: T, cols: S, value: (r, c) => a.weights[r][c],
    scale: scaleFor("attention", a.weights), cellW: clamp(Math.floor(760 / S), 4, 28),
    cellH: clamp(Math.floor(520 / T), 4, 28), colLabels: a.src, rowLabels: a.tgt, highlight: -1,
    axes: "target ↓  source →", names: ["weight", a.tgt, a.src] });
  markDrawn($("attention"), "attention");
}
function drawSpeech() {
  const s = DATA.speech, T = s.features.length, F = T ? s.features[0].length : 0;
  const P = s.posteriors ? s.posteriors.length : 0, K = s.labels.length;
  const times = (n, step) => range(n).map((k) => (k * step).toFixed(2) + "s");  // no spaces: ␣
  const bands = range(F).reverse().map(String);  // the highest band at the top
  const frames = times(T, s.frame_seconds), outputs = times(P, s.output_seconds);
  drawGrid($("spectrogram"), { rows: F, cols: T, value: (r, c) => s.features[c][F - 1 - r],
    scale: scaleFor("spectrogram", s.features), cellW: clamp(Math.floor(1100 / T), 1, 8),
    cellH: clamp(Math.floor(240 / F), 1, 8), colLabels: frames, rowLabels: bands,
    highlight: -1, axes: "mel band ↓  time →", names: ["log-mel", bands, frames] });
  markDrawn($("spectrogram"), "spectrogram");
  if (!s.posteriors) return;  // an attention model without a CTC head has none
  drawGrid($("posteriors"), { rows: K, cols: P, value: (r, c) => s.posteriors[c][r],
    scale: scaleFor("posterior"), cellW: clamp(Math.floor(1100 / P), 1, 16),
    cellH: clamp(Math.floor(320 / K), 4, 16), colLabels: outputs, rowLabels: s.labels,
    highlight: -1, axes: "token ↓  output frame →",
    names: ["probability", s.labels, outputs] });
  markDrawn($("posteriors"), "posteriors");
}
function drawForecast() {
  const f = DATA.forecast, n = f.history.length;
  drawLine($("forecast-chart"), [
    { band: [f.lower, f.upper], offset: n, colour: "rgba(31,119,180,0.22)" },
    { values: f.history, offset: 0, colour: "#222" },
    { values: f.forecast, offset: n, colour: "#1f77b4" },
  ], f.history_time.concat(f.time), "forecast:" + f.series);
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, text]) => {
    const option = document.createElement("option");
    option.value = v; option.textContent = text;
    return option;
  }));
  select.value = String(value);
}
function range(n) { return Array.from({ length: n }, (_, k) => k); }
function fillControls() {
  const p = panel();
  fillSelect($("panel"), DATA.panels.map((q, k) => [k, q.name]), state.panel);
  fillSelect($("layer"), range(p.layers).map((k) => [k, String(k)]), state.layer);
  fillSelect($("direction"), range(p.directions).map((k) => [k, k ? "backward" : "forward"]),
    state.direction);
  fillSelect($("quantity"), SMALL.map((q) => [q, NAMES[q]]), state.quantity);
  if (!p.units.includes(state.unit)) state.unit = -1;
  fillSelect($("unit"), [[-1, "mean over units"]].concat(p.units.map((u) => [u, String(u)])),
    state.unit);
}
function redraw() { drawText(); drawGates(); }

function main() {
  for (const id of ["panel", "layer", "direction", "quantity", "unit"]) {
    $(id).addEventListener("change", (event) => {
      const v = event.target.value;
      state[id] = id === "quantity" ? v : Number(v);
      if (id === "panel") { state.layer = 0; state.direction = 0; state.unit = -1; }
      fillControls();
      redraw();
    });
  }
  for (const q of SMALL) {
    $("heatmap-" + q).parentElement.addEventListener("click", () => {
      state.quantity = q; fillControls(); redraw();
    });
  }
  for (const canvas of document.querySelectorAll("canvas.heatmap")) {
    canvas.addEventListener("mousemove", gridTip);
    canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  }
  $("text").addEventListener("mouseover", (event) => {
    const t = event.target.dataset.t;
    if (event.target.classList.contains("tok")) showTip(event, tokenTip(Number(t)));
  });
  $("text").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  state.layer = panel().layers - 1;
  fillControls();
  redraw();
  buildMemory();
  if (DATA.attention) drawAttention();
  if (DATA.forecast) drawForecast();
  if (DATA.speech) drawSpeech();
  if (DATA.memory.length) selectMemory(0);
  document.body.dataset.ready = "1";
}
main();
"""
