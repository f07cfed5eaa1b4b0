"""The viewer in Chromium: cases, slices, attention, CAM overlays, uploads and API keys."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Route,
    expect,
)

from service.domain import PLANES

from .conftest import API_KEY, DATASET, REPO, SPLIT, VIEWPORT, Site, enter_key

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # the real 256x256 model behind it

SCORE_TIMEOUT_MS = 60_000
SCREENSHOT = REPO / "build" / "screenshots" / "viewer.png"
DASH = "\N{EN DASH}"
PLANES_SHOWN = ("sagittal", "coronal", "axial")  # left to right
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return [el.id || el.getAttribute('aria-label') || el.textContent.trim(), visible];
}"""


def panel(page: Page, plane: str) -> Locator:
    return page.locator(f'section.plane[data-plane="{plane}"]')


def open_case(page: Page, case_id: str) -> None:
    page.get_by_role("listbox", name=re.compile("^Case")).select_option(case_id)
    expect(page.locator("#status")).to_contain_text(f"Case {case_id}:", timeout=SCORE_TIMEOUT_MS)


def expect_slice(page: Page, plane: str, source_end: str) -> Locator:
    """The plane shows the image fetched from a URL ending so, decoded at its full 256 pixels."""
    image = panel(page, plane).locator("img.slice")
    expect(image).to_have_attribute("data-src", re.compile(re.escape(source_end) + "$"))
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 256
    return image


def opened(answer: dict[str, Any], plane: str) -> int:
    """Where a plane opens for a task's answer: its top-attention slice, else the middle."""
    result = answer["planes"][plane]
    top: list[int] = result["top_slices"]
    return top[0] if top else int(result["num_slices"]) // 2


def test_without_the_key_the_page_says_so_and_with_it_works(
    context: BrowserContext, site: Site
) -> None:
    page = context.new_page()
    page.goto(site.url)
    error = page.get_by_role("alert")
    expect(error).to_contain_text("An API key is required")
    expect(error).to_contain_text("Enter the API key")
    expect(page.locator("#case option")).to_have_count(0)

    enter_key(page, "not-the-key")
    expect(error).to_contain_text("The API key is wrong")

    enter_key(page, API_KEY)
    expect(page.locator("#case option")).to_have_count(len(site.acl_labels()))
    expect(error).to_have_text("")
    expect(page.locator("#model-info")).to_contain_text("not for clinical use")
    assert page.evaluate("() => sessionStorage.getItem('mrnet.apiKey')") == API_KEY


def test_a_case_shows_its_slices_labels_and_prediction(viewer: Page, site: Site) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    case = site.api(site.case_path(case_id))
    reference = site.api(site.case_path(case_id) + "/prediction")

    expect(viewer.locator("#probability")).to_have_text(f"{reference['probability']:.3f}")
    verdict = "Positive" if reference["positive"] else "Negative"
    expect(viewer.locator("#decision")).to_contain_text(verdict)
    expect(viewer.locator("#threshold")).to_contain_text(f"{reference['threshold']:.3g}")
    expect(viewer.locator("#truth")).to_have_text("ACL tear")
    for plane in PLANES:
        row = viewer.locator("#plane-rows tr", has_text=plane)
        expect(row).to_contain_text(f"{reference['planes'][plane]['probability']:.3f}")
        n, index = case["planes"][plane]["num_slices"], opened(reference, plane)
        image = expect_slice(viewer, plane, f"/{case_id}/{plane}/slices/{index}.png")
        expect(image).to_have_attribute("alt", f"{plane} slice {index + 1} of {n}")
        expect(panel(viewer, plane).locator("output")).to_have_text(f"slice {index + 1} / {n}")
        expect(panel(viewer, plane).locator("button.bar")).to_have_count(n)
        first, last = case["acl_slices"][plane]
        expect(panel(viewer, plane).locator("button.bar.truth")).to_have_count(last - first + 1)

    for plane in PLANES:  # where the model looked, for the picture in the README
        top = reference["planes"][plane]["top_slices"][0]
        panel(viewer, plane).locator(f'button.bar[data-index="{top}"]').click()
        expect_slice(viewer, plane, f"/{plane}/slices/{top}.png")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 50_000


def _bar_labels(page: Page, plane: str) -> list[str]:
    return (
        panel(page, plane)
        .locator("button.bar")
        .evaluate_all("bars => bars.map(bar => bar.getAttribute('aria-label'))")
    )


def test_the_task_switch_drives_the_answer_the_bars_the_slices_and_the_cam(
    viewer: Page, site: Site
) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    reference = site.api(site.case_path(case_id) + "/prediction")
    tasks = reference["tasks"]
    assert set(tasks) == {"abnormal", "acl", "meniscus"}
    names = {"abnormal": "Abnormality", "acl": "ACL tear", "meniscus": "Meniscal tear"}
    for task, answer in tasks.items():  # the three answers, side by side
        row = viewer.locator(f'#task-rows tr[data-task="{task}"]')
        expect(row).to_contain_text(names[task])
        expect(row).to_contain_text(f"{answer['probability']:.3f}")
        expect(row).to_contain_text("Positive" if answer["positive"] else "Negative")
        expect(row).to_contain_text(f"at {answer['threshold']:.3g}")
    expect(viewer.get_by_label("ACL tear", exact=True)).to_be_checked()
    viewer.get_by_label("Show class activation map (CAM) overlay").check()

    for task in ("meniscus", "abnormal", "acl"):
        viewer.get_by_label(names[task], exact=True).check()
        answer = tasks[task]
        expect(viewer.locator("#probability-label")).to_have_text(names[task])
        expect(viewer.locator("#probability")).to_have_text(f"{answer['probability']:.3f}")
        for plane in PLANES:
            index = opened(answer, plane)
            expect_slice(viewer, plane, f"/{plane}/slices/{index}/cam.png?task={task}")
            expect(viewer.get_by_label(f"{plane.capitalize()} slice")).to_have_value(str(index + 1))
            attention = answer["planes"][plane]["attention"]
            labels = _bar_labels(viewer, plane)
            assert [label.split(", ")[1] for label in labels] == [
                f"attention {value:.2f}" for value in attention
            ]
    acl, meniscus = tasks["acl"]["planes"], tasks["meniscus"]["planes"]
    assert any(acl[p]["attention"] != meniscus[p]["attention"] for p in PLANES)


def test_the_slider_moves_by_mouse_and_keys(viewer: Page, site: Site) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    case = site.api(site.case_path(case_id))
    reference = site.api(site.case_path(case_id) + "/prediction")
    n = case["planes"]["sagittal"]["num_slices"]
    slider = viewer.get_by_label("Sagittal slice")
    start = opened(reference, "sagittal")
    before = expect_slice(viewer, "sagittal", f"/slices/{start}.png").get_attribute("src")

    assert start != 2, "the test drags to slice 3: open on another"
    slider.fill("3")  # as a drag leaves it: slice 3, index 2
    after = expect_slice(viewer, "sagittal", f"/{case_id}/sagittal/slices/2.png")
    assert after.get_attribute("src") != before
    expect(slider).to_have_attribute("aria-valuetext", f"slice 3 of {n}")

    for key, index in [("ArrowRight", 3), ("PageUp", 8), ("End", n - 1), ("PageDown", n - 6)]:
        slider.press(key)
        expect_slice(viewer, "sagittal", f"/sagittal/slices/{index}.png")
        expect(slider).to_have_value(str(index + 1))
    slider.press("Home")
    expect_slice(viewer, "sagittal", "/sagittal/slices/0.png")
    expect(panel(viewer, "sagittal").locator("output")).to_have_text(f"slice 1 / {n}")
    expect_slice(viewer, "coronal", f"/coronal/slices/{opened(reference, 'coronal')}.png")


def test_a_click_on_an_attention_bar_moves_that_planes_slider(viewer: Page, site: Site) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    reference = site.api(site.case_path(case_id) + "/prediction")
    attention = reference["planes"]["coronal"]["attention"]
    start = opened(reference, "coronal")  # the top slice: click the second-highest bar
    target = max((i for i in range(len(attention)) if i != start), key=attention.__getitem__)

    name = re.compile(rf"^slice {target + 1}, attention {attention[target]:.2f}\b")
    bar = panel(viewer, "coronal").get_by_role("button", name=name)
    bar.click()
    expect(viewer.get_by_label("Coronal slice")).to_have_value(str(target + 1))
    expect_slice(viewer, "coronal", f"/{case_id}/coronal/slices/{target}.png")
    expect(bar).to_have_attribute("aria-current", "true")
    sagittal = opened(reference, "sagittal")
    expect(viewer.get_by_label("Sagittal slice")).to_have_value(str(sagittal + 1))


def test_the_cam_toggle_switches_every_plane_to_overlays_and_back(viewer: Page, site: Site) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    reference = site.api(site.case_path(case_id) + "/prediction")
    toggle = viewer.get_by_label("Show class activation map (CAM) overlay")

    toggle.check()
    for plane in PLANES:
        index = opened(reference, plane)
        image = expect_slice(viewer, plane, f"/{plane}/slices/{index}/cam.png?task=acl")
        expect(image).to_have_attribute("alt", re.compile("class activation map overlay$"))
    toggle.uncheck()
    for plane in PLANES:
        expect_slice(viewer, plane, f"/{plane}/slices/{opened(reference, plane)}.png")


def test_positives_only_lists_the_acl_tears(viewer: Page, site: Site) -> None:
    labels = site.acl_labels()
    options = viewer.locator("#case option")
    viewer.get_by_label("ACL tears only (acl = 1)").check()
    expect(options).to_have_count(sum(labels.values()))
    for text in options.all_inner_texts():
        assert " ACL 1 " in text and labels[text.split()[0]] == 1
    viewer.get_by_label("ACL tears only (acl = 1)").uncheck()
    expect(options).to_have_count(len(labels))


def test_an_uploaded_exam_is_scored_like_the_same_stored_case(
    viewer: Page, site: Site, tmp_path: Path
) -> None:
    case_id = site.positive_case()
    reference = site.api(site.case_path(case_id) + "/prediction")
    for plane in PLANES:
        upload = tmp_path / f"{plane}.npy"
        upload.write_bytes((site.root / SPLIT / plane / f"{case_id}.npy").read_bytes())
        viewer.get_by_label(f"{plane.capitalize()} series (.npy)").set_input_files(upload)

    viewer.get_by_role("button", name="Score exam").click()
    expect(viewer.locator("#status")).to_contain_text("Uploaded exam:", timeout=SCORE_TIMEOUT_MS)
    expect(viewer.locator("#result-heading")).to_have_text("Uploaded exam")
    expect(viewer.locator("#probability")).to_have_text(f"{reference['probability']:.3f}")
    expect(viewer.get_by_label("Show class activation map (CAM) overlay")).to_be_disabled()
    for plane in PLANES:
        n = reference["planes"][plane]["num_slices"]
        expect(panel(viewer, plane).locator("button.bar")).to_have_count(n)
        expect_slice(viewer, plane, f"upload:{plane}/{opened(reference, plane)}")
    panel(viewer, "axial").locator('button.bar[data-index="1"]').click()
    expect_slice(viewer, "axial", "upload:axial/1")


def _expect_study_scored(viewer: Page, site: Site, case_id: str) -> None:
    reference = site.api(site.case_path(case_id) + "/prediction")
    viewer.get_by_role("button", name="Score study").click()
    expect(viewer.locator("#status")).to_contain_text("Uploaded study:", timeout=SCORE_TIMEOUT_MS)
    expect(viewer.locator("#result-heading")).to_have_text("Uploaded study")
    shown = float(viewer.locator("#probability").inner_text())
    assert abs(shown - reference["probability"]) <= 0.002  # the same exam, read from DICOM
    used = viewer.locator("#study-input")
    expect(used).to_be_visible()
    for plane, description in (
        ("sagittal", "SAG T2 FS"),
        ("coronal", "COR T1"),
        ("axial", "AX PD FS"),
    ):
        row = used.locator(f'tr[data-plane="{plane}"]')
        expect(row).to_contain_text(description)
        expect(row).to_contain_text(str(reference["planes"][plane]["num_slices"]))
        expect(panel(viewer, plane).locator("button.bar")).to_have_count(
            reference["planes"][plane]["num_slices"]
        )
    expect(viewer.locator("#series-not-used")).to_contain_text("3-PLANE LOC")
    expect(viewer.locator("#series-not-used")).to_contain_text("LOCALIZER")


def test_a_dicom_folder_is_scored_and_shows_the_series_used(viewer: Page, site: Site) -> None:
    case_id = site.positive_case()
    viewer.get_by_label("DICOM folder").set_input_files(site.root / SPLIT / "dicom" / case_id)
    _expect_study_scored(viewer, site, case_id)


def test_a_study_zip_is_scored_and_shows_the_series_used(
    viewer: Page, site: Site, tmp_path: Path
) -> None:
    case_id = min(site.acl_labels())
    folder = site.root / SPLIT / "dicom" / case_id
    archive = tmp_path / f"{case_id}.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.iterdir()):
            handle.write(path, f"{case_id}/{path.name}")
    viewer.get_by_label("Study zip").set_input_files(archive)
    _expect_study_scored(viewer, site, case_id)
    viewer.get_by_role("listbox", name=re.compile("^Case")).select_option(case_id)
    expect(viewer.locator("#study-input")).to_be_hidden()  # a stored case has no series list


def test_the_page_works_under_its_content_security_policy(browser: Browser, site: Site) -> None:
    """No bypass here: the page, its modules, blob: images and fetches all fit the policy;
    the address #dataset/split/case opens that case once the key is in."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        problems: list[str] = []

        def complain(message: ConsoleMessage) -> None:
            if message.type == "error" and "401 (Unauthorized)" not in message.text:
                problems.append(message.text)  # a 401 is expected until the key is in

        page.on("console", complain)
        page.on("pageerror", lambda e: problems.append(str(e)))
        case_id = site.positive_case()
        response = page.goto(f"{site.url}/#{DATASET}/{SPLIT}/{case_id}")
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        enter_key(page, API_KEY)
        expect(page.locator("#status")).to_contain_text(
            f"Case {case_id}:", timeout=SCORE_TIMEOUT_MS
        )
        index = opened(site.api(site.case_path(case_id) + "/prediction"), "axial")
        expect_slice(page, "axial", f"/{case_id}/axial/slices/{index}.png")
        assert not problems, problems
    finally:
        context.close()


def test_more_cases_than_a_page_are_paged(context: BrowserContext, site: Site) -> None:
    """The server's answer is stretched to 120 cases: the pager asks for the next 50 and back."""
    offsets: list[str] = []

    def stretch(route: Route) -> None:
        offset = re.search(r"offset=(\d+)", route.request.url)
        assert offset is not None, route.request.url
        offsets.append(offset.group(1))
        body = route.fetch().json()
        route.fulfill(json={**body, "total": 120})

    page = context.new_page()
    page.route(re.compile(r"/cases\?"), stretch)
    page.goto(site.url)
    enter_key(page, API_KEY)
    info = page.locator("#page-info")
    expect(info).to_have_text(re.compile(rf"^Cases 1{DASH}\d+ of 120$"))
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(info).to_contain_text(f"Cases 51{DASH}")
    page.get_by_role("button", name="Previous page").click()
    expect(info).to_contain_text(f"Cases 1{DASH}")
    assert offsets[-3:] == ["0", "50", "0"]


def test_keyboard_alone_reaches_every_control_in_order_with_a_visible_focus(
    viewer: Page, site: Site
) -> None:
    case_id = site.positive_case()
    open_case(viewer, case_id)
    viewer.reload()  # focus starts at the top again; the address reopens the case
    expect(viewer.locator("#status")).to_contain_text(f"Case {case_id}:")
    unlabelled = viewer.evaluate(
        """() => [...document.querySelectorAll('input, select')]
                .filter(el => !el.labels.length && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
    )
    assert unlabelled == []

    stops = []
    for _ in range(40):  # Tab until the focus leaves the page
        viewer.keyboard.press("Tab")
        stop = viewer.evaluate(FOCUSED)
        if stop is None:
            break
        stops.append(stop)
    names = [name for name, _ in stops]
    assert names[:19] == [
        "Skip to the exam", "API docs (Swagger UI)", "ReDoc", "api-key", "Use key", "forget-key",
        "dataset", "split", "positives", "case", "upload-axial", "upload-coronal",
        "upload-sagittal", "upload-submit", "study-folder", "study-zip", "study-submit",
        "task-acl", "cam",
    ]  # fmt: skip  # the task switch is one stop: its selected task
    sliders, bars = names[19::2], names[20::2]  # each slider, then its current slice's bar only
    assert sliders == [f"{plane}-slider" for plane in PLANES_SHOWN]
    assert len(bars) == 3 and all(re.match(r"^slice \d+, attention ", bar) for bar in bars), bars
    assert [name for name, visible in stops if not visible] == []

    slider = viewer.get_by_label("Sagittal slice")
    current = int(slider.input_value())
    panel(viewer, "sagittal").locator("button.bar.current").focus()
    viewer.keyboard.press("ArrowLeft")  # moves the focus along the chart, not the slice
    expect(slider).to_have_value(str(current))
    viewer.keyboard.press("Enter")
    expect(slider).to_have_value(str(current - 1))


def _npy(array: npt.NDArray[Any]) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return base64.b64encode(buffer.getvalue()).decode()


READ_VOLUME = """async (encoded) => {
  const { readVolume } = await import('/viewer/npy.js');
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  try {
    const volume = readVolume(bytes.buffer);
    return [volume.slices, volume.height, volume.width, Array.from(volume.gray)];
  } catch (error) {
    return error.message;
  }
}"""


def test_uploads_are_previewed_as_the_service_shows_stored_slices(
    context: BrowserContext, site: Site
) -> None:
    """uint8 as it is; other types min-max scaled over the volume; what cannot be shown says why."""
    page = context.new_page()
    page.goto(site.url)
    values = np.random.default_rng(3).integers(0, 200, (3, 4, 5))
    for array in (values.astype(np.uint8), (values - 100).astype(">i2"), values * 0.5 + 9.0):
        low, high = float(array.min()), float(array.max())
        gray = np.floor((array - low) * 255 / (high - low) + 0.5).astype(np.uint8)
        expected = array if array.dtype == np.uint8 else gray
        assert page.evaluate(READ_VOLUME, _npy(array)) == [3, 4, 5, expected.ravel().tolist()]
    assert "3-D" in page.evaluate(READ_VOLUME, _npy(values[0]))
    assert "Fortran" in page.evaluate(READ_VOLUME, _npy(np.asfortranarray(values)))
