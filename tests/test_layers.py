"""Imports follow the layer order of `service/layers.py`, and packages form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from service.layers import LAYERS, layer_of

SERVICE = Path(__file__).resolve().parents[1] / "service"


def _module_name(path: Path) -> list[str]:
    parts = ["service", *path.relative_to(SERVICE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _unit(module: str) -> str | None:
    """`service.store.loader` -> `store`; `service` -> `__init__`; other libraries -> None."""
    parts = module.split(".")
    if parts[0] != "service":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(path: Path) -> set[str]:
    """Every module this file imports, wherever the statement is (functions, TYPE_CHECKING)."""
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            if module == "service":  # `from service import api` names the unit in the alias
                found.update(f"service.{alias.name}" for alias in node.names)
    return found


def _unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SERVICE.rglob("*.py")):
        source = _unit(".".join(_module_name(path)))
        assert source is not None
        graph.setdefault(source, set())  # a unit that imports nothing is still a node
        for module in _imported(path):
            target = _unit(module)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def _imports_by_file() -> list[tuple[Path, str, str]]:
    rows = []
    for path in sorted(SERVICE.rglob("*.py")):
        source = _unit(".".join(_module_name(path)))
        assert source is not None
        for module in sorted(_imported(path)):
            target = _unit(module)
            if target is not None and target != source:
                rows.append((path.relative_to(SERVICE.parent), module, source))
    return rows


def test_every_unit_under_service_has_a_layer() -> None:
    for unit in _unit_graph():
        layer_of(unit)  # raises KeyError naming the unit


def test_the_table_names_each_unit_once_and_only_units_that_exist() -> None:
    listed = [unit for _, units in LAYERS for unit in units]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(_unit_graph())


def test_no_module_imports_its_own_layer_or_a_higher_one() -> None:
    wrong = [
        f"{path} imports {module} (layer {layer_of(_unit(module) or '')}, "
        f"not below {source}'s {layer_of(source)})"
        for path, module, source in _imports_by_file()
        if layer_of(_unit(module) or "") >= layer_of(source)
    ]
    assert not wrong, "\n".join(wrong)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between units, or None (depth-first search with a path stack)."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_packages_import_one_another_without_a_cycle() -> None:
    assert _cycle(_unit_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_store_imports_none_of_inference_training_importing() -> None:
    assert not _unit_graph()["store"] & {"inference", "training", "importing"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from service.domain import PLANES", {"service.domain"}),
        ("from service import api", {"service", "service.api"}),
        ("from . import loader", {"service.store"}),
        ("from .. import cli", {"service", "service.cli"}),
        ("from ..model.network import MRNetPlane", {"service.model.network"}),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from service.api.app import create_app\n"
            "def f() -> None:\n    import service.training.run\n",
            {"typing", "service.api.app", "service.training.run"},
        ),
    ],
)
def test_imports_are_found_wherever_they_are(
    tmp_path: Path, source: str, expected: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "service"
    (fake / "store").mkdir(parents=True)
    path = fake / "store" / "writer.py"
    path.write_text(source)
    monkeypatch.setattr(f"{__name__}.SERVICE", fake)
    assert _imported(path) == expected
