// The viewer page: pick a stored case (or upload an exam), see its slices, the prediction,
// and where the model looked. Plain ES modules, no framework, no build step.

import { apiKey, casePath, getJson, postForm, setApiKey, splitPath } from "./api.js";
import { PLANES, PlanePanel } from "./plane.js";
import {
  clearPrediction,
  defaultTask,
  showAnswers,
  showTask,
  summary,
  taskName,
} from "./prediction.js";
import { caseSource, readPreview, uploadSource } from "./sources.js";
import { clearStudyInput, showStudyInput, studyFormData, studyName } from "./study.js";

const PAGE_SIZE = 50;
const CASE_PICK_DELAY_MS = 250;
const MODEL_RETRY_MS = 2000;

const $ = (id) => document.getElementById(id);
const view = {
  datasets: [],
  offset: 0,
  listing: 0, // counts case list requests: only the newest one's answer is shown
  panels: {},
  exam: null, // the AbortController of the exam being opened or scored
  shown: null, // "dataset/split/case" of the stored case on show, kept selected in the list
  prediction: null, // the answer on show, and the task whose attention and CAM are shown
  task: null,
  item: null, // the stored case on show (labels, ground truth), null for an upload
  pickTimer: 0,
  modelTimer: 0,
};

// ---- messages -------------------------------------------------------------------------------

function say(text) {
  $("status").textContent = text;
}

function fail(error) {
  if (error.name === "AbortError") return;
  const hint = error.status === 401 ? " Enter the API key at the top of the page." : "";
  $("error").textContent = `${error.message}${hint}`;
  say("");
}

function clearError() {
  $("error").textContent = "";
}

// ---- model ----------------------------------------------------------------------------------

async function loadModel() {
  clearTimeout(view.modelTimer);
  try {
    const { models } = await getJson("/v1/models");
    const served = models.map(
      (m) => `${m.name} v${m.version} for ${(m.serves || [m.task]).join(", ")}`,
    );
    const first = models[0];
    $("model-info").textContent =
      `Model${models.length > 1 ? "s" : ""}: ${served.join("; ")} ` +
      `(${first.architecture}, ${first.device}). ${first.intended_use}`;
  } catch (error) {
    if (error.status === 503) {
      $("model-info").textContent = `Model: not ready yet (${error.message})`;
      view.modelTimer = setTimeout(loadModel, MODEL_RETRY_MS);
    } else {
      $("model-info").textContent = "Model: unknown (see the message above).";
      fail(error);
    }
  }
}

// ---- data sets, splits, cases -----------------------------------------------------------------

function option(value, text, disabled = false) {
  const element = new Option(text, value);
  element.disabled = disabled;
  return element;
}

function currentDataset() {
  return view.datasets.find((d) => d.name === $("dataset").value);
}

function currentSplit() {
  return currentDataset()?.splits.find((s) => s.name === $("split").value);
}

async function loadDatasets() {
  try {
    view.datasets = (await getJson("/v1/datasets")).datasets;
  } catch (error) {
    fail(error);
    return;
  }
  const options = view.datasets.map((d) =>
    option(d.name, d.available ? d.name : `${d.name} (unavailable: ${d.problem})`, !d.available),
  );
  $("dataset").replaceChildren(...options);
  const first = view.datasets.find((d) => d.available);
  if (first) $("dataset").value = first.name;
  if (!first) say("No data set is available: set MRNET_DATASETS on the server.");
  if (!(await openFromAddress())) fillSplits();
}

function fillSplits(preferred = "valid") {
  const splits = currentDataset()?.splits || [];
  $("split").replaceChildren(...splits.map((s) => option(s.name, `${s.name} (${s.cases} cases)`)));
  if (splits.some((s) => s.name === preferred)) $("split").value = preferred;
  onSplitChange();
}

function onSplitChange() {
  const hasAcl = currentSplit()?.tasks.includes("acl") ?? false;
  $("positives").disabled = !hasAcl;
  if (!hasAcl) $("positives").checked = false;
  view.offset = 0;
  loadCases();
}

function casesQuery() {
  const query = new URLSearchParams({ offset: view.offset, limit: PAGE_SIZE });
  if ($("positives").checked) query.set("acl", "1");
  return query;
}

async function loadCases() {
  const dataset = currentDataset();
  const split = currentSplit();
  const ticket = ++view.listing;
  if (!dataset || !split) {
    showCases([], 0);
    return;
  }
  try {
    const body = await getJson(`${splitPath(dataset.name, split.name)}/cases?${casesQuery()}`);
    if (ticket === view.listing) showCases(body.cases, body.total);
  } catch (error) {
    fail(error);
  }
}

function labelText(value) {
  return value === null || value === undefined ? "?" : String(value);
}

function caseText(item) {
  const { acl, abnormal, meniscus } = item.labels;
  const missing = item.missing_planes.length ? ` · no ${item.missing_planes.join(", ")}` : "";
  return (
    `${item.case_id} · ACL ${labelText(acl)} · abn ${labelText(abnormal)}` +
    ` · men ${labelText(meniscus)}${missing}`
  );
}

function showCases(cases, total) {
  $("case").replaceChildren(...cases.map((c) => option(c.case_id, caseText(c))));
  selectShownCase();
  const last = Math.min(view.offset + cases.length, total);
  $("page-info").textContent = total
    ? `Cases ${view.offset + 1}–${last} of ${total}`
    : "No cases match.";
  $("prev-page").disabled = view.offset === 0;
  $("next-page").disabled = last >= total;
  $("case").closest("section").querySelector(".pager").hidden = total <= PAGE_SIZE;
}

function selectShownCase() {
  const [dataset, split, caseId] = (view.shown || "").split("/");
  const listed = dataset === $("dataset").value && split === $("split").value;
  $("case").value = listed ? caseId : "";
}

function turnPage(step) {
  view.offset = Math.max(0, view.offset + step * PAGE_SIZE);
  loadCases();
}

// Arrow keys walk the list one case at a time: open the case only once the choice settles.
function onCasePicked() {
  clearTimeout(view.pickTimer);
  const caseId = $("case").value;
  if (!caseId) return;
  view.pickTimer = setTimeout(
    () => openCase($("dataset").value, $("split").value, caseId),
    CASE_PICK_DELAY_MS,
  );
}

// ---- one exam: a stored case or an upload ------------------------------------------------------

// Starts showing another exam: the one in flight is abandoned and the old one cleared away.
function beginExam(heading, note) {
  view.exam?.abort();
  view.exam = new AbortController();
  view.prediction = view.task = view.item = null;
  clearError();
  clearPrediction();
  clearStudyInput();
  showExam(heading, note, {}, null);
  return view.exam.signal;
}

function showExam(heading, note, counts, source) {
  $("result-heading").textContent = heading;
  $("result-note").textContent = note;
  $("cam").disabled = !source?.cam;
  if (!source?.cam) $("cam").checked = false;
  for (const plane of PLANES) {
    const panel = view.panels[plane];
    panel.cam = $("cam").checked;
    const count = counts[plane];
    panel.reset(count?.slices || 0, count?.image ? source : null, count?.message || "");
  }
}

async function openCase(dataset, split, caseId) {
  const signal = beginExam(`Case ${caseId} (${dataset} / ${split})`, "Opening…");
  const path = casePath(dataset, split, caseId);
  say(`Opening case ${caseId}…`);
  try {
    const item = await getJson(path, signal);
    showCaseItem(dataset, split, item);
    say(`Scoring case ${caseId}…`);
    const prediction = await getJson(`${path}/prediction`, signal);
    if (signal.aborted) return;
    present(prediction, item);
    say(`Case ${caseId}: ${summary(prediction)}`);
  } catch (error) {
    if (!signal.aborted) fail(error);
  }
}

function showCaseItem(dataset, split, item) {
  const counts = {};
  for (const plane of PLANES) {
    const info = item.planes[plane];
    counts[plane] = info
      ? { slices: info.num_slices, image: true }
      : { slices: 0, message: `This case has no ${plane} series.` };
  }
  const labels = Object.entries(item.labels).map(([task, v]) => `${task} ${labelText(v)}`);
  showExam(
    `Case ${item.case_id} (${dataset} / ${split})`,
    `Labels: ${labels.join(", ")}.`,
    counts,
    caseSource(dataset, split, item.case_id),
  );
  view.shown = [dataset, split, item.case_id].join("/");
  view.item = item;
  selectShownCase();
  $("truth").textContent = truthText("acl", item);
  const address = [dataset, split, item.case_id].map(encodeURIComponent).join("/");
  history.replaceState(null, "", `#${address}`);
}

async function submitUpload(event) {
  event.preventDefault();
  const form = $("upload-form");
  const signal = beginExam("Uploaded exam", "Scoring…");
  history.replaceState(null, "", location.pathname);
  $("upload-submit").disabled = true;
  say("Scoring the uploaded exam…");
  try {
    const scoring = postForm("/v1/predictions", new FormData(form), signal);
    const files = PLANES.map((plane) => form.elements[plane].files[0]);
    const previews = await Promise.all(files.map(readPreview));
    const prediction = await scoring;
    if (signal.aborted) return;
    showUpload(form, previews, prediction);
    present(prediction, null);
    say(`Uploaded exam: ${summary(prediction)}`);
  } catch (error) {
    if (!signal.aborted) fail(error);
  } finally {
    $("upload-submit").disabled = false;
  }
}

function showUpload(form, previews, prediction) {
  const counts = {};
  const volumes = {};
  PLANES.forEach((plane, i) => {
    const preview = previews[i];
    volumes[plane] = preview.volume;
    counts[plane] = preview.volume
      ? preview
      : { slices: prediction.planes[plane].num_slices, message: preview.error };
  });
  const names = PLANES.map((plane) => form.elements[plane].files[0].name);
  showExam("Uploaded exam", `Files: ${names.join(", ")}.`, counts, uploadSource(volumes));
  view.shown = null;
  selectShownCase();
  $("truth").textContent = "Not known for uploads";
}

async function submitStudy(event) {
  event.preventDefault();
  const form = $("study-form");
  const data = studyFormData(form);
  if (data instanceof Error) {
    fail(data);
    return;
  }
  const name = studyName(form);
  const signal = beginExam("Uploaded study", `Scoring ${name}…`);
  history.replaceState(null, "", location.pathname);
  $("study-submit").disabled = true;
  say("Scoring the uploaded study…");
  try {
    const prediction = await postForm("/v1/predictions", data, signal);
    if (signal.aborted) return;
    const message = "DICOM slices are not previewed here; the chart shows each slice's attention.";
    const counts = {};
    for (const plane of PLANES) counts[plane] = { slices: prediction.planes[plane].num_slices, message };
    showExam("Uploaded study", `Study: ${name}.`, counts, null);
    view.shown = null;
    selectShownCase();
    present(prediction, null);
    showStudyInput(prediction.input);
    say(`Uploaded study: ${summary(prediction)}`);
  } catch (error) {
    if (!signal.aborted) fail(error);
  } finally {
    $("study-submit").disabled = false;
  }
}

// ---- the answers and the task switch -------------------------------------------------------------

function truthText(task, item) {
  if (!item) return "Not known for uploads";
  const label = item.labels[task];
  const finding = taskName(task);
  if (label === 1) return finding;
  return label === 0 ? `No ${finding.toLowerCase()}` : "Unknown";
}

// Every task's answer in the switch; the primary task (acl when scored) selected first.
function present(prediction, item) {
  view.prediction = prediction;
  view.item = item;
  showAnswers(prediction, selectTask);
  selectTask(defaultTask(prediction));
}

// The selected task drives the summary, the attention bars, the CAM and each plane's slice.
function selectTask(task) {
  if (!view.prediction) return;
  view.task = task;
  const truth = task === "acl" ? view.item?.acl_slices : null; // slice truth: ACL only, so far
  showTask(view.prediction, task, view.panels, truth);
  $("truth").textContent = truthText(task, view.item);
}

// ---- the API key and the address ----------------------------------------------------------------

function useKey(event) {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  clearError();
  say(apiKey() ? "API key set for this tab." : "No API key set.");
  loadModel();
  loadDatasets();
}

function forgetKey() {
  setApiKey("");
  $("api-key").value = "";
  say("API key forgotten.");
}

function addressParts() {
  try {
    return location.hash.slice(1).split("/").map(decodeURIComponent);
  } catch {
    return []; // a malformed address opens nothing
  }
}

// #dataset/split/case opens that case, so a view can be bookmarked or shared.
async function openFromAddress() {
  const parts = addressParts();
  const dataset = view.datasets.find((d) => d.name === parts[0] && d.available);
  const split = dataset?.splits.find((s) => s.name === parts[1]);
  if (parts.length !== 3 || !split) return false;
  $("dataset").value = dataset.name;
  fillSplits(split.name);
  await openCase(dataset.name, split.name, parts[2]);
  return true;
}

// ---- start --------------------------------------------------------------------------------------

function buildPanels() {
  const template = $("plane-template");
  for (const plane of PLANES) {
    view.panels[plane] = new PlanePanel(plane, template, fail);
    $("planes").append(view.panels[plane].root);
    view.panels[plane].reset(0, null, "Open a case to see its slices.");
  }
}

function wire() {
  $("key-form").addEventListener("submit", useKey);
  $("forget-key").addEventListener("click", forgetKey);
  $("dataset").addEventListener("change", () => fillSplits());
  $("split").addEventListener("change", onSplitChange);
  $("positives").addEventListener("change", onSplitChange);
  $("case").addEventListener("change", onCasePicked);
  $("prev-page").addEventListener("click", () => turnPage(-1));
  $("next-page").addEventListener("click", () => turnPage(1));
  $("upload-form").addEventListener("submit", submitUpload);
  $("study-form").addEventListener("submit", submitStudy);
  $("cam").addEventListener("change", () => {
    for (const panel of Object.values(view.panels)) panel.setCam($("cam").checked);
  });
}

buildPanels();
wire();
$("api-key").value = apiKey();
loadModel();
loadDatasets();
