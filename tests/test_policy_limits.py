"""Limits per policy (conditions, actions, expression size, file size), each reported
where it is passed; and a policy at the limits compiles and runs in time linear in its
size (a policy's conditions used to be planned by DuckDB in quadratic time: 3,000
conditions took 28 s and 6 GB)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loyaltyrules.engine.batch import evaluate
from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import compile_paths
from loyaltyrules.sources import LoadedSource, open_source
from loyaltyrules.validation import limits
from loyaltyrules.validation.pipeline import validate_paths

DAY = dt.date(2025, 11, 20)
HEAD = ["id: big", "title: A big policy", "version: 1", "trigger: {kind: purchase}",
        "params:", "  n: {type: int, default: 3}"]
ACTION = ["  - type: call", "    assignee: {role: store_staff}", "    window: {due_by: 7d}"]


def condition(i: int, width: int = 0) -> str:
    text = f'purchase.amount > {i} || customer.region in ["r{i}", "s{i}"] || params.n > {i}'
    return text + " || true" * width


def policy(folder: Path, conditions: int, actions: int = 1, width: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [*HEAD, "conditions:", *(f"  - {condition(i, width)}" for i in range(conditions)),
             "actions:", *ACTION * actions]
    (folder / "big.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def located(folder: Path) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.col) for d in validate_paths([folder]).errors]


def test_too_many_conditions_points_at_the_first_one_over(tmp_path: Path) -> None:
    folder = policy(tmp_path, limits.MAX_CONDITIONS + 1)
    assert located(folder) == [("policy.too-many-conditions", 8 + limits.MAX_CONDITIONS, 5)]


def test_too_many_actions_points_at_the_first_one_over(tmp_path: Path) -> None:
    folder = policy(tmp_path, 1, limits.MAX_ACTIONS + 1)
    line = 10 + 3 * limits.MAX_ACTIONS
    assert located(folder) == [("policy.too-many-actions", line, 5)]


def test_too_much_expression_text_points_where_the_total_passes(tmp_path: Path) -> None:
    each = len(condition(0, 200))
    count = limits.MAX_EXPRESSION_CHARS // each + 1
    assert count <= limits.MAX_CONDITIONS
    folder = policy(tmp_path, count, width=200)
    assert located(folder) == [("policy.too-complex", 8 + count - 1, 5)]


def test_a_policy_file_over_the_size_limit(tmp_path: Path) -> None:
    folder = policy(tmp_path, 1)
    path = folder / "big.yaml"
    path.write_text(path.read_text(encoding="utf-8")
                    + "# " + "x" * limits.MAX_POLICY_BYTES + "\n", encoding="utf-8")
    assert located(folder) == [("policy.too-large", 1, 1)]


def test_ten_thousand_conditions_are_refused_quickly(tmp_path: Path) -> None:
    folder = policy(tmp_path, 10_000)
    started = time.perf_counter()
    codes = [code for code, _line, _col in located(folder)]
    assert codes == ["policy.too-large", "policy.too-many-conditions", "policy.too-complex"]
    assert time.perf_counter() - started < 10


# -- a large but legal policy -------------------------------------------------------------
@pytest.fixture(scope="module")
def store() -> Iterator[LoadedSource]:
    source = open_source(example_data_dir())
    yield source
    source.connection.close()


def _compile_and_run(folder: Path, source: LoadedSource, tries: int = 2
                     ) -> tuple[float, float]:
    """Seconds to validate and compile a policy set, and to evaluate it on a store
    (the best of `tries`)."""
    compiled = evaluated = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        plan = compile_paths([folder])
        middle = time.perf_counter()
        evaluate(source.connection, plan, DAY, DAY)
        compiled = min(compiled, middle - started)
        evaluated = min(evaluated, time.perf_counter() - middle)
    return compiled, evaluated


def test_a_policy_at_the_limits_compiles_and_runs(tmp_path: Path, store: LoadedSource) -> None:
    width = (limits.MAX_EXPRESSION_CHARS // limits.MAX_CONDITIONS - len(condition(999))) // 8
    folder = policy(tmp_path, limits.MAX_CONDITIONS, limits.MAX_ACTIONS, width)
    assert validate_paths([folder]).errors == []
    assert sum(_compile_and_run(folder, store, tries=1)) < 60  # seconds, on a shared 2-core machine


def test_compile_and_run_time_grows_linearly(tmp_path: Path, store: LoadedSource,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Four times the conditions cost about four times as much, to compile and to
    evaluate (quadratic: sixteen; the evaluation's planning by DuckDB was quadratic).
    The limits are lifted here to measure past them, where growth shows clearly."""
    monkeypatch.setattr(limits, "MAX_CONDITIONS", 10_000)
    monkeypatch.setattr(limits, "MAX_EXPRESSION_CHARS", 10**7)
    monkeypatch.setattr(limits, "MAX_POLICY_BYTES", 10**7)
    base, small, large = (_compile_and_run(policy(tmp_path / str(n), n), store)
                          for n in (1, 300, 1200))
    for part in (0, 1):  # compile, evaluate
        grown, before = large[part] - base[part], small[part] - base[part]
        assert grown < 10 * before, (base, small, large)
