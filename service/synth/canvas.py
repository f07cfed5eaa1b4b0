"""Paint tissue labels onto a slice grid, one shape after another (later wins)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from service.synth.grid import IndexBox, SliceGrid
from service.synth.shapes import Field, Points, Shape
from service.synth.tissues import Tissue

Labels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Layer:
    """Paint `tissue` where below > sdf >= above, inside `within`, over labels `over` only."""

    tissue: Tissue
    below: float = 0.0
    above: float | None = None
    within: Shape | None = None
    over: tuple[Tissue, ...] = ()


@dataclass(frozen=True)
class Stroke:
    shape: Shape
    layers: tuple[Layer, ...]


def stroke(
    shape: Shape,
    tissue: Tissue,
    *,
    below: float = 0.0,
    above: float | None = None,
    within: Shape | None = None,
    over: tuple[Tissue, ...] = (),
) -> Stroke:
    """A stroke of one layer."""
    return Stroke(shape, (Layer(tissue, below, above, within, over),))


_STRIDE: Final = 4  # coarse samples are 4 pixels apart in-plane
_COARSE_FROM: Final = 40_000  # points; smaller blocks are evaluated exactly
_COARSE_LIPSCHITZ: Final = 4.0  # shapes whose field may change faster are evaluated exactly


def _coarse_index(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Coarse sample positions along an axis of n pixels, and each pixel's nearest one."""
    samples = np.minimum(_STRIDE * np.arange(-(-n // _STRIDE)) + _STRIDE // 2, n - 1)
    return samples, np.arange(n) // _STRIDE


def sample_field(shape: Shape, points: Points, low: float, high: float, pixel_mm: float) -> Field:
    """The shape's field on (S, h, w) points, exact wherever it lies in [low, high].

    Large blocks are sampled every 4 pixels first; only the pixels whose nearest
    sample is within the Lipschitz reach of [low, high] are evaluated exactly. The
    others keep the sample's value, which is on the same side of every threshold.
    """
    s, h, w = points.x.shape
    if points.x.size < _COARSE_FROM or shape.lipschitz > _COARSE_LIPSCHITZ:
        return shape.sdf(points)
    (rows, row_of), (cols, col_of) = _coarse_index(h), _coarse_index(w)
    pick = np.ix_(np.arange(s), rows, cols)
    coarse = shape.sdf(Points(points.x[pick], points.y[pick], points.z[pick]))  # (S, h/4, w/4)
    field = coarse[:, row_of][:, :, col_of]  # (S, h, w)
    reach = 1.25 * shape.lipschitz * pixel_mm * (_STRIDE // 2) * math.sqrt(2.0)
    band = (field > low - reach) & (field < high + reach)  # (S, h, w)
    field[band] = shape.sdf(Points(points.x[band], points.y[band], points.z[band]))
    return field


class Canvas:
    """A label volume on a grid; each shape's distance field is computed once."""

    def __init__(self, grid: SliceGrid, strokes: Sequence[Stroke]) -> None:
        self.grid = grid
        self.labels: Labels = np.zeros(grid.shape, dtype=np.uint8)  # (S, h, w)
        self._thresholds: dict[int, list[float]] = {}
        for item in strokes:
            found = self._thresholds.setdefault(id(item.shape), [0.0])
            for layer in item.layers:
                found.extend([layer.below] if layer.above is None else [layer.below, layer.above])
        self._fields: dict[int, tuple[IndexBox, Field] | None] = {}

    def _field(self, shape: Shape) -> tuple[IndexBox, Field] | None:
        key = id(shape)
        if key not in self._fields:
            low, high = min(self._thresholds[key]), max(self._thresholds[key])
            box = self.grid.index_box(shape.bounds().grow(high))
            self._fields[key] = None
            if box is not None:
                field = sample_field(shape, self.grid.points(box), low, high, self.grid.pixel_mm)
                self._fields[key] = (box, field)
        return self._fields[key]

    def _inside(
        self, shape: Shape, box: IndexBox, mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Whether each selected voxel is inside `shape`; (n,) for the n True entries of mask."""
        points = self.grid.points(box)
        picked = Points(points.x[mask], points.y[mask], points.z[mask])  # (n,) each
        return shape.sdf(picked) < 0.0

    def paint(self, item: Stroke) -> None:
        found = self._field(item.shape)
        if found is None:
            return
        box, distance = found
        labels = self.labels[box]  # a view: writes land in self.labels
        for layer in item.layers:
            mask = distance < layer.below
            if layer.above is not None:
                mask &= distance >= layer.above
            if layer.over:
                mask &= np.isin(labels, [int(t) for t in layer.over])
            if layer.within is not None and mask.any():
                mask[mask] = self._inside(layer.within, box, mask)
            labels[mask] = int(layer.tissue)


def paint_labels(grid: SliceGrid, strokes: Sequence[Stroke]) -> Labels:
    """The tissue label volume (S, h, w) of the strokes, painted in order."""
    canvas = Canvas(grid, strokes)
    for item in strokes:
        canvas.paint(item)
    return canvas.labels
