"""`loyaltyrules test`: run the policy test cases kept beside the policies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..diagnostics import DiagnosticError
from ..plan import compile_result
from ..policytests import raise_if_invalid, run_cases, split_test_files
from ..validation.pipeline import validate_paths
from . import settings


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-k", "keyword", help="Only cases whose name contains this text.")
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
@settings.config_option
def test_command(
    paths: tuple[Path, ...], keyword: str | None, verbose: bool, config_path: Path | None
) -> None:
    """Run the policy test cases (`tests/*.yaml` beside the policies) through the engine.

    PATHS are policy folders or test files (default: as for `run`); a test file is
    run against the policy set it sits in (the folder holding its `tests/` folder),
    and then only the test files given run. Each case gives a few input
    rows and a business date and names the actions it expects, exactly or as a
    subset, and those it must not see. Exit status: 0 all pass, 1 a failure or
    invalid policies.
    """
    config = settings.load(config_path)
    policy_sets, chosen = split_test_files(settings.policy_paths(config, paths))
    result = validate_paths(policy_sets)
    if not result.ok:
        for diagnostic in result.errors[:50]:
            click.echo(diagnostic.render(), err=True)
        settings.fail("the policies do not validate", settings.EXIT_INVALID)
    try:
        plan = compile_result(result)
    except DiagnosticError as err:
        click.echo(str(err), err=True)
        settings.fail("the policies do not validate", settings.EXIT_INVALID)
    files = [f for f in result.context.of_kind("policy-test")
             if chosen is None or f.source.path.resolve() in chosen]
    try:
        raise_if_invalid(files)
    except DiagnosticError as err:
        click.echo(str(err), err=True)
        settings.fail("invalid test files", settings.EXIT_INVALID)
    passed = failed = 0
    for file in files:
        for case in run_cases(plan, file):
            if keyword and keyword not in case.name:
                continue
            if case.passed:
                passed += 1
                if verbose:
                    click.echo(f"PASS {case.file}: {case.name}")
                continue
            failed += 1
            click.echo(f"FAIL {case.file}: {case.name}")
            for failure in case.failures:
                click.echo(f"     {failure}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not (passed + failed) else 0)
