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
from service.synth.phantom import effusion_stroke, phantom_strokes
from service.synth.tissues import (
    ACL_REGION,
    BRUISE_REGION,
    MENISCUS_REGION,
    MENISCUS_TEAR_REGION,
    TEAR_REGION,
    Tissue,
)

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


def _span(slices: list[int]) -> list[int]:
    """[first, last] of a list of slice indices, or [] when empty."""
    return [slices[0], slices[-1]] if slices else []


def _effusion_slices(labels: Labels, recesses: Labels | None) -> list[int]:
    """Slices where the fluid of the effusion's recesses shows in the final labels."""
    if recesses is None:
        return []
    visible = (recesses == int(Tissue.FLUID)) & (labels == int(Tissue.FLUID))  # (S, h, w)
    return [int(i) for i in np.flatnonzero(visible.any(axis=(1, 2)))]


def finding_slices(labels: Labels, recesses: Labels | None) -> dict[str, list[int]]:
    """[first, last] slice of each finding present in one series (its tissue is visible)."""
    found = {
        "acl_tear": slices_with(labels, TEAR_REGION),
        "meniscus_tear": slices_with(labels, MENISCUS_TEAR_REGION),
        "effusion": _effusion_slices(labels, recesses),
        "bone_bruise": slices_with(labels, BRUISE_REGION),
    }
    return {name: _span(slices) for name, slices in found.items() if slices}


def _plane_meta(labels: Labels, recesses: Labels | None) -> dict[str, Any]:
    return {
        "num_slices": int(labels.shape[0]),
        "acl_slices": _span(slices_with(labels, ACL_REGION)),
        "tear_slices": slices_with(labels, TEAR_REGION),
        "meniscus_slices": _span(slices_with(labels, MENISCUS_REGION)),
        "finding_slices": finding_slices(labels, recesses),
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
    effusion = effusion_stroke(params)
    lesions = lesion_signals(params)
    volumes, labels, geometry = {}, {}, {}
    recesses: dict[Plane, Labels | None] = {}
    for plane in _META_ORDER:
        geometry[plane] = plane_geometry(plane, params.slices[plane], params.pose, LABEL_SIZE)
        grid = SliceGrid.from_geometry(geometry[plane], params.pose)
        labels[plane] = paint_labels(grid, strokes)
        recesses[plane] = None if effusion is None else paint_labels(grid, [effusion])
        rng = np.random.default_rng([params.noise_seed, _PLANE_NOISE[plane]])
        volumes[plane] = render_series(labels[plane], plane, params.contrast[plane], lesions, rng)
    meta = {
        "labels": params.labels,
        "findings": params.findings,
        "planes": {plane: _plane_meta(labels[plane], recesses[plane]) for plane in _META_ORDER},
    }
    return RenderedCase(volumes, labels, geometry, meta)
