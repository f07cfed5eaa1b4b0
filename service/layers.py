"""The allowed import order of the service's packages, bottom first; written down once.

A module may import its own package and any package of a lower layer, never
one of its own layer or above. `tests/test_layers.py` checks every import
under `service/` against this table (imports inside functions and under
`TYPE_CHECKING` too), and `docs/contributing.md` shows it.

A unit is the first name under `service`: a package (`store`) or a top-level
module (`config`); `__init__` is the root package, which holds the version.
"""

from __future__ import annotations

from typing import Final

LAYERS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("vocabulary, errors, this table", ("__init__", "domain", "errors", "layers")),
    ("process helpers: torch device, JSON logs, async memo", ("devices", "logs", "memo")),
    ("the network and the data on disk", ("model", "datasets")),
    ("model packages; the synthetic data; DICOM and NIfTI input", ("store", "synth", "dicom")),
    ("the inference engine; slice images and CAMs", ("inference", "imaging")),
    ("evaluation; benchmarks", ("evaluation", "bench")),
    ("training", ("training",)),
    ("checkpoint import (uses training's fusion fit)", ("importing",)),
    ("settings, and the configurations built from them", ("config",)),
    ("the HTTP API", ("api",)),
    ("the command line", ("cli",)),
    ("`python -m service`", ("__main__",)),
)


def layer_of(unit: str) -> int:
    """The layer's index, 0 at the bottom; a unit not in the table is an error."""
    for index, (_, units) in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(f"{unit!r} is in no layer of service/layers.py; add it where it belongs.")
