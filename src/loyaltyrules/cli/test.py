"""`loyaltyrules test`: run the policy test cases kept beside the policies."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ..diagnostics import DiagnosticError
from ..plan import Plan, compile_result
from ..policytests import (
    Case,
    CaseResult,
    Coverage,
    cases_of,
    default_jobs,
    percent,
    raise_if_invalid,
    report,
    run,
    select,
    split_test_files,
)
from ..validation.pipeline import validate_paths
from . import settings

# Fields of a produced action shown beside the expected ones on a failure.
SHOWN = ("policy", "type", "customer_id", "as_of", "not_before", "due_by", "assignee")


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-k", "keyword", metavar="TEXT",
              help="Only cases whose name (or file) contains TEXT.")
@click.option("--policy", "policy_id", metavar="ID", help="Only cases about policy ID.")
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
@click.option("--coverage", "covering", is_flag=True,
              help="Report, per policy, the conditions never true or never false and the "
                   "actions that never fired across the cases run.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="With --coverage: exit 1 when the total coverage is below PCT percent.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of cores, at most 4).")
@settings.config_option
def test_command(
    paths: tuple[Path, ...], keyword: str | None, policy_id: str | None, verbose: bool,
    covering: bool, fail_under: float | None, jobs: int | None, config_path: Path | None
) -> None:
    """Run the policy test cases (`tests/*.yaml` beside the policies) through the engine.

    PATHS are policy folders or test files (default: as for `run`); a test file is
    run against the policy set it sits in (the folder holding its `tests/` folder),
    and then only the test files given run. Each case gives a few input rows and a
    business date and names the actions it expects, exactly or as a subset, and those
    it must not see. Cases are chosen first (-k, --policy, files), and each evaluates
    only the policies it names. A failing case prints the actions it produced beside
    the expected ones.

    \b
    Examples:
      loyaltyrules test                                   every case of ./policies
      loyaltyrules test policies/tests/vip-tiers.yaml     one file
      loyaltyrules test -k threshold --policy big-purchase-call
      loyaltyrules test --coverage --fail-under 90

    Exit status: 0 all pass; 1 a failure, no case chosen, coverage under --fail-under,
    or invalid policies or test files.
    """
    started = time.perf_counter()
    config = settings.load(config_path)
    policy_sets, chosen = split_test_files(settings.policy_paths(config, paths))
    plan, files = _load(policy_sets, chosen)
    cases = select([c for f in files for c in cases_of(f)], keyword, policy_id)
    seen = Coverage()
    passed = failed = 0
    results = run(plan, cases, jobs=jobs or default_jobs(), covering=covering)
    for case, result in zip(cases, results, strict=True):
        seen.merge(result.coverage)
        if result.passed:
            passed += 1
            if verbose:
                click.echo(f"PASS {result.file}: {result.name}")
            continue
        failed += 1
        _show_failure(result, case)
    low = covering and _show_coverage(plan, seen, cases, policy_id, fail_under)
    seconds = time.perf_counter() - started
    click.echo(f"{passed} passed, {failed} failed in {seconds:.1f}s")
    if not cases:
        click.echo("no case chosen: check -k, --policy and the paths", err=True)
    sys.exit(1 if failed or not cases or low else 0)


def _load(policy_sets: list[Path], chosen: set[Path] | None) -> tuple[Plan, list[Any]]:
    result = validate_paths(policy_sets)
    if not result.ok:
        for diagnostic in result.errors[:50]:
            click.echo(diagnostic.render(), err=True)
        settings.fail("the policies do not validate", settings.EXIT_INVALID)
    try:
        plan = compile_result(result)
        files = [f for f in result.context.of_kind("policy-test")
                 if chosen is None or f.source.path.resolve() in chosen]
        raise_if_invalid(files)
    except DiagnosticError as err:
        click.echo(str(err), err=True)
        settings.fail("invalid policies or test files", settings.EXIT_INVALID)
    return plan, files


def _show_failure(result: CaseResult, case: Case) -> None:
    click.echo(f"FAIL {result.file}: {result.name}")
    for failure in result.failures:
        click.echo(f"     {failure}")
    expected = list(case.data.get("expect") or [])
    named = {k for want in expected if isinstance(want, Mapping) for k in want}
    fields = [*SHOWN, *sorted(named - set(SHOWN))]
    produced = [a for a in result.produced
                if case.needed is None or a["policy"] in case.needed]
    click.echo(f"     expected ({len(expected)}):")
    _lines(expected)
    click.echo(f"     produced ({len(produced)}):")
    _lines({k: a[k] for k in fields if k in a} for a in produced)


def _lines(items: Iterable[Mapping[str, Any]]) -> None:
    for item in items:
        click.echo(f"       {json.dumps(item, default=str, sort_keys=False)}")


def _show_coverage(plan: Plan, seen: Coverage, cases: Sequence[Case], policy_id: str | None,
                   fail_under: float | None) -> bool:
    """Print the coverage; True when it is under `fail_under`."""
    named = {p for c in cases for p in (c.needed or {p.id for p in plan.policies})}
    reports = report(plan, seen, [policy_id] if policy_id else named)
    click.echo("coverage (each condition true and false, each action fired):")
    for item in reports:
        click.echo(f"  {item.policy}: {item.covered}/{item.total}")
        for text, true, false in item.conditions:
            missing = [w for w, ok in (("true", true), ("false", false)) if not ok]
            if missing:
                click.echo(f"    condition never {' nor '.join(missing)}: {text}")
        for action, fired in item.actions:
            if not fired:
                click.echo(f"    action never fired: {action}")
    total = percent(reports)
    click.echo(f"  total: {total:.1f}%")
    if fail_under is not None and total < fail_under:
        click.echo(f"coverage {total:.1f}% is under --fail-under {fail_under:g}%", err=True)
        return True
    return False
