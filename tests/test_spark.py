"""The Spark engine gives exactly DuckDB's actions: the same plan, its SQL run by Spark.

One local Spark session for the module (starting one costs seconds); small data.
Without PySpark or Java these skip with the reason; .ci/run installs both and sets
LOYALTYRULES_TEST_SPARK_REQUIRED=1, so there they fail instead of skipping.
The same comparison at scale 0.1 is benchmarks/bench_spark.py.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.engine.spark import SparkSettings, evaluate_on_spark, session
from loyaltyrules.plan import compile_paths
from loyaltyrules.sources import open_source

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
REQUIRED_ENV = "LOYALTYRULES_TEST_SPARK_REQUIRED"
TODAY = dt.date.today()
LOCAL = SparkSettings(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'loyaltyrules[spark]'; docs/spark.md)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java to run Spark (Java 17 or later; docs/spark.md)"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get(REQUIRED_ENV) == "1":
            pytest.fail(f"{REQUIRED_ENV}=1 but {reason}")
        pytest.skip(reason)
    spark_session = session(LOCAL)
    yield spark_session
    spark_session.stop()


@pytest.fixture(scope="module")
def franchise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark franchise at scale 0.001: 1,000 customers, 10,000 receipts."""
    folder = tmp_path_factory.mktemp("franchise")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), str(folder),
                    "--scale", "0.001", "--threads", "1"], check=True, capture_output=True)
    return folder


def test_a_night_new_year_and_catch_up_give_duckdbs_actions(spark: Any, franchise: Path
                                                             ) -> None:
    """31 December (a night), 1 January (yearly schedules, downgrades) and the days
    after, as one catch-up: the same records, ids and all, on both engines."""
    plan = compile_paths([POLICIES])
    start, end = dt.date(2024, 12, 31), dt.date(2025, 1, 3)
    on_duckdb = evaluate(open_source(franchise, as_of_limit=TODAY).connection, plan, start, end)
    on_spark = evaluate_on_spark(open_source(franchise, as_of_limit=TODAY).connection, plan,
                                 start, end, None, LOCAL)
    assert on_spark.actions == on_duckdb.actions
    assert on_spark.per_policy == on_duckdb.per_policy
    kinds = {(a["as_of"], a["reason"]["trigger"]) for a in on_duckdb.actions}
    assert ("2025-01-01", "schedule") in kinds and ("2025-01-01", "downgrade") in kinds
    assert {a["as_of"] for a in on_duckdb.actions} == {"2024-12-31", "2025-01-01",
                                                       "2025-01-02", "2025-01-03"}


def test_run_with_engine_spark_delivers_the_same_files(spark: Any, tmp_path: Path) -> None:
    """What the host receives: the run's files, byte for byte, and the ledger's ids."""
    outputs = {}
    for engine in ("duckdb", "spark"):
        work = tmp_path / engine
        work.mkdir()
        result = CliRunner().invoke(cli, [
            "run", "--example", "--as-of", "2025-11-18", "--through", "2025-11-20",
            "--state", str(work / "state.sqlite"), "--out", str(work / "out"),
            "--engine", engine, "--quiet"])
        assert result.exit_code == 0, result.output
        outputs[engine] = {p.name: p.read_bytes() for p in sorted((work / "out").iterdir())}
    assert outputs["spark"] == outputs["duckdb"]
    assert any(name.startswith("actions-") and body for name, body in outputs["spark"].items())
