"""Types and helpers shared by the subcommand modules.

Options take their defaults from the dataclass fields they fill (`default_of`),
and a configuration is built from the options named like its fields
(`from_options`), so no subcommand repeats a default or copies field by field.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Config = TypeVar("Config", bound="DataclassInstance")


def default_of(config: type[DataclassInstance], name: str) -> Any:
    """The default of the dataclass field `name` (its factory called where it has one)."""
    for field in fields(config):
        if field.name != name:
            continue
        if field.default is not MISSING:
            return field.default
        if field.default_factory is not MISSING:
            return field.default_factory()
        raise ValueError(f"{config.__name__}.{name} has no default.")
    raise ValueError(f"{config.__name__} has no field {name!r}.")


def from_options(config: type[Config], args: argparse.Namespace, **overrides: Any) -> Config:
    """`config` from the parsed options named like its fields, then `overrides`."""
    given = {f.name: getattr(args, f.name) for f in fields(config) if hasattr(args, f.name)}
    return config(**{**given, **overrides})
