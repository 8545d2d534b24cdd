"""benchmarks/baseline.sql on the generated franchise (benchmarks/generate.py, tiny
scale), as the benchmarks run it: the same actions as the engine over the whole two
years, calendar, complaints and host events included; without those optional files
the policies reading them fire nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from loyaltyrules.engine.batch import evaluate
from loyaltyrules.plan import Plan

from _paths import benchmark_module

FIRST, LAST = dt.date(2024, 1, 1), dt.date(2026, 1, 1)  # the data's days and the night after
OPTIONAL = ("calendar", "complaints", "events")
READING_THEM = {"holiday-greeting", "season-greeting", "complaint-reply", "email-reply"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("franchise")
    benchmark_module("generate").generate(path, scale=0.0005)
    return path


def _handwritten(data: Path, out: Path) -> Counter[tuple[str, str, str]]:
    benchmark_module("handwritten_run").run(data, FIRST, LAST, out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return Counter((r["policy"], r["customer_id"], r["as_of"]) for r in rows)


def test_the_baseline_fires_what_the_engine_does(pack_plan: Plan, data: Path,
                                                 tmp_path: Path) -> None:
    db = str(tmp_path / "canonical.duckdb")
    benchmark_module("bench_nightly").load(str(data), db)
    with duckdb.connect(db) as con:
        engine = Counter((str(a["policy"]), str(a["customer_id"]), str(a["as_of"]))
                         for a in evaluate(con, pack_plan, FIRST, LAST).actions)
    baseline = _handwritten(data, tmp_path / "actions.jsonl")
    assert engine - baseline == Counter(), "fired by the engine only"
    assert baseline - engine == Counter(), "fired by the baseline only"
    assert {policy for policy, _c, _d in baseline} >= READING_THEM


def test_without_the_optional_tables_their_policies_fire_nothing(data: Path,
                                                                 tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("stores", "customers", "purchases"):
        (bare / f"{name}.parquet").write_bytes((data / f"{name}.parquet").read_bytes())
    fired = {policy for policy, _c, _d in _handwritten(bare, tmp_path / "actions.jsonl")}
    assert not fired & READING_THEM
    assert {"a-class-monthly-call", "vip-gathering", "lapsed-contact"} <= fired
