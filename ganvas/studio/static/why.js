// Explore's "Why fake?": the trained discriminator's verdict on the chosen output and a map of where it comes
// from, drawn over it (POST /api/models/{m}/why with the output's recipe). Once switched on it follows the
// output: every pick, slider move and class change asks again; an answer to an older question is dropped.
import { post } from "./api.js";

const enc = (name) => name.split("/").map(encodeURIComponent).join("/");

export class WhyPanel {
  constructor({ button, box, img, text, model, recipe, say }) {
    Object.assign(this, { button, box, img, text, model, recipe, say });
    this.on = false;
    this.asked = 0;                 // the number of the latest question: older answers are dropped
  }

  toggle() {
    this.on = !this.on;
    this.button.setAttribute("aria-pressed", String(this.on));
    if (this.on) this.refresh();
    else this.hide();
  }

  hide() {
    this.asked += 1;
    this.box.hidden = true;
  }

  async refresh() {
    if (!this.on) return;
    const model = this.model(), recipe = this.recipe();
    if (!model || !recipe) return;
    const asked = ++this.asked;
    this.box.classList.add("busy");
    try {
      const v = await post(`/api/models/${enc(model)}/why`, recipe);
      if (asked !== this.asked) return;
      this.img.src = v.picture;
      this.img.alt = `Where the discriminator's verdict comes from: ${v.describe}`;
      this.text.textContent = v.describe;
      this.box.dataset.score = String(v.score);
      this.box.hidden = false;
    } catch (e) {
      if (asked === this.asked) this.say(e.message || String(e), true);
    } finally {
      if (asked === this.asked) this.box.classList.remove("busy");
    }
  }
}
