"""`loyaltyrules export --format durable-rules`: the file a POS running durable_rules
receives, fed to durable_rules' own engine, fires exactly when loyaltyrules does; the
pack's calendar policies are refused with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from loyaltyrules.event.durable.session import Ruleset

from _durable import need_durable, subset_pack
from _paths import PACK


def _export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loyaltyrules", "export", "--format",
                           "durable-rules", *args], capture_output=True, text=True, timeout=120)


def test_the_exported_ruleset_runs_on_durable_rules(tmp_path: Path) -> None:
    pack = subset_pack(tmp_path / "policies", rich=True)
    done = _export("--policies", str(pack), "--out", str(tmp_path / "rules.json"))
    assert done.returncode == 0, done.stderr
    exported: dict[str, Any] = json.loads((tmp_path / "rules.json").read_text())
    assert exported["format"] == "durable-rules"
    assert any("thousandths" in line for line in exported["normalization"])
    call = exported["policies"]["big-purchase-call@2"]
    assert call["facts"] == [{"path": "purchase.amount", "property": "purchase_amount",
                              "as": "integer thousandths"}]
    north = next(v["variant"] for v in call["variants"]
                 if {"region": "north", "store": None} in v["scopes"])
    need_durable()
    rules = Ruleset(exported["ruleset"])
    facts = [{"policy": "big-purchase-call@2", "variant": 0, "purchase_amount": 2_000_000},
             {"policy": "big-purchase-call@2", "variant": 0, "purchase_amount": 1_999_990},
             {"policy": "big-purchase-call@2", "variant": north, "purchase_amount": 1_500_000},
             {"policy": "big-purchase-call@2", "variant": 0}]  # amount missing: false
    assert [bool(names) for names in rules.fired(facts)] == [True, False, True, False]
    rules.close()


def test_stdout_by_default_and_the_full_pack_is_refused() -> None:
    done = _export("--policies", str(PACK))
    assert done.returncode == 1
    assert "12 policies cannot run on durable_rules" in done.stderr
    assert "birthday-greeting.yaml:" in done.stderr and done.stdout == ""


def test_actions_still_need_a_date() -> None:
    done = subprocess.run([sys.executable, "-m", "loyaltyrules", "export"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "--as-of is required" in done.stderr
