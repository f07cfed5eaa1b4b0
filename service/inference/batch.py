"""One packed batch: the slices of several exams through each plane's backbone once.

Every task an exam asks for that lives on a backbone is attributed from the
same features: the backbone runs once per plane for all of them, and each task
head splits its own logit (`attribute_heads`).

On CUDA the forward runs under float16 autocast, channels-last. On the CPU it
runs in float32 on `CpuPlane` copies of the networks (Winograd 3x3 layers,
unless turned off), and the packed stack goes through the backbone in chunks of
`CPU_FORWARD_SLICES`: AlexNet's activations for 16 slices of 256x256 stay in
cache, for 96 they do not (measured on 2 cores: 5.9 ms per slice in chunks of
8 to 32, 8.7 ms in one forward of 96). Attribution is computed from float32
features on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from service.domain import PLANES, Plane
from service.inference.cpu_plane import CpuPlane
from service.inference.predictor import ExamPrediction, PlanePrediction, fuse
from service.model.attribution import attribute_heads
from service.model.network import MRNetPlane
from service.store.loader import LoadedBackbone, ModelPackage

CPU_FORWARD_SLICES = 16


@dataclass(frozen=True)
class BatchStats:
    exams: int
    slices: dict[Plane, int]

    @property
    def total_slices(self) -> int:
        return sum(self.slices.values())


def for_device(package: ModelPackage, cpu_winograd: bool = True) -> ModelPackage:
    """The package as the engine runs it.

    On the CPU, a copy whose planes are `CpuPlane`s (the loaded package is left
    as it is); `cpu_winograd=False` keeps the direct 3x3 convolutions. On CUDA,
    the same package with its networks moved to channels-last memory.
    """
    if package.device.type == "cpu":
        backbones = [
            LoadedBackbone(
                b.tasks, {p: CpuPlane(n, winograd=cpu_winograd) for p, n in b.planes.items()}
            )
            for b in package.backbones
        ]
        return replace(package, backbones=backbones)
    for backbone in package.backbones:
        for network in backbone.planes.values():
            network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return package


def plane_features(network: MRNetPlane, stack: Tensor, device: torch.device) -> Tensor:
    """Per-slice features (N, 256), float32 on the CPU, for a packed stack (N, 1, h, w)."""
    stack = stack.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    chunks = torch.split(stack, CPU_FORWARD_SLICES) if device.type == "cpu" else (stack,)
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"),
    ):
        return torch.cat([network.embed(chunk).float().cpu() for chunk in chunks])  # (N, 256)


def _plane_predictions(
    network: MRNetPlane, stacks: list[Tensor], rows: list[list[int]], device: torch.device
) -> list[list[PlanePrediction]]:
    """Features once over the packed stacks, then each volume's heads `rows[v]`."""
    lengths = [int(stack.shape[0]) for stack in stacks]
    features = plane_features(network, torch.cat(stacks), device)  # (sum(lengths), 256)
    weight = network.classifier.weight.detach().float().cpu()  # (T, 256)
    bias = network.classifier.bias.detach().float().cpu()  # (T,)
    predictions = []
    for part, length, heads in zip(torch.split(features, lengths), lengths, rows, strict=True):
        results = attribute_heads(part, weight[heads], bias[heads])  # part: (length, 256)
        predictions.append([PlanePrediction.of(r, length) for r in results])
    return predictions


@dataclass(frozen=True)
class BatchExam:
    """One exam of a batch: its prepared planes (S, 1, h, w) and the tasks it asks for."""

    planes: dict[Plane, Tensor]
    tasks: tuple[str, ...]


def _run_backbone(
    package: ModelPackage,
    backbone: LoadedBackbone,
    exams: list[BatchExam],
    results: list[dict[str, ExamPrediction]],
    slices: dict[Plane, int],
) -> None:
    """Each plane's network once over the exams that ask for one of the backbone's tasks."""
    members = [
        (index, [task for task in exam.tasks if task in backbone.tasks])
        for index, exam in enumerate(exams)
    ]
    members = [(index, tasks) for index, tasks in members if tasks]
    if not members:
        return
    rows = [[backbone.tasks.index(task) for task in tasks] for _, tasks in members]
    per_plane: dict[Plane, list[list[PlanePrediction]]] = {}
    for plane in PLANES:
        stacks = [exams[index].planes[plane] for index, _ in members]
        per_plane[plane] = _plane_predictions(backbone.planes[plane], stacks, rows, package.device)
        slices[plane] += sum(int(stack.shape[0]) for stack in stacks)
    for member, (index, tasks) in enumerate(members):
        for head, task in enumerate(tasks):
            planes = {plane: per_plane[plane][member][head] for plane in PLANES}
            results[index][task] = fuse(package, task, planes, [])


def run_batch(
    package: ModelPackage, exams: list[BatchExam]
) -> tuple[list[dict[str, ExamPrediction]], BatchStats]:
    """Score several prepared exams of one package together: per exam, each task it asks for."""
    results: list[dict[str, ExamPrediction]] = [{} for _ in exams]
    slices = dict.fromkeys(PLANES, 0)
    for backbone in package.backbones:
        _run_backbone(package, backbone, exams, results, slices)
    ordered = [
        {task: result[task] for task in exam.tasks}
        for exam, result in zip(exams, results, strict=True)
    ]
    return ordered, BatchStats(len(exams), slices)
