"""The engine's DuckDB SQL as Spark SQL (engine/sparksql.py): the rewrites SQLGlot needs.

Pure SQLGlot, no Spark: these run everywhere. That the translated SQL gives the same
actions on Spark is tests/test_spark.py's part.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from loyaltyrules.cli import cli, settings
from loyaltyrules.engine import triggers
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.engine.spark import INSTALL_HINT, SparkUnavailable
from loyaltyrules.engine.sparksql import Translator
from loyaltyrules.examples import example_data_dir
from loyaltyrules.plan import compile_paths
from loyaltyrules.sources import open_source

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def spark(sql: str, values: dict[str, object] | None = None, macros: str = "") -> str:
    translator = Translator()
    if macros:
        translator.define(sqlglot.parse_one(macros, dialect="duckdb"))  # type: ignore[arg-type]
    return translator.sql(sql, values)


def test_asof_join_becomes_a_join_on_the_rows_in_force() -> None:
    out = spark("SELECT * FROM c ASOF LEFT JOIN d AS s ON s.k = c.k AND c.t >= s.t")
    assert "ASOF " not in out.upper()
    assert "LEFT JOIN (SELECT *, LEAD(t) OVER (PARTITION BY k ORDER BY t" in out
    assert "c.t >= s.t) AND (s.lr_asof_next IS NULL OR c.t < s.lr_asof_next)" in out


def test_asof_join_of_another_form_is_refused() -> None:
    with pytest.raises(ValueError, match="ASOF"):
        spark("SELECT * FROM c ASOF LEFT JOIN d AS s ON s.k = c.k AND c.t < s.t")
    with pytest.raises(ValueError, match="ASOF"):
        spark("SELECT * FROM c ASOF LEFT JOIN d AS s ON s.k = c.k AND s.t >= c.t")


def test_macros_are_inlined_with_their_arguments() -> None:
    out = spark("SELECT lr_tier_name(lr_tier_name(x)) FROM t",
                macros="CREATE TEMP MACRO lr_tier_name(i) AS CASE WHEN i = 0 THEN 'a' END")
    assert "LR_TIER_NAME" not in out.upper()
    assert out.count("CASE WHEN") == 2 and "CASE WHEN (x) = 0" in out


def test_parameters_become_literals() -> None:
    out = spark("SELECT * FROM p WHERE d <= $through", {"through": dt.date(2025, 1, 2)})
    assert "d <= CAST('2025-01-02' AS DATE)" in out


def test_series_tables_keep_duckdb_column_names() -> None:
    out = spark(triggers._DATES, {"a": dt.date(2025, 1, 1), "b": dt.date(2025, 1, 3)})
    assert "(SELECT EXPLODE(SEQUENCE(" in out and ") AS generate_series) AS g" in out
    years = spark("SELECT range AS year FROM range(2024, 2026)")
    assert "AS range)" in years


def test_a_repeated_column_name_is_projected_once() -> None:
    out = spark("SELECT a AS as_of, a AS \"as_of\", b FROM t")
    assert out == "SELECT a AS as_of, b FROM t"
    with pytest.raises(ValueError, match="two different columns"):
        spark("SELECT a AS x, b AS \"x\" FROM t")


def test_named_windows_are_spelt_out() -> None:
    out = spark("SELECT max(x) OVER (wy ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), "
                "sum(x) OVER wy, lead(x) OVER wy FROM t WINDOW wy AS (PARTITION BY a ORDER BY b "
                "ROWS UNBOUNDED PRECEDING)")
    assert "WINDOW" not in out
    assert ("MAX(x) OVER (PARTITION BY a ORDER BY b NULLS LAST ROWS BETWEEN UNBOUNDED "
            "PRECEDING AND 1 PRECEDING)") in out
    assert "SUM(x) OVER (PARTITION BY a ORDER BY b NULLS LAST ROWS BETWEEN UNBOUNDED " in out
    assert "LEAD(x) OVER (PARTITION BY a ORDER BY b NULLS LAST)" in out


def test_byte_lengths_days_and_wide_integers() -> None:
    out = spark("SELECT strlen(x), date_diff('day', a, b), CAST(y AS HUGEINT), "
                "CAST(unnest([DATE '2020-01-01']) AS DATE)")
    assert "OCTET_LENGTH(x)" in out and "DATEDIFF(DAY, a, b)" in out
    assert "DECIMAL(38, 0)" in out and "EXPLODE(CAST(ARRAY(" in out


class Recording:
    """A DuckDB connection that keeps every statement the batch evaluator runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, []  # type: list[str]

    def execute(self, sql: str, parameters: object = None) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        return self.con.execute(sql, parameters)


def test_every_statement_of_a_run_translates() -> None:
    """The pack over the example store's new year: no DuckDB-only construct is left."""
    source = open_source(example_data_dir(), as_of_limit=dt.date.today())
    recording = Recording(source.connection)
    evaluate(recording, compile_paths([POLICIES]), dt.date(2024, 12, 31),  # type: ignore[arg-type]
             dt.date(2025, 1, 2))
    translator = Translator()
    for sql in recording.statements:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "MACRO":
            translator.define(tree)
            continue
        out = translator.sql(tree, {"through": dt.date(2025, 1, 2)}).upper()
        for duckdb_only in ("ASOF ", "LR_TIER_", "QUALIFY", "STRLEN(", "MATERIALIZED",
                            "GENERATE_SERIES(", " WINDOW "):
            assert duckdb_only not in out, (duckdb_only, sql[:200])
    assert len(recording.statements) > 10


def test_engine_settings_errors_exit_1_with_the_fix(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Misspelt [engine] keys, an unknown engine and a missing PySpark: exit 1, no run."""
    cases = {
        '[engine]\nmastr = "local[2]"\n': "did you mean 'master'",
        '[engine]\nkind = "flink"\n': "unknown engine 'flink'",
    }
    for text, message in cases.items():
        (tmp_path / "loyaltyrules.toml").write_text(text)
        result = CliRunner().invoke(cli, ["run", "--example", "--as-of", "2025-11-20",
                                           "--config", str(tmp_path / "loyaltyrules.toml")])
        assert result.exit_code == 1 and message in result.output, result.output

    def no_pyspark() -> None:
        raise SparkUnavailable(f"the Spark engine needs PySpark: {INSTALL_HINT}")

    monkeypatch.setattr(settings, "require", no_pyspark)
    result = CliRunner().invoke(cli, ["backtest", "--example", "--from", "2025-11-20",
                                       "--to", "2025-11-20", "--engine", "spark"])
    assert result.exit_code == 1 and "pip install 'loyaltyrules[spark]'" in result.output
