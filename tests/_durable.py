"""The durable_rules backend in tests: its policy set, and whether it may skip.

durable-rules is an extra (a C build, no Python 3.13); outside CI a test of it skips
with the reason when it does not import. CI sets LOYALTYRULES_TEST_DURABLE_REQUIRED=1
(.ci/run), so there the same tests fail instead of skipping.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from _paths import PACK

# The pack's receipt-triggered policies (the schedules are outside the subset).
SUBSET = ("big-purchase-call.yaml", "cumulative-thanks.yaml", "referral-thanks.yaml",
          "vip-tiers.yaml", "contact-rules.yaml")
# A policy whose conditions use every construct of the subset.
CHOICE = """id: choice-purchase
title: A note for the store about chosen receipts
description: Exercises in, !, ||, has(), dates, strings and params on durable_rules.
version: 1
trigger:
  kind: purchase
params:
  floor: {type: decimal, default: 100, overridable: true, description: Smallest receipt.}
conditions:
  - customer.tier in ["silver", "gold", "diamond"] || purchase.amount <= -100
  - "!purchase.is_return || customer.purchase_count > 2"
  - customer.region != "south" || purchase.store_id == "S2"
  - has(customer.referred_by) || purchase.amount >= params.floor
  - customer.birthday < date("2000-01-01") || !has(customer.birthday)
actions:
  - type: call
    recipient: customer
    assignee: {role: store_staff, source: purchase.staff_id, fallback: store_manager}
    window: {due_by: 3d}
    template: big-purchase-call
    priority: 20
"""
OVERRIDES = {
    "north.yaml": "kind: override\ntarget: {region: north}\npolicies:\n"
                  "  choice-purchase: {params: {floor: 1500}}\n"
                  "  big-purchase-call: {params: {threshold: 1500}}\n"
                  "  vip-tiers: {params: {silver_points: 4000}}\n",
    "s2.yaml": "kind: override\ntarget: {store: S2}\npolicies:\n"
               "  choice-purchase: {params: {floor: 12.5}}\n"
               "  cumulative-thanks: {params: {threshold: 12000.5}}\n",
}


def available() -> bool:
    return importlib.util.find_spec("durable_rules_engine") is not None


def need_durable() -> None:
    """Skip (outside CI) or fail (CI) when durable-rules does not import here."""
    if available():
        return
    reason = ("durable-rules is not installed for this Python (pip install "
              "'loyaltyrules[durable]'; it needs a C compiler and Python < 3.13)")
    if os.environ.get("LOYALTYRULES_TEST_DURABLE_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def subset_pack(folder: Path, rich: bool = False) -> Path:
    """The pack's receipt-triggered policies (rich: plus CHOICE and overrides)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PACK / "templates", folder / "templates")
    for name in SUBSET:
        shutil.copy(PACK / name, folder / name)
    if rich:
        (folder / "choice-purchase.yaml").write_text(CHOICE)
        (folder / "overrides").mkdir()
        for name, text in OVERRIDES.items():
            (folder / "overrides" / name).write_text(text)
    return folder
