"""Shared fixtures: the repository's pack, the example store, the real Online Retail data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import Plan, compile_paths

from _paths import PACK


@pytest.fixture(scope="session")
def pack_plan() -> Plan:
    return compile_paths([PACK])


@pytest.fixture()
def example_store(tmp_path: Path) -> Path:
    """A private copy of the bundled example store."""
    target = tmp_path / "store"
    shutil.copytree(example_data_dir(), target)
    return target
