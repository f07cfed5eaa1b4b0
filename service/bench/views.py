"""A one-task view of a package: the same backbone with only one task's head.

`mrnet bench engine` times a multi-task package against this view on the same
exams: the difference is what the other tasks cost.
"""

from __future__ import annotations

from dataclasses import replace

from service.model.network import MRNetPlane
from service.store.loader import LoadedBackbone, ModelPackage


def _one_head(network: MRNetPlane, row: int) -> MRNetPlane:
    state = dict(network.state_dict())
    state["classifier.weight"] = state["classifier.weight"][row : row + 1]  # (1, 256)
    state["classifier.bias"] = state["classifier.bias"][row : row + 1]  # (1,)
    view = MRNetPlane(num_tasks=1)
    view.load_state_dict(state)
    device = next(network.parameters()).device
    return view.to(device).eval()


def one_task_view(package: ModelPackage, task: str) -> ModelPackage:
    """`package` as if it carried `task` alone: the backbone of the task, its head only.

    Call it on a loaded package (before `for_device`); the networks are copies.
    """
    index, row = package.manifest.locate(task)
    networks = package.backbones[index].planes
    planes = {plane: _one_head(network, row) for plane, network in networks.items()}
    manifest = package.manifest
    weights = manifest.weights.model_copy(
        update={
            "backbones": [manifest.weights.backbones[index].model_copy(update={"tasks": [task]})]
        }
    )
    view = manifest.model_copy(update={"tasks": [manifest.head(task)], "weights": weights})
    return replace(package, manifest=view, backbones=[LoadedBackbone((task,), planes)])
