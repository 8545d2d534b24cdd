"""`loyaltyrules export`: write any date or range again, from the ledger."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import click

from ..config import Config
from ..delivery import Target, dates_of, deliver
from ..diagnostics import DiagnosticError
from ..ledger import Ledger
from ..nightly import load_source, sheet_directory, sheet_text
from ..sinks.directory import Directory
from ..sources import UnusableInput
from . import delivering, settings


@click.command("export")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
              help="The business date to write (required for the actions).")
@click.option("--through", type=click.DateTime(["%Y-%m-%d"]),
              help="Last date of a range (default: --as-of only).")
@settings.state_option
@settings.store_option
@settings.out_option
@settings.policies_option
@settings.data_option
@settings.example_option
@delivering.lock_timeout_option
@click.option("--format", "kind", type=click.Choice(["actions", "durable-rules"]),
              default="actions", show_default=True,
              help="'durable-rules': instead of actions, the policies compiled to a "
                   "durable_rules ruleset with its input normalization, as JSON to --out "
                   "(a file, default -: stdout); no ledger is read.")
@settings.config_option
def export_command(as_of: dt.datetime | None, through: dt.datetime | None, state: str | None,
                   store: str | None, out: str | None, policies: tuple[Path, ...],
                   data: Path | None, example: bool, lock_timeout: float | None, kind: str,
                   config_path: Path | None) -> None:
    """Write the actions of a date or range again, from the ledger, to any output.

    Each date gets every action emitted for it (by nightly runs and at the point of
    sale), exactly as `run` writes it: exporting a date that a run delivered gives
    the same bytes. With --store, only that store's actions (a ledger shared by
    stores), to that store's output. Use it to reprint a day's task sheets, to send a range to
    another system, or to finish a delivery that a full disk interrupted; what it
    writes is marked delivered to that output.

    Task sheets show the template texts and policy titles of the current policy set,
    and names, locales and (with [sheets] enrich) contact details from the data
    source, read as `run` reads it (--data, --example, [source], ./data); with the
    same data they are the bytes `run` wrote. Other outputs do not read the data.

    \b
    Exit status: 0 done; 1 invalid policies or configuration; 2 no ledger;
    74 an output could not be written; 75 a run held the ledger past --lock-timeout.

    \b
    Examples:
      loyaltyrules export --as-of 2025-11-20
      loyaltyrules export --as-of 2025-01-01 --through 2025-03-31 --out q1.csv
      loyaltyrules export --as-of 2025-11-20 --out - | my-host-import
      loyaltyrules export --format durable-rules --policies receipt-policies/ --out rules.json
    """
    config = settings.load(config_path)
    if kind == "durable-rules":
        durable_rules(settings.policy_paths(config, policies), out)
        return
    if as_of is None:
        settings.fail("--as-of is required to export actions", settings.EXIT_INVALID)
    first = as_of.date()
    last = through.date() if through else first
    if last < first:
        settings.fail(f"--through {last} is before --as-of {first}", settings.EXIT_INVALID)
    ledger = settings.state_path(config, state)
    store = settings.store_setting(config, store)
    if not ledger.exists():
        settings.fail(f"no ledger at {ledger}: nothing was ever recorded there "
                      "(see --state)", settings.EXIT_UNUSABLE)
    plan = settings.compile_plan(settings.policy_paths(config, policies))
    target = Target.parse(settings.out_dir(config, out), store)
    people = _directory(config, data, example, last) if target.per_day else None
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with delivering.holding_run_lock(ledger, delivering.lock_timeout(config, lock_timeout),
                                     store):
        Ledger.open(ledger).close()  # brings an older ledger's schema up to date
        with delivering.delivery_errors():
            done = deliver(ledger, target, dates_of(first, last),
                           f"export:{stamp}-{uuid.uuid4().hex[:8]}", sheet_text(plan, people),
                           include_owed=False)
    span = f"{first} .. {last}" if last != first else str(first)
    click.echo(f"exported {done.actions} actions of {len(done.days)} "
               f"date{'s' * (len(done.days) != 1)} ({span}) to {target}", err=True)


def _directory(config: Config, data: Path | None, example: bool,
               last: dt.date) -> Directory | None:
    """Who is who on the task sheets, from the data source; None (ids only, with a
    warning) when no data source is named."""
    source_ref = settings.named_data_source(config, data, example)
    if source_ref is None:
        click.echo("loyaltyrules: warning: no data source (--data, [source] of "
                   "loyaltyrules.toml, ./data): task sheets show ids, without names, "
                   "contact details or the customers' languages", err=True)
        return None
    try:
        source = load_source(source_ref, last, None)
    except UnusableInput as err:
        settings.unusable(err)
    return sheet_directory(source, config)


def durable_rules(paths: Sequence[Path], out: str | None) -> None:
    """The ruleset JSON (event/durable/export.py) to a file or stdout; exit 1 when a
    policy is outside the subset, listing each with its reason."""
    from ..event.durable.export import document

    plan = settings.compile_plan(paths)
    try:
        text = json.dumps(document(plan), indent=2, ensure_ascii=False) + "\n"
    except DiagnosticError as err:
        for diagnostic in err.diagnostics:
            click.echo(diagnostic.render(), err=True)
        settings.fail(f"{len(err.diagnostics)} policies cannot run on durable_rules "
                      "(docs/durable-rules.md)", settings.EXIT_INVALID)
    if out in (None, "-"):
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as err:
        settings.fail(f"cannot write {out}: {err.strerror}", 74)
    click.echo(f"wrote the durable_rules ruleset of bundle {plan.bundle} to {out}", err=True)
