// Named directions: a slider's label and tooltip from the directions response (ganvas/explore/naming.py).
// A direction's name says what moving the slider right measurably changes ("bigger, further right");
// its effects are changes per σ divided by the attribute's spread over samples. Older answers carry no
// name: the label is then "Direction N", as before.

export function directionLabel(d) {
  const label = document.createElement("label");
  const num = document.createElement("span");
  num.className = "dir-num";
  if (!d.name) {
    label.textContent = `Direction ${d.index}`;
    return label;
  }
  num.textContent = String(d.index);
  const name = document.createElement("span");
  name.className = "dir-name";
  name.textContent = d.name;
  label.append(num, name);
  return label;
}

export function directionTitle(d) {
  const spread = `σ = ${d.sigma.toPrecision(3)}, ${(100 * d.explained).toFixed(1)}% of the variance`;
  if (!d.effects) return spread;
  const effects = Object.entries(d.effects).map(([a, e]) => `${a} ${e > 0 ? "+" : ""}${e.toFixed(2)}`).join(", ");
  return `Direction ${d.index}: ${d.name}\nper σ, in spreads over samples: ${effects}\n${spread}`;
}

// Names measured after the sliders were built (the directions answer said names_pending): merged into the
// directions `dirs` and written into the sliders already on the page, in place (a focused slider keeps focus).
export function applyNames(box, dirs, names) {
  const byIndex = new Map(names.map((n) => [n.index, n]));
  for (const d of dirs) Object.assign(d, byIndex.get(d.index) || {});
  box.querySelectorAll("input[data-index]").forEach((input) => {
    const d = dirs.find((x) => x.index === Number(input.dataset.index));
    if (!d?.name) return;
    const row = input.parentElement;
    const label = directionLabel(d);
    label.htmlFor = input.id;
    row.querySelector("label").replaceWith(label);
    row.classList.add("named");
    input.title = directionTitle(d);
  });
}
