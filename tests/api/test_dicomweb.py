"""dicomweb-client's STOW-RS call, pointed at the service: the study is scored.

A DICOMweb client posts to `<base>/studies`; with the base `.../v1` and the
STOW prefix `predictions` that is `/v1/predictions/studies`. Its answer is the
prediction (not a DICOM JSON status), which the client's response callback reads.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread

from service.domain import PLANES
from service.store.loader import ModelPackage

from .support import api_settings, assert_matches, reference, running_server
from dicom_factories import study, view_volume


def test_dicomweb_client_store_instances_is_scored(store: Path, package: ModelPackage) -> None:
    rng = np.random.default_rng(21)
    volumes = {
        plane: view_volume(rng, slices=n) for plane, n in zip(PLANES, (4, 5, 6), strict=True)
    }
    datasets = [dcmread(io.BytesIO(data)) for data in study(volumes)]  # as read from files
    answers: list[dict[str, Any]] = []

    def keep(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        answers.append({"status": response.status_code, "body": response.json()})
        return response

    settings = api_settings(store, min_series_slices=3, max_upload_bytes=1024 * 1024)
    with running_server(settings) as url:
        client = DICOMwebClient(url=f"{url}/v1", stow_url_prefix="predictions", callback=keep)
        status = client.store_instances(datasets)
    assert len(status) == 0  # not a DICOM JSON status: the prediction is the answer
    [answer] = answers
    assert answer["status"] == 200, answer
    assert_matches(answer["body"], reference(package, volumes))
    assert answer["body"]["input"]["planes"]["sagittal"]["series_description"] == "SAG T2 FS"
