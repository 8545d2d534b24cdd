"""What the durable_rules backend cannot run safely is refused when the policies are
loaded, each refusal naming the policy file, the construct and the reason; a valid
policy set with several such policies lists them all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loyaltyrules.api import StatelessEngine
from loyaltyrules.diagnostics import DiagnosticError
from loyaltyrules.event.durable import compile_plan
from loyaltyrules.plan import compile_paths

from _durable import subset_pack
from _paths import PACK

POLICY = """id: refused
title: Refused
description: A condition the durable_rules backend cannot run.
version: 1
trigger: {kind: purchase}
conditions:
  - %s
actions:
  - type: call
    recipient: customer
    assignee: {role: store_manager}
    window: {due_by: 3d}
    template: big-purchase-call
"""

# (condition, the construct named, the reason given)
REFUSED = [
    ("is_birthday(customer.birthday, as_of)", "is_birthday(customer.birthday, as_of)",
     "a date function"),
    ("days_between(customer.first_purchase_date, as_of) > 30", "days_between(",
     "a date function"),
    ("purchase.amount > customer.lifetime_spend", "purchase.amount > customer.lifetime_spend",
     "non-equality joins crash the engine"),
    ('customer.tier > "gold"', 'customer.tier > "gold"', "'99' >= 100 holds"),
    ("purchase.amount * 2 > 100", "purchase.amount * 2", "C doubles, not exact decimals"),
    ("abs(purchase.amount) > 10", "abs(purchase.amount)", "no counterpart in durable_rules"),
]


def _plan(folder: Path, condition: str) -> Path:
    pack = subset_pack(folder)
    (pack / "refused.yaml").write_text(POLICY % f"'{condition}'")
    return pack


@pytest.mark.parametrize(("condition", "construct", "reason"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_a_condition_outside_the_subset_is_refused(tmp_path: Path, condition: str,
                                                   construct: str, reason: str) -> None:
    plan = compile_paths([_plan(tmp_path, condition)])
    with pytest.raises(DiagnosticError) as err:
        compile_plan(plan)
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "durable-refused"
    assert diagnostic.location.file.endswith("refused.yaml")
    assert (diagnostic.location.line, diagnostic.location.col) == (7, 6)  # the condition
    assert construct in diagnostic.message
    assert reason in diagnostic.message


@pytest.mark.parametrize("name", ["birthday-greeting", "lapsed-contact", "top-spender-flowers"])
def test_calendar_policies_are_refused(tmp_path: Path, name: str) -> None:
    pack = subset_pack(tmp_path / "p")
    shutil.copy(PACK / f"{name}.yaml", pack)
    with pytest.raises(DiagnosticError) as err:
        compile_plan(compile_paths([pack]))
    (diagnostic,) = err.value.diagnostics
    assert f"policy {name} cannot run" in diagnostic.message
    assert "trigger kind 'schedule'" in diagnostic.message
    assert "background threads" in diagnostic.message
    assert diagnostic.location.line > 0  # the trigger's line


def test_the_whole_pack_is_refused_with_every_reason_at_once() -> None:
    """Engine.load refuses before any engine is built (durable-rules need not import)."""
    with pytest.raises(DiagnosticError) as err:
        StatelessEngine.load(PACK, backend="durable_rules")
    names = sorted(Path(d.location.file).name for d in err.value.diagnostics)
    assert names == [
        "a-class-monthly-call.yaml", "a-class-preseason-call.yaml", "a-class-thanks-card.yaml",
        "birthday-greeting.yaml", "complaint-reply.yaml", "email-reply.yaml",
        "holiday-greeting.yaml", "lapsed-contact.yaml", "mothers-day-gift.yaml",
        "season-greeting.yaml", "top-spender-flowers.yaml", "vip-gathering.yaml"]
    card = next(d for d in err.value.diagnostics if "thanks-card" in d.location.file)
    assert "abc_class()" in card.message  # a receipt trigger, refused for its class


def test_the_subset_compiles(tmp_path: Path) -> None:
    compiled = compile_plan(compile_paths([subset_pack(tmp_path / "p", rich=True)]))
    rules = compiled.policies[("choice-purchase", 1)]
    assert len(rules.variants) == 3  # HQ, north, S2 (params become constants per scope)
    assert "loyaltyrules/open" in compiled.definition  # opens every session
    assert sum(name.startswith("choice-purchase@1/v") for name in compiled.definition) == 3


def test_an_unknown_backend_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'drools'"):
        StatelessEngine.load(subset_pack(tmp_path / "p"), backend="drools")
