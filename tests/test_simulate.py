"""`loyaltyrules simulate` on the example store: the big-purchase threshold lowered from
2,000 to 1,500 adds calls, and the added calls per store and associate agree with two
backtests diffed by hand."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.cli import cli

from _paths import PACK

RANGE = ("--from", "2025-01-01", "--to", "2025-11-20")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def lowered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("candidate") / "policies"
    shutil.copytree(PACK, copy)
    call = copy / "big-purchase-call.yaml"
    text = call.read_text(encoding="utf-8")
    call.write_text(text.replace("default: 2000", "default: 1500").replace(
        "\nversion: 2", "\nversion: 3"), encoding="utf-8")
    return copy


def _canonical(actions: list[dict[str, object]]) -> list[str]:
    return sorted(json.dumps(a, sort_keys=True, default=str) for a in actions)


@pytest.fixture(scope="module")
def pack_backtest() -> list[str]:
    """The actions of the pack's own backtest over RANGE, as sorted JSON (read-only, so
    run once for the module's parameters)."""
    import datetime as dt

    from loyaltyrules.examples import example_data_dir
    from loyaltyrules.nightly import load_source, run_range
    from loyaltyrules.plan import compile_paths

    end = dt.date(2025, 11, 20)
    return _canonical(run_range(compile_paths([PACK]), load_source(example_data_dir(), end,
                                                                   None),
                                dt.date(2025, 1, 1), end, None).actions)


def _backtest(policies: Path, out: Path) -> dict[str, dict[str, object]]:
    result = invoke("backtest", "--policies", str(policies), "--example", *RANGE,
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {str(a["action_id"]): a for a in rows}


def _who(action: dict[str, object]) -> str:
    assignee = action["assignee"]
    assert isinstance(assignee, dict)
    return str(assignee["id"] or f"{assignee['role']}@{action['store_id']}")


def test_simulate_agrees_with_two_backtests_diffed_by_hand(lowered: Path,
                                                           tmp_path: Path) -> None:
    before = _backtest(PACK, tmp_path / "before.jsonl")
    after = _backtest(lowered, tmp_path / "after.jsonl")
    added = [a for i, a in after.items() if i not in before]
    removed = [a for i, a in before.items() if i not in after]
    by_hand = Counter((str(a["store_id"]), _who(a)) for a in added if a["type"] == "call")
    assert by_hand
    assert {a["policy"] for a in added} == {"big-purchase-call"}
    # A lower threshold only adds calls; an A-class call of the same night for the same
    # customer and associate now joins the added call (staff tasks merge) and so leaves
    # the actions handed out.
    assert removed and {a["policy"] for a in removed} <= {"a-class-monthly-call",
                                                           "a-class-preseason-call"}
    for gone in removed:
        survivor = next(a for a in added if a["customer_id"] == gone["customer_id"]
                        and a["as_of"] == gone["as_of"] and a["assignee"] == gone["assignee"])
        reason = survivor["reason"]
        assert isinstance(reason, dict)
        assert gone["action_id"] in {m["action_id"] for m in reason["merged"]}

    out = tmp_path / "impact"
    result = invoke("simulate", "--baseline", str(PACK), "--candidate", str(lowered),
                    *RANGE, "--example", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    with (out / "workload.csv").open(encoding="utf-8-sig", newline="") as f:
        workload = list(csv.DictReader(f))
    simulated = {(r["store"], r["associate"]): int(r["calls added"]) for r in workload
                 if int(r["calls added"])}
    assert simulated == dict(by_hand)
    with (out / "changes.csv").open(encoding="utf-8-sig", newline="") as f:
        changes = list(csv.DictReader(f))
    assert sum(int(r["added"]) for r in changes) == len(added)
    assert sum(int(r["removed"]) for r in changes) == len(removed)
    assert {r["policy"] for r in changes if int(r["added"])} == {"big-purchase-call"}


def test_table_and_a_self_contained_page(lowered: Path, tmp_path: Path) -> None:
    table = invoke("simulate", "--baseline", str(PACK), "--candidate", str(lowered), *RANGE,
                   "--example")
    assert table.exit_code == 0, table.output
    assert "Workload per associate" in table.output and "added: " in table.output
    page = tmp_path / "impact.html"
    html = invoke("simulate", "--baseline", str(PACK), "--candidate", str(lowered), *RANGE,
                  "--example", "--format", "html", "--out", str(page))
    assert html.exit_code == 0, html.output
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 2 and "<script" not in text and "http" not in text
    assert "Busiest day per associate" in text


def test_the_same_set_changes_nothing(tmp_path: Path) -> None:
    result = invoke("simulate", "--baseline", str(PACK), "--candidate", str(PACK), *RANGE,
                    "--example")
    assert result.exit_code == 0, result.output
    assert "added: 0" in result.output and "removed: 0" in result.output
    assert "changed: 0" in result.output


def test_csv_and_html_need_out(lowered: Path) -> None:
    result = invoke("simulate", "--baseline", str(PACK), "--candidate", str(lowered), *RANGE,
                    "--example", "--format", "csv")
    assert result.exit_code == 1 and "give --out" in result.output


@pytest.mark.parametrize("policy, old, new", [
    ("big-purchase-call.yaml", "default: 2000", "default: 1500"),
    ("vip-tiers.yaml", "default: 5000", "default: 4000"),  # the ladder: all re-evaluated
])
def test_the_candidate_equals_its_own_backtest(tmp_path: Path, pack_backtest: list[str],
                                               policy: str, old: str, new: str) -> None:
    """Reusing the unchanged policies' candidates gives exactly the candidate's backtest."""
    import datetime as dt

    from loyaltyrules.examples import example_data_dir
    from loyaltyrules.nightly import load_source, run_range
    from loyaltyrules.plan import compile_paths
    from loyaltyrules.simulation import changed_policies, simulate

    copy = tmp_path / "policies"
    shutil.copytree(PACK, copy)
    text = (copy / policy).read_text(encoding="utf-8")
    assert old in text
    (copy / policy).write_text(text.replace(old, new), encoding="utf-8")
    baseline, candidate = compile_paths([PACK]), compile_paths([copy])
    start, end = dt.date(2025, 1, 1), dt.date(2025, 11, 20)
    source = load_source(example_data_dir(), end, None)
    before, after = simulate(source, baseline, candidate, start, end)
    reference = run_range(candidate, load_source(example_data_dir(), end, None), start, end,
                          None).actions
    assert _canonical(after) == _canonical(reference)
    # The customers no changed policy touches are decided once for both sets.
    assert _canonical(before) == pack_backtest
    reused = changed_policies(baseline, candidate)
    assert reused == (frozenset({"big-purchase-call"}) if policy.startswith("big") else None)
