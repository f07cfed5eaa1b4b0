"""The domain's one error hierarchy. No HTTP here: the API translates these.

Every message is a full sentence that names the bad value.
"""

from __future__ import annotations

from collections.abc import Sequence


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


class InvalidExamError(MRNetError):
    """One or more volumes of an exam cannot be scored; each is named."""

    def __init__(self, volumes: list[InvalidVolumeError]) -> None:
        super().__init__(" ".join(str(volume) for volume in volumes))
        self.volumes = volumes


class DatasetError(MRNetError):
    """A data set is missing, malformed, or does not have what was asked for."""


class InvalidQueryError(MRNetError):
    """A query parameter is malformed or asks for something the data cannot answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownTaskError(MRNetError):
    """A prediction asked for a task that no served package covers.

    `field` names the request part that asked (`tasks`, or the one-task synonym `task`).
    """

    def __init__(self, tasks: Sequence[str], served: Sequence[str], field: str = "tasks") -> None:
        named = ", ".join(repr(task) for task in tasks)
        verb = "is" if len(tasks) == 1 else "are"
        super().__init__(
            f"Task{'s' if len(tasks) != 1 else ''} {named} {verb} not served; "
            f"the served tasks are {', '.join(served) or 'none'}."
        )
        self.tasks = list(tasks)
        self.served = list(served)
        self.field = field


class QueueFullError(MRNetError):
    """The inference queue holds as many slices as it may; try again shortly."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceededError(MRNetError):
    """A prediction did not finish before its deadline."""


class NotReadyError(MRNetError):
    """The models are not loaded (yet, or because a package failed to verify)."""


class StudyError(MRNetError):
    """A DICOM study (or one of its instances) cannot be turned into an exam."""


class InvalidInstanceError(StudyError):
    """One uploaded instance (a STOW-RS part or an archive member) is not readable DICOM."""

    def __init__(self, instance: str, problem: str) -> None:
        super().__init__(f"The instance {instance} {problem}")
        self.instance = instance
        self.problem = problem


class UnsupportedTransferSyntaxError(StudyError):
    """An instance's pixel data is in a transfer syntax no installed decoder reads."""

    def __init__(self, instance: str, uid: str, name: str) -> None:
        super().__init__(
            f"The instance {instance} is encoded as {name} ({uid}), "
            "which this service cannot decode."
        )
        self.instance = instance
        self.uid = uid


class StudyTooLargeError(StudyError):
    """A study is over one of the caps (instances, inflated bytes, archive members, pixels)."""


class MissingPlaneError(StudyError):
    """A study has no usable series for one or more planes."""

    def __init__(self, planes: Sequence[str], found: Sequence[str]) -> None:
        listed = "; ".join(found) if found else "none"
        names = " or ".join([", ".join(planes[:-1]), planes[-1]] if len(planes) > 1 else planes)
        super().__init__(f"The study has no usable {names} series. Series found: {listed}.")
        self.planes = list(planes)
        self.found = list(found)
