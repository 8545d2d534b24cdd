"""Settings shared by the commands: loyaltyrules.toml first, flags over it.

    [source]                      # where the data is (see docs/data-sources.md)
    data = "data/"
    [run]
    policies = "policies/"        # the policy set (default ./policies, else the bundled pack)
    state = "loyaltyrules-state.sqlite"   # the ledger: a SQLite file, or a postgresql:// URL
    store = "S001"                # a run of one store in a ledger shared by stores
    out = "out/"                  # folder for actions, rejects, CSV and task sheets
    lock_timeout = 600            # seconds a run or export waits for another to finish
    [serve]
    sync = "normal"               # the service's commits: "normal" or "full" (docs/service.md)
    [state]
    url = "postgresql://loyalty@db/hq"   # the ledger, for every command (over [run] state)
    [engine]
    kind = "spark"                # run and backtest on Spark instead of DuckDB (docs/spark.md)
    master = "spark://hq:7077"    # else spark-submit's master, else local[*]
    staging = "/shared/loyaltyrules-staging"   # Parquet handed to Spark: executors read it
    conf = { "spark.executor.memory" = "8g" }  # any spark.* setting

The data source is never guessed: --data, else --example (the bundled example store,
a deliberate choice), else `[source]` of loyaltyrules.toml, else a ./data folder;
with none of them a command refuses with the fix (exit 1) rather than evaluate some
other data under cron. A flag replaces only the setting it names: `--data DIR` is
another folder read with the same `[source]` mapping and defaults.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from ..config import CONFIG_FILE, Config, SourceConfig, load_config
from ..configkeys import boolean, keys_of
from ..diagnostics import DiagnosticError
from ..engine.spark import ENGINES, SparkEvaluator, SparkSettings, SparkUnavailable, require
from ..examples import example_data_dir
from ..nightly import Evaluator, on_duckdb
from ..plan import Plan, compile_paths
from ..sources import UnusableInput
from ..sources.postgres import is_database, shown
from ..state import StateStore
from ..state.sqlite import SqliteState
from ..statefile import locate
from .common import default_policy_paths

EXIT_INVALID = 1
EXIT_UNUSABLE = 2
EXIT_STATE = 3  # the state file is not one (statefile.UnusableState)
EXIT_OUTPUT = 74  # sysexits EX_IOERR: recorded, but an output could not be written
EXIT_BUSY = 75  # sysexits EX_TEMPFAIL: another run held the ledger; try again later
DEFAULT_STATE = "loyaltyrules-state.sqlite"
DEFAULT_OUT = "out"

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"loyaltyrules: {message}", err=True)
    sys.exit(code)


def load(config_path: Path | None) -> Config:
    try:
        return load_config(config_path)
    except DiagnosticError as err:
        fail(str(err), EXIT_INVALID)


def run_setting(config: Config, key: str, default: str | None = None) -> str | None:
    value = (config.sections.get("run") or {}).get(key, default)
    return None if value is None else str(value)


def evaluator(config: Config, given: str | None) -> Evaluator:
    """--engine, else [engine] kind, else DuckDB; Spark's settings from [engine]
    (its keys are checked with the file's, configkeys.py)."""
    section = config.sections.get("engine") or {}
    kind = given or str(section.get("kind", "duckdb"))
    spark = _spark_settings(config, section)
    if kind not in ENGINES:
        fail(f"unknown engine {kind!r}: one of {', '.join(ENGINES)}", EXIT_INVALID)
    if kind == "duckdb":
        return on_duckdb
    try:
        require()
    except SparkUnavailable as err:
        fail(str(err), EXIT_INVALID)
    return SparkEvaluator(spark)


def _spark_settings(config: Config, section: Mapping[str, Any]) -> SparkSettings:
    master, staging = section.get("master"), section.get("staging")
    conf = section.get("conf", {})
    if not isinstance(conf, dict):
        fail("[engine] conf must be a table of spark.* settings", EXIT_INVALID)
    return SparkSettings(
        master=str(master) if master else None,
        staging=_relative_to_config(config, str(staging)) if staging else None,
        conf={str(k): str(v) for k, v in conf.items()})


@contextmanager
def engine_errors() -> Iterator[None]:
    """Spark that cannot start (no Java, no reachable master): exit 1 with the fix."""
    try:
        yield
    except SparkUnavailable as err:
        fail(str(err), EXIT_INVALID)


def engine_option(f: F) -> F:
    return click.option(
        "--engine", type=click.Choice(ENGINES), default=None,
        help="Where the policies are evaluated: duckdb (in-process, the default) or spark "
        "(the same plan on a Spark session: [engine] of loyaltyrules.toml, docs/spark.md).",
    )(f)


def _relative_to_config(config: Config, value: str) -> Path:
    base = config.path.parent if config.path else Path.cwd()
    return (base / value) if not Path(value).is_absolute() else Path(value)


NO_DATA = (
    "no data source: no --data, no loyaltyrules.toml and no ./data folder here. Give "
    "--data DIR (a folder of table files or a SQLite file), set [source] data in "
    "loyaltyrules.toml, or run on the bundled example store with --example"
)


def data_source(config: Config, data: str | Path | None, example: bool = False
                ) -> Path | Config:
    """The data to read (see the module doc); exit 1 when none was named."""
    found = named_data_source(config, data, example)
    if found is None:
        fail(NO_DATA, EXIT_INVALID)
    return found


def named_data_source(config: Config, data: str | Path | None,
                      example: bool = False) -> Path | Config | None:
    """The data to read, or None when no flag, configuration or ./data names one."""
    if example and data is not None:
        fail("--example and --data name two data sources; give one", EXIT_INVALID)
    if example:
        return example_data_dir()
    if data is not None:
        return with_data(config, Path(data) if not is_database(data) else str(data))
    if config.path is not None:
        return config
    if Path("data").is_dir():
        return Config(source=SourceConfig(data=Path("data").resolve()))
    return None


def describe(source: Path | Config, example: bool = False) -> str:
    """The data source for a progress line: a folder or file, or a URL without its
    password (never a configuration's whole text)."""
    if example:
        return "the example store"
    if isinstance(source, Path):
        return str(source)
    return shown(source.source.url) if source.source.url else str(source.source.data)


def with_data(config: Config, data: Path | str) -> Path | Config:
    """`--data`: the configuration's `[source]` (mapping, defaults, limits) read from
    another place (a PostgreSQL URL too). A configuration file, or a folder holding
    one, brings its own."""
    if isinstance(data, str):
        return replace(config, source=replace(config.source, url=data))
    if data.suffix == ".toml" or (data / CONFIG_FILE).is_file():
        return data
    return replace(config, source=replace(config.source, data=data, url=None))


def policy_paths(config: Config, given: Sequence[Path]) -> list[Path]:
    if given:
        return list(given)
    configured = run_setting(config, "policies")
    if configured:
        return [_relative_to_config(config, configured)]
    return default_policy_paths()


STATE_KEYS = keys_of("state")  # the keys of [state] in loyaltyrules.toml


def state_path(config: Config, given: str | Path | None) -> StateStore:
    """--state, else `[state] url`, else `[run] state`, else the default file. A
    postgresql:// URL names a database; any other URL is refused (exit 3) before use;
    a relative file is relative to the configuration file."""
    if given is not None:
        return locate(given)
    section = config.sections.get("state") or {}
    for key in section:
        if key not in STATE_KEYS:
            fail(f"[state] has an unknown key {key!r}; it takes {', '.join(STATE_KEYS)}",
                 EXIT_INVALID)
    value = section.get("url") or run_setting(config, "state", DEFAULT_STATE) or DEFAULT_STATE
    located = locate(str(value))
    if isinstance(located, SqliteState):
        return SqliteState(_relative_to_config(config, str(value)))
    return located


def ingest_store_setting(config: Config) -> bool:
    """`[run] ingest_store`: keep the checked input beside a SQLite state (off unless
    asked: the kept copy holds the input's personal data, DESIGN section 8)."""
    try:
        return boolean(config.sections, "run", "ingest_store")
    except ValueError as err:
        fail(str(err), EXIT_INVALID)


def store_setting(config: Config, given: str | None) -> str | None:
    """--store, else `[run] store`: the one store a run is for (None: every store)."""
    value = given if given is not None else run_setting(config, "store")
    if value is not None and not value.strip():
        fail("the store is empty: give a store_id, or leave --store out for every store",
             EXIT_INVALID)
    return value


def out_dir(config: Config, given: str | None) -> str:
    if given is not None:
        return given
    value = run_setting(config, "out", DEFAULT_OUT) or DEFAULT_OUT
    return str(_relative_to_config(config, value))


def compile_plan(paths: Sequence[Path]) -> Plan:
    try:
        return compile_paths(paths)
    except DiagnosticError as err:
        for diagnostic in err.diagnostics[:50]:
            click.echo(diagnostic.render(), err=True)
        fail(
            f"{len(err.diagnostics)} problems in the policies; run `loyaltyrules validate`",
            EXIT_INVALID,
        )


def unusable(err: UnusableInput) -> NoReturn:
    fail(f"unusable input: {err}", EXIT_UNUSABLE)


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The configuration file (default: ./loyaltyrules.toml).",
    )(f)


STATE_HELP = (f"The ledger: a SQLite file, or a postgresql://user@host/db URL (default "
              f"[state] url or [run] state of loyaltyrules.toml, else {DEFAULT_STATE}).")


def state_option(f: F) -> F:
    return click.option("--state", metavar="FILE|URL", help=STATE_HELP)(f)


def store_option(f: F) -> F:
    return click.option(
        "--store", metavar="STORE_ID",
        help="Run for this one store of a ledger that several stores share: its actions, "
        "its contact history, its outputs (default [run] store; none: every store).",
    )(f)


def out_option(f: F) -> F:
    return click.option(
        "--out",
        help="Where the actions go: a folder (per date: actions-D.jsonl, actions-D.csv, "
        "tasks-D/), a .jsonl or .csv file, or - for stdout (default [run] out, else out/).",
    )(f)


def data_option(f: F) -> F:
    return click.option(
        "--data", metavar="DIR|FILE|URL",
        help="Data source: a folder of table files, a SQLite file or a postgresql:// URL, "
        "read with the rest of [source] of loyaltyrules.toml (mappings, defaults; "
        "default: its data).",
    )(f)


def example_option(f: F) -> F:
    return click.option(
        "--example",
        is_flag=True,
        help="Use the bundled example store (a fictional franchise) as the data, to try "
        "loyaltyrules without data of your own.",
    )(f)


def policies_option(f: F) -> F:
    return click.option(
        "--policies",
        "policies",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Policy folder or files (default: ./policies, else the bundled pack).",
    )(f)


BUNDLE_KEYS = ("public_key",)  # the keys of [bundle] in loyaltyrules.toml


def public_key(config: Config, given: Path | None = None) -> Path | None:
    """--public-key, else `[bundle] public_key` (relative to the configuration file):
    with one, only bundles signed by its private key are accepted."""
    if given is not None:
        return given
    section = config.sections.get("bundle") or {}
    for key in section:
        if key not in BUNDLE_KEYS:
            fail(f"[bundle] has an unknown key {key!r}; it takes {', '.join(BUNDLE_KEYS)}",
                 EXIT_INVALID)
    value = section.get("public_key")
    return None if not value else _relative_to_config(config, str(value))


def load_plan(config: Config, policies: Sequence[Path], bundle: Path | None) -> Plan:
    """The plan of --bundle (verified), else of the policy files."""
    if bundle is None:
        return compile_plan(policy_paths(config, policies))
    if policies:
        fail("give either --bundle or --policies, not both", EXIT_INVALID)
    from ..release.bundle import BundleRefused, load_plan

    try:
        return load_plan(bundle, public_key(config))
    except BundleRefused as err:
        fail(f"bundle refused: {err}", EXIT_INVALID)


def bundle_option(f: F) -> F:
    return click.option(
        "--bundle", type=click.Path(path_type=Path, dir_okay=False),
        help="A policy bundle (`loyaltyrules bundle build`) instead of policy files; "
        "with [bundle] public_key in loyaltyrules.toml it must be signed by that key.",
    )(f)


def set_plan(config: Config, path: Path) -> Plan:
    """The plan of a policy set named as a folder or a bundle (diff, simulate)."""
    from ..release.sets import plan_of

    try:
        return plan_of(path, public_key(config))
    except DiagnosticError as err:
        for diagnostic in err.diagnostics[:20]:
            click.echo(diagnostic.render(), err=True)
        fail(f"{path}: the policy set does not validate, or the bundle is refused",
             EXIT_INVALID)
