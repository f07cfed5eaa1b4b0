"""The docs hold what the code says: settings, the layer order, links that resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.config import Settings
from service.layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _default(value: object) -> str:
    if value is None or value == [] or value == {}:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps({k: str(v) for k, v in value.items()})
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def settings_table() -> str:
    """The table docs/operations.md must hold: every setting, its default, its meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        rows.append(f"| `MRNET_{name.upper()}` | `{_default(default)}` | {field.description} |")
    return "\n".join(rows)


def layers_table() -> str:
    """The table docs/contributing.md must hold: service/layers.py, top layer first."""
    rows = ["| layer | packages | what |", "|---:|---|---|"]
    for index, (what, units) in reversed(list(enumerate(LAYERS))):
        rows.append(f"| {index} | {', '.join(f'`{u}`' for u in units)} | {what} |")
    return "\n".join(rows)


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_operations_lists_every_setting_with_its_default() -> None:
    table = settings_table()
    assert table in (DOCS / "operations.md").read_text(), f"put this table there:\n{table}"


def test_contributing_shows_the_layer_order_of_service_layers() -> None:
    table = layers_table()
    assert table in (DOCS / "contributing.md").read_text(), f"put this table there:\n{table}"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve_and_nothing_points_outside_the_clone(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}"


def test_the_readme_is_a_front_door_that_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "```mermaid" in readme and "not for clinical use" in readme.lower()
    for page in PAGES:
        assert f"docs/{page.name}" in readme, f"the README does not link docs/{page.name}"
