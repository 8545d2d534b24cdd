"""Shared fixtures: the repository's pack, the example store, the real Online Retail data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import Plan, compile_paths

from _paths import PACK
from _states import KINDS, new_state
from _tables import clean_schema, pack_with_edge_metrics


@pytest.fixture(scope="session")
def pack_plan() -> Plan:
    return compile_paths([PACK])


@pytest.fixture(scope="session")
def edge_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The pack with every kind of declared metric (tests/data/metrics-edges.yaml)."""
    return compile_paths([pack_with_edge_metrics(tmp_path_factory.mktemp("edges"))])


@pytest.fixture(scope="session")
def clean_tables(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """CREATE statements of the clean tables, as the sources leave them."""
    return clean_schema(tmp_path_factory.mktemp("empty"))


@pytest.fixture()
def example_store(tmp_path: Path) -> Path:
    """A private copy of the bundled example store."""
    target = tmp_path / "store"
    shutil.copytree(example_data_dir(), target)
    return target


@pytest.fixture(params=KINDS)
def state_kind(request: pytest.FixtureRequest) -> str:
    """Each kind of state in turn: "sqlite", then "postgresql" (tests/_states.py)."""
    return str(request.param)


@pytest.fixture()
def any_state(state_kind: str, tmp_path: Path) -> Iterator[str]:
    """A new state of each kind in turn: a SQLite file, then a PostgreSQL schema
    (skipped without a server: tests/_states.py)."""
    with new_state(state_kind, tmp_path) as state:
        yield state


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every case on PostgreSQL carries the `postgres` mark (`pytest -m postgres`)."""
    for item in items:
        params = getattr(item, "callspec", None)
        if params is not None and params.params.get("state_kind") == "postgresql":
            item.add_marker(pytest.mark.postgres)
