"""`loyaltyrules simulate`: what a policy change would do to the stores' work."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..nightly import load_source
from ..reports.impact import changes_report, workload_report
from ..reports.render import CSV_ENCODING, render_csv, render_html, render_table
from ..simulation import Impact, compare, simulate
from ..sources import UnusableInput
from . import settings


@click.command("simulate")
@click.option("--baseline", required=True, type=click.Path(path_type=Path, exists=True),
              help="The policy set in force: a folder or a bundle.")
@click.option("--candidate", required=True, type=click.Path(path_type=Path, exists=True),
              help="The changed policy set: a folder or a bundle.")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First business date.")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last business date.")
@settings.data_option
@settings.example_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "html"]), default="table",
              show_default=True, help="table for a terminal; csv (two files) or html "
              "(one self-contained page with charts) to --out.")
@click.option("--out", type=click.Path(path_type=Path),
              help="csv: a folder for changes.csv and workload.csv; html: the page's file.")
@settings.config_option
def simulate_command(baseline: Path, candidate: Path, start: dt.datetime, end: dt.datetime,
                     data: str | None, example: bool, fmt: str, out: Path | None,
                     config_path: Path | None) -> None:
    """Run the baseline and the candidate policy sets over the same history and show
    what would change: actions added, removed and changed (matched by their ids) per
    policy, store, week and associate; calls and visits per associate per day and the
    busiest day; the customers newly contacted and no longer contacted.

    Each set is one set-based pass over the range with the contact rules, as
    `backtest` runs it; nothing is recorded in any ledger.

    \b
    Examples:
      loyaltyrules simulate --baseline release-41.bundle --candidate policies/ \\
          --from 2025-01-01 --to 2025-12-31 --data data/
      loyaltyrules simulate --baseline old/ --candidate new/ --from 2025-11-01 \\
          --to 2025-11-30 --example --format html --out impact.html

    Exit status: 0 done; 1 a set does not validate, or bad options; 2 unusable input.
    """
    config = settings.load(config_path)
    first, last = start.date(), end.date()
    if last < first:
        settings.fail("--to is before --from", settings.EXIT_INVALID)
    if fmt != "table" and out is None:
        settings.fail(f"--format {fmt} writes files: give --out", settings.EXIT_INVALID)
    plans = settings.set_plan(config, baseline), settings.set_plan(config, candidate)
    source_ref = settings.data_source(config, data, example)
    try:
        source = load_source(source_ref, last, None)
    except UnusableInput as err:
        settings.unusable(err)
    _progress()(f"evaluating {plans[0].bundle} and {plans[1].bundle} from {first} to {last}")
    before, after = simulate(source, plans[0], plans[1], first, last)
    impact = compare(before, after, first, last, (plans[0].bundle, plans[1].bundle))
    _show(impact, fmt, out)


def _progress() -> Callable[[str], None]:
    if not sys.stderr.isatty():
        return lambda _m: None
    return lambda message: click.echo(message, err=True)


def _show(impact: Impact, fmt: str, out: Path | None) -> None:
    reports = changes_report(impact), workload_report(impact)
    if fmt == "table":
        click.echo("\n".join(render_table(r) for r in reports))
        return
    assert out is not None
    if fmt == "csv":
        out.mkdir(parents=True, exist_ok=True)
        for name, report in zip(("changes.csv", "workload.csv"), reports, strict=True):
            (out / name).write_text(render_csv(report), encoding=CSV_ENCODING, newline="")
        click.echo(f"wrote {out / 'changes.csv'} and {out / 'workload.csv'}")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(*reports), encoding="utf-8")
    click.echo(f"wrote {out}")
