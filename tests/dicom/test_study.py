"""The study reader: geometry, ordering, selection and screening on built studies."""

from __future__ import annotations

import numpy as np
import pytest

from service.dicom.caps import Part, StudyCaps
from service.dicom.instances import read_instance
from service.dicom.pixels import stack_volume
from service.dicom.rules import DEFAULT_RULES
from service.dicom.series import series_stacks
from service.dicom.study import Study, read_study
from service.domain import PLANES, Plane
from service.errors import MissingPlaneError

from dicom_factories import ALL_STORAGES, Storage, encode, enhanced, series, study, view_volume

CAPS = StudyCaps(min_series_slices=3)


def _read(files: list[bytes], size: int = 64, caps: StudyCaps = CAPS) -> Study:
    parts = [Part(f"part {n}", data) for n, data in enumerate(files, start=1)]
    return read_study(parts, DEFAULT_RULES, caps, size)


def _volumes(rng: np.random.Generator) -> dict[Plane, np.ndarray]:
    return {plane: view_volume(rng, slices=4 + n) for n, plane in enumerate(PLANES)}


def _one_series(files: list[bytes]) -> np.ndarray:
    instances = [read_instance(Part(f"part {n}", data), CAPS) for n, data in enumerate(files)]
    [stack], _ = series_stacks([i for i in instances if i is not None], CAPS)
    return stack_volume(stack, 64).voxels


@pytest.mark.parametrize("plane", PLANES)
def test_every_storage_order_gives_the_view_back(plane: Plane, rng: np.random.Generator) -> None:
    volume = view_volume(rng, slices=4)
    for storage in ALL_STORAGES:
        files = [encode(ds) for ds in series(volume, plane, storage=storage)]
        assert np.array_equal(_one_series(files[::-1]), volume), storage


def test_a_study_in_flipped_storage_reads_back(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    storages = {
        "axial": Storage(flip_slices=True, flip_rows=True),
        "coronal": Storage(transpose=True, flip_columns=True),
        "sagittal": Storage(flip_slices=True, flip_rows=True, flip_columns=True, transpose=True),
    }
    result = _read(study(volumes, storages))
    for plane in PLANES:
        assert np.array_equal(result.volumes[plane], volumes[plane]), plane


def test_the_report_names_the_series_used(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    result = _read(study(volumes))
    used = result.used["sagittal"]
    assert used.series_description == "SAG T2 FS"
    assert used.series_number == 3
    assert used.slices == volumes["sagittal"].shape[0]
    assert used.pixel_spacing_mm == (0.5, 0.5)
    assert used.slice_spacing_mm == pytest.approx(3.0)
    assert used.orientation == (0, 1, 0, 0, 0, -1)
    assert "matches the rule" in used.reason
    assert result.not_used == [] and result.warnings == []


def test_enhanced_multiframe_with_frames_out_of_order(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    files = study({p: v for p, v in volumes.items() if p != "coronal"})
    storage = Storage(flip_slices=True, transpose=True)
    frames = volumes["coronal"].shape[0]
    order = list(np.random.default_rng(3).permutation(frames))
    files.append(
        encode(enhanced(volumes["coronal"], "coronal", storage=storage, frame_order=order))
    )
    result = _read(files)
    assert np.array_equal(result.volumes["coronal"], volumes["coronal"])
    assert result.used["coronal"].slices == frames


def test_rules_choose_the_protocol_series_over_a_larger_one(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    extra = view_volume(rng, slices=9)
    files = study(volumes) + [
        encode(ds) for ds in series(extra, "sagittal", description="SAG PD", number=7)
    ]
    result = _read(files)
    assert result.used["sagittal"].series_description == "SAG T2 FS"
    assert np.array_equal(result.volumes["sagittal"], volumes["sagittal"])
    [passed] = result.not_used
    assert passed.series_description == "SAG PD" and passed.plane == "sagittal"
    assert "preferred by the selection rules" in passed.reason


def test_without_a_matching_description_the_most_slices_win(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    small, large = view_volume(rng, slices=4), view_volume(rng, slices=8)
    files = study({p: v for p, v in volumes.items() if p != "axial"})
    for volume, text in ((small, "AX one"), (large, "AX two")):
        files += [encode(ds) for ds in series(volume, "axial", description=text, number=9)]
    result = _read(files)
    assert result.used["axial"].series_description == "AX two"
    assert "most slices" in result.used["axial"].reason


def test_rules_are_a_setting(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    extra = view_volume(rng, slices=4)
    files = study(volumes) + [
        encode(ds) for ds in series(extra, "sagittal", description="SAG PD", number=7)
    ]
    rules = {**DEFAULT_RULES, "sagittal": ["PD"]}
    parts = [Part(f"part {n}", data) for n, data in enumerate(files)]
    result = read_study(parts, rules, CAPS, 64)
    assert result.used["sagittal"].series_description == "SAG PD"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"modality": "CT"}, "modality is CT"),
        ({"image_type": ("DERIVED", "SECONDARY")}, "DERIVED/SECONDARY"),
        ({"image_type": ("ORIGINAL", "PRIMARY", "LOCALIZER")}, "LOCALIZER"),
    ],
)
def test_screened_series_are_reported(
    change: dict[str, object], reason: str, rng: np.random.Generator
) -> None:
    volumes = _volumes(rng)
    extra = view_volume(rng, slices=9)
    files = study(volumes) + [
        encode(ds)
        for ds in series(extra, "axial", description="AX PD FS", number=8, **change)  # type: ignore[arg-type]
    ]
    result = _read(files)
    assert np.array_equal(result.volumes["axial"], volumes["axial"])
    [screened] = result.not_used
    assert screened.series_number == 8 and reason in screened.reason


def test_mixed_orientations_are_split_never_stacked(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    uid = "1.2.826.0.1.3680043.8.498.77"
    localizer = [
        ds
        for plane in PLANES
        for ds in series(
            view_volume(rng, 2), plane, description="3-PLANE", number=1, series_uid=uid
        )
    ]
    result = _read(study(volumes) + [encode(ds) for ds in localizer])
    assert {item.plane for item in result.not_used} == set(PLANES)
    assert all(
        "orientation" in item.reason and "2 slices" in item.reason for item in result.not_used
    )


def test_duplicates_and_uneven_spacing_are_handled_and_reported(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    datasets = series(volumes["axial"], "axial")
    copy = series(volumes["axial"], "axial", series_uid=datasets[0].SeriesInstanceUID)[1]
    copy.InstanceNumber = 99
    del datasets[2]  # a missing slice: one gap of two steps
    files = study({p: v for p, v in volumes.items() if p != "axial"})
    result = _read(files + [encode(ds) for ds in [*datasets, copy]])
    expected = np.delete(volumes["axial"], 2, axis=0)
    assert np.array_equal(result.volumes["axial"], expected)
    text = " ".join(result.warnings)
    assert "positions already taken" in text and "uneven slice spacing" in text


def test_monochrome1_is_inverted(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    files = study({p: v for p, v in volumes.items() if p != "coronal"})
    files += [encode(ds) for ds in series(volumes["coronal"], "coronal", monochrome1=True)]
    assert np.array_equal(_read(files).volumes["coronal"], volumes["coronal"])


def test_an_oblique_series_is_a_warning(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    datasets = series(volumes["axial"], "axial")
    angle = np.radians(30)
    for ds in datasets:  # tilt the slices 30 degrees about the left-right axis
        ds.ImageOrientationPatient = [1, 0, 0, 0, float(np.cos(angle)), float(np.sin(angle))]
    files = study({p: v for p, v in volumes.items() if p != "axial"})
    result = _read(files + [encode(ds) for ds in datasets])
    assert result.used["axial"].obliquity_degrees == pytest.approx(30, abs=0.01)
    assert any("30 degrees oblique to the axial plane" in w for w in result.warnings)


def test_a_missing_plane_names_it_and_lists_what_was_found(rng: np.random.Generator) -> None:
    volumes = _volumes(rng)
    files = study({p: v for p, v in volumes.items() if p != "axial"})
    files += [encode(ds) for ds in series(view_volume(rng, 9), "axial", modality="CT")]
    with pytest.raises(MissingPlaneError) as caught:
        _read(files)
    message = str(caught.value)
    assert "no usable axial series" in message
    assert "'SAG T2 FS': sagittal" in message and "modality is CT" in message


def test_non_square_pixels_are_resampled_keeping_the_aspect_ratio(
    rng: np.random.Generator,
) -> None:
    volumes = _volumes(rng)
    wide = np.full((5, 32, 64), 200, dtype=np.uint8)
    wide[:, 0, 0] = 0
    files = study({p: v for p, v in volumes.items() if p != "sagittal"})
    files += [encode(ds) for ds in series(wide, "sagittal", spacing=(3.0, 1.0, 1.0))]
    result = _read(files, size=128)
    volume = result.volumes["sagittal"]
    assert volume.shape == (5, 128, 128)
    assert (volume[:, :32] == 0).all() and (volume[:, -32:] == 0).all()  # padded, not stretched
    assert (volume[:, 40:88, 10:118] == 255).all()  # 200 is the maximum: min-max makes it 255
    assert any("keeping its aspect ratio" in w for w in result.warnings)
