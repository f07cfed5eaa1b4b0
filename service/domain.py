"""The domain vocabulary every layer shares: the planes of an exam and MRNet's tasks.

It imports nothing of the project, so the model, the store, the engine and the
data layer can all name a plane without importing one another.
"""

from __future__ import annotations

from typing import Final, Literal

Plane = Literal["axial", "coronal", "sagittal"]
PLANES: Final[tuple[Plane, ...]] = ("axial", "coronal", "sagittal")

Task = Literal["abnormal", "acl", "meniscus"]
# MRNet's three questions; ACL is the primary answer (the prediction's top-level fields).
TASKS: Final[tuple[Task, ...]] = ("abnormal", "acl", "meniscus")
PRIMARY_TASK: Final[Task] = "acl"
