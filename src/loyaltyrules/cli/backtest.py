"""`loyaltyrules backtest`: simulate the policies over history; the ledger is untouched."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..nightly import load_source, run_range
from ..sinks import write_jsonl
from ..sources import UnusableInput
from . import settings
from .run import show_unknown_targets


@click.command("backtest")
@click.option(
    "--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First business date."
)
@click.option(
    "--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last business date."
)
@settings.data_option
@settings.example_option
@settings.policies_option
@settings.bundle_option
@click.option(
    "--out", default=None, help="Write the simulated actions here (.jsonl, - for stdout)."
)
@settings.engine_option
@settings.config_option
def backtest_command(
    start: dt.datetime,
    end: dt.datetime,
    data: str | None,
    example: bool,
    policies: tuple[Path, ...],
    bundle: Path | None,
    out: str | None,
    engine: str | None,
    config_path: Path | None,
) -> None:
    """Evaluate every date from --from to --to in one set-based pass, as the nightly
    run would have, and report what each policy would have emitted. Nothing is
    recorded in the ledger, so a backtest can try a changed policy set safely.
    """
    config = settings.load(config_path)
    plan = settings.load_plan(config, policies, bundle)
    source_ref = settings.data_source(config, data, example)
    evaluator = settings.evaluator(config, engine)
    first, last = start.date(), end.date()
    if last < first:
        settings.fail("--to is before --from", settings.EXIT_INVALID)
    try:
        source = load_source(source_ref, last, None)
    except UnusableInput as err:
        settings.unusable(err)
    with settings.engine_errors():
        summary = run_range(plan, source, first, last, None, evaluator=evaluator)
    if out:
        write_jsonl(summary.actions, out)
    echo = (lambda m: click.echo(m, err=True)) if out == "-" else click.echo
    echo(f"backtest {first} .. {last} (bundle {plan.bundle})")
    for policy in sorted(summary.candidates):
        echo(f"  {policy:22} {summary.candidates[policy]:>8}")
    echo(f"  {'total':22} {sum(summary.candidates.values()):>8}")
    show_unknown_targets(summary, echo)
