"""`validate` on metrics files: what a metric may be, where each problem is reported,
and what the policies see (tests/corpus/broken/ holds more cases with positions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.validation.pipeline import validate_paths

from _paths import PACK

# the first line appended to the pack's metrics file
FIRST = len((PACK / "metrics.yaml").read_text(encoding="utf-8").splitlines()) + 1
EXTRA = """  net_365d:
    description: Net spend of the last 365 days.
    aggregate: sum
    of: purchase.amount
    window: 365d
"""
POLICY = """id: {id}
title: A policy over a declared metric
version: 1
trigger: {trigger}
conditions:
  - {condition}
actions:
  - type: call
    assignee: {{role: store_staff}}
    window: {{due_by: 7d}}
"""


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(PACK, target)
    return target


def _add(pack: Path, metrics: str = "", **policies: tuple[str, str]) -> None:
    with (pack / "metrics.yaml").open("a") as out:
        out.write(metrics)
    for name, (trigger, condition) in policies.items():
        policy_id = name.replace("_", "-")
        (pack / f"{policy_id}.yaml").write_text(
            POLICY.format(id=policy_id, trigger=trigger, condition=condition))


def _found(pack: Path) -> list[tuple[str, str, int, int, str]]:
    return [(d.code, Path(d.location.file).name, d.location.line, d.location.col,
             d.severity.value) for d in validate_paths([pack]).diagnostics]


def test_a_metric_no_policy_reads_is_a_warning_where_it_is_declared(pack: Path) -> None:
    _add(pack, EXTRA)
    assert _found(pack) == [("metric.unused", "metrics.yaml", FIRST, 3, "warning")]
    result = CliRunner().invoke(cli, ["validate", str(pack), "--strict"])
    assert result.exit_code == 1 and "[metric.unused] customer.net_365d" in result.output
    assert "publish: true" in result.output  # the hint says how to keep it


@pytest.mark.parametrize("published", [True, False])
def test_a_published_or_read_metric_is_used(pack: Path, published: bool) -> None:
    if published:
        _add(pack, EXTRA.replace("window: 365d", "window: 365d\n    publish: true"))
    else:
        _add(pack, EXTRA, big_year=("{kind: schedule, every: day}",
                                    "customer.net_365d > 10000"))
    assert _found(pack) == []


def test_an_expression_metric_uses_what_it_reads(pack: Path) -> None:
    _add(pack, EXTRA + "  points_365d: {expression: floor(customer.net_365d)}\n",
         points=("{kind: schedule, every: day}", "customer.points_365d > 10"))
    assert _found(pack) == []


def test_a_broken_declaration_does_not_hide_the_others(pack: Path) -> None:
    """A schema error in one metric: the policies still see the valid ones, and one
    that reads the broken metric is not reported again."""
    _add(pack, EXTRA + "  broken: {aggregate: sum}\n",
         uses_both=("{kind: schedule, every: day}",
                    "customer.net_365d > 1 && customer.broken > 1"))
    assert _found(pack) == [("schema.required", "metrics.yaml", FIRST + 5, 11, "error")]


def test_without_a_metrics_file_the_pack_metrics_apply(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY.format(
        id="lapsed-call", trigger="{kind: schedule, every: day}",
        condition="customer.days_since_last_purchase == 60"))
    assert validate_paths([tmp_path]).diagnostics == []
    (tmp_path / "metrics.yaml").write_text("kind: metrics\nmetrics:\n"
                                           "  visits: {aggregate: count_days}\n")
    codes = [(d.code, d.message) for d in validate_paths([tmp_path]).errors]
    assert codes == [("expr.unknown-fact",
                      "unknown fact 'customer.days_since_last_purchase'")]


@pytest.mark.parametrize(("window", "ok"), [("all", True), ("90d", True),
                                            ("this_year", True), ("last_year", False),
                                            ("this_month", False)])
def test_a_crossing_watches_a_running_value(pack: Path, window: str, ok: bool) -> None:
    _add(pack, EXTRA.replace("window: 365d", f"window: {window}"),
         spend_note=("{kind: crossing, metric: customer.net_365d, threshold: '100'}",
                     "customer.net_365d > 0"))
    found = [f for f in _found(pack) if f[4] == "error"]
    assert found == ([] if ok else [("trigger.metric-window", "spend-note.yaml", 4, 35,
                                     "error")])


def test_a_ladder_climbs_receipts_of_the_year_only(pack: Path) -> None:
    _add(pack, "  weighted: {expression: 'customer.spend_this_year * "
               "(customer.has_email ? 2 : 1)'}\n")
    ladder = (pack / "vip-tiers.yaml").read_text()
    (pack / "vip-tiers.yaml").write_text(
        ladder.replace("metric: customer.points_this_year", "metric: customer.weighted"))
    found = [(d.code, d.message) for d in validate_paths([pack]).errors]
    assert found == [("trigger.metric-window", "customer.weighted: a tier ladder's points "
                      "come from receipts only; it reads customer.has_email")]


def test_metrics_cannot_read_the_receipt_or_a_population(pack: Path) -> None:
    _add(pack, "  odd: {expression: purchase.amount, publish: true}\n"
               "  place: {expression: 'abc_class(customer.lifetime_spend, \"store\")', "
               "publish: true}\n")
    assert [(f[0], f[2]) for f in _found(pack)] == [("expr.fact-not-available", FIRST),
                                                    ("expr.population", FIRST + 1)]


def test_the_schema_is_published() -> None:
    result = CliRunner().invoke(cli, ["schema", "metrics"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$id"].endswith("/metrics.schema.json")
    assert "metrics" in CliRunner().invoke(cli, ["schema"]).output.split()
