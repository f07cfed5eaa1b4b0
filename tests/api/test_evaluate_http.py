"""scripts/evaluate-http.py: a split scored over HTTP gives the figures of `mrnet evaluate`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.datasets.reader import SplitReader
from service.domain import PLANES
from service.evaluation.report import Scorer, TaskScorer, evaluate
from service.store.loader import load_package
from service.store.writer import write_package

from .support import api_settings, running_server
from factories import draft, random_states, write_tiny_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "evaluate-http.py"
TASKS3 = ("abnormal", "acl", "meniscus")


def test_the_api_answers_what_the_evaluation_measures(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_package(store, draft(tasks=TASKS3, name="triage"), random_states(7, 3))
    data = write_tiny_dataset(tmp_path / "data", 2, 10, findings=True)
    out = tmp_path / "figures.json"
    with running_server(api_settings(store)) as url:
        args = ["--data", data, "--url", url, "--store", store, "--json", out]
        done = subprocess.run(
            [sys.executable, str(SCRIPT), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())

    package = load_package(store, "triage")
    heads = [
        TaskScorer(h.task, i, h.fusion, h.threshold.value)
        for i, h in enumerate(package.manifest.tasks)
    ]
    readers = {task: SplitReader(data, "valid", task) for task in TASKS3}
    report = evaluate(Scorer([package.planes], package.manifest.input, heads), readers, False, 0)
    for task in TASKS3:
        measured = report["tasks"][task]
        assert figures[task]["cases"] == 10 and figures[task]["model"]["name"] == "triage"
        assert figures[task]["auc"] == pytest.approx(measured["auc"], abs=1e-6), task
    for task in ("acl", "meniscus"):
        measured = report["tasks"][task]
        for plane in PLANES:
            rate = measured["planes"][plane]["attention_hit_rate"]
            assert figures[task][f"{plane}_hit_rate"] == pytest.approx(rate), (task, plane)
        leading = measured["leading_plane_hit_rate"]
        assert figures[task]["leading_plane_hit_rate"] == pytest.approx(leading), task
    assert figures["mrnet_mean_auc"] == pytest.approx(report["mrnet_mean_auc"], abs=1e-6)
