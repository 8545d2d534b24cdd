"""`loyaltyrules schema [NAME]`: print the published JSON Schemas."""

from __future__ import annotations

import sys

import click

from ..diagnostics import did_you_mean
from ..resources import schema_names, schema_text


@click.command("schema")
@click.argument("name", required=False)
def schema_command(name: str | None) -> None:
    """Print the published JSON Schema NAME (policy, action, customers, ...).

    Without NAME, list the schema names. The same files are in the repository's
    `schemas/` folder; point an editor at them for completion while writing policies.
    """
    names = schema_names()
    if name is None:
        for known in names:
            click.echo(known)
        return
    key = name.removesuffix(".json").removesuffix(".schema")
    if key not in names:
        hint = did_you_mean(key, names) or f"known schemas: {', '.join(names)}"
        click.echo(f"loyaltyrules: no schema named {name!r}; {hint}", err=True)
        sys.exit(1)
    click.echo(schema_text(key), nl=False)
