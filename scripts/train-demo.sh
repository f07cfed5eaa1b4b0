#!/usr/bin/env bash
# Rebuild the demo package (model_store/triage/<next>): abnormal, ACL and meniscus on one
# shared backbone per plane, from synthetic data. About an hour on 2 (shared) CPU cores:
#   mkdir -p runs/demo && nohup scripts/train-demo.sh > runs/demo/train.log 2>&1 &
# These are the commands that trained model_store/triage/1. Each plane is its own run, so
# each gets its own number of slice-pretraining epochs (the coronal plane, T1-like, where a
# tear is least conspicuous, gets the most; each epoch sees every tear slice and 30% of the
# others); finished planes wait in runs/demo, and the run that trains the last plane fits
# the fusions, chooses the thresholds (on valid) and writes the package. There is no MRNet fine-tuning epoch (--epochs 0): on 2 cores the time goes
# to slice pretraining, and each task's head is the pretrained one, rescaled on 120 train
# exams. Seed, sizes and every plane's schedule are recorded in the manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/demo-train}
OUT=${OUT:-model_store}
WORK=${WORK:-runs/demo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
[ -f "$DATA/train-acl.csv" ] || .venv/bin/mrnet synth --out "$DATA" --train 300 --valid 100 --seed 2026
# The backbones start from the ACL demo package acl/2 (trained by this script's earlier
# version on the same generator's images; in git at 7cc9dcb), one per plane.
START=${START:-$WORK/start}
mkdir -p "$START"
for plane in axial coronal sagittal; do
    [ -f "$START/$plane.safetensors" ] ||
        git show "7cc9dcb:model_store/acl/2/$plane.safetensors" > "$START/$plane.safetensors"
done
train() {
    .venv/bin/mrnet train --data "$DATA" --tasks abnormal,acl,meniscus --name triage \
        --out "$OUT" --epochs 0 --pretrain-crop 128 --easy-negatives 0.25 --pretrain-share 0.3 \
        --head-exams 120 --backbone-weights "$START/{plane}.safetensors" --seed 0 \
        --device "${DEVICE:-auto}" --work-dir "$WORK" "$@"
}
train --planes axial --pretrain-epochs 4
train --planes coronal --pretrain-epochs 5
train --planes sagittal --pretrain-epochs 3
.venv/bin/mrnet evaluate --data "$DATA" --split valid --package triage --store "$OUT" \
    --device "${DEVICE:-auto}" --json "$WORK/evaluate.json"
