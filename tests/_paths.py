"""Paths the tests share (kept out of conftest so test modules can import them)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "policies"
SCHEMAS = REPO / "schemas"
RETAIL_SAMPLE = Path(__file__).parent / "data" / "online-retail-sample"
SHARED_RETAIL = REPO.parent / "shared" / "data" / "online-retail"
