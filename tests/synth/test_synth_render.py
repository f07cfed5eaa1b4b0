"""One rendered case: a local tear, a central ACL, planes that agree, plausible contrast."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest

from service.domain import PLANES
from service.synth.cohort import CasePlan
from service.synth.render import RenderedCase, render_case
from service.synth.sampling import sample_case
from service.synth.tissues import ACL_REGION, Tissue

TORN = CasePlan(
    acl_tear=True, meniscus_tear=True, effusion=True, bone_bruise=True, acl_degeneration=False
)


@pytest.fixture(scope="module")
def torn_and_intact() -> tuple[RenderedCase, RenderedCase]:
    params = sample_case(3, TORN, seed=11)
    return render_case(params), render_case(dataclasses.replace(params, acl_tear=None))


def _acl_voxels(case: RenderedCase, plane: str) -> npt.NDArray[np.intp]:
    return np.argwhere(np.isin(case.labels[plane], [int(t) for t in ACL_REGION]))  # (n, 3)


def test_the_tear_changes_only_the_tear_slices(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    torn, intact = torn_and_intact
    assert torn.meta["labels"]["acl"] == 1 and intact.meta["labels"]["acl"] == 0
    for plane in PLANES:
        tears = torn.meta["planes"][plane]["tear_slices"]
        changed = np.flatnonzero((torn.volumes[plane] != intact.volumes[plane]).any(axis=(1, 2)))
        assert tears, plane
        assert changed.tolist() == tears, plane  # confined to them, and visible in each
        assert intact.meta["planes"][plane]["tear_slices"] == []


def test_the_gap_is_brighter_than_the_intact_ligament_on_t2(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    torn, intact = torn_and_intact
    gap = np.repeat(np.repeat(torn.labels["sagittal"] == Tissue.ACL_TEAR, 2, 1), 2, 2)
    assert gap.sum() > 20
    brighter = torn.volumes["sagittal"][gap].mean() - intact.volumes["sagittal"][gap].mean()
    assert brighter > 25


@pytest.mark.parametrize("number", [0, 1, 2, 3])
def test_the_acl_is_in_the_central_sagittal_slices(number: int) -> None:
    params = sample_case(number, TORN, seed=5)
    case = render_case(params)
    first, last = case.meta["planes"]["sagittal"]["acl_slices"]
    count = params.slices["sagittal"].num_slices
    assert abs((first + last) / 2 - (count - 1) / 2) <= 0.2 * count
    assert 2 <= last - first + 1 <= 8


def test_the_planes_show_the_acl_in_the_same_place(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    case = torn_and_intact[1]
    centres = [case.geometry[p].world(_acl_voxels(case, p)).mean(axis=0) for p in PLANES]
    assert np.ptp(np.array(centres), axis=0).max() < 3.0  # mm


def test_the_acl_runs_from_posterior_superior_to_anterior_inferior_in_every_plane(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    case = torn_and_intact[1]
    # sagittal: rows go down, columns go back (anterior on the left)
    k, i, j = _acl_voxels(case, "sagittal").T
    assert np.corrcoef(i, j)[0, 1] < -0.5
    # coronal: slices go forward, rows go down
    k, i, j = _acl_voxels(case, "coronal").T
    assert np.corrcoef(k, i)[0, 1] > 0.5
    # axial: slices go down, rows go back
    k, i, j = _acl_voxels(case, "axial").T
    assert np.corrcoef(k, i)[0, 1] < -0.5


def _mean(case: RenderedCase, plane: str, tissue: Tissue) -> float:
    mask = np.repeat(np.repeat(case.labels[plane] == tissue, 2, 1), 2, 2)  # (S, 256, 256)
    return float(case.volumes[plane][mask].mean())


def test_each_plane_has_its_own_contrast(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    case = torn_and_intact[1]
    for plane in ("sagittal", "axial"):  # fluid-sensitive, fat-suppressed
        assert _mean(case, plane, Tissue.FLUID) > 2 * _mean(case, plane, Tissue.MARROW)
        assert _mean(case, plane, Tissue.CARTILAGE) > _mean(case, plane, Tissue.MUSCLE)
    # T1: fat and marrow bright, fluid dark grey
    assert _mean(case, "coronal", Tissue.MARROW) > 2 * _mean(case, "coronal", Tissue.FLUID)
    assert _mean(case, "coronal", Tissue.FAT) > _mean(case, "coronal", Tissue.MUSCLE)
    for plane in PLANES:
        assert _mean(case, plane, Tissue.AIR) < 15
        assert _mean(case, plane, Tissue.MENISCUS) < _mean(case, plane, Tissue.CARTILAGE)


def _changed_slices(a: RenderedCase, b: RenderedCase, plane: str) -> list[int]:
    return np.flatnonzero((a.volumes[plane] != b.volumes[plane]).any(axis=(1, 2))).tolist()


def test_finding_slices_span_the_slices_each_finding_changes(
    torn_and_intact: tuple[RenderedCase, RenderedCase],
) -> None:
    torn, intact = torn_and_intact
    params = sample_case(3, TORN, seed=11)
    without = {
        "meniscus_tear": render_case(dataclasses.replace(params, meniscus_tear=None)),
        "bone_bruise": render_case(dataclasses.replace(params, bone_bruise=None)),
    }
    for plane in PLANES:
        spans = torn.meta["planes"][plane]["finding_slices"]
        assert set(spans) == {"acl_tear", "meniscus_tear", "effusion", "bone_bruise"}, plane
        tears = torn.meta["planes"][plane]["tear_slices"]
        assert spans["acl_tear"] == [tears[0], tears[-1]]
        assert "acl_tear" not in intact.meta["planes"][plane]["finding_slices"]
        for finding, other in without.items():
            changed = _changed_slices(torn, other, plane)
            assert spans[finding] == [changed[0], changed[-1]], (plane, finding)
            assert finding not in other.meta["planes"][plane]["finding_slices"]
        first, last = spans["effusion"]
        assert last - first >= 3  # the recesses fill several slices
        menisci = torn.meta["planes"][plane]["meniscus_slices"]
        assert menisci[0] <= spans["meniscus_tear"][0] <= spans["meniscus_tear"][1] <= menisci[1]


def test_no_effusion_no_effusion_slices() -> None:
    plan = dataclasses.replace(TORN, effusion=False)
    case = render_case(sample_case(3, plan, seed=11))
    for plane in PLANES:
        assert "effusion" not in case.meta["planes"][plane]["finding_slices"]
