"""Import per-plane checkpoints of public MRNet code into a model package.

Three state dict formats are known, told apart by their keys:

- `nicholasbien` (the paper author's code): `model.features.*` and a
  `classifier` Linear(256, 1); input centre-cropped to 224, min-max to 0..255,
  then `(x - 58.09) / 49.73`.
- `ahmedbesbes`: `pretrained_model.features.*` and a `classifer` (sic)
  Linear(256, 2) of two sigmoid outputs, of which row 1 is the tear; raw 0..255
  input, no crop, no normalisation.
- `mrnet-service`: this service's own names (`features.*`, `classifier.*`) and
  its own preprocessing.

AlexNet's unused ImageNet head (`model.classifier.*`, `pretrained_model.classifier.*`)
is dropped. Files are read with `torch.load(..., weights_only=True)` only, so
nothing but tensors and plain containers is ever unpickled. A whole pickled
model cannot be read that way: turn a model file you trust into a state dict
first with `torch.save(torch.load('model.pth', weights_only=False).state_dict(), 'plane.pt')`,
and run that only on files you trust.

The public code bases release one network per task and plane; `package`
turns the checkpoints of one or several tasks into one package.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import torch
from torch import Tensor

from service.domain import PLANES, Plane
from service.errors import PackageError
from service.model.network import plane_shapes, state_dict_problem
from service.model.preprocess import MRNET_MEAN, MRNET_STD, InputSpec

CONVERT_HINT: Final = (
    "If it is a whole pickled model that you trust, save its state dict with "
    "torch.save(torch.load('model.pth', weights_only=False).state_dict(), 'plane.pt') "
    "and import that."
)


@dataclass(frozen=True)
class CheckpointFormat:
    """Where a code base keeps the plane network's tensors, and its preprocessing."""

    name: str
    features: str  # key prefix of AlexNet's `features`
    head: str  # key prefix of the Linear(256, outputs) head
    outputs: int
    tear_row: int  # the head's row that is the tear logit
    dropped: tuple[str, ...]  # key prefixes of unused tensors
    input: InputSpec

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the format must hold, by its key in the checkpoint."""
        shapes = {self.features + k.removeprefix("features."): s for k, s in _features().items()}
        shapes[self.head + "weight"] = (self.outputs, 256)
        shapes[self.head + "bias"] = (self.outputs,)
        return shapes

    def convert(self, tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The plane state dict under this service's names, as float32 copies."""
        state = {
            "features." + k.removeprefix(self.features): tensors[k] for k in _source_keys(self)
        }
        row = slice(self.tear_row, self.tear_row + 1)
        state["classifier.weight"] = tensors[self.head + "weight"][row]  # (1, 256)
        state["classifier.bias"] = tensors[self.head + "bias"][row]  # (1,)
        return {k: v.detach().to(torch.float32).clone() for k, v in state.items()}


FORMATS: Final[dict[str, CheckpointFormat]] = {
    fmt.name: fmt
    for fmt in (
        CheckpointFormat(
            "nicholasbien", "model.features.", "classifier.", 1, 0, ("model.classifier.",),
            InputSpec(size=256, crop=224, intensity="minmax", mean=MRNET_MEAN, std=MRNET_STD),
        ),
        CheckpointFormat(
            "ahmedbesbes", "pretrained_model.features.", "classifer.", 2, 1,
            ("pretrained_model.classifier.",),
            InputSpec(size=256, crop=None, intensity="raw", mean=0.0, std=1.0),
        ),
        CheckpointFormat("mrnet-service", "features.", "classifier.", 1, 0, (), InputSpec()),
    )
}  # fmt: skip


@cache
def _features() -> dict[str, tuple[int, ...]]:
    """Shapes of this service's `features.*` tensors."""
    return {k: s for k, s in plane_shapes().items() if k.startswith("features.")}


def _source_keys(fmt: CheckpointFormat) -> list[str]:
    return [fmt.features + k.removeprefix("features.") for k in _features()]


@dataclass(frozen=True)
class Checkpoint:
    """One plane's checkpoint file as read: its path, sha256 and tensors."""

    plane: Plane
    path: Path
    sha256: str
    tensors: dict[str, Tensor]

    def refuse(self, problem: str) -> PackageError:
        return PackageError(f"The {self.plane} checkpoint {self.path} {problem}")


def _load_failure(error: Exception) -> str:
    """Why weights_only loading failed, as a phrase, without torch's allowlisting advice."""
    text = str(error)
    pickled = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if pickled:
        return f"holds a pickled {pickled.group(1)}, not only tensors"
    reason = text.split("WeightsUnpickler error:")[-1].strip().split("\n")[0].strip()
    return f"is not a readable PyTorch state dict ({reason or type(error).__name__})"


def read_checkpoint(path: Path, plane: Plane) -> Checkpoint:
    """Read a flat state dict of tensors with weights_only loading; nothing else passes."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PackageError(
            f"Cannot read the {plane} checkpoint {path}: {error.strerror}."
        ) from error
    try:  # from the bytes that were hashed, so the recorded sha256 is what was read
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # whatever the cause, the file is not a plain state dict
        raise PackageError(
            f"The {plane} checkpoint {path} cannot be loaded with weights_only=True: "
            f"it {_load_failure(error)}. {CONVERT_HINT}"
        ) from error
    checkpoint = Checkpoint(plane, path, hashlib.sha256(data).hexdigest(), {})
    if not isinstance(loaded, Mapping):
        raise checkpoint.refuse(f"holds a {type(loaded).__name__}, not a state dict of tensors.")
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise checkpoint.refuse(
                f"is not a flat state dict of tensors: its entry {key!r} holds a "
                f"{type(value).__name__}. Save the network's state_dict() alone and import that."
            )
        checkpoint.tensors[key] = value
    return checkpoint


def detect_format(checkpoint: Checkpoint) -> CheckpointFormat:
    """The one known format whose first convolution's key the checkpoint has."""
    fits = [fmt for fmt in FORMATS.values() if fmt.features + "0.weight" in checkpoint.tensors]
    if len(fits) == 1:
        return fits[0]
    known = "; ".join(f"{f.name} ({f.features}*, {f.head}*)" for f in FORMATS.values())
    first = sorted(checkpoint.tensors)[:6]
    what = "fits more than one" if fits else "fits none"
    raise checkpoint.refuse(f"{what} of the known formats: {known}. Its first keys are {first}.")


def _check_values(checkpoint: Checkpoint, key: str) -> None:
    tensor = checkpoint.tensors[key]
    if not tensor.is_floating_point():
        raise checkpoint.refuse(f"has {key} of dtype {tensor.dtype}; weights are floating point.")
    if not torch.isfinite(tensor).all():
        raise checkpoint.refuse(f"has NaN or infinite values in {key}.")


def convert_checkpoint(checkpoint: Checkpoint, fmt: CheckpointFormat) -> dict[str, Tensor]:
    """Check keys, shapes and values against the format, then rename and slice."""
    expected = fmt.expected_shapes()
    tensors = checkpoint.tensors.items()
    kept = {k: t for k, t in tensors if not (fmt.dropped and k.startswith(fmt.dropped))}
    problem = state_dict_problem(kept, expected=expected)
    if problem is not None:
        others = [f.name for f in FORMATS.values() if f != fmt and f.features + "0.weight" in kept]
        raise checkpoint.refuse(
            f"does not fit the {fmt.name} format: {problem}."
            + (f" Its keys look like the {others[0]} format." if others else "")
        )
    for key in expected:
        _check_values(checkpoint, key)
    return fmt.convert(checkpoint.tensors)


@dataclass(frozen=True)
class ImportedWeights:
    """The three planes' converted state dicts and where each came from."""

    format: CheckpointFormat
    states: dict[Plane, dict[str, Tensor]]
    sources: dict[Plane, dict[str, str]]  # plane -> {"file": name, "sha256": hex}


def read_checkpoints(paths: Mapping[Plane, Path], format_name: str = "auto") -> ImportedWeights:
    """Read, check and convert the three planes' checkpoints; all must share one format."""
    if format_name != "auto" and format_name not in FORMATS:
        known = ", ".join(FORMATS)
        raise PackageError(f"{format_name!r} is not a checkpoint format; use auto or {known}.")
    formats: dict[Plane, CheckpointFormat] = {}
    states: dict[Plane, dict[str, Tensor]] = {}
    sources: dict[Plane, dict[str, str]] = {}
    for plane in PLANES:
        checkpoint = read_checkpoint(paths[plane], plane)
        fmt = detect_format(checkpoint) if format_name == "auto" else FORMATS[format_name]
        if formats and fmt != formats["axial"]:
            raise checkpoint.refuse(
                f"is in the {fmt.name} format, but the axial one is {formats['axial'].name}; "
                "all three planes must come from one code base."
            )
        formats[plane], states[plane] = fmt, convert_checkpoint(checkpoint, fmt)
        sources[plane] = {"file": checkpoint.path.name, "sha256": checkpoint.sha256}
    return ImportedWeights(formats["axial"], states, sources)
