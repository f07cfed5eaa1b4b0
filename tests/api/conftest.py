"""Fixtures for the HTTP API tests: one tiny package and an app that serves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.store.loader import ModelPackage, load_package
from service.store.writer import write_package

from .support import api_settings, serve
from factories import draft, random_states


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store with one random-weights acl package (64x64 input)."""
    root = tmp_path_factory.mktemp("api-store")
    write_package(root, draft(), random_states(7))
    return root


@pytest.fixture(scope="session")
def package(store: Path) -> ModelPackage:
    """The served package, loaded apart from the app: the unbatched reference."""
    return load_package(store, "acl")


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    """A ready app with the default test settings, shared by a module's tests."""
    with serve(api_settings(store)) as client:
        yield client
