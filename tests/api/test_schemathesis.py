"""Schemathesis against the app (in process, tiny package and data set): every check on.

Every phase and check of a `schemathesis run` (examples, coverage, fuzzing,
stateful): no 5xx; every status answered is documented; every body, header and
media type conforms to the document; wrong methods get 405. One setting differs:
a schema-valid request may also be answered 422, because the document can say
that a plane is a binary file but not that its bytes must be a valid .npy volume
(or DICOM instance), nor that a `window` string must read "center,width"; and
400, because a multipart part sent without a filename is a text field, and text
fields are capped (8 of them, 1 KiB each), which OpenAPI cannot express.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi

from service.api.app import create_app

from .support import api_settings
from factories import write_tiny_dataset

EXAMPLES = 100  # per operation and phase: about half a minute on two cores


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "workers": 1,
            # the same cases every run, none remembered from an earlier one
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "cache": {"enabled": False},
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "304", "400", "401", "404", "422"],
                },
            },
        }
    )


def _ready(app: Any) -> None:
    with asgi.get_client(app) as client:  # the app's lifespan starts once, for the process
        deadline = time.monotonic() + 60
        for path in ("/health/ready", "/v1/datasets"):
            while client.get(path).status_code != 200:
                assert time.monotonic() < deadline, f"{path} did not get ready"
                time.sleep(0.05)


def _failed_checks(event: events.ScenarioFinished) -> list[str]:
    """Each failed check of a scenario: where, which check, what it found."""
    statuses = {
        case_id: getattr(interaction.response, "status_code", None)
        for case_id, interaction in event.recorder.interactions.items()
    }
    found = [
        f"{event.label}: {check.name} (answered {statuses.get(case_id)}): "
        + (
            f"{check.failure_info.failure.title}: {check.failure_info.failure.message}"
            if check.failure_info
            else str(check.status)
        )
        + (f" ({check.failure_info.code_sample[:300]})" if check.failure_info else "")
        for case_id, checks in event.recorder.checks.items()
        for check in checks
        if check.status in (Status.FAILURE, Status.ERROR)
    ]
    return found or [f"{event.label}: {event.status}"]


def test_the_api_conforms_to_its_document(
    store: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = write_tiny_dataset(tmp_path_factory.mktemp("fuzz") / "tiny", n_train=2, n_valid=2)
    app = create_app(api_settings(store, datasets={"tiny": root}, request_timeout_s=30))
    _ready(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config())
    problems: list[str] = []
    scenarios = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            if event.status in (Status.FAILURE, Status.ERROR):
                problems += _failed_checks(event)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"error: {event}")
        elif isinstance(event, events.EngineFinished):
            problems += [f"{f.title}: {f.message}" for f in event.failures]
    assert not problems, "\n".join(problems[:40])
    assert scenarios >= 11, scenarios  # every operation was exercised
