// ganvas studio: a client of the REST API (api.js). Plain JavaScript, no build step, nothing from elsewhere.
import { api, saveBlob } from "./api.js";
import { Sketchpad } from "./draw.js";
import { Writer } from "./write.js";
import { keptMessage, recordKeep } from "./kept.js";
import { UnitsPanel, describeUnits } from "./units.js";
import { applyNames, directionLabel, directionTitle } from "./names.js";
import { WhyPanel } from "./why.js";

const $ = (id) => document.getElementById(id);
const SHOWN_DIRECTIONS = 8;
const GRID = 16;

const state = {
  models: [], model: null, info: null,       // the model list, the chosen model's name and details
  start: 0, grid: [],                         // seed grid: first seed, its items
  current: null, edits: new Map(),            // the output being edited: {seed | latent, space, image}; index → σ
  truncation: 1, layers: "all", directions: null, showAll: false,
  A: null, B: null,                           // interpolation ends
  population: [], parents: new Set(), generations: [], generation: 0,
  kept: [], view: "explore", job: null, projectFile: null, audioKey: null,
  pad: null, drawn: null,                     // Draw: the sketchpad; the last rendering {output, sketch, drawing}
  writer: null,                               // Write: the text model's panel (write.js)
  units: null,                                // Explore: the Units panel (units.js)
  frames: [],                                 // Interpolate: the last strip's items
  translated: null,                           // Translate: the last request {file, text, direction}
  history: [], committed: null,               // Explore: slider states before each edit (undo), the last one
};

// --- status line -------------------------------------------------------------------------------------
let statusTimer = 0;
function say(message, error = false) {
  const el = $("status");
  el.textContent = message;
  el.className = `status show${error ? " error" : ""}`;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { el.className = "status"; }, error ? 6000 : 2500);
}
const fail = (e) => say(e.message || String(e), true);

// --- recipes -------------------------------------------------------------------------------------------
function base(item) {
  if (item.seed === null || item.seed === undefined) return { latent: item.latent, space: item.space };
  const label = item.recipe?.label ?? null;
  return label ? { seed: item.seed, label } : { seed: item.seed };
}
// the class a conditional model is asked for: a name, a blend "A:0.7,B:0.3", or null (seed s: class s mod K)
function classLabel() {
  const a = $("class-a").value, b = $("class-b").value, mix = Number($("class-mix").value);
  if (!a) return null;
  if (!b || b === a || mix <= 0) return a;
  if (mix >= 1) return b;
  return `${a}:${(1 - mix).toFixed(2)},${b}:${mix.toFixed(2)}`;
}
function setupClasses(classes) {
  const options = (first) => [new Option(first, ""), ...classes.map((c) => new Option(c, c))];
  $("class-a").replaceChildren(...options("by seed (cycles through classes)"));
  $("class-b").replaceChildren(...options("—"));
  $("class-mix").value = "0";
  $("class-mix-out").textContent = "0.0";
  $("class-row").hidden = !classes.length;
  $("class-mix-row").hidden = !classes.length;
  for (const end of ["a", "b"]) {      // Interpolate: each end's class (a seed end only), a class axis
    $(`interp-class-${end}`).replaceChildren(...options("as set"));
    $(`interp-class-${end}-box`).hidden = !classes.length;
  }
}
async function classChanged() {
  state.label = classLabel();
  $("class-mix-out").textContent = Number($("class-mix").value).toFixed(1);
  await loadGrid();
  if (state.current?.seed !== undefined && state.current?.seed !== null) {
    state.current = { ...state.current, recipe: { ...(state.current.recipe || {}), label: state.label } };
    await renderCurrent();
  }
}
function layerRange() {
  const n = state.info?.explore?.num_ws;
  if (!n || state.layers === "all") return null;
  const c = Math.max(1, Math.round(n / 3));
  const [lo, hi] = { coarse: [0, c], middle: [c, Math.min(n, 2 * c)], fine: [Math.min(n - 1, 2 * c), n] }[state.layers];
  return `${lo}-${hi - 1}`;
}
function edits() {
  const layers = layerRange();
  return [...state.edits].filter(([, a]) => a !== 0)
    .map(([index, amount]) => (layers ? { index, amount, layers } : { index, amount }));
}
function recipe(item = state.current) {
  const r = { ...base(item), truncation: state.truncation };
  const e = edits();
  if (e.length) r.edits = e;
  const u = state.units?.edits() || [];
  if (u.length) r.units = u;
  return r;
}
function describe(r) {
  const parts = [r.seed !== undefined ? `seed ${r.seed}` : "a code"];
  if (r.label) parts.push(r.label);
  if (r.truncation !== undefined && r.truncation < 1) parts.push(`ψ ${Number(r.truncation).toFixed(2)}`);
  if (r.edits?.length) parts.push(r.edits.map((e) => `d${e.index}${e.amount > 0 ? "+" : ""}${e.amount}σ`).join(" "));
  if (r.units?.length) parts.push(describeUnits(r.units));
  return parts.join(" · ");
}

// --- tiles and keyboard grids ------------------------------------------------------------------------
function tile(item, label, onPick, extra = {}) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "tile";
  b.setAttribute("role", "option");
  b.setAttribute("aria-selected", "false");
  b.tabIndex = -1;
  const img = document.createElement("img");
  img.src = item.image;
  img.alt = label;
  b.append(img);
  const tag = document.createElement("span");
  tag.className = "label";
  tag.textContent = label;
  b.append(tag);
  b.addEventListener("click", () => onPick(item, b));
  Object.assign(b.dataset, extra);
  return b;
}
function fillTiles(container, tiles) {
  container.replaceChildren(...tiles);
  if (tiles.length) tiles[0].tabIndex = 0;
}
function columns(container) {
  const cols = getComputedStyle(container).gridTemplateColumns.split(" ").filter(Boolean).length;
  return Math.max(1, cols);
}
function gridKeys(container) {
  container.addEventListener("keydown", (ev) => {
    const tiles = [...container.querySelectorAll(".tile")];
    const i = tiles.indexOf(document.activeElement);
    if (i < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(container), ArrowUp: -columns(container),
                   Home: -i, End: tiles.length - 1 - i }[ev.key];
    if (step === undefined) return;
    ev.preventDefault();
    const j = Math.min(tiles.length - 1, Math.max(0, i + step));
    tiles[i].tabIndex = -1;
    tiles[j].tabIndex = 0;
    tiles[j].focus();
  });
}

// --- models ------------------------------------------------------------------------------------------
async function loadModels() {
  const { models } = await api.models();
  state.models = models;
  const select = $("model");
  select.replaceChildren(...models.map((m) => {
    const o = document.createElement("option");
    o.value = m.name;
    o.textContent = `${m.name} — ${m.model}, ${m.dataset?.name ?? "?"}, step ${m.step}`;
    return o;
  }));
  if (!models.length) {
    $("model-info").textContent = "No trained models in the runs folder yet: train one (ganvas train) and reload.";
    return;
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get("model");
  const first = models.find((m) => m.name === wanted) || models.find((m) => m.kind === "generator") || models[0];
  select.value = first.name;
  await selectModel(first.name);
}

async function selectModel(name) {
  state.model = name;
  history.replaceState(null, "", `#model=${encodeURIComponent(name)}`);
  say(`loading ${name}…`);
  const info = await api.model(name);
  state.info = info;
  const ds = info.dataset || {};
  const writer = info.kind === "writer";
  const what = writer ? `${info.write.language} text, codes ${Object.keys(info.write.codes).join(", ") || "none"}`
                      : `${info.domain} ${info.shape?.join("×")}`;
  $("model-info").textContent = `${info.model} · ${what} · step ${info.step}` +
    ` · trained on ${ds.name ?? "?"} (${ds.licence ?? "licence unknown"})`;
  const generator = info.kind === "generator";
  const translator = !generator && !writer;
  const music = info.domain === "music";
  document.body.classList.toggle("music", music);
  for (const [view, shown] of [["explore", generator], ["interpolate", generator], ["breed", generator],
                               ["project", generator && info.explore?.projection], ["translate", translator],
                               ["draw", translator && info.translate?.sketch], ["write", writer]]) {
    $(`tab-${view}`).hidden = !shown;
  }
  state.current = null; state.edits.clear(); state.A = state.B = null; state.directions = null;
  state.frames = []; state.projected = null; state.history = []; state.committed = null; state.translated = null;
  $("translate-download").disabled = true;
  $("undo-edit").disabled = true;
  syncTabButtons();
  $("direction-sliders").replaceChildren();
  $("more-directions").hidden = true;
  $("interp-strip").replaceChildren();
  $("interp-anim-box").hidden = true;
  for (const end of ["a", "b"]) {
    $(`end-${end}`).removeAttribute("src");
    $(`end-${end}-text`).textContent = `— set it from Explore (${end})`;
  }
  state.population = []; state.parents.clear(); state.generations = []; state.generation = 0;
  $("current-img").removeAttribute("src");
  $("current-caption").textContent = "Pick a seed on the left.";
  $("guard-box").hidden = true;
  $("audio-row").hidden = true;
  state.why.hide();
  $("layers-row").hidden = !info.explore?.style;
  setupClasses(info.explore?.classes || []);
  state.units.reset(info);
  state.label = null;
  loadKept();
  if (generator) {
    showView("explore");
    state.start = 0;
    $("seed-start").value = "0";
    await loadGrid();
    pick(state.grid[0]);
    loadDirections().catch(fail);
  } else if (writer) {
    state.grid = [];
    state.writer.setup(info);
    showView("write");
  } else {
    setupTranslate();
    resetDrawing();
    showView(info.translate?.sketch ? "draw" : "translate");
    if (info.translate?.sketch && !state.pad.empty) renderDrawing();   // the same drawing, by this model
  }
}

// --- explore: the seed grid ------------------------------------------------------------------------
async function loadGrid() {
  const grid = $("seed-grid");
  grid.querySelectorAll(".tile").forEach((t) => t.classList.add("busy"));
  const body = { start: state.start, count: GRID };
  if (state.truncation < 1) body.truncation = state.truncation;
  if (state.label) body.label = state.label;
  const model = state.model;
  const { items } = await api.seeds(model, body);
  if (model !== state.model) return;
  state.grid = items;
  fillTiles(grid, items.map((it) => tile(it, `seed ${it.seed}`, (item, b) => { pick(item); mark(grid, b); })));
}
function mark(container, b) {
  container.querySelectorAll(".tile").forEach((t) => t.setAttribute("aria-selected", String(t === b)));
}
function page(delta, random = false) {
  state.start = random ? Math.floor(Math.random() * 2 ** 31) : Math.max(0, state.start + delta * GRID);
  $("seed-start").value = String(state.start);
  loadGrid().catch(fail);
}

// --- explore: the chosen output ----------------------------------------------------------------------
function pick(item) {
  if (!item) return;
  state.current = { seed: item.seed, latent: item.latent, space: item.space, image: item.image };
  state.edits.clear();
  syncSliders();
  forgetEdits();
  showCurrent(item.image, recipe());
  if (edits().length || state.units.edits().length || (item.truncation ?? 1) !== state.truncation) renderCurrent();
}
function showCurrent(image, r) {
  $("guard-box").hidden = true;
  const img = $("current-img");
  img.src = image;
  img.alt = `The chosen output: ${describe(r)}`;
  $("current-caption").textContent = describe(r);
  state.current.image = image;
  const music = state.info?.domain === "music";
  $("audio-row").hidden = !music;
  state.why.refresh();
}

let inflight = false;
let again = false;
async function renderCurrent() {
  if (!state.current) return;
  if (inflight) { again = true; return; }
  inflight = true;
  const r = recipe();
  $("current-img").classList.add("busy");
  try {
    const item = await api.render(state.model, r);
    state.current.edited = item.edited || null;
    showCurrent(item.image, r);
  } catch (e) { fail(e); } finally {
    inflight = false;
    $("current-img").classList.remove("busy");
    if (again) { again = false; renderCurrent(); }
  }
}

// --- sliders -----------------------------------------------------------------------------------------
async function loadDirections() {
  const model = state.model;
  $("directions-info").textContent = "(finding them…)";
  const d = await api.directions(model);
  if (model !== state.model) return;                 // another model was chosen meanwhile
  state.directions = d;
  const where = d.layer ? ` of layer ${d.layer}` : "";
  $("directions-info").textContent = `(${d.set.method}${where}: PCA of ${d.set.samples} samples)`;
  $("directions-info").title = d.names_note || "";    // why names or class effects are missing, if they are
  buildSliders();
  if (d.names_pending) loadDirectionNames(model, d).catch(fail);
}
async function loadDirectionNames(model, d) {          // measured once per model (seconds), then cached
  const named = await api.directionNames(model);
  if (model !== state.model || state.directions !== d) return;
  $("directions-info").title = named.names_note || "";
  applyNames($("direction-sliders"), d.directions, named.directions);
}
function buildSliders() {
  const box = $("direction-sliders");
  const dirs = state.directions?.directions || [];
  const shown = state.showAll ? dirs : dirs.slice(0, SHOWN_DIRECTIONS);
  box.replaceChildren(...shown.map((d) => {
    const row = document.createElement("div");
    row.className = d.name ? "slider named" : "slider";
    const id = `dir-${d.index}`;
    row.innerHTML = `<input id="${id}" type="range" min="-3" max="3" step="0.1" value="0" data-index="${d.index}" ` +
      `aria-describedby="${id}-out">` +
      `<output id="${id}-out" for="${id}">0.0σ</output>`;
    const input = row.querySelector("input");
    const label = directionLabel(d);
    label.htmlFor = id;
    input.title = directionTitle(d);
    row.prepend(label);
    input.addEventListener("change", commitEdit);
    input.addEventListener("input", () => {
      const v = Number(input.value);
      state.edits.set(d.index, v);
      row.querySelector("output").textContent = `${v > 0 ? "+" : ""}${v.toFixed(1)}σ`;
      renderCurrent();
    });
    return row;
  }));
  $("more-directions").hidden = dirs.length <= SHOWN_DIRECTIONS;
  $("more-directions").textContent = state.showAll ? "Fewer directions" : `All ${dirs.length} directions`;
  syncSliders();
}
function syncSliders() {
  document.querySelectorAll("#direction-sliders input").forEach((input) => {
    const v = state.edits.get(Number(input.dataset.index)) || 0;
    input.value = String(v);
    input.parentElement.querySelector("output").textContent = `${v > 0 ? "+" : ""}${v.toFixed(1)}σ`;
  });
}
function reset() {
  state.edits.clear();
  syncSliders();
  commitEdit();
  renderCurrent();
}

// --- undo of slider edits: each finished change (a slider let go, reset) is one step back -------------
function sliderState() {
  return { edits: [...state.edits], truncation: state.truncation };
}
function commitEdit() {
  const now = sliderState();
  if (state.committed && JSON.stringify(state.committed) !== JSON.stringify(now)) state.history.push(state.committed);
  state.committed = now;
  $("undo-edit").disabled = !state.history.length;
}
function forgetEdits() {                       // a new output starts a new history
  state.history = [];
  state.committed = sliderState();
  $("undo-edit").disabled = true;
}
function undoEdit() {
  const back = state.history.pop();
  if (!back) return;
  state.edits = new Map(back.edits);
  state.truncation = back.truncation;
  $("truncation").value = String(state.truncation);
  $("truncation-out").textContent = state.truncation.toFixed(2);
  state.committed = back;
  $("undo-edit").disabled = !state.history.length;
  syncSliders();
  renderCurrent();
  say("undone");
}

// --- music -------------------------------------------------------------------------------------------
async function play() {
  if (!state.current) return;
  const audio = $("current-audio");
  const key = JSON.stringify(recipe());
  if (state.audioKey !== key) {
    say("rendering the audio…");
    const blob = await api.exportFile(state.model, recipe(), "wav");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(blob);
    state.audioKey = key;
  }
  await audio.play();
}

// --- kept --------------------------------------------------------------------------------------------
const keptKey = () => `ganvas-studio:kept:${state.model}`;
function loadKept() {
  try { state.kept = JSON.parse(localStorage.getItem(keptKey()) || "[]"); } catch { state.kept = []; }
  renderKept();
}
function saveKept() {
  try { localStorage.setItem(keptKey(), JSON.stringify(state.kept)); } catch { say("the browser's storage is full: download and clear", true); }
  renderKept();
}
function addKept(r, image, edited = null) {    // in this browser, and recorded by the run with its measures
  state.kept.unshift({ recipe: r, image, label: describe(r), edited, at: new Date().toISOString() });
  const model = state.model;
  return recordKeep(model, r).then((answer) => ({ model, answer }))
    .catch((e) => { say(`kept in this browser; the run did not record it: ${e.message}`, true); return null; });
}
function keep() {
  if (!state.current) return;
  addKept(recipe(), state.current.image, state.current.edited || null)
    .then((done) => { if (done && state.model === done.model) say(keptMessage(done.answer)); });
  saveKept();
  say("kept");
}
function renderKept() {
  const list = $("kept");
  list.replaceChildren(...state.kept.map((k, i) => {
    const li = document.createElement("li");
    li.innerHTML = `<img alt=""><div><div class="meta"></div><div class="row">` +
      `<button type="button" data-act="open">Open</button><button type="button" data-act="get" aria-label="Download">⬇</button>` +
      `<button type="button" data-act="rm" aria-label="Remove">✕</button></div></div>`;
    li.querySelector("img").src = k.image;
    li.querySelector("img").alt = k.label;
    if (k.kind === "text") li.classList.add("text");          // calligraphy: drawn smooth, not pixelated
    li.querySelector(".meta").textContent = k.label;
    li.querySelector("[data-act=open]").addEventListener("click", () => openKept(k));
    li.querySelector("[data-act=get]").addEventListener("click", () => (k.kind === "sketch"
      ? downloadDrawing(k.drawing, `kept-${i + 1}`)
      : k.kind === "text" ? downloadTexts([k.recipe], [`kept-${i + 1}`])
        : download([k.recipe], [`kept-${i + 1}`])).catch(fail));
    li.querySelector("[data-act=rm]").addEventListener("click", () => { state.kept.splice(i, 1); saveKept(); });
    return li;
  }));
  $("kept-count").textContent = String(state.kept.length);
  $("kept-download").disabled = $("kept-clear").disabled = !state.kept.length;
}
function openKept(k) {
  if (k.kind === "text") {                 // a kept text: its card again in Write
    showView("write");
    state.writer.open(k);
    return;
  }
  if (k.kind === "sketch") {               // a drawing's output: shown in Draw (the drawing is in its download)
    showView("draw");
    $("draw-output").src = k.image;
    $("draw-caption").textContent = `${k.label} (kept)`;
    return;
  }
  const r = k.recipe;
  state.truncation = r.truncation ?? 1;
  $("truncation").value = String(state.truncation);
  $("truncation-out").textContent = state.truncation.toFixed(2);
  state.current = { seed: r.seed, latent: r.latent, space: r.space, image: k.image };
  state.edits = new Map((r.edits || []).map((e) => [e.index, e.amount]));
  syncSliders();
  forgetEdits();
  state.units.restore(r.units);
  showView("explore");
  showCurrent(k.image, r);
}
async function download(recipes, names) {
  say("preparing the download…");
  const blob = await api.download(state.model, recipes, names);
  saveBlob(blob, `ganvas-${state.model.replaceAll("/", "_")}.zip`);
}
async function downloadTexts(recipes, names) {
  say("preparing the download…");
  const blob = await api.writeDownload(state.model, recipes, names);
  saveBlob(blob, `ganvas-${state.model.replaceAll("/", "_")}-texts.zip`);
}
// --- keep and download on the other tabs: interpolation frames, picked children, a projection --------
function itemRecipe(item) {
  return { ...base(item), truncation: item.truncation ?? state.truncation };
}
function keepItems(items, what) {
  if (!items.length) { say(`nothing to keep: ${what}`, true); return; }
  for (const item of items) addKept(itemRecipe(item), item.image);
  saveKept();
  say(`kept ${items.length}`);
}
async function downloadItems(items, what) {
  if (!items.length) { say(`nothing to download: ${what}`, true); return; }
  const recipes = items.map(itemRecipe);
  await download(recipes, recipes.map(describe));
}
function tabItems(view) {                      // what Keep and Download act on in each tab
  if (view === "interpolate") return [state.frames, "make the strip first"];
  if (view === "breed") return [[...state.parents].map((i) => state.population[i]), "pick children first"];
  if (view === "project") return [state.projected ? [state.projected] : [], "project a picture first"];
  return [[], ""];
}
function syncTabButtons() {
  for (const view of ["interpolate", "breed", "project"]) {
    const [items] = tabItems(view);
    $(`${view}-keep`).disabled = $(`${view}-download`).disabled = !items.length;
  }
}
function keepText(entry) {
  state.kept.unshift(entry);
  saveKept();
  say("kept");
}

// --- interpolate -------------------------------------------------------------------------------------
function setEnd(which) {
  if (!state.current) return;
  const end = { ...parentCode(state.current), image: state.current.image, label: describe(recipe()) };
  state[which] = end;
  $(`end-${which.toLowerCase()}`).src = end.image;
  $(`end-${which.toLowerCase()}`).alt = `${which}: ${end.label}`;
  $(`end-${which.toLowerCase()}-text`).textContent = end.label;
  say(`${which} set`);
}
function parentCode(item) {
  // an edited output breeds and interpolates as it looks: its code with the edits folded in
  if (item.edited) return { latent: item.edited, space: state.info.explore.space };
  return base(item);
}
async function interpolate() {
  if (!state.A || !state.B) { say("set A and B first: pick outputs in Explore and press a / b", true); return; }
  const strip = (a) => { const { image, label, ...code } = a; return code; };
  const body = { a: strip(state.A), b: strip(state.B), steps: Number($("interp-steps").value) || 8,
                 truncation: state.truncation };
  for (const end of ["a", "b"]) {
    const cls = $(`interp-class-${end}`).value;
    if (!cls) continue;
    if (body[end].seed === undefined) { say(`${end.toUpperCase()} is an edited code: its class is fixed; set it from an unedited seed`, true); return; }
    body[end].label = cls;
  }
  if ($("interp-space").value) body.space = $("interp-space").value;
  const anim = $("interp-anim").value;
  if (anim && state.info.domain === "image") body.animation = anim;
  say("interpolating…");
  const out = await api.interpolate(state.model, body);
  state.frames = out.items;
  syncTabButtons();
  const box = $("interp-strip");
  fillTiles(box, out.items.map((it, i) => tile(it, `${i + 1}`, (item, b) => { mark(box, b); pick(item); showView("explore"); })));
  $("interp-anim-box").hidden = !out.animation;
  if (out.animation) {
    $("interp-anim-img").src = out.animation;
    $("interp-anim-link").href = out.animation;
    $("interp-anim-link").download = `ganvas-interpolation.${anim}`;
  }
  say(`${out.items.length} frames`);
}

// --- breed -------------------------------------------------------------------------------------------
function setPopulation(items, push = true) {
  if (push && state.population.length) state.generations.push(state.population);
  state.population = items;
  state.parents.clear();
  renderPopulation();
}
function renderPopulation() {
  const box = $("population");
  fillTiles(box, state.population.map((it, i) => {
    const t = tile(it, it.seed !== null && it.seed !== undefined ? `seed ${it.seed}` : `#${i + 1}`,
                   (_, b) => toggleParent(i, b), { index: String(i) });
    t.setAttribute("aria-selected", String(state.parents.has(i)));
    t.classList.toggle("parent", state.parents.has(i));
    return t;
  }));
  $("generation").textContent = `Generation ${state.generation}`;
  $("breed-go").disabled = !state.parents.size;
  $("breed-back").disabled = !state.generations.length;
  syncTabButtons();
}
function toggleParent(i, b) {
  if (state.parents.has(i)) state.parents.delete(i); else state.parents.add(i);
  b.classList.toggle("parent", state.parents.has(i));
  b.setAttribute("aria-selected", String(state.parents.has(i)));
  $("breed-go").disabled = !state.parents.size;
  syncTabButtons();
}
async function breed() {
  if (!state.parents.size) { say("pick at least one parent", true); return; }
  const parents = [...state.parents].map((i) => parentCode(state.population[i]));
  const body = { parents, count: Number($("breed-count").value) || 12, mutation: Number($("mutation").value),
                 truncation: state.truncation };
  if ($("breed-mode").value) body.mode = $("breed-mode").value;
  say("breeding…");
  const out = await api.breed(state.model, body);
  state.generation += 1;
  setPopulation(out.items);
  say(`generation ${state.generation}: ${out.items.length} children (${out.mode} crossover)`);
}
function addParent() {
  if (!state.current) return;
  state.population = [...state.population, { ...state.current, ...parentCode(state.current) }];
  state.parents.add(state.population.length - 1);
  renderPopulation();
  say("added to the breeding population (picked as a parent)");
}

// --- project -----------------------------------------------------------------------------------------
function chooseFile(file) {
  if (!file) return;
  state.projectFile = file;
  $("project-go").disabled = false;
  $("project-target").src = URL.createObjectURL(file);
  say(`${file.name}: press Project`);
}
async function project() {
  if (!state.projectFile) return;
  $("project-go").disabled = true;
  const job = await api.project(state.model, state.projectFile, { steps: Number($("project-steps").value) || 150,
                                                                  space: $("project-space").value });
  state.job = job.id;
  $("project-cancel").disabled = false;
  $("project-use").hidden = true;
  for (;;) {
    const j = await api.job(job.id);
    $("project-progress").value = Math.round((100 * j.step) / j.steps);
    if (j.preview) $("project-preview").src = j.preview;
    $("project-caption").textContent = `step ${j.step}/${j.steps}${j.loss !== null ? `, loss ${j.loss.toFixed(4)}` : ""}`;
    if (j.state !== "running") {
      $("project-cancel").disabled = true;
      $("project-go").disabled = false;
      state.job = null;
      if (j.state === "failed") { say(j.error, true); return; }
      const r = j.result;
      $("project-target").src = r.target;
      $("project-preview").src = r.image;
      $("project-caption").textContent = `${r.steps} steps, mean pixel error ${r.pixel_error}`;
      $("project-warning").hidden = !r.warning;
      $("project-warning").textContent = r.warning || "";
      state.projected = r;
      syncTabButtons();
      $("project-use").hidden = false;
      say("projected: open it in Explore to edit it");
      return;
    }
    await new Promise((ok) => setTimeout(ok, 300));
  }
}

// --- translate ---------------------------------------------------------------------------------------
function setupTranslate() {
  const t = state.info.translate;
  $("translate-direction").replaceChildren(...t.directions.map((d) => {
    const o = document.createElement("option");
    o.value = d.name; o.textContent = `${d.name}: ${d.describe}`;
    return o;
  }));
  $("translate-text-label").hidden = !t.text;
}
async function translate() {
  const direction = $("translate-direction").value;
  const file = $("translate-file").files[0];
  const text = $("translate-text").value.trim();
  if (!file && !text) { say("choose a picture or type some text", true); return; }
  const out = file ? await api.translateFile(state.model, file, direction)
                   : await api.translateText(state.model, text, direction);
  $("translate-out").replaceChildren(...out.items.map((it, i) => {
    const div = document.createElement("div");
    div.className = "pair";
    div.innerHTML = `<img alt="input ${i + 1}"><img alt="output ${i + 1}">`;
    div.querySelectorAll("img")[0].src = it.input;
    div.querySelectorAll("img")[1].src = it.output;
    return div;
  }));
  $("translate-strip").src = out.strip;
  $("translate-strip").alt = `${out.describe}: the translation`;
  $("translate-strip").hidden = false;
  state.translated = { file, text, direction };
  $("translate-download").disabled = false;
  say(out.missing.length ? `the font lacks ${out.missing.join("")}` : out.describe);
}

async function downloadTranslation() {
  const t = state.translated;
  if (!t) { say("translate something first", true); return; }
  say("preparing the download…");
  const blob = t.file ? await api.translateFile(state.model, t.file, t.direction, true)
                      : await api.translateText(state.model, t.text, t.direction, true);
  saveBlob(blob, `ganvas-${state.model.replaceAll("/", "_")}-translation.zip`);
}

// --- draw (sketch to image) ---------------------------------------------------------------------------
const asDataUrl = (blob) => new Promise((ok, no) => {
  const r = new FileReader();
  r.onload = () => ok(r.result);
  r.onerror = () => no(r.error);
  r.readAsDataURL(blob);
});
const dataUrlBlob = async (url) => (await fetch(url)).blob();

function resetDrawing() {
  state.drawn = null;
  $("draw-output").removeAttribute("src");
  $("draw-seen").removeAttribute("src");
  $("draw-caption").textContent = "Draw dark lines on the paper; the picture follows each stroke.";
  syncDrawButtons();
}
function syncDrawButtons() {
  const pad = state.pad;
  $("draw-undo").disabled = !pad.strokes.length;
  $("draw-redo").disabled = !pad.undone.length;
  $("draw-keep").disabled = $("draw-download").disabled = !state.drawn;
}
let drawing = false;
let drawAgain = false;
async function renderDrawing() {
  if (!state.model || state.info?.kind !== "translator") return;
  if (drawing) { drawAgain = true; return; }
  if (state.pad.empty) { resetDrawing(); return; }
  drawing = true;
  const model = state.model;
  $("draw-output").classList.add("busy");
  try {
    const png = await state.pad.png();
    const out = await api.sketch(model, png);
    if (model !== state.model) return;
    state.drawn = { output: out.output, sketch: out.sketch, drawing: await asDataUrl(png) };
    $("draw-output").src = out.output;
    $("draw-output").alt = `The model's picture of the drawing (${out.describe})`;
    $("draw-seen").src = out.sketch;
    $("draw-caption").textContent = `${out.describe}, ${out.resolution}×${out.resolution}`;
  } catch (e) { fail(e); } finally {
    drawing = false;
    $("draw-output").classList.remove("busy");
    syncDrawButtons();
    if (drawAgain) { drawAgain = false; renderDrawing(); }
  }
}
function setTool(erase) {
  state.pad.erase = erase;
  $("draw-pen").setAttribute("aria-pressed", String(!erase));
  $("draw-eraser").setAttribute("aria-pressed", String(erase));
}
function keepDrawing() {
  if (!state.drawn) return;
  const n = state.kept.filter((k) => k.kind === "sketch").length + 1;
  state.kept.unshift({ kind: "sketch", image: state.drawn.output, drawing: state.drawn.drawing, label: `drawing ${n}`,
                       at: new Date().toISOString() });
  saveKept();
  say("kept");
}
async function downloadDrawing(drawingUrl, name) {
  say("preparing the download…");
  const blob = await api.sketch(state.model, await dataUrlBlob(drawingUrl), { download: true });
  saveBlob(blob, `ganvas-${name.replaceAll(" ", "-")}.zip`);
}
function traceFile(file) {
  if (!file) return;
  const img = $("draw-under");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $("draw-trace-off").hidden = false;
  say(`${file.name}: trace it (it is not sent, only your lines are)`);
}

// --- publishing: near-copies of training items, and verifying a file -----------------------------------
async function checkCopies() {
  if (!state.current) return;
  say("looking for the nearest training item…");
  const v = await api.guard(state.model, recipe());
  $("guard-box").hidden = false;
  $("guard-box").classList.toggle("flagged", Boolean(v.flagged));
  $("guard-text").textContent = v.describe;
  if (v.picture) $("guard-img").src = v.picture; else $("guard-img").removeAttribute("src");
  say(v.flagged ? "a near-copy of a training item: see beside the output" : "not a near-copy");
}

async function verifyFile(file) {
  say(`verifying ${file.name}…`);
  $("verify-out").textContent = "";
  const v = await api.verify(file);
  $("verify-status").textContent = `${file.name}: ${v.status}`;
  $("verify-status").dataset.status = v.status;
  $("verify-out").textContent = v.lines.slice(1).join("\n") + (v.problems.length ? `\n\n${v.problems.join("\n")}` : "");
  say(`${file.name}: ${v.status}`);
}

// --- views and keys ----------------------------------------------------------------------------------
function showView(view) {
  state.view = view;
  document.querySelectorAll("[role=tab]").forEach((tab) => {
    const on = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !on;
  });
  if (view === "breed" && !state.population.length && state.grid.length) setPopulation(state.grid.slice(), false);
}

function onKey(ev) {
  if (ev.target.closest("input[type=text], input[type=number], select, textarea")) return;
  const run = (f) => { ev.preventDefault(); Promise.resolve(f()).catch(fail); };
  const k = ev.key;
  if (state.view === "draw" && (ev.ctrlKey || ev.metaKey) && k.toLowerCase() === "z") {
    return run(() => (ev.shiftKey ? state.pad.redo() : state.pad.undo()));
  }
  if (state.view === "explore" && (ev.ctrlKey || ev.metaKey) && k.toLowerCase() === "z" && !ev.shiftKey) {
    return run(undoEdit);
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tabs = ["explore", "interpolate", "breed", "project", "translate", "draw", "write", "verify"];
  if (/^[1-8]$/.test(k) && !$(`tab-${tabs[k - 1]}`).hidden) return run(() => showView(tabs[k - 1]));
  if (k === "?") return run(() => $("help").showModal());
  if (state.view === "draw") {
    if (k === "k") return run(keepDrawing);
    if (k === "d" && state.drawn) return run(() => downloadDrawing(state.drawn.drawing, "drawing"));
    return;
  }
  if (state.view === "translate" && k === "d") return run(downloadTranslation);
  if (state.info?.kind !== "generator") return;
  if (["interpolate", "breed", "project"].includes(state.view) && (k === "k" || k === "d")) {
    const [items, what] = tabItems(state.view);
    return run(() => (k === "k" ? keepItems(items, what) : downloadItems(items, what)));
  }
  const onTile = ev.target.closest?.(".tile");
  if (k === "e" && onTile && onTile.closest("#population")) return run(() => { pick(state.population[Number(onTile.dataset.index)]); showView("explore"); });
  const actions = { k: keep, d: () => state.current && download([recipe()], [describe(recipe())]), c: checkCopies, f: () => state.why.toggle(),
                    a: () => setEnd("A"), b: () => setEnd("B"), m: addParent, r: reset, u: undoEdit,
                    n: () => page(1), p: () => page(-1), N: () => page(0, true) };
  if (actions[k]) run(actions[k]);
}

function wire() {
  $("model").addEventListener("change", (e) => selectModel(e.target.value).catch(fail));
  $("seeds-prev").addEventListener("click", () => page(-1));
  $("seeds-next").addEventListener("click", () => page(1));
  $("seeds-random").addEventListener("click", () => page(0, true));
  $("seed-start").addEventListener("change", (e) => {
    state.start = Math.max(0, Math.floor(Number(e.target.value) || 0));
    loadGrid().catch(fail);
  });
  $("truncation").addEventListener("input", (e) => {
    state.truncation = Number(e.target.value);
    $("truncation-out").textContent = state.truncation.toFixed(2);
    renderCurrent();
  });
  $("truncation").addEventListener("change", () => { commitEdit(); loadGrid().catch(fail); });
  for (const id of ["class-a", "class-b"]) $(id).addEventListener("change", () => classChanged().catch(fail));
  $("class-mix").addEventListener("input", () => { $("class-mix-out").textContent = Number($("class-mix").value).toFixed(1); });
  $("class-mix").addEventListener("change", () => classChanged().catch(fail));
  $("layers").addEventListener("change", (e) => {
    state.layers = e.target.value;
    $("layers-span").textContent = layerRange() ? `layers ${layerRange()}` : "";
    renderCurrent();
  });
  $("more-directions").addEventListener("click", () => { state.showAll = !state.showAll; buildSliders(); });
  $("keep").addEventListener("click", keep);
  $("download").addEventListener("click", () => state.current && download([recipe()], [describe(recipe())]).catch(fail));
  $("set-a").addEventListener("click", () => setEnd("A"));
  $("set-b").addEventListener("click", () => setEnd("B"));
  $("to-parents").addEventListener("click", addParent);
  $("reset").addEventListener("click", reset);
  $("undo-edit").addEventListener("click", undoEdit);
  $("translate-download").addEventListener("click", () => downloadTranslation().catch(fail));
  for (const view of ["interpolate", "breed", "project"]) {
    $(`${view}-keep`).addEventListener("click", () => keepItems(...tabItems(view)));
    $(`${view}-download`).addEventListener("click", () => downloadItems(...tabItems(view)).catch(fail));
  }
  $("check-copies").addEventListener("click", () => checkCopies().catch(fail));
  state.why = new WhyPanel({ button: $("why-fake"), box: $("why-box"), img: $("why-img"), text: $("why-text"),
                             model: () => state.model, recipe: () => state.current && recipe(), say });
  $("why-fake").addEventListener("click", () => state.why.toggle());
  $("verify-file").addEventListener("change", (e) => e.target.files[0] && verifyFile(e.target.files[0]).catch(fail));
  $("play").addEventListener("click", () => play().catch(fail));
  $("kept-download").addEventListener("click", async () => {
    try {
      const sketches = state.kept.filter((k) => k.kind === "sketch");
      for (const [i, k] of sketches.entries()) await downloadDrawing(k.drawing, `kept-${i + 1}`);
      const texts = state.kept.filter((k) => k.kind === "text");
      if (texts.length) await downloadTexts(texts.map((k) => k.recipe), texts.map((_, i) => `kept-${i + 1}`));
      const recipes = state.kept.filter((k) => k.kind !== "sketch" && k.kind !== "text");
      if (recipes.length) await download(recipes.map((k) => k.recipe), recipes.map((_, i) => `kept-${i + 1}`));
    } catch (e) { fail(e); }
  });
  $("kept-clear").addEventListener("click", () => { if (confirm("Forget every kept output of this model?")) { state.kept = []; saveKept(); } });
  $("interp-go").addEventListener("click", () => interpolate().catch(fail));
  $("breed-go").addEventListener("click", () => breed().catch(fail));
  $("breed-back").addEventListener("click", () => {
    if (!state.generations.length) return;
    state.population = state.generations.pop();
    state.generation = Math.max(0, state.generation - 1);
    state.parents.clear();
    renderPopulation();
  });
  $("breed-from-grid").addEventListener("click", () => { state.generation = 0; setPopulation(state.grid.slice()); });
  $("breed-from-kept").addEventListener("click", () => {
    if (!state.kept.length) { say("nothing kept yet", true); return; }
    state.generation = 0;
    setPopulation(state.kept.map((k) => ({ ...k.recipe, edited: k.edited, image: k.image })));
  });
  $("mutation").addEventListener("input", (e) => { $("mutation-out").textContent = Number(e.target.value).toFixed(2); });
  $("project-file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); chooseFile(e.dataTransfer.files[0]); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("project-file").click(); } });
  $("project-go").addEventListener("click", () => project().catch((e) => { $("project-go").disabled = false; fail(e); }));
  $("project-cancel").addEventListener("click", () => state.job && api.cancel(state.job).catch(fail));
  $("project-use").addEventListener("click", () => { pick(state.projected); showView("explore"); });
  $("translate-go").addEventListener("click", () => translate().catch(fail));
  state.units = new UnitsPanel({ box: $("units-box"), model: () => state.model, changed: () => renderCurrent(), say });
  state.writer = new Writer({ model: () => state.model, keep: keepText, say });
  state.pad = new Sketchpad($("draw-canvas"), () => renderDrawing());
  state.pad.listeners.add(syncDrawButtons);
  state.pad.width = Number($("draw-width").value);
  $("draw-width").addEventListener("input", (e) => {
    state.pad.width = Number(e.target.value);
    $("draw-width-out").textContent = e.target.value;
  });
  $("draw-pen").addEventListener("click", () => setTool(false));
  $("draw-eraser").addEventListener("click", () => setTool(true));
  $("draw-undo").addEventListener("click", () => state.pad.undo());
  $("draw-redo").addEventListener("click", () => state.pad.redo());
  $("draw-clear").addEventListener("click", () => { state.pad.clear(); resetDrawing(); });
  $("draw-trace").addEventListener("change", (e) => traceFile(e.target.files[0]));
  $("draw-trace-off").addEventListener("click", () => { $("draw-under").hidden = true; $("draw-trace-off").hidden = true; });
  $("draw-keep").addEventListener("click", keepDrawing);
  $("draw-download").addEventListener("click", () => state.drawn && downloadDrawing(state.drawn.drawing, "drawing").catch(fail));
  $("help-open").addEventListener("click", () => $("help").showModal());
  document.querySelectorAll("[role=tab]").forEach((tab) => tab.addEventListener("click", () => showView(tab.dataset.view)));
  $("current-img").addEventListener("keydown", (e) => { if (e.key === " " && state.info?.domain === "music") { e.preventDefault(); play().catch(fail); } });
  for (const id of ["seed-grid", "interp-strip", "population"]) gridKeys($(id));
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => {          // a link or the address bar names another model
    const wanted = new URLSearchParams(location.hash.slice(1)).get("model");
    if (wanted && wanted !== state.model && state.models.some((m) => m.name === wanted)) {
      $("model").value = wanted;
      selectModel(wanted).catch(fail);
    }
  });
}

wire();
loadModels().catch(fail);
