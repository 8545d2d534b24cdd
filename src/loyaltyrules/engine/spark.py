"""The batch evaluator on Apache Spark: the same compiled Plan, its SQL run by Spark.

    source (DuckDB: row checks, rejects) --Parquet--> Spark temp views
    engine/batch.py's statements --sparksql.Translator--> Spark SQL --> candidate rows
    candidate rows --engine/actions.py--> the actions, as on DuckDB

`SparkConnection` answers the few connection calls the batch evaluator makes
(`execute` with parameters, `fetchall`, `description`), so `batch.evaluate` runs
unchanged: every statement is the DuckDB text or tree the DuckDB path runs,
translated by SQLGlot (sparksql.py). Temp tables become cached temp views; the
clean input tables reach Spark as Parquet in a staging folder, which on a cluster
must be a path every executor can read (docs/spark.md).

PySpark is an optional extra (`pip install 'loyaltyrules[spark]'`) and needs Java 17
or later; it is imported only when the Spark engine is chosen.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp

from ..plan import Plan
from ..sources import LoadedSource
from .batch import Evaluation, evaluate
from .sparksql import Translator

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The clean tables the evaluator reads (purchase_lines are summed into purchases first).
STAGED = ("customers", "purchases", "stores", "calendar", "complaints", "events")
ENGINES = ("duckdb", "spark")
# On one machine Spark's default of 200 shuffle partitions is mostly overhead.
LOCAL_DEFAULTS = {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false"}
TIMEZONE = {"spark.sql.session.timeZone": "UTC"}  # timestamps here are naive local times
ALWAYS = {**TIMEZONE, "spark.ui.showConsoleProgress": "false"}
INSTALL_HINT = "install it with: pip install 'loyaltyrules[spark]' (and Java 17 or later)"


class SparkUnavailable(RuntimeError):
    """PySpark is not installed or cannot start (no Java): a configuration error."""


@dataclass(frozen=True)
class SparkSettings:
    """`[engine]` of loyaltyrules.toml for kind = "spark" (docs/spark.md)."""

    master: str | None = None  # None: spark-submit's, else local[*]
    staging: Path | None = None  # where the clean tables go as Parquet; None: a temp folder
    conf: Mapping[str, str] = field(default_factory=dict)  # any spark.* setting


def require() -> None:
    """Fail early, with the fix, when PySpark is not installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        raise SparkUnavailable(f"the Spark engine needs PySpark: {INSTALL_HINT}") from err


def session(settings: SparkSettings) -> SparkSession:
    """The active Spark session as it is (spark-submit's, a notebook's, a test's), or a
    new one from the settings: `master`, else local[*] with local defaults."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise SparkUnavailable(f"the Spark engine needs PySpark: {INSTALL_HINT}") from err
    active = SparkSession.getActiveSession()
    if active is not None and not settings.master:
        for key, value in TIMEZONE.items():  # a session setting; the others are the JVM's
            active.conf.set(key, value)
        return active
    # Under spark-submit the gateway is already up and spark-submit gave the master.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    master = settings.master or (None if submitted else "local[*]")
    builder = SparkSession.builder.appName("loyaltyrules")
    if master:
        builder = builder.master(master)
    local = master is not None and master.startswith("local")
    for key, value in {**(LOCAL_DEFAULTS if local else {}), **ALWAYS,
                       **settings.conf}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # pyspark raises its own runtime errors when Java is missing
        raise SparkUnavailable(f"cannot start Spark ({err}); {INSTALL_HINT}") from err
    spark.sparkContext.setLogLevel("FATAL")  # a failed query raises; its log is noise
    return spark


class SparkConnection:
    """The DuckDB connection calls the batch evaluator makes, answered by Spark."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.translator = Translator()
        self.description: list[tuple[str]] = []
        self._rows: list[tuple[Any, ...]] = []
        self._cached: dict[str, DataFrame] = {}

    def execute(self, sql: str, parameters: Mapping[str, object] | None = None
                ) -> SparkConnection:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
        self.description, self._rows = [], []
        if isinstance(tree, exp.Create):
            self._create(tree, parameters or {})
        elif isinstance(tree, exp.Describe):
            frame = self.spark.table(tree.this.name)
            self._rows = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
            self.description = [("column_name",), ("column_type",)]
        else:
            frame = self.spark.sql(self.translator.sql(tree, parameters))
            self.description = [(name,) for name in frame.columns]
            self._rows = [tuple(row) for row in frame.collect()]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()

    def _create(self, tree: exp.Create, values: Mapping[str, object]) -> None:
        kind = str(tree.args.get("kind") or "").upper()
        if kind == "MACRO":
            self.translator.define(tree)
            return
        if isinstance(tree.this, exp.Schema) and tree.expression is None:
            self._empty(tree)
            return
        name = tree.this.name
        frame = self.spark.sql(self.translator.sql(tree.expression, values))
        if kind == "TABLE":  # read by many queries: computed once
            old = self._cached.pop(name, None)
            frame = frame.cache()
            self._cached[name] = frame
            if old is not None:
                old.unpersist()
        frame.createOrReplaceTempView(name)

    def _empty(self, tree: exp.Create) -> None:
        """CREATE TABLE [IF NOT EXISTS] t (columns): an empty view of that shape."""
        schema = tree.this
        name = schema.this.name
        if tree.args.get("exists") and self.spark.catalog.tableExists(name):
            return
        ddl = ", ".join(column.sql("spark") for column in schema.expressions)
        self.spark.createDataFrame([], ddl).createOrReplaceTempView(name)


def stage(source: duckdb.DuckDBPyConnection, spark: SparkSession, folder: Path) -> None:
    """The source's clean tables as Parquet in `folder`, registered as Spark views."""
    present = {r[0] for r in source.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    for table in STAGED:
        if table not in present:
            continue
        path = folder / f"{table}.parquet"
        literal = exp.Literal.string(str(path)).sql("duckdb")
        source.execute(f"COPY (SELECT * FROM {table}) TO {literal} (FORMAT parquet)")
        spark.read.parquet(str(path)).createOrReplaceTempView(table)


def evaluate_on_spark(source: duckdb.DuckDBPyConnection, plan: Plan, start: dt.date,
                      end: dt.date, timezone: str | None, settings: SparkSettings
                      ) -> Evaluation:
    """batch.evaluate with its SQL run by Spark over the source's clean tables."""
    spark = session(settings)
    folder = _staging_folder(settings)
    connection = SparkConnection(spark)
    try:
        stage(source, spark, folder)
        return evaluate(connection, plan, start, end, timezone)  # type: ignore[arg-type]
    finally:
        connection.close()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class SparkEvaluator:
    """A nightly.Evaluator: a run's candidates computed on Spark."""

    settings: SparkSettings

    def __call__(self, source: LoadedSource, plan: Plan, start: dt.date, end: dt.date
                 ) -> Evaluation:
        return evaluate_on_spark(source.connection, plan, start, end, source.config.timezone,
                                 self.settings)


def _staging_folder(settings: SparkSettings) -> Path:
    if settings.staging is None:
        return Path(tempfile.mkdtemp(prefix="loyaltyrules-spark-"))
    folder = settings.staging / f"run-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


__all__ = ["ENGINES", "SparkConnection", "SparkEvaluator", "SparkSettings", "SparkUnavailable",
           "evaluate_on_spark", "require", "session", "stage"]
