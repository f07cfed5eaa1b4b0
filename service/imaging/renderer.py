"""Render slices of indexed volumes off the event loop, with tags that validate caches.

A slice is read through a memory map, so it costs one slice of disk reads
(non-uint8 volumes also need their min and max). A CAM needs the plane's network
over the whole volume: CAM stacks are kept in a small LRU memo, and at most
`cam_workers` computations run at once; callers beyond that wait on the event
loop, not in worker threads.
"""

from __future__ import annotations

import asyncio
import hashlib
from functools import partial

import numpy as np
import numpy.typing as npt

from service.datasets.catalog import PlaneRef
from service.datasets.npy import NpyFormatError, VolumeLimits, map_volume
from service.errors import DatasetError, InvalidVolumeError
from service.imaging.cam import CamStack, compute_cams, overlay, strength
from service.imaging.slices import Window, encode_png, slice_pixels
from service.memo import AsyncMemo
from service.store.loader import ModelPackage

CamKey = tuple[str, ...]


def file_stamp(ref: PlaneRef) -> str:
    """Size and modification time: what changes when the file is replaced."""
    try:
        stat = ref.path.stat()
    except OSError as error:
        raise DatasetError(
            f"The {ref.plane} volume of case {ref.case_id} cannot be read ({error.strerror})."
        ) from error
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def entity_tag(*parts: str) -> str:
    """A strong ETag over the parts."""
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def _where(ref: PlaneRef) -> tuple[str, ...]:
    return ref.dataset, ref.split, ref.case_id, ref.plane


class SliceRenderer:
    def __init__(self, limits: VolumeLimits, cam_entries: int = 16, cam_workers: int = 1) -> None:
        self.limits = limits
        self.cams: AsyncMemo[CamKey, CamStack] = AsyncMemo(cam_entries)
        self.cam_runs = 0  # CAM stacks computed, for operators and tests
        self._gate = asyncio.Semaphore(cam_workers)

    async def slice_tag(self, ref: PlaneRef, index: int, window: Window | None) -> str:
        stamp = await asyncio.to_thread(file_stamp, ref)
        shown = window.describe() if window is not None else "stored"
        return entity_tag("slice", *_where(ref), str(index), shown, stamp)

    async def slice_png(self, ref: PlaneRef, index: int, window: Window | None) -> bytes:
        return await asyncio.to_thread(self._slice_png, ref, index, window)

    async def cam_tag(self, ref: PlaneRef, index: int, package: ModelPackage, task: str) -> str:
        stamp = await asyncio.to_thread(file_stamp, ref)
        return entity_tag("cam", *_where(ref), str(index), task, package.digest, stamp)

    async def cam_png(self, ref: PlaneRef, index: int, package: ModelPackage, task: str) -> bytes:
        """The slice with `task`'s class activation map; `package` must carry the task."""
        stamp = await asyncio.to_thread(file_stamp, ref)
        key = (*_where(ref), package.manifest.name, task, package.digest, stamp)
        stack, _ = await self.cams.get(key, partial(self._cams, ref, package, task))
        return await asyncio.to_thread(self._cam_png, ref, index, stack, package)

    async def _cams(self, ref: PlaneRef, package: ModelPackage, task: str) -> CamStack:
        async with self._gate:
            self.cam_runs += 1
            return await asyncio.to_thread(self._compute, ref, package, task)

    def _compute(self, ref: PlaneRef, package: ModelPackage, task: str) -> CamStack:
        volume = self._volume(ref)
        planes, row = package.locate(task)
        try:
            return compute_cams(planes[ref.plane], package.manifest.input, volume, row)
        except ValueError as error:
            raise InvalidVolumeError(ref.plane, f"of case {ref.case_id} {error}.") from error

    def _slice_png(self, ref: PlaneRef, index: int, window: Window | None) -> bytes:
        return encode_png(self._pixels(ref, index, window))

    def _cam_png(self, ref: PlaneRef, index: int, stack: CamStack, package: ModelPackage) -> bytes:
        gray = self._pixels(ref, index, None)
        weight = strength(stack, index, (gray.shape[0], gray.shape[1]), package.manifest.input)
        return encode_png(overlay(gray, weight))

    def _pixels(self, ref: PlaneRef, index: int, window: Window | None) -> npt.NDArray[np.uint8]:
        try:
            return slice_pixels(self._volume(ref), index, window)
        except ValueError as error:
            raise InvalidVolumeError(ref.plane, f"of case {ref.case_id} {error}.") from error

    def _volume(self, ref: PlaneRef) -> npt.NDArray[np.generic]:
        try:
            return map_volume(ref.path, self.limits)
        except NpyFormatError as error:
            raise InvalidVolumeError(ref.plane, f"of case {ref.case_id} {error}.") from error
        except OSError as error:
            raise DatasetError(
                f"The {ref.plane} volume of case {ref.case_id} cannot be read ({error.strerror})."
            ) from error
