// Must NOT compile: `sagital` is not a plane of the prediction (tests/api/test_typescript.py).
import type { components } from "./api";

type Prediction = components["schemas"]["PredictionResponse"];

export function sagittalProbability(p: Prediction): number {
  return p.planes.sagital.probability;
}
