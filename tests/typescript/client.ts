// A frontend's view of a prediction, typed from the service's /openapi.json by
// openapi-typescript (tests/api/test_typescript.py writes ./api.ts next to this file).
// It reads every field of the prediction body; misspelt.ts must not compile.
import type { components, operations } from "./api";

type Prediction = components["schemas"]["PredictionResponse"];
type PlaneResult = components["schemas"]["PlaneResult"];
type TaskResult = components["schemas"]["TaskResult"];
type TaskPlaneResult = components["schemas"]["TaskPlaneResult"];
type SeriesUsed = components["schemas"]["SeriesUsedInfo"];
type SeriesNotUsed = components["schemas"]["SeriesNotUsedInfo"];
type Problem = components["schemas"]["Problem"];
type Plane = operations["getSlicePng"]["parameters"]["path"]["plane"];
type Split = operations["getSlicePng"]["parameters"]["path"]["split"];
type Created = operations["createPrediction"]["responses"][200]["content"]["application/json"];
type Refused = operations["createPrediction"]["responses"][503]["content"]["application/problem+json"];
type Png = operations["getSlicePng"]["responses"][200]["content"]["image/png"];

const planes: readonly Plane[] = ["axial", "coronal", "sagittal"];
const split: Split = "valid";

function plane(name: Plane, result: PlaneResult): string {
  const attention = result.attention.map((a: number) => a.toFixed(3)).join(" ");
  return `${name}: p=${result.probability.toFixed(3)} logit=${result.logit.toFixed(2)} ` +
    `slices=${result.num_slices} top=${result.top_slices.join(",")} attention=${attention}`;
}

function exact(name: Plane, result: TaskPlaneResult): string {
  // The exact decomposition: bias + sum(contributions) == logit.
  const total = result.contributions.reduce((a: number, b: number) => a + b, result.bias);
  return `${plane(name, result)} bias=${result.bias} sum=${total.toFixed(4)}`;
}

function task(name: string, result: TaskResult): string[] {
  return [
    `${name}: p=${result.probability.toFixed(3)} positive=${result.positive} ` +
      `threshold=${result.threshold} model ${result.model.task}/${result.model.version}`,
    exact("sagittal", result.planes.sagittal),
    exact("coronal", result.planes.coronal),
    exact("axial", result.planes.axial),
  ];
}

function used(name: Plane, series: SeriesUsed): string {
  return `${name}: series ${series.series_number ?? "-"} ${series.series_description} ` +
    `(${series.series_instance_uid}), ${series.slices} slices, ` +
    `${series.pixel_spacing_mm.join("x")} mm, step ${series.slice_spacing_mm} mm, ` +
    `${series.obliquity_degrees} degrees off axis (${series.orientation.join(" ")}): ` +
    series.reason;
}

function notUsed(series: SeriesNotUsed): string {
  return `not used: ${series.series_number ?? "-"} ${series.series_description} ` +
    `(${series.series_instance_uid}) ${series.modality}, ${series.instances} instances, ` +
    `${series.plane ?? "no plane"}: ${series.reason}`;
}

function study(p: Prediction): string[] {
  const input = p.input;
  if (input === undefined || input === null) {
    return ["three volumes"];
  }
  return [
    used("sagittal", input.planes.sagittal),
    used("coronal", input.planes.coronal),
    used("axial", input.planes.axial),
    ...input.not_used.map(notUsed),
    ...input.skipped.map((name: string) => `skipped ${name}`),
  ];
}

export function summary(p: Created): string[] {
  const prediction: Prediction = p;
  return [
    `request ${prediction.request_id}`,
    `${prediction.task}: p=${prediction.probability.toFixed(3)} positive=${prediction.positive} ` +
      `threshold=${prediction.threshold}`,
    plane("sagittal", prediction.planes.sagittal),
    plane("coronal", prediction.planes.coronal),
    plane("axial", prediction.planes.axial),
    `model ${prediction.model.name}: ${prediction.model.task}/${prediction.model.version} ` +
      `${prediction.model.architecture} ${prediction.model.sha256}`,
    `ms: queue ${prediction.timing_ms.queue} inference ${prediction.timing_ms.inference} ` +
      `total ${prediction.timing_ms.total}`,
    ...Object.entries(prediction.tasks).flatMap(([name, result]) => task(name, result)),
    ...prediction.warnings,
    ...study(prediction),
    `${planes.length} planes, split ${split}`,
  ];
}

export function explain(problem: Refused | Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
  return [`${problem.status} ${problem.title}: ${problem.detail}`, ...fields].join("\n");
}

export function pngBytes(body: Png): number {
  return body.length;
}
