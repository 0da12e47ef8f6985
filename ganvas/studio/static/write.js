// The Write tab: texts of a text model (POST /api/models/M/write) under control codes, an acrostic, keywords
// and a first line. Each poem is a card: its text (real text, selectable), its picture in calligraphy, keep,
// and downloads as .txt and .png. A card's recipe (seed, codes, requests, temperature) writes it again.
import { api, saveBlob } from "./api.js";

const $ = (id) => document.getElementById(id);
const FIELDS = { form: "Form", era: "Era", source: "Source" };

export class Writer {
  // hooks: model() the chosen model's name; keep(entry) into the kept list; say(message) on the status line
  constructor(hooks) {
    this.hooks = hooks;
    this.info = null;
    this.items = [];
    this.busy = false;
    $("write-form").addEventListener("submit", (e) => { e.preventDefault(); this.write().catch((x) => this.error(x)); });
    $("write-next").addEventListener("click", () => this.page(1));
    $("write-random").addEventListener("click", () => this.page(0, true));
    $("write-temperature").addEventListener("input", () => {
      $("write-temperature-out").textContent = Number($("write-temperature").value).toFixed(2);
    });
  }

  // a text model chosen: pickers from its codes, the boxes its language takes
  setup(info) {
    this.info = info;
    const w = info.write;
    const pickers = Object.entries(w.codes).map(([field, values]) => {
      const label = document.createElement("label");
      label.textContent = `${FIELDS[field] ?? field} `;
      const select = document.createElement("select");
      select.id = `write-code-${field}`;
      select.dataset.field = field;
      const any = field === "form" && w.seed_form ? "any (by seed)" : "any";
      select.append(new Option(any, ""), ...values.map((v) => new Option(v, v)));
      label.append(select);
      return label;
    });
    const legend = $("write-codes").querySelector("legend");
    $("write-codes").replaceChildren(legend, ...pickers);
    $("write-codes").hidden = !pickers.length;
    $("write-acrostic-box").hidden = !w.acrostic;
    $("write-keywords-box").hidden = !w.keywords;
    $("write-first-box").hidden = !w.first_line;
    $("write-first").placeholder = w.language === "zh" ? "白日依山尽" : "A first line";
    $("write-temperature").value = String(w.temperature);
    $("write-temperature-out").textContent = Number(w.temperature).toFixed(2);
    $("write-count").max = String(w.max_count);
    $("write-out").lang = w.language === "zh" ? "zh-Hans" : "en";
    const forms = Object.entries(w.forms || {}).map(([f, l]) => `${f} ${l.verses}×${l.characters}`).join(", ");
    $("write-note").textContent = forms
      ? `Forms kept: ${forms} (verses × characters), rhymed by the Pingshui tables. An acrostic has one character per verse.`
      : "";
    this.items = [];
    $("write-out").replaceChildren();
    this.clearError();
  }

  body() {
    const codes = {};
    for (const select of $("write-codes").querySelectorAll("select")) if (select.value) codes[select.dataset.field] = select.value;
    const body = {
      codes, temperature: Number($("write-temperature").value), constrained: $("write-constrained").checked,
      start: Math.max(0, Math.floor(Number($("write-start").value) || 0)),
      count: Math.min(Number($("write-count").max) || 32, Math.max(1, Math.floor(Number($("write-count").value) || 4))),
    };
    const acrostic = $("write-acrostic").value.trim();
    if (acrostic && !$("write-acrostic-box").hidden) body.acrostic = acrostic;
    const keywords = $("write-keywords").value.split(/[,，、;；\s]+/).filter(Boolean);
    if (keywords.length && !$("write-keywords-box").hidden) body.keywords = keywords;
    const first = $("write-first").value.trim();
    if (first && !$("write-first-box").hidden) body.first_line = first;
    return body;
  }

  async write() {
    if (this.busy) return;
    this.busy = true;
    const model = this.hooks.model();
    $("write-go").disabled = true;
    $("write-out").classList.add("busy");
    this.clearError();
    try {
      const { items } = await api.write(model, this.body());
      if (model !== this.hooks.model()) return;
      this.items = items;
      $("write-out").replaceChildren(...items.map((it) => this.card(it)));
      this.hooks.say(`${items.length} ${items.length === 1 ? "text" : "texts"}`);
    } finally {
      this.busy = false;
      $("write-go").disabled = false;
      $("write-out").classList.remove("busy");
    }
  }

  page(delta, random = false) {
    const count = Number($("write-count").value) || 4;
    const start = random ? Math.floor(Math.random() * 2 ** 31) : Math.max(0, (Number($("write-start").value) || 0) + delta * count);
    $("write-start").value = String(start);
    this.write().catch((x) => this.error(x));
  }

  // the one-line message of a refused request, kept in view (an alert) until the next request
  error(e) {
    $("write-error").textContent = e.message || String(e);
    $("write-error").hidden = false;
  }
  clearError() {
    $("write-error").hidden = true;
    $("write-error").textContent = "";
  }

  static label(item) {
    const codes = Object.values(item.codes || {}).join(" · ");
    return `seed ${item.seed}${codes ? ` · ${codes}` : ""}`;
  }

  card(item, kept = false) {
    const card = document.createElement("article");
    card.className = "poem";
    card.dataset.seed = String(item.seed);
    const label = Writer.label(item);
    card.setAttribute("aria-label", label);
    card.innerHTML = `<pre class="poem-text"></pre><img class="poem-picture" alt="">` +
      `<p class="poem-meta muted"></p><div class="actions">` +
      `<button type="button" data-act="keep" title="Keep it">★ Keep</button>` +
      `<button type="button" data-act="txt" title="Download the text">⬇ .txt</button>` +
      `<button type="button" data-act="png" title="Download the picture (provenance inside)">⬇ .png</button></div>`;
    card.querySelector(".poem-text").textContent = item.text;
    const img = card.querySelector("img");
    img.src = item.image;
    img.alt = `${label}, in calligraphy`;
    card.querySelector(".poem-meta").textContent = kept ? `${label} (kept)` : label;
    const keep = card.querySelector("[data-act=keep]");
    keep.addEventListener("click", () => { this.keep(item); keep.textContent = "★ Kept"; });
    for (const fmt of ["txt", "png"]) {
      card.querySelector(`[data-act=${fmt}]`).addEventListener("click", () => this.download(item.recipe, fmt).catch((x) => this.error(x)));
    }
    return card;
  }

  keep(item) {
    const first = item.text.split(/[\n，。？！,.?!]/).find(Boolean) || "";
    this.hooks.keep({ kind: "text", recipe: item.recipe, image: item.image, text: item.text, codes: item.codes,
                      seed: item.seed, label: `${Writer.label(item)} · ${first}`, at: new Date().toISOString() });
  }

  // a kept text shown again as the tab's only card
  open(k) {
    this.items = [k];
    $("write-out").replaceChildren(this.card(k, true));
  }

  async download(recipe, fmt) {
    const blob = await api.writeExport(this.hooks.model(), recipe, fmt);
    saveBlob(blob, `ganvas-${this.hooks.model().replaceAll("/", "_")}-seed${recipe.seed}.${fmt}`);
  }
}
