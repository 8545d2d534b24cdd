"""`loyaltyrules report staff|churn|actions`: the playbook's reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import Config
from ..outcomes import NoLedger
from ..reports import (
    DEFAULT_EXPECTED_YEARS,
    Report,
    churn_report,
    render_csv,
    render_html,
    render_table,
    staff_report,
    volumes_report,
)
from ..reports.header import churn_header, ledger_header, with_header
from ..reports.names import with_names
from ..sinks.atomic import atomic_text_file
from ..sinks.directory import Directory, directory_from
from ..sources import UnusableInput, open_source
from ..state import StateStore
from . import settings

F = TypeVar("F", bound=Callable[..., Any])
_RENDER = {"table": render_table, "csv": render_csv, "html": render_html}


@click.group("report")
def report_command() -> None:
    """Reports for reviews: staff follow-ups, churn and lifetime value, action volumes.

    Each prints a table on the terminal, or writes CSV or one self-contained HTML page
    with charts (--format, --out).
    """


def _output(f: F) -> F:
    f = click.option("--format", "fmt", type=click.Choice(list(_RENDER)), default="table",
                     show_default=True, help="table (terminal), csv, or html (charts).")(f)
    f = click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
                     help="Write to this file instead of the terminal.")(f)
    return settings.config_option(f)


def _range(f: F) -> F:
    f = settings.example_option(f)
    f = click.option("--data", type=click.Path(path_type=Path),
                     help="Where the names of stores and associates are (stores and staff "
                          "tables; default [source] of loyaltyrules.toml, else ./data; "
                          "none: ids only).")(f)
    f = click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True,
                     help="Last date (inclusive).")(f)
    f = click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
                     help="First date (inclusive).")(f)
    return settings.state_option(f)


def _emit(report: Report, fmt: str, out: Path | None) -> None:
    text = _RENDER[fmt](report)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with atomic_text_file(out, encoding=encoding, newline="") as handle:
        handle.write(text)
    click.echo(f"wrote {out}", err=True)


def _dates(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    if end < start:
        settings.fail(f"--to {end.date()} is before --from {start.date()}", settings.EXIT_INVALID)
    return start.date(), end.date()


def _ledger_report(build: Callable[[StateStore, dt.date, dt.date], Report], config: Config,
                   state: str | None, start: dt.datetime, end: dt.datetime,
                   names: tuple[Path | None, bool]) -> Report:
    """A report of the ledger: every store's rows in it, named from the data when named."""
    first, last = _dates(start, end)
    ledger = settings.state_path(config, state)
    try:
        report = with_header(build(ledger, first, last), ledger_header(ledger, first, last))
    except NoLedger as err:
        settings.fail(str(err), settings.EXIT_UNUSABLE)
    people = _names(config, *names)
    return report if people is None else with_names(report, people)


def _names(config: Config, data: Path | None, example: bool) -> Directory | None:
    """Stores' and associates' names from the data source, when one is named."""
    source_ref = settings.named_data_source(config, data, example)
    if source_ref is None:
        return None
    try:
        source = open_source(source_ref, as_of_limit=dt.date.today())
    except UnusableInput as err:
        settings.unusable(err)
    return directory_from(source.connection, enrich=False)  # reports name no customer


@report_command.command("staff")
@_range
@_output
def staff_command(state: str | None, start: dt.datetime, end: dt.datetime, data: Path | None,
                  example: bool, fmt: str, out: Path | None, config_path: Path | None) -> None:
    """Per associate: follow-ups assigned, done, on time, late, declined, still open,
    split by calls, messages and visits (actions assigned from --from to --to).
    Associates are named when the data has a staff table (--data, [source], ./data).

    \b
    Example:
      loyaltyrules report staff --from 2025-01-01 --to 2025-03-31 --format html --out staff.html
    """
    config = settings.load(config_path)
    _emit(_ledger_report(staff_report, config, state, start, end, (data, example)), fmt, out)


@report_command.command("actions")
@_range
@_output
def actions_command(state: str | None, start: dt.datetime, end: dt.datetime,
                    data: Path | None, example: bool, fmt: str, out: Path | None,
                    config_path: Path | None) -> None:
    """Action volumes per ISO week, policy and store (as_of from --from to --to)."""
    config = settings.load(config_path)
    _emit(_ledger_report(volumes_report, config, state, start, end, (data, example)), fmt,
          out)


@report_command.command("churn")
@click.option("--period", type=click.Choice(["year"]), default="year", show_default=True,
              help="The period compared with the one before it.")
@click.option("--year", type=int, help="The year (default: the last complete year).")
@click.option("--expected-years", help="Years a customer is expected to stay, for lifetime "
                                       "value (default: [reports] expected_years, else 3).")
@settings.data_option
@settings.example_option
@_output
def churn_command(period: str, year: int | None, expected_years: str | None, data: str | None,
                  example: bool, fmt: str, out: Path | None, config_path: Path | None) -> None:
    """Customers active last year and not this year, churn rate, lost customers by last
    store and associate, and lifetime value (spend per visit x visits per year x years).

    \b
    Example:
      loyaltyrules report churn --period year --year 2025 --format html --out churn.html
    """
    config = settings.load(config_path)
    chosen = year if year is not None else dt.date.today().year - 1
    years = _expected_years(config, expected_years)
    source_ref = settings.data_source(config, data, example)
    limit = max(dt.date.today(), dt.date(chosen, 12, 31))
    try:
        source = open_source(source_ref, as_of_limit=limit)
    except UnusableInput as err:
        settings.unusable(err)
    report = with_header(churn_report(source.connection, chosen, years), churn_header(chosen))
    _emit(with_names(report, directory_from(source.connection, enrich=False)), fmt, out)


def _expected_years(config: Config, given: str | None) -> Decimal:
    raw = given if given is not None else (config.sections.get("reports") or {}).get(
        "expected_years", DEFAULT_EXPECTED_YEARS)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0:
        settings.fail("expected years must be a number above 0", settings.EXIT_INVALID)
    return value
