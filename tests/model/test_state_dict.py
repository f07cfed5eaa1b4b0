"""One check that a state dict fits the plane network: the writer, loader and import use it."""

from __future__ import annotations

import torch

from service.model.network import MRNetPlane, plane_shapes, state_dict_problem


def test_the_network_s_own_state_dict_fits_and_its_shapes_are_listed() -> None:
    assert state_dict_problem(MRNetPlane(3).state_dict(), 3) is None
    assert plane_shapes(3)["classifier.weight"] == (3, 256)
    assert set(plane_shapes()) == set(MRNetPlane().state_dict())


def test_missing_unexpected_and_wrong_shapes_are_named() -> None:
    state = dict(MRNetPlane().state_dict())
    del state["features.10.bias"]
    state["head.weight"] = torch.zeros(1)
    assert state_dict_problem(state) == "missing ['features.10.bias'], unexpected ['head.weight']"
    wrong = dict(MRNetPlane().state_dict(), **{"features.0.weight": torch.zeros(64, 1, 11, 11)})
    assert state_dict_problem(wrong) == (
        "features.0.weight has shape (64, 1, 11, 11), expected (64, 3, 11, 11)"
    )


def test_a_checkpoint_format_s_names_can_be_checked_with_the_same_function() -> None:
    state = {"model.features.0.weight": torch.zeros(2, 3)}
    assert state_dict_problem(state, expected={"model.features.0.weight": (2, 3)}) is None
    wrong = state_dict_problem(state, expected={"model.features.0.weight": (3, 2)})
    assert wrong == "model.features.0.weight has shape (2, 3), expected (3, 2)"
