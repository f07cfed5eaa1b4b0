#!/usr/bin/env bash
# GPU check for a lent CUDA machine with a bare checkout: about 3 minutes, at most 8.
#
#   scripts/gpu-check.sh [OUT_DIR]      (default: $OUT where set, else runs/gpu-check)
#
# 1. A Python whose torch is a CUDA build, in $VENV (default .venv):
#    - an existing $VENV with CUDA torch is used as it is;
#    - else, where the machine's python3 already has CUDA torch (the lent machines' image
#      does: torch 2.11+cu130 was seen there), a new $VENV sees python3's packages through
#      a .pth file (that python3 is itself a venv, which --system-site-packages would skip),
#      so nothing large is installed;
#    - else TORCH_SPEC (default torch==2.13.0) is installed into a new $VENV. ASSUMPTION:
#      on Linux x86-64 the torch wheel on PyPI is a CUDA build (it pulls the nvidia-*
#      wheels, several GB). A mirror that serves the CPU build under the same name (as the
#      project's development machines do) gives a torch without CUDA: the script then
#      stops and says so; set TORCH_INDEX_URL to an index of CUDA builds.
#    The project's other dependencies come from pyproject.toml, only when one is missing.
#    Without network (the lent machines have none), download their wheels where there is
#    network into a folder of the checkout that git ignores, carry it, and set WHEELS to it:
#      pip download --only-binary=:all: --python-version 3.12 \
#        --platform manylinux2014_x86_64 -d .whl fastapi uvicorn pydantic-settings ...
# 2. pytest -m gpu (tests/inference/test_gpu.py): CUDA equals CPU float32 within 0.005 in
#    probability; the channels-last float16 autocast path runs.
# 3. mrnet bench engine --device cuda --concurrency 16: packed batches against one exam
#    per batch (target >= 4x) and float16 autocast against float32 (target <= 0.005).
# Each step has a time limit; together they stay under 8 minutes, not counting a torch
# download in the last case of step 1. The exit status is 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-runs/gpu-check}}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
BENCH_SECONDS=${BENCH_SECONDS:-20}   # per timed run; the bench makes five runs
BENCH_EXAMS=${BENCH_EXAMS:-16}
PIP_SOURCE=(${WHEELS:+--no-index --find-links "$WHEELS"})
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR"

has_cuda() {
    "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
}

make_venv() {
    if [ -x "$VENV/bin/python" ]; then
        has_cuda "$VENV/bin/python" && return
        echo "gpu-check: $VENV has no CUDA torch; set VENV to a new folder." >&2
        exit 1
    fi
    if has_cuda python3; then
        python3 -m venv "$VENV"
        purelib='import sysconfig; print(sysconfig.get_paths()["purelib"])'
        python3 -c "$purelib" >"$("$VENV/bin/python" -c "$purelib")/machine-torch.pth"
        return
    fi
    python3 -m venv "$VENV"
    timeout 300 "$VENV/bin/python" -m pip install -q "${PIP_SOURCE[@]}" \
        ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
    if ! has_cuda "$VENV/bin/python"; then
        echo "gpu-check: $TORCH_SPEC installed without CUDA here; set TORCH_INDEX_URL." >&2
        exit 1
    fi
}

project_dependencies() {  # pyproject's dependencies but torch, and pytest
    "$PY" -c 'import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join([d for d in deps if not d.startswith("torch")] + ["pytest>=8"]))'
}

install_missing() {
    local modules=fastapi,uvicorn,pydantic_settings,multipart,httpx,safetensors,PIL
    modules+=,prometheus_client,tqdm,sklearn,scipy,numpy,pytest
    "$PY" -c "import $modules" 2>/dev/null && return
    # shellcheck disable=SC2046  # one requirement per word
    timeout 120 "$PY" -m pip install -q "${PIP_SOURCE[@]}" $(project_dependencies)
}

make_venv
PY=$VENV/bin/python
install_missing
"$PY" -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name(0))'

status=0
echo "== pytest -m gpu"
timeout 120 "$PY" -m pytest -m gpu tests/inference/test_gpu.py -q -rs || status=1

echo "== mrnet bench engine --device cuda --concurrency 16"
timeout 240 "$PY" -m service bench engine --device cuda --concurrency 16 \
    --exams "$BENCH_EXAMS" --seconds "$BENCH_SECONDS" --json "$OUT_DIR/bench-engine-cuda.json" \
    | tee "$OUT_DIR/bench-engine-cuda.txt" || status=1

echo "== targets"
"$PY" - "$OUT_DIR/bench-engine-cuda.json" <<'PYTHON' || status=1
import json
import sys

report = json.load(open(sys.argv[1]))
wanted = {"packed / one exam per batch throughput", "float16 vs float32 |probability diff|"}
checked = [t for t in report["targets"] if t["name"] in wanted]
for target in checked:
    verdict = "met" if target["met"] else "NOT met"
    print(f"{target['name']}: {target['value']} (target {target['target']}): {verdict}")
sys.exit(0 if len(checked) == len(wanted) and all(t["met"] for t in checked) else 1)
PYTHON
exit "$status"
