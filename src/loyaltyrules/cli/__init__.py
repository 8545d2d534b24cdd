"""The `loyaltyrules` command: one module per verb, registered on one group.

Exit status: 0 done; 1 invalid policies or configuration; 2 unusable input;
3 unusable state (not a state, damaged, from a newer release, a URL of another kind,
an unreachable database);
70 an internal error (reported in one line; set LOYALTYRULES_DEBUG=1 for the trace);
74 recorded, but an output could not be written; 75 another run held the ledger
(`run` and `export`: docs/ledger.md).
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..statefile import UnusableState
from .backtest import backtest_command
from .bundle import bundle_command
from .diff import diff_command
from .explain import explain_command
from .export import export_command
from .inspect import inspect_command
from .outcomes import outcomes_command
from .report import report_command
from .run import run_command
from .schema import schema_command
from .serve import serve_command
from .settings import EXIT_STATE
from .simulate import simulate_command
from .test import test_command
from .validate import validate_command

EXIT_INTERNAL = 70


class _Commands(click.Group):
    """The verbs; a state file refused wherever a command opens it is the user's
    mistake, reported with its own exit status, never as an internal error."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UnusableState as err:
            click.echo(f"loyaltyrules: unusable state: {err}", err=True)
            ctx.exit(EXIT_STATE)


@click.group(cls=_Commands,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="loyaltyrules")
def cli() -> None:
    """Run a retail franchise's customer-retention playbook as code.

    HQ writes policies as YAML; `validate` checks them, `run` evaluates them over a
    store's data each night and writes the day's actions (calls, messages, visits,
    tier changes) for the systems the store already has.
    """


for command in (validate_command, test_command, run_command, explain_command,
                backtest_command, schema_command):
    cli.add_command(command)
cli.add_command(serve_command)
cli.add_command(outcomes_command)
cli.add_command(report_command)
cli.add_command(export_command)
cli.add_command(bundle_command)
cli.add_command(diff_command)
cli.add_command(simulate_command)
cli.add_command(inspect_command)


def main() -> None:
    """Entry point: no traceback ever reaches the user unless asked for."""
    try:
        cli.main(standalone_mode=True)
    except Exception as err:  # the last line of defence: reported plainly
        if os.environ.get("LOYALTYRULES_DEBUG"):
            raise
        click.echo(f"loyaltyrules: internal error: {type(err).__name__}: {err}", err=True)
        click.echo("set LOYALTYRULES_DEBUG=1 to see the trace, and report it", err=True)
        sys.exit(EXIT_INTERNAL)
