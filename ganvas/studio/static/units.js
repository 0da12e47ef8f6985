// The Units panel of Explore (GAN dissection): a concept → its top units of one layer, each on, off or up.
// The toggles become the recipe's `units` (the server hooks the layer while it draws), so a download, a
// kept output and the provenance carry them. Loaded when the panel is first opened: scoring takes seconds.
import { get } from "./api.js";

const enc = (name) => name.split("/").map(encodeURIComponent).join("/");
const MODES = ["on", "off", "up"];

export class UnitsPanel {
  // box: the <details>; model(): the chosen model's name; changed(): re-render the current output; say(msg, error)
  constructor({ box, model, changed, say }) {
    this.box = box;
    this.model = model;
    this.changed = changed;
    this.say = say;
    this.concept = box.querySelector("#units-concept");
    this.list = box.querySelector("#units-list");
    this.info = box.querySelector("#units-info");
    this.data = null;                       // the server's answer: layers, default layer, dissection
    this.modes = new Map();                 // unit → off | up (on is absent)
    this.loadedFor = null;
    box.addEventListener("toggle", () => { if (box.open) this.load().catch((e) => this.say(e.message, true)); });
    this.concept.addEventListener("change", () => this.showConcept());
    box.querySelector("#units-all-off").addEventListener("click", () => this.setAll("off"));
    box.querySelector("#units-all-on").addEventListener("click", () => this.setAll("on"));
  }

  // a new model: nothing switched, nothing loaded; the panel offered for pictures only
  reset(info) {
    this.data = null;
    this.loadedFor = null;
    this.modes.clear();
    this.concept.replaceChildren();
    this.list.replaceChildren();
    this.info.textContent = "";
    this.box.hidden = !(info?.kind === "generator" && info?.domain === "image");
    if (this.box.open && !this.box.hidden) this.load().catch((e) => this.say(e.message, true));
  }

  async load() {
    const model = this.model();
    if (!model || this.loadedFor === model) return;
    this.loadedFor = model;
    this.info.textContent = "(scoring units…)";
    let data;
    try {
      data = await get(`/api/models/${enc(model)}/units?top=8`);
    } catch (e) {
      this.loadedFor = null;
      this.info.textContent = "";
      throw e;
    }
    if (model !== this.model()) return;
    this.data = data;
    const d = data.dissection;
    this.info.textContent = `(layer ${d.layer}: ${d.units} units, ${d.samples} seeds)`;
    this.concept.replaceChildren(...d.concepts.map((c) => new Option(`${c.name} (${c.measure})`, c.name)));
    const firstClass = d.concepts.find((c) => c.kind === "class");
    if (firstClass) this.concept.value = firstClass.name;
    this.showConcept();
  }

  showConcept() {
    const c = this.data?.dissection.concepts.find((x) => x.name === this.concept.value);
    if (!c) return;
    this.list.replaceChildren(...c.top.map(({ unit, score }) => this.row(unit, score, c.measure)));
  }

  row(unit, score, measure) {
    const row = document.createElement("div");
    row.className = "unit";
    row.setAttribute("role", "radiogroup");
    row.setAttribute("aria-label", `Unit ${unit}`);
    const name = document.createElement("span");
    name.textContent = `unit ${unit}`;
    name.title = `${measure} ${score.toFixed(3)}`;
    row.append(name);
    for (const mode of MODES) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = `unit-${unit}`;
      input.value = mode;
      input.dataset.unit = String(unit);
      input.checked = (this.modes.get(unit) || "on") === mode;
      input.addEventListener("change", () => this.set(unit, mode));
      label.append(input, ` ${mode}`);
      row.append(label);
    }
    return row;
  }

  set(unit, mode, render = true) {
    if (mode === "on") this.modes.delete(unit); else this.modes.set(unit, mode);
    this.list.querySelectorAll(`input[name="unit-${unit}"]`).forEach((i) => { i.checked = i.value === mode; });
    if (render) this.changed();
  }

  setAll(mode) {
    const c = this.data?.dissection.concepts.find((x) => x.name === this.concept.value);
    if (!c) return;
    for (const { unit } of c.top) this.set(unit, mode, false);
    this.changed();
  }

  // the recipe's `units`: one edit per mode, at the dissected layer
  edits() {
    if (!this.data || !this.modes.size) return [];
    const layer = this.data.dissection.layer;
    return ["off", "up"].map((mode) => ({ layer, mode, units: [...this.modes].filter(([, m]) => m === mode)
      .map(([u]) => u).sort((a, b) => a - b) })).filter((e) => e.units.length);
  }

  // a kept output's units back on the toggles (those of the dissected layer)
  restore(units) {
    this.modes.clear();
    for (const e of units || []) {
      if (this.data && e.layer !== this.data.dissection.layer) continue;
      for (const u of e.units) this.modes.set(u, e.mode);
    }
    this.showConcept();
  }
}

// "u3,5 off" for a caption
export function describeUnits(units) {
  return (units || []).map((e) => `u${e.units.join(",")} ${e.mode}`).join(" ");
}
