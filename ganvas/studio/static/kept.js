// Keeps recorded by the server as well (POST …/kept): the run's studio/kept.jsonl gets the recipe with the
// output's novelty, value and style ambiguity, and the evaluation report shows which of them predict what is
// kept. The browser's own list (localStorage) stays as it was, whatever the server answers.
import { post } from "./api.js";

const enc = (name) => name.split("/").map(encodeURIComponent).join("/");

export function recordKeep(model, recipe) {
  return post(`/api/models/${enc(model)}/kept`, recipe);
}

// The status line after a keep: its measures when the server scored it.
export function keptMessage(answer) {
  const s = answer && answer.scores;
  if (!s) return "kept (recorded in the run)";
  const parts = [`novelty ${s.novelty.toFixed(2)}`];
  if (s.d_rank !== undefined) parts.push(`D's rank ${s.d_rank.toFixed(2)}`);
  if (s.ambiguity !== undefined) parts.push(`style ambiguity ${s.ambiguity.toFixed(2)}`);
  return `kept (recorded in the run): ${parts.join(" · ")}`;
}
