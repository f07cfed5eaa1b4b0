"""What `mrnet train` is told: the run, the stages' rates and the augmentation.

Plain dataclasses without torch, so the command line reads its defaults from
here (its `--help` stays fast) and nothing repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.domain import PLANES, Plane

if TYPE_CHECKING:
    from service.model.preprocess import InputSpec


HEAD_FITS = ("located", "adjusted", "free", "direction")
# The head fits adjusted for the other findings' labels.
ADJUSTED_FITS = ("located", "adjusted")


@dataclass(frozen=True)
class Augmentation:
    max_rotation_deg: float = 25.0
    max_shift: float = 0.11  # of the image size
    flip_probability: float = 0.5


@dataclass(frozen=True)
class StageConfig:
    pretrain_lr: float = 1e-4
    finetune_lr: float = 1e-5
    weight_decay: float = 0.01
    slice_batch: int = 32
    easy_per_hard: float = 0.25  # pretraining slices away from ligament and menisci, per focal one
    pretrain_share: float = 1.0  # of the slices other than tears, drawn afresh each epoch
    pretrain_crop: int | None = 128  # centre crop for slice pretraining; None: whole slices
    augmentation: Augmentation = field(default_factory=Augmentation)
    # Slice pretraining from scratch learns only with mild augmentation (measured).
    pretrain_augmentation: Augmentation = field(
        default_factory=lambda: Augmentation(max_rotation_deg=5, max_shift=0.04, flip_probability=0)
    )


def _trained_here() -> InputSpec:
    """The preprocessing of packages trained here (imported late: it needs torch)."""
    from service.model.preprocess import InputSpec

    return InputSpec()


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    tasks: tuple[str, ...] = ("acl",)  # classifier rows, in order
    name: str | None = None  # the package; None: the task, or "triage" for several
    out: Path = Path("model_store")
    planes: tuple[Plane, ...] = PLANES
    epochs: int = 3
    pretrain_epochs: int = 12
    device: str = "auto"
    seed: int = 0
    work_dir: Path | None = None  # None: runs/<package name>-seed<seed>
    resume: bool = False
    backbone_weights: Path | None = None
    min_sensitivity: float = 0.90
    # Train exams the heads and the fusion are fitted on (None: all). After slice
    # pretraining a head fit has two parameters per task, so a subset does, and
    # saves the forward pass of the whole training split.
    head_exams: int | None = None
    # How each task's head is refitted on the pooled features: "adjusted" fits all 256
    # weights (L2, inverse strength chosen from head_c per plane and task by 5-fold
    # cross-validated AUC on the train exams) adjusted for the other findings' labels
    # (stages.fit_task_head); "located" is "adjusted" that also learns, where the data
    # has slice truth, from each positive exam without its finding's slices (a negative)
    # and from those slices pasted into a negative exam (a positive; stages.FindingRows);
    # "free" is "adjusted" without the adjustment; "direction" (after slice pretraining)
    # fits only the scale and bias of the slice-pretrained head.
    head_fit: str = "located"
    # Weaker L2 than 0.1 spread the demo's attention off the finding (its sagittal ACL hit
    # rate 0.96 at 0.1, 0.89 at 0.3; coronal meniscus 0.65 and 0.47), so 0.1 is the largest.
    head_c: tuple[float, ...] = (0.01, 0.03, 0.1)
    stages: StageConfig = field(default_factory=StageConfig)
    spec: InputSpec = field(default_factory=_trained_here)
    bootstrap_rounds: int = 1000
    progress: bool = True

    def __post_init__(self) -> None:
        if self.head_fit not in HEAD_FITS:
            known = ", ".join(HEAD_FITS)
            raise ValueError(f"head_fit must be one of {known}, got {self.head_fit!r}")
        if not self.head_c or min(self.head_c) <= 0:
            raise ValueError(f"head_c must be one or more positive values, got {self.head_c}")

    @property
    def package_name(self) -> str:
        if self.name is not None:
            return self.name
        return self.tasks[0] if len(self.tasks) == 1 else "triage"

    @property
    def work_folder(self) -> Path:
        """Where finished planes are kept."""
        return self.work_dir or Path(f"runs/{self.package_name}-seed{self.seed}")

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a finished plane to be reused on resume."""
        return {
            "data": str(self.data.resolve()),
            "tasks": list(self.tasks),
            "epochs": self.epochs,
            "pretrain_epochs": self.pretrain_epochs,
            "easy_per_hard": self.stages.easy_per_hard,
            "pretrain_crop": self.stages.pretrain_crop,
            "pretrain_share": self.stages.pretrain_share,
            "pretrain_lr": self.stages.pretrain_lr,
            "finetune_lr": self.stages.finetune_lr,
            "head_exams": self.head_exams,
            "head_fit": self.head_fit,
            "head_c": list(self.head_c),
            "seed": self.seed,
            "backbone_weights": str(self.backbone_weights) if self.backbone_weights else None,
        }
