"""The whole `mrnet train` run: planes (trained or resumed), then the package."""

from __future__ import annotations

import sys

from service.devices import resolve_device
from service.domain import PLANES, Plane
from service.training.assemble import Assembled, assemble
from service.training.config import TrainConfig
from service.training.trainer import (
    PlaneRun,
    add_cv_logits,
    load_plane_run,
    save_plane_run,
    train_plane,
)


def run_training(config: TrainConfig, command: str) -> Assembled | None:
    """Train the asked planes, reuse finished ones, and write a package once all three exist."""
    device, work = resolve_device(config.device), config.work_folder
    runs: dict[Plane, PlaneRun] = {}
    for plane in PLANES:
        asked = plane in config.planes
        reuse = config.resume or not asked
        finished = load_plane_run(work, plane, config, same_schedule=asked) if reuse else None
        if finished is not None:
            print(f"{plane}: reusing the finished plane in {work}", file=sys.stderr)
            runs[plane] = finished
        elif plane in config.planes:
            runs[plane] = train_plane(config, plane, device)
            save_plane_run(work, runs[plane])
            print(
                f"{plane}: best epoch {runs[plane].summary['best_epoch']}, "
                f"valid AUC {runs[plane].summary['valid_auc']}",
                file=sys.stderr,
            )
    missing = [plane for plane in PLANES if plane not in runs]
    if missing:
        print(
            f"Planes still to train before a package is written: {', '.join(missing)} "
            f"(their results go to {work}).",
            file=sys.stderr,
        )
        return None
    for plane in PLANES:
        if runs[plane].train_cv_logits is None:
            runs[plane] = add_cv_logits(config, runs[plane], device)
            save_plane_run(work, runs[plane])
    return assemble(config, runs, command, device)
