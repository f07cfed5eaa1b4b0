// The prediction panel: every task's answer (probability, decision at its threshold) with a
// switch between tasks, and the selected task's summary and planes.

import { PLANES } from "./plane.js";

const $ = (id) => document.getElementById(id);
const TASK_ORDER = ["abnormal", "acl", "meniscus"];
const FINDINGS = { abnormal: "abnormality", acl: "ACL tear", meniscus: "meniscal tear" };

// "ACL tear", "Abnormality", "Meniscal tear"; another task by its name.
export function taskName(task) {
  const finding = FINDINGS[task] || task;
  return finding[0].toUpperCase() + finding.slice(1);
}

// Every task scored, in MRNet's order: {task: answer}. A body without `tasks` has one answer.
export function answers(prediction) {
  const tasks = prediction.tasks || { [prediction.task]: prediction };
  const order = (task) => (TASK_ORDER.includes(task) ? TASK_ORDER.indexOf(task) : 99);
  const names = Object.keys(tasks).sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  return Object.fromEntries(names.map((task) => [task, tasks[task]]));
}

// The task shown first: the body's primary one (acl when scored), else the first scored.
export function defaultTask(prediction) {
  const tasks = answers(prediction);
  return prediction.task in tasks ? prediction.task : Object.keys(tasks)[0];
}

function verdict(task, answer) {
  const finding = FINDINGS[task] || task;
  return answer.positive ? `Positive: ${finding} suspected` : `Negative: no ${finding}`;
}

// One line for the status region, e.g. "ACL tear 0.912 positive (threshold 0.5); ...".
export function summary(prediction) {
  const parts = Object.entries(answers(prediction)).map(
    ([task, answer]) =>
      `${taskName(task)} ${answer.probability.toFixed(3)} ` +
      `${answer.positive ? "positive" : "negative"} (threshold ${answer.threshold.toPrecision(3)})`,
  );
  return `${parts.join("; ")}.`;
}

export function clearPrediction() {
  for (const id of ["probability", "decision", "truth"]) $(id).textContent = "–";
  $("probability-label").textContent = "ACL tear";
  $("threshold").textContent = "";
  $("decision").className = "";
  $("plane-rows").replaceChildren();
  $("task-rows").replaceChildren();
}

function cell(tag, text, className = "") {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

function taskRow(task, answer, onSelect) {
  const row = document.createElement("tr");
  row.dataset.task = task;
  const head = document.createElement("th");
  head.scope = "row";
  const radio = document.createElement("input");
  radio.type = "radio";
  radio.name = "task";
  radio.id = `task-${task}`;
  radio.value = task;
  radio.addEventListener("change", () => onSelect(task));
  const label = cell("label", ` ${taskName(task)}`);
  label.htmlFor = radio.id;
  head.append(radio, label);
  const decision = answer.positive ? "positive" : "negative";
  const threshold = ` at ${answer.threshold.toPrecision(3)}`;
  row.append(
    head,
    cell("td", answer.probability.toFixed(3)),
    cell("td", `${answer.positive ? "Positive" : "Negative"}${threshold}`, decision),
  );
  return row;
}

// The switch: one row per task with its answer; `onSelect(task)` when the reader picks one.
export function showAnswers(prediction, onSelect) {
  const rows = Object.entries(answers(prediction)).map(([t, a]) => taskRow(t, a, onSelect));
  $("task-rows").replaceChildren(...rows);
}

function planeRow(plane, result) {
  const row = document.createElement("tr");
  const head = cell("th", plane);
  head.scope = "row";
  const top = result.top_slices.map((i) => i + 1).join(", ") || "none";
  row.append(head, cell("td", result.probability.toFixed(3)), cell("td", top));
  return row;
}

// Shows `task`'s answer: summary, planes, each panel's attention opened on its top slice.
// `truth` maps plane to the task's ground-truth [first, last] slices, or is null.
export function showTask(prediction, task, panels, truth) {
  const answer = answers(prediction)[task];
  for (const row of $("task-rows").children) {
    const selected = row.dataset.task === task;
    row.classList.toggle("selected", selected);
    row.querySelector("input").checked = selected;
  }
  $("probability-label").textContent = taskName(task);
  $("probability").textContent = answer.probability.toFixed(3);
  $("decision").textContent = verdict(task, answer);
  $("threshold").textContent = `(threshold ${answer.threshold.toPrecision(3)})`;
  $("decision").className = answer.positive ? "positive" : "negative";
  $("plane-rows").replaceChildren(...PLANES.map((p) => planeRow(p, answer.planes[p])));
  for (const plane of PLANES) {
    const result = answer.planes[plane];
    panels[plane].showTask(task, result.attention, result.top_slices, truth?.[plane] || null);
  }
}
