"""`loyaltyrules explain` tells the whole story: the conditions with their values, the
file that set each param, and what the contact rules did with each action."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from loyaltyrules.cli import cli

from _paths import PACK

# C0173's first purchase, 3,544.93 at S3 (south) on 8 March 2025, referred by C0090
# (no sms consent): a big-purchase call, a welcome call joining it, two thank-yous.
DAY, CUSTOMER = "2025-03-08", "C0173"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _explain(store: Path, state: Path, *extra: str) -> str:
    return _cli("explain", "--customer", CUSTOMER, "--as-of", DAY, "--data", str(store),
                "--state", str(state), *extra)


def test_each_action_shows_what_the_contact_rules_recorded(example_store: Path,
                                                           tmp_path: Path) -> None:
    state = tmp_path / "s.sqlite"
    _cli("run", "--as-of", DAY, "--data", str(example_store), "--state", str(state),
         "--out", str(tmp_path / "o"), "--quiet")
    text = _explain(example_store, state)
    calls = [line for line in text.splitlines() if "=> call for C0173" in line]
    big = next(line for line in calls if "due 2025-03-18" in line)  # a week later, D+10
    survivor = big.rsplit("[", 1)[1].rstrip("]")
    assert "contact rules: emitted; recorded on 2025-03-08" in text
    assert f"contact rules: merged into task {survivor}; recorded on 2025-03-08" in text
    assert "contact rules: expired (no-consent:sms); recorded on 2025-03-08" in text
    assert "params.threshold = 2000.00 (HQ: " in text and "big-purchase-call.yaml)" in text
    assert "params.call_after = 7d (HQ: " in text and "params.due_days = 10d (HQ: " in text


def test_without_a_decision_it_shows_what_a_run_of_that_night_would_do(
        example_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "none.sqlite"
    text = _explain(example_store, state)
    assert "contact rules: expired (no-consent:sms); not recorded yet: what a run of " \
           "2025-03-08 would decide now" in text
    assert "merged into task" in text
    assert not state.exists()  # explain only reads


def test_a_catch_up_shows_stale(example_store: Path, tmp_path: Path) -> None:
    state = tmp_path / "s.sqlite"
    _cli("run", "--as-of", "2025-03-01", "--through", "2025-03-31", "--data",
         str(example_store), "--state", str(state), "--out", str(tmp_path / "o"), "--quiet")
    text = _explain(example_store, state, "--policy", "big-purchase-call")
    assert "contact rules: expired (stale); recorded on 2025-03-08" in text


def test_params_name_the_file_that_set_them(example_store: Path, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(PACK, policies)
    (policies / "overrides").mkdir()
    (policies / "overrides" / "south.yaml").write_text(
        "kind: override\ntarget: {region: south}\npolicies:\n"
        "  big-purchase-call: {params: {threshold: 1500, due_days: 9d}}\n", encoding="utf-8")
    (policies / "overrides" / "s3.yaml").write_text(
        "kind: override\ntarget: {store: S3}\npolicies:\n"
        "  big-purchase-call:\n    params:\n      threshold: 3000\n", encoding="utf-8")
    text = _explain(example_store, tmp_path / "s.sqlite", "--policy", "big-purchase-call",
                    "--policies", str(policies))
    assert "purchase.amount >= params.threshold: 3544.93 >= 3000.00 -> true" in text
    assert "params.threshold = 3000.00 (store S3: " in text and "s3.yaml:6:18)" in text
    assert "params.due_days = 9d (region south: " in text and "south.yaml:4:" in text
    report: list[dict[str, Any]] = json.loads(_cli(
        "explain", "--customer", CUSTOMER, "--as-of", DAY, "--data", str(example_store),
        "--state", str(tmp_path / "s.sqlite"), "--policies", str(policies),
        "--policy", "big-purchase-call", "--format", "json"))
    [candidate] = report[0]["candidates"]
    assert {p["name"]: p["origin"].split(":")[0] for p in candidate["params"]} == {
        "threshold": "store S3", "due_days": "region south", "call_after": "HQ"}
    [story] = candidate["contact"].values()
    assert (story["status"], story["recorded"]) == ("emitted", False)
