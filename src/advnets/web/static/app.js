// advnets serve: the page. Plain JavaScript, no library: it ships inside the package and works
// offline. Views follow the address's hash: #run=NAME, #compare=A,B, or the list.
"use strict";

const $ = (id) => document.getElementById(id);
const api = (name) => "/api/entries/" + encodeURIComponent(name);
let entries = [];
let current = null; // the entry shown in the run view

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// Evaluation records as flat {name: number}: a metric's "value", or its other numeric fields
// (not its timing, nor the spread of its subsets).
const NOT_SHOWN = ["seconds", "std", "sigma_index"];

function flatMetrics(record) {
  const out = {};
  for (const [metric, fields] of Object.entries((record && record.metrics) || {})) {
    for (const [field, value] of Object.entries(fields || {})) {
      if (typeof value !== "number" || NOT_SHOWN.includes(field)) continue;
      out[field === "value" ? metric : metric + " " + field] = value;
    }
  }
  return out;
}

function latestRecord(entry) {
  const names = Object.keys(entry.evaluations || {}).filter((k) => k !== "reference").sort();
  return names.length ? entry.evaluations[names[names.length - 1]] : null;
}

function format(v) {
  if (typeof v !== "number") return "";
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e5) ? v.toExponential(3) : v.toFixed(a < 10 ? 4 : 2);
}

// ---- the list -----------------------------------------------------------------------------

function showList() {
  const body = $("entries").querySelector("tbody");
  body.replaceChildren();
  for (const e of entries) {
    const tick = el("input", { type: "checkbox", class: "pick", "data-name": e.name });
    tick.addEventListener("change", updateCompareButton);
    if (e.error) {
      body.append(el("tr", { class: "damaged" }, el("td"), el("td", { text: e.name }),
        el("td", { text: e.kind }), el("td", { colspan: 5, class: "error", text: e.error })));
      continue;
    }
    const link = el("a", { href: "#run=" + encodeURIComponent(e.name), text: e.name });
    const preset = e.preset + (e.changed.length ? " + " + e.changed.length + " changes" : "");
    const metrics = Object.entries(flatMetrics(latestRecord(e)))
      .map(([k, v]) => k + " " + format(v)).join(", ");
    body.append(el("tr", {}, el("td", {}, tick), el("td", {}, link), el("td", { text: e.kind }),
      el("td", { text: preset, title: e.changed.join(", ") }), el("td", { text: e.data }),
      el("td", { text: e.generator }), el("td", { text: String(e.step) }),
      el("td", { text: metrics })));
  }
  $("empty").hidden = entries.length > 0;
  updateCompareButton();
}

function ticked() {
  return [...document.querySelectorAll(".pick:checked")].map((t) => t.dataset.name);
}

function updateCompareButton() {
  $("compare-button").disabled = ticked().length !== 2;
}

// ---- a chart: SVG lines, series picked, drag to zoom ---------------------------------------

const COLOURS = ["#3b6ea8", "#d0632b", "#3f9a4a", "#9b4fb0", "#b8963a", "#2b9fa8", "#c0405a"];

function drawChart(box, lines, range) {
  // lines: [{label, x: [...], y: [...]}]; range: [x0, x1] or null
  const W = 640, H = 260, L = 56, R = 12, T = 10, B = 28;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "plot");
  const xs = lines.flatMap((l) => l.x);
  if (!xs.length) { box.replaceChildren(el("p", { class: "hint", text: "no logged rows" })); return; }
  let [x0, x1] = range || [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) x1 = x0 + 1;
  const ys = [];
  for (const l of lines) l.x.forEach((x, i) => { if (x >= x0 && x <= x1 && l.y[i] != null) ys.push(l.y[i]); });
  let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  add("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" });
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4, x = x0 + ((x1 - x0) * i) / 4;
    add("text", { x: L - 4, y: py(y) + 4, "text-anchor": "end", class: "tick" }, format(y));
    add("text", { x: px(x), y: H - 8, "text-anchor": "middle", class: "tick" }, String(Math.round(x)));
  }
  lines.forEach((l, k) => {
    const pts = [];
    l.x.forEach((x, i) => { if (x >= x0 && x <= x1 && l.y[i] != null) pts.push(px(x).toFixed(1) + "," + py(l.y[i]).toFixed(1)); });
    add("polyline", { points: pts.join(" "), fill: "none", stroke: COLOURS[k % COLOURS.length], "stroke-width": 1.5, "data-label": l.label });
  });
  const band = add("rect", { y: T, height: H - T - B, width: 0, class: "band" });
  let start = null;
  const toX = (event) => {
    const r = svg.getBoundingClientRect();
    return ((event.clientX - r.left) / r.width) * W;
  };
  svg.addEventListener("mousedown", (e) => { start = toX(e); band.setAttribute("x", start); band.setAttribute("width", 0); });
  svg.addEventListener("mousemove", (e) => {
    if (start === null) return;
    const x = toX(e);
    band.setAttribute("x", Math.min(x, start)); band.setAttribute("width", Math.abs(x - start));
  });
  svg.addEventListener("mouseup", (e) => {
    const a = Math.min(start, toX(e)), b = Math.max(start, toX(e));
    start = null;
    if (b - a < 4) { band.setAttribute("width", 0); return; }
    const step = (p) => x0 + ((p - L) / (W - L - R)) * (x1 - x0);
    drawChart(box, lines, [step(a), step(b)]);
  });
  svg.addEventListener("dblclick", () => drawChart(box, lines, null));
  const legend = el("div", { class: "legend" });
  lines.forEach((l, k) => legend.append(el("span", { style: "color:" + COLOURS[k % COLOURS.length], text: "— " + l.label + " " })));
  box.replaceChildren(svg, legend);
}

// ---- a run or a generator file ------------------------------------------------------------

async function showRun(name) {
  const entry = entries.find((e) => e.name === name && !e.error);
  if (!entry) { location.hash = ""; return; }
  current = entry;
  $("run-title").textContent = entry.name;
  $("run-about").textContent = `${entry.kind === "file" ? "generator file" : "run"} · ${entry.preset}` +
    (entry.changed.length ? ` (changed: ${entry.changed.join(", ")})` : "") +
    ` · data ${entry.data} · step ${entry.step}`;
  $("curves-panel").hidden = $("grids-panel").hidden = entry.kind === "file";
  const checkpoint = $("checkpoint");
  checkpoint.replaceChildren(...entry.checkpoints.slice().reverse().map((c) => el("option", { value: c, text: c })));
  $("weights").disabled = entry.kind === "file" || !entry.averaged;
  if (!entry.averaged) $("weights").value = "last";
  for (const id of ["interpolation", "neighbours"]) $(id).hidden = true;
  if (entry.kind === "run") {
    const curves = await getJSON(api(name) + "/curves");
    showCurves(curves);
    const { grids } = await getJSON(api(name) + "/grids");
    const slider = $("grid-slider");
    slider.max = Math.max(0, grids.length - 1);
    slider.value = slider.max;
    slider.oninput = () => showGrid(grids, Number(slider.value));
    showGrid(grids, Number(slider.value));
  }
  const model = await getJSON(api(name) + "/model?" + modelQuery());
  $("label-box").hidden = !model.num_classes;
  $("label").replaceChildren(el("option", { value: "", text: "drawn from p(c)" }),
    ...[...Array(model.num_classes).keys()].map((c) => el("option", { value: c, text: String(c) })));
  const images = Boolean(model.image_shape);
  $("interpolate").disabled = $("neighbours-button").disabled = !images;
  drawSamples();
}

function showCurves(curves) {
  const names = Object.keys(curves.series);
  const box = $("series");
  const wanted = names.filter((n) => ["d_loss", "g_loss"].includes(n));
  box.replaceChildren(...names.map((n) => {
    const tick = el("input", { type: "checkbox", value: n });
    tick.checked = wanted.includes(n) || (!wanted.length && n === names[0]);
    tick.addEventListener("change", redraw);
    return el("label", { class: "series" }, tick, " " + n);
  }));
  function redraw() {
    const picked = [...box.querySelectorAll("input:checked")].map((t) => t.value);
    drawChart($("chart"), picked.map((n) => ({ label: n, x: curves.step, y: curves.series[n] })), null);
  }
  redraw();
}

function showGrid(grids, i) {
  $("grid-image").hidden = !grids.length;
  $("grid-name").textContent = grids.length ? grids[i].replace(".png", "").replace("-", " ") : "no sample grids";
  if (grids.length) $("grid-image").src = api(current.name) + "/grids/" + encodeURIComponent(grids[i]);
}

function modelQuery(extra = {}) {
  const q = new URLSearchParams({ weights: $("weights").value, ...extra });
  if ($("checkpoint").value) q.set("checkpoint", $("checkpoint").value);
  if ($("truncation").value !== "1") q.set("truncation", $("truncation").value);
  if (!$("label-box").hidden && $("label").value !== "") q.set("label", $("label").value);
  return q.toString();
}

async function drawImage(img, error, url) {
  error.textContent = "";
  const response = await fetch(url);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    error.textContent = body.error || response.statusText;
    return;
  }
  const blob = await response.blob();
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.hidden = false;
}

function drawSamples() {
  const seed = Math.max(0, Number($("seed").value) || 0);
  return drawImage($("samples"), $("samples-error"), api(current.name) + "/samples.png?" + modelQuery({ seed, n: 64 }));
}

function drawInterpolation() {
  const q = modelQuery({ seed_a: $("seed-a").value || 0, seed_b: $("seed-b").value || 1, steps: $("steps").value || 10 });
  return drawImage($("interpolation"), $("interpolation-error"), api(current.name) + "/interpolation.png?" + q);
}

function drawNeighbours() {
  const q = modelQuery({ seed: $("seed").value || 0, rows: 4, cols: 6 });
  return drawImage($("neighbours"), $("neighbours-error"), api(current.name) + "/neighbours.png?" + q);
}

// ---- two runs side by side ----------------------------------------------------------------

async function showCompare(names) {
  $("compare-title").textContent = names.join(" and ");
  const all = await Promise.all(names.map((n) => getJSON(api(n) + "/curves")));
  const common = Object.keys(all[0].series).filter((s) => s in all[1].series);
  const select = $("compare-series");
  select.replaceChildren(...common.map((s) => el("option", { value: s, text: s })));
  if (common.includes("d_loss")) select.value = "d_loss";
  const redraw = () => drawChart($("compare-chart"),
    names.map((n, i) => ({ label: n, x: all[i].step, y: all[i].series[select.value] || [] })), null);
  select.onchange = redraw;
  redraw();
  const records = names.map((n) => flatMetrics(latestRecord(entries.find((e) => e.name === n))));
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))].sort();
  const table = $("compare-metrics");
  table.querySelector("thead").replaceChildren(el("tr", {}, el("th", { text: "metric" }), ...names.map((n) => el("th", { text: n }))));
  table.querySelector("tbody").replaceChildren(...keys.map((k) =>
    el("tr", {}, el("td", { text: k }), ...records.map((r) => el("td", { text: format(r[k]) })))));
}

// ---- routing ------------------------------------------------------------------------------

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const [view, arg] = hash.includes("=") ? hash.split(/=(.*)/s) : ["", ""];
  $("list-view").hidden = view !== "";
  $("run-view").hidden = view !== "run";
  $("compare-view").hidden = view !== "compare";
  if (view === "run") await showRun(arg);
  else if (view === "compare") await showCompare(arg.split(","));
  else showList();
}

async function start() {
  const listing = await getJSON("/api/entries");
  entries = listing.entries;
  $("root").textContent = listing.root;
  $("compare-button").addEventListener("click", () => { location.hash = "compare=" + ticked().map(encodeURIComponent).join(","); });
  for (const id of ["seed", "weights", "checkpoint", "label"]) $(id).addEventListener("change", drawSamples);
  $("truncation").addEventListener("input", () => { $("truncation-value").textContent = $("truncation").value; });
  $("truncation").addEventListener("change", drawSamples);
  $("interpolate").addEventListener("click", drawInterpolation);
  $("neighbours-button").addEventListener("click", drawNeighbours);
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "yes";
}

start().catch((err) => { document.body.dataset.ready = "error"; document.body.prepend(el("p", { class: "error", text: String(err) })); });
