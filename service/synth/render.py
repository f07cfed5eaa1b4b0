"""Render one case: the same phantom resliced into the three series, plus its ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from service.domain import Plane
from service.synth.canvas import Labels, paint_labels
from service.synth.contrast import OUTPUT_SIZE, render_series
from service.synth.grid import PlaneGeometry, SliceGrid, plane_geometry
from service.synth.params import CaseParams
from service.synth.phantom import phantom_strokes
from service.synth.tissues import ACL_REGION, TEAR_REGION, Tissue

# Labels are evaluated at this size and upsampled to 256: 4x fewer points, ~1.1 mm pixels.
LABEL_SIZE: Final = OUTPUT_SIZE // 2
# Meta order follows MRNet's habit of reading the sagittal series first.
_META_ORDER: Final[tuple[Plane, ...]] = ("sagittal", "coronal", "axial")
_PLANE_NOISE: Final[dict[Plane, int]] = {"axial": 0, "coronal": 1, "sagittal": 2}


@dataclass(frozen=True)
class RenderedCase:
    volumes: dict[Plane, npt.NDArray[np.uint8]]  # (S, 256, 256) per plane
    labels: dict[Plane, Labels]  # (S, 128, 128) tissue codes per plane
    geometry: dict[Plane, PlaneGeometry]  # of the label grid
    meta: dict[str, Any]  # this case's entry of <split>-meta.json


def slices_with(labels: Labels, tissues: tuple[Tissue, ...]) -> list[int]:
    """Indices of the slices (axis 0) that hold any voxel of the given tissues."""
    present = np.isin(labels, [int(t) for t in tissues]).any(axis=(1, 2))  # (S,)
    return [int(i) for i in np.flatnonzero(present)]


def _plane_meta(labels: Labels) -> dict[str, Any]:
    acl = slices_with(labels, ACL_REGION)
    return {
        "num_slices": int(labels.shape[0]),
        "acl_slices": [acl[0], acl[-1]] if acl else [],
        "tear_slices": slices_with(labels, TEAR_REGION),
    }


def lesion_signals(params: CaseParams) -> dict[Tissue, float]:
    found = {
        Tissue.ACL_TEAR: params.acl_tear,
        Tissue.ACL_DEGENERATION: params.acl_degeneration,
        Tissue.MENISCUS_TEAR: params.meniscus_tear,
    }
    return {tissue: lesion.signal for tissue, lesion in found.items() if lesion is not None}


def render_case(params: CaseParams) -> RenderedCase:
    strokes = phantom_strokes(params)
    lesions = lesion_signals(params)
    volumes, labels, geometry = {}, {}, {}
    for plane in _META_ORDER:
        geometry[plane] = plane_geometry(plane, params.slices[plane], params.pose, LABEL_SIZE)
        grid = SliceGrid.from_geometry(geometry[plane], params.pose)
        labels[plane] = paint_labels(grid, strokes)
        rng = np.random.default_rng([params.noise_seed, _PLANE_NOISE[plane]])
        volumes[plane] = render_series(labels[plane], plane, params.contrast[plane], lesions, rng)
    meta = {
        "labels": params.labels,
        "findings": params.findings,
        "planes": {plane: _plane_meta(labels[plane]) for plane in _META_ORDER},
    }
    return RenderedCase(volumes, labels, geometry, meta)
