"""Generated TypeScript types: a strict client of the prediction compiles, a misspelling does not.

openapi-typescript turns the app's /openapi.json into types; `tsc --strict`
compiles tests/typescript/client.ts (which reads every field of a prediction)
and must refuse misspelt.ts (`planes.sagital`). The npm packages are pinned in
tests/typescript/package-lock.json and installed by `make test` (`npm ci`).
Without node or those packages the test is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

TS_DIR = Path(__file__).resolve().parents[1] / "typescript"
BIN = TS_DIR / "node_modules" / ".bin"
PREDICTION_SCHEMAS = (
    "PredictionResponse",
    "PlaneResult",
    "ModelIdentity",
    "Timing",
    "StudyInput",
    "SeriesUsedInfo",
    "SeriesNotUsedInfo",
)


def _tools() -> tuple[Path, Path]:
    generate, compile_ = BIN / "openapi-typescript", BIN / "tsc"
    missing = [str(p) for p in (generate, compile_) if not p.exists()]
    if shutil.which("node") is None:
        missing.insert(0, "node")
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: `make test` installs them (npm ci in {TS_DIR})")
    return generate, compile_


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def project(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the generated api.ts, the client files and the tsconfig."""
    generate, _ = _tools()
    folder = tmp_path_factory.mktemp("typescript")
    (folder / "openapi.json").write_text(client.get("/openapi.json").text)
    made = _run(generate, "openapi.json", "-o", "api.ts", cwd=folder)
    assert made.returncode == 0, made.stdout + made.stderr
    for name in ("client.ts", "misspelt.ts", "tsconfig.json"):
        shutil.copy(TS_DIR / name, folder / name)
    return folder


def _tsc(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    _, compile_ = _tools()
    options = json.loads((folder / "tsconfig.json").read_text())["compilerOptions"]
    flags: list[str] = []
    for key, value in options.items():  # tsc takes a tsconfig or a file list, not both
        flags += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return _run(compile_, *flags, source, cwd=folder)


def test_a_strict_client_of_the_prediction_compiles(project: Path) -> None:
    compiled = _tsc(project, "client.ts")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_a_misspelt_plane_does_not_compile(project: Path) -> None:
    compiled = _tsc(project, "misspelt.ts")
    assert compiled.returncode != 0
    assert "Property 'sagital' does not exist" in compiled.stdout, compiled.stdout


def test_the_client_reads_every_field_of_a_prediction(client: TestClient) -> None:
    schemas: dict[str, Any] = client.get("/openapi.json").json()["components"]["schemas"]
    source = (TS_DIR / "client.ts").read_text()
    read = set(re.findall(r"\.([a-z0-9_]+)\b", source))
    for name in PREDICTION_SCHEMAS:
        missing = set(schemas[name]["properties"]) - read
        assert not missing, f"client.ts does not read {name}.{sorted(missing)}"
