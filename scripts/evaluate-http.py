#!/usr/bin/env python
"""Score a synthetic split through a running service's HTTP API, as an outside checker would.

    .venv/bin/mrnet synth --out data/heldout --train 1 --valid 60 --seed 4242
    .venv/bin/mrnet serve &            # or any deployment of the service
    .venv/bin/python scripts/evaluate-http.py --data data/heldout --url http://127.0.0.1:8000

Each case's three `.npy` volumes go to `POST /v1/predictions` as a client sends
them; only the JSON that comes back is read. Per task: the fused AUC, and over
the positive cases the attention hit rate of each plane (its first `top_slices`
inside the finding's slices of `<split>-meta.json`) and of the leading plane
(the plane whose fusion coefficient times logit is largest; the coefficients
come from the serving package's manifest in `--store`). `mrnet evaluate` computes
the same figures in process; this shows that the API returns them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sklearn.metrics import roc_auc_score

from service.datasets.layout import volume_path
from service.datasets.reader import SplitReader
from service.domain import PLANES, TASKS, Plane
from service.store.manifest import Manifest

ATTENTION_TASKS = ("acl", "meniscus")


def post_case(client: httpx.Client, root: Path, split: str, case_id: str) -> dict[str, Any]:
    files: dict[str, tuple[str, bytes, str]] = {}
    for plane in PLANES:
        data = volume_path(root, split, plane, case_id).read_bytes()
        files[plane] = (f"{plane}.npy", data, "application/octet-stream")
    response = client.post("/v1/predictions", files=files)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def coefficients(store: Path, model: dict[str, Any], task: str) -> dict[Plane, float]:
    path = store / model["name"] / model["version"] / "manifest.json"
    manifest = Manifest.model_validate_json(path.read_text())
    return dict(manifest.head(task).fusion.coefficients)


def task_figures(
    root: Path, split: str, task: str, bodies: dict[str, dict[str, Any]], store: Path
) -> dict[str, Any]:
    reader = SplitReader(root, split, task)
    labels = np.array([reader.labels[c] for c in bodies], dtype=np.int64)
    answers = {case: body["tasks"][task] for case, body in bodies.items()}
    probabilities = np.array([answers[c]["probability"] for c in bodies])
    figures: dict[str, Any] = {
        "cases": len(bodies),
        "positives": int(labels.sum()),
        "auc": float(roc_auc_score(labels, probabilities)),
        "model": next(iter(answers.values()))["model"],
    }
    if task not in ATTENTION_TASKS:
        return figures
    fusion = coefficients(store, figures["model"], task)
    positives = [c for c in bodies if reader.labels[c] == 1]

    def hit(case: str, plane: Plane) -> bool:
        top = answers[case]["planes"][plane]["top_slices"]
        truth = reader.plane_truth(case, plane)
        return bool(top) and truth is not None and truth.shows(task, top[0])

    for plane in PLANES:
        figures[f"{plane}_hit_rate"] = float(np.mean([hit(c, plane) for c in positives]))

    def leading_plane(case: str) -> Plane:
        return max(PLANES, key=lambda p: fusion[p] * answers[case]["planes"][p]["logit"])

    leading = [leading_plane(c) for c in positives]
    figures["leading_plane_hit_rate"] = float(
        np.mean([hit(c, p) for c, p in zip(positives, leading, strict=True)])
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a synthetic data set")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--store", type=Path, default=Path("model_store"))
    parser.add_argument("--api-key", help="sent as X-API-Key where the service asks for one")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    case_ids = SplitReader(args.data, args.split, "acl").case_ids
    with httpx.Client(base_url=args.url, timeout=120, headers=headers) as client:
        bodies = {case: post_case(client, args.data, args.split, case) for case in case_ids}
    report: dict[str, Any] = {
        task: task_figures(args.data, args.split, task, bodies, args.store) for task in TASKS
    }
    report["mrnet_mean_auc"] = float(np.mean([report[t]["auc"] for t in TASKS]))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
