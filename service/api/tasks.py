"""Which tasks a request asks for: `tasks` (comma separated), or its one-task synonym `task`."""

from __future__ import annotations

from dataclasses import dataclass

from service.api.problems import FieldError, ProblemError

TASKS_FIELD = "tasks"
TASK_FIELD = "task"  # the one-task synonym that older clients send


@dataclass(frozen=True)
class TaskRequest:
    """The tasks named (None: every served task) and the field that named them."""

    names: tuple[str, ...] | None
    field: str = TASKS_FIELD


def _invalid(field: str, message: str) -> ProblemError:
    errors = [FieldError(field=field, message=message)]
    return ProblemError(422, "invalid-request", "Invalid request", message, errors=errors)


def task_request(tasks: str | None, task: str | None) -> TaskRequest:
    """Read the two fields; 422 when both are sent or one names no task."""
    if tasks is not None and task is not None:
        raise _invalid(
            TASK_FIELD, f"Send {TASKS_FIELD!r} or its one-task synonym {TASK_FIELD!r}, not both."
        )
    if task is not None:
        if not task.strip():
            raise _invalid(TASK_FIELD, "The task field is empty; name a task or leave it out.")
        return TaskRequest((task.strip(),), TASK_FIELD)
    if tasks is None:
        return TaskRequest(None)
    names = tuple(dict.fromkeys(part.strip() for part in tasks.split(",") if part.strip()))
    if not names:
        raise _invalid(
            TASKS_FIELD,
            "The tasks field names no task; send e.g. 'acl,meniscus', or leave it out "
            "to score every served task.",
        )
    return TaskRequest(names)
