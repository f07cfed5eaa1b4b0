#!/usr/bin/env bash
# Rebuild the demo package model_store/acl/<next> from scratch on CPU (about an hour on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/demo-train}
[ -f "$DATA/train-acl.csv" ] || .venv/bin/mrnet synth --out "$DATA" --train 300 --valid 80 --seed 2026
.venv/bin/mrnet train --data "$DATA" --task acl --out model_store --pretrain-epochs 12 --epochs 1 \
    --seed 0 --device "${DEVICE:-auto}" --work-dir runs/demo
.venv/bin/mrnet evaluate --data "$DATA" --split valid --task acl --store model_store \
    --json runs/demo/evaluate.json
