// The prediction panel: probability, decision at the package's threshold, and each plane.

import { PLANES } from "./plane.js";

const $ = (id) => document.getElementById(id);

function verdict(prediction) {
  return prediction.positive ? "Positive: ACL tear suspected" : "Negative: no ACL tear";
}

// One line for the status region, e.g. "probability 0.912, Positive: ... (threshold 0.5)."
export function summary(prediction) {
  const probability = prediction.probability.toFixed(3);
  const threshold = prediction.threshold.toPrecision(3);
  return `probability ${probability}, ${verdict(prediction)} (threshold ${threshold}).`;
}

export function clearPrediction() {
  for (const id of ["probability", "decision", "truth"]) $(id).textContent = "–";
  $("threshold").textContent = "";
  $("decision").className = "";
  $("plane-rows").replaceChildren();
}

function planeRow(plane, result) {
  const row = document.createElement("tr");
  const head = document.createElement("th");
  head.scope = "row";
  head.textContent = plane;
  const probability = document.createElement("td");
  probability.textContent = result.probability.toFixed(3);
  const top = document.createElement("td");
  top.textContent = result.top_slices.map((i) => i + 1).join(", ") || "none";
  row.append(head, probability, top);
  return row;
}

// Fills the panel and each plane's attention chart; `truth` maps plane to [first, last] or null.
export function showPrediction(prediction, panels, truth) {
  $("probability").textContent = prediction.probability.toFixed(3);
  $("decision").textContent = verdict(prediction);
  $("threshold").textContent = `(threshold ${prediction.threshold.toPrecision(3)})`;
  $("decision").className = prediction.positive ? "positive" : "negative";
  $("plane-rows").replaceChildren(...PLANES.map((p) => planeRow(p, prediction.planes[p])));
  for (const plane of PLANES) {
    const result = prediction.planes[plane];
    panels[plane].setAttention(result.attention, result.top_slices, truth?.[plane] || null);
  }
}
