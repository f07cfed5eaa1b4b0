"""Fixtures for the browser tests: the real demo model and a small synthetic data set behind a
real uvicorn server, driven by Debian's Chromium through Playwright (one of each per module)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.support import running_server
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from service.config import Settings
from service.datasets.layout import labels_path, read_labels
from service.synth.generate import generate_dataset

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
API_KEY = "viewer-test-key"
DATASET = "synth"
SPLIT = "valid"
VIEWPORT = {"width": 1400, "height": 900}
START_TIMEOUT_S = 60.0
# Playwright's 5 s default is short for a first CAM (three volumes through the network) on a
# busy two-core machine; a passing wait is no slower for it.
expect.set_options(timeout=30_000)


@dataclass(frozen=True)
class Site:
    """The running server and the data set it serves."""

    url: str
    root: Path

    def api(self, path: str) -> Any:
        """GET a /v1 path with the key; the JSON body (the tests' reference values)."""
        headers = {"Authorization": f"Bearer {API_KEY}"}
        response = httpx.get(self.url + path, headers=headers, timeout=60)
        response.raise_for_status()
        return response.json()

    def case_path(self, case_id: str) -> str:
        return f"/v1/datasets/{DATASET}/{SPLIT}/cases/{case_id}"

    def acl_labels(self) -> dict[str, int]:
        return read_labels(labels_path(self.root, SPLIT, "acl"))

    def positive_case(self) -> str:
        return min(case_id for case_id, label in self.acl_labels().items() if label == 1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic exams, as `mrnet synth --train 3 --valid 3 --seed 7 --format npy,dicom`
    writes them (each also a DICOM study, for the study upload)."""
    root = tmp_path_factory.mktemp("viewer") / DATASET
    generate_dataset(
        root, n_train=3, n_valid=3, seed=7, workers=1, progress=False, formats=("npy", "dicom")
    )
    labels = set(read_labels(labels_path(root, SPLIT, "acl")).values())
    assert labels == {0, 1}, "the fixture needs a torn and an intact ACL in valid"
    return root


def _wait_until_indexed(url: str) -> None:
    """The data set index is built beside the models: wait for it too, or fail."""
    deadline = time.monotonic() + START_TIMEOUT_S
    headers = {"Authorization": f"Bearer {API_KEY}"}
    while httpx.get(f"{url}/v1/datasets", headers=headers, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the data set index was not built in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def site(synth_root: Path) -> Iterator[Site]:
    """The app with the demo model package (256x256) and API keys on, in a uvicorn thread."""
    settings = Settings(
        model_store=REPO / "model_store",
        datasets={DATASET: synth_root},
        device="cpu",
        torch_threads=2,
        api_keys=[API_KEY],
        max_queue_delay_ms=0.0,
    )
    with running_server(settings) as url:
        _wait_until_indexed(url)
        yield Site(url=url, root=synth_root)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh tab state per test. Playwright's waits evaluate strings, which the page's
    Content-Security-Policy forbids; one test runs under the policy instead."""
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    yield context
    context.close()


def enter_key(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()


@pytest.fixture
def viewer(context: BrowserContext, site: Site) -> Iterator[Page]:
    """The viewer with the API key entered and the case list loaded; fails on any script error."""
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(site.url)
    enter_key(page, API_KEY)
    expect(page.locator("#case option")).to_have_count(len(site.acl_labels()))
    yield page
    assert not errors, errors
