"""The Spark engine gives exactly DuckDB's actions: the same plan, its SQL run by Spark.

One local Spark session for the module (starting one costs seconds); small data.
Without PySpark or Java these skip with the reason; .ci/run installs both and sets
LOYALTYRULES_TEST_SPARK_REQUIRED=1, so there they fail instead of skipping.
The same comparison at scale 0.1 is benchmarks/bench_spark.py.
"""

from __future__ import annotations

import importlib.util
import json
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
from loyaltyrules.engine.spark import SparkSettings, session

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
REQUIRED_ENV = "LOYALTYRULES_TEST_SPARK_REQUIRED"
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


def test_run_with_engine_spark_delivers_duckdbs_files(spark: Any, franchise: Path,
                                                    tmp_path: Path) -> None:
    """A catch-up over 31 December (a night), 1 January (the yearly schedule) and the
    days after: what the host receives, every file byte for byte, ids and all."""
    outputs = {}
    for engine in ("duckdb", "spark"):
        work = tmp_path / engine
        result = CliRunner().invoke(cli, [
            "run", "--data", str(franchise), "--policies", str(POLICIES),
            "--as-of", "2024-12-31", "--through", "2025-01-03",
            "--state", str(work / "state.sqlite"), "--out", str(work / "out"),
            "--engine", engine, "--quiet"])
        assert result.exit_code == 0, result.output
        out = work / "out"
        outputs[engine] = {str(p.relative_to(out)): p.read_bytes()
                           for p in sorted(out.rglob("*")) if p.is_file()}
    assert outputs["spark"] == outputs["duckdb"]
    actions = [json.loads(line) for name, body in outputs["spark"].items()
               if name.startswith("actions-") and name.endswith(".jsonl")
               for line in body.splitlines()]
    assert ("2025-01-01", "top-spender-flowers") in {(a["as_of"], a["policy"]) for a in actions}
    dates = ("2024-12-31", "2025-01-01", "2025-01-02", "2025-01-03")
    assert all(f"actions-{day}.jsonl" in outputs["spark"] for day in dates)  # every night


def test_backtest_on_spark_gives_duckdbs_actions_on_the_example_store(spark: Any,
                                                                      tmp_path: Path) -> None:
    """The backtest path (no ledger, the contact rules in memory), as its file, over a
    year of the example store: every kind of trigger the pack has there."""
    written = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.jsonl"
        result = CliRunner().invoke(cli, [
            "backtest", "--example", "--from", "2024-12-31", "--to", "2025-12-31",
            "--out", str(out), "--engine", engine])
        assert result.exit_code == 0, result.output
        written[engine] = out.read_bytes()
    assert written["spark"] == written["duckdb"]
    triggers = {json.loads(line)["reason"]["trigger"] for line in written["spark"].splitlines()}
    assert triggers >= {"purchase", "first_purchase", "crossing", "upgrade", "schedule"}
