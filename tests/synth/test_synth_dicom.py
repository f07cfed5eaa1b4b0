"""`mrnet synth --format dicom`: each case also as a DICOM study that reads back to its volumes.

The reference reader here is deliberately plain and independent of the writer:
group by series, order slices by ImagePositionPatient projected on the normal,
turn the axes to the radiological view by ImageOrientationPatient, min-max to
0..255. It is the processing the service's DICOM reader documents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from service.cli import main
from service.domain import PLANES, Plane
from service.synth import PREVALENCE, sample_case, sample_plans
from service.synth.generate import generate_dataset
from service.synth.params import CaseParams

SEED = 0  # its two cases show every storage variation the generator makes (asserted below)
N_TRAIN = 2
DESCRIPTIONS: dict[Plane, str] = {"sagittal": "SAG T2 FS", "coronal": "COR T1", "axial": "AX PD FS"}
# LPS directions of the .npy axes (slices, rows, columns): the documented convention.
NPY_AXES: dict[Plane, tuple[tuple[float, float, float], ...]] = {
    "sagittal": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # to left; to inferior; to posterior
    "coronal": ((0, -1, 0), (0, 0, -1), (1, 0, 0)),  # to anterior; to inferior; to left
    "axial": ((0, 0, -1), (0, 1, 0), (1, 0, 0)),  # to inferior; to posterior; to left
}

Study = dict[str, list[Dataset]]  # SeriesDescription -> instances, in file order


@dataclass(frozen=True)
class SynthDicom:
    root: Path
    studies: dict[str, Study]  # case id -> its series

    def npy(self, case_id: str, plane: Plane) -> npt.NDArray[np.uint8]:
        volume: npt.NDArray[np.uint8] = np.load(self.root / "train" / plane / f"{case_id}.npy")
        return volume


def _read_study(directory: Path) -> Study:
    study: Study = defaultdict(list)
    for path in sorted(directory.iterdir()):
        ds = dcmread(path)
        study[str(ds.SeriesDescription)].append(ds)
    return dict(study)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthDicom:
    root = tmp_path_factory.mktemp("synth-dicom") / "data"
    generate_dataset(root, N_TRAIN, 0, SEED, workers=1, progress=False, formats=("npy", "dicom"))
    studies = {d.name: _read_study(d) for d in sorted((root / "train" / "dicom").iterdir())}
    return SynthDicom(root, studies)


def _params(number: int) -> CaseParams:
    """The case's parameters, drawn as generate_dataset draws them for the train split."""
    plans = sample_plans(N_TRAIN, PREVALENCE["train"], np.random.default_rng([SEED, 10_000]))
    return sample_case(number, plans[number], SEED)


def _normal(ds: Dataset) -> npt.NDArray[np.float64]:
    iop = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
    return np.cross(iop[:3], iop[3:])


def _depth(ds: Dataset) -> float:
    return float(np.asarray(ds.ImagePositionPatient, dtype=np.float64) @ _normal(ds))


def reference_volume(instances: list[Dataset], plane: Plane) -> npt.NDArray[np.uint8]:
    """What the documented reader makes of one series: (S, H, W) uint8 in the .npy orientation."""
    ordered = sorted(instances, key=_depth)
    stack = np.stack([apply_modality_lut(ds.pixel_array, ds) for ds in ordered])  # (S, H, W)
    iop = np.asarray(ordered[0].ImageOrientationPatient, dtype=np.float64)
    stored = [_normal(ordered[0]), iop[3:], iop[:3]]  # directions of the stack's axes
    order, signs = [], []
    for target in np.asarray(NPY_AXES[plane], dtype=np.float64):
        dots = [float(d @ target) for d in stored]
        axis = int(np.argmax(np.abs(dots)))
        order.append(axis)
        signs.append(dots[axis])
    volume = stack.transpose(order).astype(np.float64)
    for axis, sign in enumerate(signs):
        if sign < 0:
            volume = np.flip(volume, axis)
    low, high = volume.min(), volume.max()
    return np.rint((volume - low) * 255.0 / (high - low)).astype(np.uint8)


def _min_max(volume: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    low, high = float(volume.min()), float(volume.max())
    return np.rint((volume.astype(np.float64) - low) * 255.0 / (high - low)).astype(np.uint8)


def test_every_file_is_an_explicit_vr_mr_image_with_12_bit_values(synth: SynthDicom) -> None:
    for study in synth.studies.values():
        instances = [ds for series in study.values() for ds in series]
        assert len({ds.StudyInstanceUID for ds in instances}) == 1
        assert len({ds.FrameOfReferenceUID for ds in instances}) == 1
        assert len({ds.SOPInstanceUID for ds in instances}) == len(instances)
        for ds in instances:
            assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
            assert ds.SOPClassUID == MRImageStorage == ds.file_meta.MediaStorageSOPClassUID
            assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
            for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID):
                assert uid.is_valid
            assert ds.Modality == "MR" and list(ds.ImageType[:2]) == ["ORIGINAL", "PRIMARY"]
            assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
            assert ds.pixel_array.dtype == np.uint16 and int(ds.pixel_array.max()) <= 4095
            assert ds.pixel_array.shape == (ds.Rows, ds.Columns)


def test_diagnostic_series_read_back_to_the_npy_volumes(synth: SynthDicom) -> None:
    exact = 0
    for case_id, study in synth.studies.items():
        for plane in PLANES:
            npy = synth.npy(case_id, plane)
            got = reference_volume(study[DESCRIPTIONS[plane]], plane)
            np.testing.assert_array_equal(got, _min_max(npy))
            if npy.min() == 0 and npy.max() == 255:
                np.testing.assert_array_equal(got, npy)
                exact += 1
    assert exact > 0  # a volume that spans 0..255 comes back as it is


def test_geometry_is_the_phantoms_reslicing(synth: SynthDicom) -> None:
    for number, (case_id, study) in enumerate(synth.studies.items()):
        params = _params(number)
        knee_centre = np.asarray(params.pose.shift_mm) * np.array([1.0, -1.0, 1.0])  # (3,) LPS
        for plane in PLANES:
            spec, series = params.slices[plane], study[DESCRIPTIONS[plane]]
            assert len(series) == spec.num_slices == synth.npy(case_id, plane).shape[0]
            for ds in series:
                assert ds.PixelSpacing == pytest.approx([spec.fov_mm / 256] * 2, abs=1e-4)
                assert float(ds.SpacingBetweenSlices) == pytest.approx(spec.spacing_mm, abs=1e-4)
                assert float(ds.SliceThickness) <= spec.spacing_mm
                assert float(ds.SliceLocation) == pytest.approx(_depth(ds), abs=1e-3)
            positions = np.array([ds.ImagePositionPatient for ds in sorted(series, key=_depth)])
            steps = np.diff(positions, axis=0)  # (S - 1, 3): straight along the normal
            normal = _normal(series[0])
            np.testing.assert_allclose(
                steps, np.outer(np.ones(len(steps)), normal) * spec.spacing_mm, atol=2e-3
            )
            # The knee the phantom is posed around lies inside every series' block.
            first = positions[0]
            iop = np.asarray(series[0].ImageOrientationPatient, dtype=np.float64)
            local = np.linalg.solve(np.stack([iop[:3], iop[3:], normal]).T, knee_centre - first)
            extent = spec.fov_mm - spec.fov_mm / 256
            assert 0 < local[0] < extent and 0 < local[1] < extent
            assert 0 < local[2] < (spec.num_slices - 1) * spec.spacing_mm


def test_each_study_has_a_three_plane_localizer(synth: SynthDicom) -> None:
    for study in synth.studies.values():
        localizer = study["3-PLANE LOC"]
        assert len(localizer) == 9 and {int(ds.SeriesNumber) for ds in localizer} == {1}
        assert all(list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "LOCALIZER"] for ds in localizer)
        planes = {int(np.argmax(np.abs(_normal(ds)))) for ds in localizer}
        assert planes == {0, 1, 2}  # sagittal, coronal and axial images in one series
        others = [ds for name, series in study.items() if name != "3-PLANE LOC" for ds in series]
        assert all("LOCALIZER" not in ds.ImageType for ds in others)


def test_an_extra_sagittal_series_appears_in_some_studies(synth: SynthDicom) -> None:
    with_extra = [c for c, study in synth.studies.items() if "SAG T1" in study]
    assert 0 < len(with_extra) < len(synth.studies)
    for case_id in with_extra:
        study = synth.studies[case_id]
        extra, chosen = study["SAG T1"], study["SAG T2 FS"]
        assert all(int(np.argmax(np.abs(_normal(ds)))) == 0 for ds in extra)  # sagittal
        assert len(extra) == len(chosen)  # the slice count does not tell them apart
        assert extra[0].SeriesInstanceUID != chosen[0].SeriesInstanceUID
        assert {ds.SeriesNumber for ds in extra}.isdisjoint({ds.SeriesNumber for ds in chosen})
        volume = reference_volume(extra, "sagittal")
        assert np.mean(volume != synth.npy(case_id, "sagittal")) > 0.5  # another contrast


def test_storage_varies_as_scanners_store_series(synth: SynthDicom) -> None:
    reversed_order = mirrored = shuffled = 0
    for case_id, study in synth.studies.items():
        rescaled = []
        for plane in PLANES:
            series = sorted(study[DESCRIPTIONS[plane]], key=lambda ds: int(ds.InstanceNumber))
            reversed_order += _depth(series[0]) > _depth(series[1])  # instance 1 at the far end
            canonical = np.cross(*np.asarray(NPY_AXES[plane][1:])[::-1])  # columns x rows
            mirrored += float(_normal(series[0]) @ canonical) < 0  # the normal turned round
            rescaled += [ds for ds in series if "RescaleSlope" in ds]
        assert len({ds.SeriesDescription for ds in rescaled}) == 1
        assert float(rescaled[0].RescaleSlope) != 1.0
        names = sorted((synth.root / "train" / "dicom" / case_id).iterdir())
        in_file_order = [
            (int(ds.SeriesNumber), int(ds.InstanceNumber)) for ds in map(dcmread, names)
        ]
        shuffled += in_file_order != sorted(in_file_order)
    assert reversed_order > 0 and mirrored > 0
    assert 0 < shuffled < len(synth.studies)  # file names follow the slices in some studies only


def test_same_seed_gives_the_same_bytes(synth: SynthDicom, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_dataset(again, N_TRAIN, 0, SEED, workers=2, progress=False, formats=("dicom",))
    first = sorted(p.relative_to(synth.root) for p in synth.root.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second and len(first) > 200
    for path in first:
        assert (synth.root / path).read_bytes() == (again / path).read_bytes(), path


def test_cli_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synth", "--out", str(tmp_path / "out"), "--train", "1", "--format", "npy,nifti"])
    assert code == 1
    assert "unknown format 'nifti'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
