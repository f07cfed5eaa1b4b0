#!/usr/bin/env bash
# Rebuild the demo package (model_store/acl/<next>) from scratch: about an hour on 2 CPU cores.
# These are the commands that trained the planes of model_store/acl/2. The coronal plane
# (T1-like, where a tear is least conspicuous) gets a second, longer pretraining run; the
# other two planes are reused from the work folder, and the package is written when that
# run ends, with the fusion fitted on out-of-fold train logits. (acl/2 itself was
# assembled from these planes by the coronal command with --resume, after out-of-fold
# fusion was added; acl/1, the same planes with an in-sample fusion, is in git history.)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/demo-train}
[ -f "$DATA/train-acl.csv" ] || .venv/bin/mrnet synth --out "$DATA" --train 300 --valid 80 --seed 2026
.venv/bin/mrnet train --data "$DATA" --task acl --out model_store --planes axial sagittal \
    --pretrain-epochs 12 --epochs 1 --seed 0 --device "${DEVICE:-auto}" --work-dir runs/demo
.venv/bin/mrnet train --data "$DATA" --task acl --out model_store --planes coronal \
    --pretrain-epochs 30 --epochs 0 --seed 0 --device "${DEVICE:-auto}" --work-dir runs/demo
.venv/bin/mrnet evaluate --data "$DATA" --split valid --task acl --store model_store \
    --json runs/demo/evaluate.json
