"""Fixtures for the browser tests: the real demo model and a small synthetic data set behind a
real uvicorn server, driven by Debian's Chromium through Playwright (one of each per module)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from api.support import running_server
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from service.config import Settings
from service.datasets.layout import labels_path, read_labels
from service.domain import PLANES, TASKS
from service.store.loader import load_package
from service.store.manifest import PackageDraft
from service.store.selection import select_packages
from service.store.writer import write_package
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
        pytest.fail(f"{CHROMIUM} is missing: `make tools` installs it (Debian's chromium)")
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


def _derived_triage(store: Path) -> None:
    """A package of MRNet's three tasks on the demo acl package's backbone (float16, as it is).

    acl keeps its head, fusion and threshold; abnormal and meniscus get the acl head's
    weights rolled over the 256 features, so their attention differs from acl's. Test
    weights for the task switch, not a model.
    """
    acl = load_package(store, "acl")
    head = acl.manifest.head("acl")
    states = {}
    for plane in PLANES:
        state = {k: v.clone() for k, v in acl.planes[plane].state_dict().items()}
        row, bias = state["classifier.weight"][0], state["classifier.bias"][0]
        rows = {"abnormal": row.roll(64), "acl": row, "meniscus": row.roll(160)}
        state["classifier.weight"] = torch.stack([rows[t] for t in TASKS])  # (3, 256)
        state["classifier.bias"] = bias.repeat(3)  # (3,)
        states[plane] = state
    draft = PackageDraft(
        name="viewer-triage",
        input=acl.manifest.input,
        tasks=[head.model_copy(update={"task": task}) for task in TASKS],
        training=acl.manifest.training,
        intended_use="Derived from the demo acl package for the viewer's tests; "
        + acl.manifest.intended_use,
    )
    write_package(store, draft, states, dtype="float16")


@pytest.fixture(scope="module")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store when it serves MRNet's three tasks; until then (the one-task acl demo
    package) a copy of it with a derived three-task package, so the task switch has tasks."""
    demo = REPO / "model_store"
    if set(select_packages(demo).tasks) >= set(TASKS):
        return demo
    store = tmp_path_factory.mktemp("viewer-store")
    shutil.copytree(demo, store, dirs_exist_ok=True)
    _derived_triage(store)
    return store


@pytest.fixture(scope="module")
def site(synth_root: Path, model_store: Path) -> Iterator[Site]:
    """The app with the demo model (256x256) and API keys on, in a uvicorn thread."""
    settings = Settings(
        model_store=model_store,
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
