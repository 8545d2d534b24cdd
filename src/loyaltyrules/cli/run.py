"""`loyaltyrules run`: the nightly evaluation, with catch-up after missed nights."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..config import Config
from ..delivery import Delivery, Target
from ..nightly import RunSummary, ingest_store, last_through, load_source, run_range
from ..sources import UnusableInput
from ..state import StateStore
from . import delivering, settings

TABLE_ROWS = 40


def _progress(quiet: bool) -> Callable[[str], None]:
    attached = sys.stderr.isatty()

    def show(message: str) -> None:
        if attached and not quiet:
            click.echo(f"... {message}", err=True)

    return show


def dates(as_of: dt.date | None, through: dt.date | None, state: StateStore,
          store: str | None = None) -> tuple[dt.date, dt.date]:
    """Without --as-of: from the day after the last run (of the store) to today."""
    today = dt.date.today()
    if as_of is None:
        last = last_through(state, store)
        as_of = min(last + dt.timedelta(days=1), today) if last else today
        through = through or today
    through = through or as_of
    if through < as_of:
        settings.fail(f"--through {through} is before --as-of {as_of}", settings.EXIT_INVALID)
    return as_of, through


def _show(summary: RunSummary, to_stdout: bool, quiet: bool) -> None:
    echo = (lambda m: click.echo(m, err=True)) if to_stdout else click.echo
    if not quiet and summary.actions:
        echo(f"{'as_of':10}  {'policy':20} {'type':11} {'customer':10} {'assignee':22} due_by")
        for a in summary.actions[:TABLE_ROWS]:
            who = f"{a['assignee']['role']} {a['assignee']['id'] or ''}".strip()
            echo(f"{a['as_of']:10}  {a['policy']:20} {a['type']:11} {a['customer_id']:10} "
                 f"{who:22} {a['due_by']}")
        if len(summary.actions) > TABLE_ROWS:
            echo(f"... and {len(summary.actions) - TABLE_ROWS} more")
    echo(f"\n{'policy':22} {'candidates':>10} {'new':>6}")
    for policy in sorted(summary.candidates):
        echo(f"{policy:22} {summary.candidates[policy]:>10} {summary.new[policy]:>6}")
    total_new = sum(summary.new.values())
    echo(f"{'total':22} {sum(summary.candidates.values()):>10} {total_new:>6}")
    _show_contact(summary, echo)
    show_unknown_targets(summary, echo)
    if summary.source is not None and summary.source.reject_total:
        echo(f"input rows rejected or cleared: {summary.source.reject_total} "
             "(see the rejects file)")
    if summary.delivery is not None:
        _show_delivery(summary.delivery, echo)


def _show_delivery(delivery: Delivery, echo: Callable[[str], None]) -> None:
    """What the host has now, and anything still owed to another target."""
    days = delivery.days
    span = f"{days[0]} .. {days[-1]}" if len(days) > 1 else str(days[0]) if days else "-"
    echo(f"\ndelivered: {delivery.actions} actions of {len(days)} "
         f"date{'s' * (len(days) != 1)} ({span}) to {delivery.target}")
    if delivery.redelivered:
        echo(f"  of which {delivery.redelivered} recorded by an earlier run that did not "
             "finish writing them")
    delivering.warn_owed_elsewhere(delivery.elsewhere)


def show_unknown_targets(summary: RunSummary, echo: Callable[[str], None]) -> None:
    for line in summary.unknown_targets:
        echo(f"warning: override for {line}: no such name in the data, so it changes nothing")
    for line in summary.missing_tables:
        echo(f"warning: policy {line} in the data, so it never fires")


def _show_contact(summary: RunSummary, echo: Callable[[str], None]) -> None:
    """The four ends of the contact rules; every candidate is in exactly one."""
    counts = summary.contact
    echo(f"\ncontact rules: {sum(counts.values())} candidates")
    for status in ("emitted", "deferred", "merged", "expired"):
        echo(f"  {status:9} {counts.get(status, 0):>6}")
    for reason, count in summary.contact_reasons.items():
        echo(f"    {reason:24} {count:>6}")


@click.command("run")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
              help="Business date to evaluate "
                   "(default: the day after the last run, i.e. catch up).")
@click.option("--through", type=click.DateTime(["%Y-%m-%d"]),
              help="Last date of a range; every date from --as-of on is evaluated in one pass.")
@settings.data_option
@settings.example_option
@settings.state_option
@settings.store_option
@settings.policies_option
@settings.bundle_option
@settings.out_option
@click.option("--summary-json", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the run summary as JSON here.")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary.")
@delivering.lock_timeout_option
@settings.engine_option
@settings.config_option
def run_command(as_of: dt.datetime | None, through: dt.datetime | None, data: str | None,
                example: bool, state: str | None, store: str | None,
                policies: tuple[Path, ...], bundle: Path | None, out: str | None,
                summary_json: Path | None, quiet: bool, lock_timeout: float | None,
                engine: str | None, config_path: Path | None) -> None:
    """Evaluate the policies for a business date (or a range) and deliver its actions.

    Each action has a deterministic id and is recorded in the ledger: re-running any
    date emits nothing new, and a missed night is caught up by the next run. Each
    date's files are written from the ledger (all of that date's actions, the same
    bytes on a re-run), and anything an interrupted run recorded but did not write is
    written first. The data is --data, else [source] of loyaltyrules.toml, else
    ./data; with none of them the run refuses. --example runs on the bundled example
    store instead.

    With [run] ingest_store = true and a state file S, the checked input is kept in
    S.ingest.duckdb, so a night reads and checks only new or changed files (off by
    default: the kept copy holds the input's contact details).

    One run at a time per ledger: a second waits for the first (--lock-timeout).
    Stores sharing one ledger (PostgreSQL, --state postgresql://...) each run with
    --store: a store's run keeps its own actions, and waits only for its own.

    \b
    Exit status: 0 done; 1 invalid policies or configuration (or no data source);
    2 unusable input; 3 unusable state file;
    74 the actions are recorded but an output could not be written (a full disk):
       the next run or `loyaltyrules export` writes them;
    75 another run held the ledger for longer than --lock-timeout; nothing was done.

    \b
    Examples:
      loyaltyrules run --example --as-of 2025-11-20
      loyaltyrules run --as-of 2025-11-20 --data data/
      loyaltyrules run --as-of 2025-01-01 --through 2025-12-31 --out -
      loyaltyrules run                  # catch up from the last run to today
      loyaltyrules run --state postgresql://loyalty@hq/ledger --store S001
      loyaltyrules run --as-of 2025-01-01 --through 2025-12-31 --engine spark
    """
    config = settings.load(config_path)
    source_ref = settings.data_source(config, data, example)
    ledger = settings.state_path(config, state)
    store = settings.store_setting(config, store)
    plan = settings.load_plan(config, policies, bundle)
    evaluator = settings.evaluator(config, engine)
    target = Target.parse(settings.out_dir(config, out), store)
    progress = _progress(quiet)
    if as_of and through and through < as_of:
        settings.fail(f"--through {through.date()} is before --as-of {as_of.date()}",
                      settings.EXIT_INVALID)
    with delivering.holding_run_lock(ledger, delivering.lock_timeout(config, lock_timeout),
                                     store):
        start, end = dates(as_of.date() if as_of else None,
                           through.date() if through else None, ledger, store)
        rejects = _rejects_path(target, end)
        try:
            rejects.parent.mkdir(parents=True, exist_ok=True)
            progress(f"loading data from {settings.describe(source_ref, example)}")
            source = load_source(source_ref, end, rejects, _kept(config, ledger, store))
        except UnusableInput as err:
            settings.unusable(err)
        except OSError as err:  # the output folder or rejects file: nothing recorded yet
            settings.fail(f"cannot write {err.filename or rejects}: {err.strerror or err}; "
                          "nothing was recorded", settings.EXIT_OUTPUT)
        with delivering.delivery_errors(), settings.engine_errors():
            summary = run_range(plan, source, start, end, ledger, progress, config, target,
                                store=store, evaluator=evaluator)
    _show(summary, target.kind == "stdout", quiet)
    if summary_json:
        summary_json.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")


def _kept(config: Config, ledger: StateStore, store: str | None) -> Path | None:
    """The ingest store beside the state, when `[run] ingest_store = true`."""
    return ingest_store(ledger, store) if settings.ingest_store_setting(config) else None


def _rejects_path(target: Target, end: dt.date) -> Path:
    """Beside the outputs: in the folder, beside the file, or in the working folder."""
    if target.kind == "stdout":
        return Path(f"rejects-{end}.jsonl")
    if target.kind == "folder":
        return Path(target.place) / f"rejects-{end}.jsonl"
    place = Path(target.place)
    return place.with_name(f"{place.stem}.rejects.jsonl")
