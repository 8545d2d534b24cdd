"""`loyaltyrules diff OLD NEW`: what changed between two policy sets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..release.diff import diff
from ..release.render import as_markdown, as_text
from . import settings


@click.command("diff")
@click.argument("old", type=click.Path(path_type=Path, exists=True))
@click.argument("new", type=click.Path(path_type=Path, exists=True))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True,
              help="table for a terminal, markdown for a pull request comment, json for tools.")
@click.option("--allow-same-version", is_flag=True,
              help="Do not fail when a policy changed but kept its version.")
@settings.config_option
def diff_command(old: Path, new: Path, fmt: str, allow_same_version: bool,
                 config_path: Path | None) -> None:
    """Compare two policy sets by meaning, not text: OLD and NEW are policy folders or
    bundle files (`loyaltyrules bundle build`).

    Shows the policies added, removed and re-versioned; per policy, the params that
    changed (default, bounds, overridable), the conditions, the actions (type,
    assignee, window, template, params), trigger, scope and effective dates; the
    overrides per region and store; the templates per locale; the contact rules.
    Comments and layout are never changes.

    A policy whose meaning changed while its version stayed the same is an error:
    actions already recorded under that version would then mean two things. Bump
    `version:` (or pass --allow-same-version for a change made before any release).

    \b
    Examples:
      loyaltyrules diff release-41.bundle policies/
      loyaltyrules diff old/ new/ --format markdown > pr-comment.md

    Exit status: 0 compared (with or without changes); 1 a policy changed without a
    version bump, or a set does not validate (or a bundle is refused).
    """
    config = settings.load(config_path)
    result = diff(settings.set_plan(config, old), settings.set_plan(config, new))
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    elif fmt == "markdown":
        click.echo(as_markdown(result), nl=False)
    else:
        click.echo(as_text(result))
    unbumped = result.unbumped
    if unbumped and not allow_same_version:
        names = ", ".join(f"{p.policy} v{p.new_version}" for p in unbumped)
        settings.fail(f"changed without a version bump: {names}; bump `version:` or pass "
                      "--allow-same-version", settings.EXIT_INVALID)

