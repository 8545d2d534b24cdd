"""`loyaltyrules outcomes import FILE`: record what hosts report back about actions."""

from __future__ import annotations

from pathlib import Path

import click

from ..outcomes import BadOutcomesFile, NoLedger, import_outcomes, write_rejects
from . import settings


@click.group("outcomes")
def outcomes_command() -> None:
    """Outcomes reported by the store's systems (done, failed, unreachable, declined)."""


@outcomes_command.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@settings.state_option
@click.option("--rejects", "rejects_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Where rejected rows are described (default: FILE.rejects.jsonl beside "
                   "FILE).")
@settings.config_option
def import_command(file: Path, state: str | None, rejects_path: Path | None,
                   config_path: Path | None) -> None:
    """Import outcomes from FILE (.csv or .jsonl) into the ledger.

    Columns: action_id, status (done | failed | unreachable | declined), completed_at
    (ISO 8601), staff_id, note, topic (region | company | none). Rows naming no action
    in the ledger, or with a bad value, go to the rejects file with row, column and
    reason. Importing the same file again changes nothing; for an action reported
    twice, the outcome with the latest completed_at is kept.

    Exit status: 0 done (even with rejects); 1 bad configuration; 2 unusable file or
    no ledger.

    \b
    Example:
      loyaltyrules outcomes import outcomes-2025-11-21.csv
    """
    config = settings.load(config_path)
    ledger = settings.state_path(config, state)
    try:
        result = import_outcomes(ledger, file)
    except (BadOutcomesFile, NoLedger) as err:
        settings.fail(str(err), settings.EXIT_UNUSABLE)
    target = rejects_path or file.with_name(f"{file.stem}.rejects.jsonl")
    write_rejects(result.rejects, target)
    click.echo(f"rows read: {result.rows_read}")
    click.echo(f"new outcomes: {result.new}, replaced: {result.replaced}, "
               f"unchanged: {result.unchanged}, superseded by a later outcome: "
               f"{result.superseded}")
    if result.rows_rejected:
        click.echo(f"rows rejected: {result.rows_rejected} (see {target})")
    else:
        click.echo("rows rejected: 0")
