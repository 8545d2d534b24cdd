"""`loyaltyrules validate [PATH...]`: schema and semantic checks of a policy set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..sources import UnusableInput, open_source
from ..validation.calendar import calendar_names, check_calendar
from ..validation.pipeline import ValidationResult, validate_paths
from ..validation.targets import check_targets, known_targets
from . import settings
from .common import default_policy_paths

MAX_SHOWN = 200


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object with every diagnostic, for CI tools.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--data", type=click.Path(path_type=Path),
              help="Also check the overrides against this data source (a folder of table "
                   "files, a SQLite file or a loyaltyrules.toml): a region or store it does "
                   "not know is a warning, and so is a calendar day name it lacks; a "
                   "calendar kind it lacks is an error.")
def validate_command(paths: tuple[Path, ...], fmt: str, strict: bool, data: Path | None
                     ) -> None:
    """Check policy files, templates and overrides; report every problem.

    PATHS are files or folders (default: the `policies` setting of loyaltyrules.toml,
    else ./policies, else the bundled default pack). The JSON Schemas run first, then
    the semantic checks: condition types, unknown facts and params, duplicate ids,
    windows, overrides. Each problem has a stable code and file:line:col.

    Exit status: 0 valid, 1 problems found, 2 the --data source is unusable.

    \b
    Examples:
      loyaltyrules validate
      loyaltyrules validate policies/ --format json
      loyaltyrules validate policies/ --data data/
    """
    result = validate_paths(list(paths) or default_policy_paths())
    if data is not None:
        _check_against(result, data)
    failing = result.errors if not strict else result.diagnostics
    if fmt == "json":
        click.echo(json.dumps({
            "ok": not failing,
            "files": len(result.context.sources),
            "diagnostics": [d.to_json() for d in result.diagnostics],
        }, indent=2))
    else:
        for diagnostic in result.diagnostics[:MAX_SHOWN]:
            click.echo(diagnostic.render())
        if len(result.diagnostics) > MAX_SHOWN:
            click.echo(f"... and {len(result.diagnostics) - MAX_SHOWN} more (use --format json)")
        errors, warnings = len(result.errors), len(result.diagnostics) - len(result.errors)
        summary = f"{len(result.context.sources)} files: {errors} errors, {warnings} warnings"
        click.echo(summary if failing else f"{summary}; valid", err=bool(failing))
    sys.exit(1 if failing else 0)


def _check_against(result: ValidationResult, data: Path) -> None:
    """Add what the data source tells: override targets it does not know, calendar
    kinds and names its calendar table lacks (when it has one)."""
    try:
        source = open_source(data)
    except UnusableInput as err:
        settings.unusable(err)
    try:
        known = known_targets(source.connection)
        calendar = calendar_names(source.connection) if "calendar" in source.present else None
    finally:
        source.connection.close()
    overrides = [f.doc for f in result.context.of_kind("override")]
    found = [*result.diagnostics, *check_targets(overrides, known)]
    if calendar is not None:
        found += check_calendar([f.doc for f in result.context.of_kind("policy")], *calendar)
    result.diagnostics[:] = sorted(found, key=lambda d: d.sort_key())
