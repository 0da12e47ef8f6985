// The studio's REST API, as the page uses it. Every error body is {"error": "...", "status": N}.

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function check(response) {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try { message = (await response.json()).error || message; } catch { /* not JSON */ }
  throw new ApiError(message, response.status);
}

const enc = (name) => name.split("/").map(encodeURIComponent).join("/");

export async function get(path) {
  return (await check(await fetch(path, { headers: { Accept: "application/json" } }))).json();
}

export async function post(path, body, { as = "json", signal } = {}) {
  const response = await check(await fetch(path, {
    method: "POST", signal, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }));
  return as === "blob" ? response.blob() : response.json();
}

export const api = {
  models: () => get("/api/models"),
  model: (m) => get(`/api/models/${enc(m)}`),
  directions: (m, components = 16) => get(`/api/models/${enc(m)}/directions?components=${components}`),
  directionNames: (m, components = 16) => get(`/api/models/${enc(m)}/directions/names?components=${components}`),
  seeds: (m, body) => post(`/api/models/${enc(m)}/seeds`, body),
  render: (m, recipe, signal) => post(`/api/models/${enc(m)}/render`, recipe, { signal }),
  interpolate: (m, body) => post(`/api/models/${enc(m)}/interpolate`, body),
  breed: (m, body) => post(`/api/models/${enc(m)}/breed`, body),
  exportFile: (m, recipe, format) => post(`/api/models/${enc(m)}/export?format=${format}`, recipe, { as: "blob" }),
  download: (m, items, names) => post(`/api/models/${enc(m)}/download`, { items, names }, { as: "blob" }),
  async project(m, file, { steps, space }) {
    const q = new URLSearchParams({ steps: String(steps) });
    if (space) q.set("space", space);
    const response = await check(await fetch(`/api/models/${enc(m)}/project?${q}`, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file,
    }));
    return response.json();
  },
  job: (id) => get(`/api/jobs/${encodeURIComponent(id)}`),
  async cancel(id) { return (await check(await fetch(`/api/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }))).json(); },
  async translateFile(m, file, direction, download = false) {
    const response = await check(await fetch(`/api/models/${enc(m)}/translate?direction=${direction}${download ? "&download=true" : ""}`, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file,
    }));
    return download ? response.blob() : response.json();
  },
  translateText: (m, text, direction, download = false) =>
    post(`/api/models/${enc(m)}/translate${download ? "?download=true" : ""}`, { text, direction }, download ? { as: "blob" } : {}),
  write: (m, body) => post(`/api/models/${enc(m)}/write`, body),
  writeExport: (m, recipe, format) => post(`/api/models/${enc(m)}/write/export?format=${format}`, recipe, { as: "blob" }),
  writeDownload: (m, items, names) => post(`/api/models/${enc(m)}/write/download`, { items, names }, { as: "blob" }),
  guard: (m, recipe) => post(`/api/models/${enc(m)}/guard`, recipe),
  async verify(file) {
    const response = await check(await fetch(`/api/verify?filename=${encodeURIComponent(file.name || "upload")}`, {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file,
    }));
    return response.json();
  },
  async sketch(m, png, { download = false, signal } = {}) {
    const response = await check(await fetch(`/api/models/${enc(m)}/sketch${download ? "?download=true" : ""}`, {
      method: "POST", signal, headers: { "Content-Type": "image/png" }, body: png,
    }));
    return download ? response.blob() : response.json();
  },
};

export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url; a.download = filename;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
