"""The domain's one error hierarchy. No HTTP here: the API translates these.

Every message is a full sentence that names the bad value.
"""

from __future__ import annotations


class MRNetError(Exception):
    """Base of every error the service raises on purpose."""


class PackageError(MRNetError):
    """A model package is missing, malformed, or does not verify."""


class PackageNotFoundError(PackageError):
    """No package (or not the pinned version) exists for a task."""


class InvalidVolumeError(MRNetError):
    """An input volume cannot be scored as it is."""

    def __init__(self, plane: str, problem: str) -> None:
        super().__init__(f"The {plane} volume {problem}")
        self.plane = plane
        self.problem = problem


class DatasetError(MRNetError):
    """A data set is missing, malformed, or does not have what was asked for."""
