"""Paths the tests share (kept out of conftest so test modules can import them)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "policies"
SCHEMAS = REPO / "schemas"
BENCHMARKS = REPO / "benchmarks"
RETAIL_SAMPLE = Path(__file__).parent / "data" / "online-retail-sample"
SHARED_RETAIL = REPO.parent / "shared" / "data" / "online-retail"


def benchmark_module(name: str) -> ModuleType:
    """benchmarks/<name>.py, a script rather than a package module, imported."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
