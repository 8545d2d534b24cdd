"""Generated policies with params and overrides at the edges of each type's range:
`validate` either refuses one with diagnostics or it runs on both paths (the nightly
DuckDB run, contact rules and outputs included, and the per-event Python path), which
give the same actions and never raise. A handful of them also go through the real
command line, which must never answer exit 70 (an internal error).

LOYALTYRULES_FUZZ_SCALE=20 runs twenty times the examples (a longer fuzz on demand).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.api import Engine
from loyaltyrules.cli import cli
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.event import rebuild
from loyaltyrules.event.view import CustomerView
from loyaltyrules.nightly import run_range
from loyaltyrules.plan import Plan, compile_result
from loyaltyrules.sinks import write_csv, write_jsonl, write_task_sheets
from loyaltyrules.sources import LoadedSource, open_source
from loyaltyrules.validation.pipeline import validate_paths

SCALE = int(os.environ.get("LOYALTYRULES_FUZZ_SCALE", "1"))
DAY = dt.date(2025, 11, 20)

# -- the edges of each type, as YAML values ---------------------------------------------
EDGES: dict[str, list[str]] = {  # values each type holds, its edges included
    "int": ["-9223372036854775808", "-1", "0", "1", "3", "999999999999999",
            "1000000000000000", "9223372036854775807"],
    "decimal": ["-999999999999999.999", "-0.001", "0", "0.001", "0.5", "2000",
                "999999999999999.999"],
    "duration": ["-999999999d", "-3650d", "-1d", "0d", "7d", "3650d", "999999999d"],
    "date": ["0001-01-01", "1970-01-01", "2025-11-20", "9999-12-31"],
    "string": ['""', '"north"', '"\\0"', '"Ω"', '"😀"', '"it\'s"'],
    "bool": ["true", "false"],
}
BEYOND: dict[str, list[str]] = {  # just past what each param may be: validate refuses them
    "i": ["9223372036854775808", "-9223372036854775809", "99999999999999999999999"],
    "d": ["1000000000000000", "-1000000000000000", "0.0005"],
    "w": ["1000000000d", "-1000000000d"],
    "due": ["3651d", "-1d", "999999999d"],
}
CONDITIONS = [
    "purchase.amount >= params.d",
    "customer.purchase_count < params.i",
    "customer.lifetime_spend + params.d > 0",
    "params.i in [0.5, params.i]",
    "params.i + 0.5 > params.d",
    "(params.b ? params.i : 0.5) != params.d",
    "min(params.i, params.d) <= max(params.d, 0.5)",
    "as_of + params.w > params.day",
    "as_of - params.w < params.day",
    "params.w + params.w >= 0d",
    "days_between(params.day, as_of) > params.i",
    "customer.region != params.s",
    "params.b || customer.purchase_count > -9223372036854775808",
    "abs(params.i) >= 0",
    "params.i * params.i >= 0",
    "params.d * params.d >= 0",
    "floor(params.d) <= params.i",
    "params.d / params.d == 1",
    "params.i % 7 >= 0",
    "params.s + params.s != \"x\"",
]
ACTION_PARAMS = {
    "i": "params.i", "d": "params.d", "w": "params.w", "day": "params.day", "s": "params.s",
    "b": "params.b", "sum": "params.i + 0.5", "later": "as_of + params.w",
    "twice": "params.w + params.w", "product": "params.i * 2", "ratio": "params.d / 3",
}
TYPES = {"i": "int", "d": "decimal", "w": "duration", "day": "date", "s": "string",
         "b": "bool", "due": "duration"}
TRIGGERS = {
    "purchase": "{kind: purchase}",
    "first_purchase": "{kind: first_purchase}",
    "crossing": "{kind: crossing, metric: customer.lifetime_spend, threshold: params.d}",
    "schedule": "{kind: schedule, every: day}",
}


@st.composite
def policy_sets(draw: st.DrawFn) -> dict[str, str]:
    """The files of a policy set: one policy and a region override, at the edges."""
    trigger = draw(st.sampled_from(sorted(TRIGGERS)))
    usable = [c for c in CONDITIONS if trigger != "schedule" or "purchase." not in c]
    conditions = draw(st.lists(st.sampled_from(usable), min_size=1, max_size=3, unique=True))
    values = {name: draw(st.sampled_from(EDGES[kind])) for name, kind in TYPES.items()}
    values["due"] = draw(st.sampled_from(["0d", "7d", "3650d"]))  # a window: 0d..3650d
    if draw(st.integers(0, 4)) == 0:  # now and then, one value beyond what it may be
        name = draw(st.sampled_from(sorted(BEYOND)))
        values[name] = draw(st.sampled_from(BEYOND[name]))
    params = "\n".join(
        f"  {name}: {{type: {TYPES[name]}, default: {value}, overridable: true}}"
        for name, value in values.items())
    shown = draw(st.lists(st.sampled_from(sorted(ACTION_PARAMS)), max_size=4, unique=True))
    lines = [
        "id: edges", "title: Edges", "version: 1", f"trigger: {TRIGGERS[trigger]}",
        "params:", params, "conditions:", *(f"  - {json.dumps(c)}" for c in conditions),
        "actions:", "  - type: call", "    assignee: {role: store_staff}",
        "    window: {due_by: params.due}", "    params:",
        *(f"      {n}: {json.dumps(ACTION_PARAMS[n])}" for n in shown),
        "      used: params.i == params.i && params.d == params.d && params.w == params.w"
        " && params.day == params.day && params.s == params.s && params.b == params.b",
    ]
    override = draw(st.dictionaries(st.sampled_from(sorted(TYPES)), st.just(""), max_size=2))
    pool = {n: EDGES[k] + BEYOND.get(n, []) for n, k in TYPES.items()}
    changes = ", ".join(f"{n}: {draw(st.sampled_from(pool[n]))}" for n in override)
    return {
        "edges.yaml": "\n".join(lines) + "\n",
        "overrides/north.yaml": "kind: override\ntarget: {region: north}\n"
                                f"policies:\n  edges: {{params: {{{changes}}}}}\n",
    }


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# -- a small store: two regions, a referral, receipts on the day --------------------------
STORE = {
    "stores.csv": "store_id,region\nS1,north\nS2,south\n",
    "customers.csv": "customer_id,region,home_store,referred_by,birthday\n"
                     "C1,north,S1,,1980-02-29\nC2,south,S2,C1,\nC3,,S1,,\n",
    "purchases.csv": "purchase_id,customer_id,store_id,staff_id,purchased_at,amount\n"
                     "P1,C1,S1,E1,2025-01-05T10:00:00,120.00\n"
                     "P2,C1,S1,E1,2025-11-20T10:00:00,2500.00\n"
                     "P3,C2,S2,E2,2025-11-20T11:00:00,99999999999.99\n"
                     "P4,C3,S1,,2025-11-20T12:00:00,-40.50\n"
                     "P5,C3,S1,E1,2025-11-20T12:30:00,0.01\n",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("store"), STORE)


@pytest.fixture(scope="module")
def source(store: Path) -> Iterator[LoadedSource]:
    loaded = open_source(store, as_of_limit=DAY)
    yield loaded
    loaded.connection.close()


def _receipts(source: LoadedSource) -> list[dict[str, Any]]:
    cur = source.connection.execute(
        "SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, amount "
        "FROM purchases WHERE purchase_date = $d ORDER BY purchased_at, purchase_id",
        {"d": DAY})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _per_event(folder: Path, plan: Plan, source: LoadedSource, tmp: Path
               ) -> list[dict[str, Any]]:
    """The day's receipts one by one, then the day's schedules, on the POS path."""
    state = tmp / "state.db"
    rebuild(state, source.connection, DAY - dt.timedelta(days=1), plan)
    engine = Engine.load(folder, state=state, stores={"S1": "north", "S2": "south"})
    try:
        views: dict[str, CustomerView | None] = {}
        found: list[dict[str, Any]] = []
        for receipt in _receipts(source):
            cid = receipt["customer_id"]
            mine = views[cid] if cid in views else engine.view(cid)
            referrer = engine.view(mine.record.referred_by) if mine and mine.record and \
                mine.record.referred_by else None
            actions, views[cid] = engine.stateless.on_purchase(receipt, mine, referrer)
            found += actions
        for cid in ("C1", "C2", "C3"):
            view = views.get(cid) or engine.view(cid)
            if view is not None:
                found += engine.stateless.on_day(view, DAY)
        return found
    finally:
        engine.close()


def _key(actions: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(a, sort_keys=True, default=str) for a in actions)


def check_both_paths(folder: Path, source: LoadedSource, tmp: Path) -> None:
    result = validate_paths([folder])
    if not result.ok:
        assert all(d.location.file for d in result.errors)
        return
    plan = compile_result(result)
    nightly = evaluate(source.connection, plan, DAY, DAY).actions
    assert _key(_per_event(folder, plan, source, tmp)) == _key(nightly)
    summary = run_range(plan, source, DAY, DAY, None)  # contact rules, no ledger
    write_jsonl(summary.actions, tmp / "actions.jsonl")
    write_csv(summary.actions, tmp / "actions.csv")
    write_task_sheets(summary.actions, tmp / "tasks", templates=plan.templates,
                      titles={p.id: p.spec.title for p in plan.policies})


SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=10 * SCALE, deadline=None, suppress_health_check=SLOW)
@given(files=policy_sets())
def test_edge_policies_validate_or_run_alike_on_both_paths(
        files: dict[str, str], source: LoadedSource,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("edges")
    folder = _write(tmp / "policies", files)
    check_both_paths(folder, source, tmp)


# -- through the command line -------------------------------------------------------------
CLI_CASES = {
    "int-max": {"i": "9223372036854775807", "d": "999999999999999.999"},
    "int-min": {"i": "-9223372036854775808", "d": "-999999999999999.999"},
    "beyond-64-bits": {"i": "99999999999999999999999"},
    "far-window": {"due": "999999999d"},
    "far-duration": {"w": "999999999d"},
    "edge-dates": {"day": "0001-01-01", "w": "-999999999d"},
}


# Conditions that hold on the store's big receipts, so the actions and their params
# (edge arithmetic) are computed and written out.
CLI_CONDITIONS = ["purchase.amount >= 1000", "params.i in [0.5, params.i]",
                  "has(customer.customer_id) || params.w + params.w >= 0d"]


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_the_command_line_never_answers_an_internal_error(case: str, store: Path,
                                                          tmp_path: Path) -> None:
    values = {"i": "3", "d": "2000", "w": "7d", "day": "2025-01-01", "s": '"north"',
              "b": "true", "due": "7d", **CLI_CASES[case]}
    params = "\n".join(f"  {n}: {{type: {TYPES[n]}, default: {v}, overridable: true}}"
                       for n, v in values.items())
    body = (f"id: edges\ntitle: Edges\nversion: 1\ntrigger: {TRIGGERS['purchase']}\n"
            f"params:\n{params}\nconditions:\n"
            + "".join(f"  - {json.dumps(c)}\n" for c in CLI_CONDITIONS)
            + "actions:\n  - type: call\n    assignee: {role: store_staff}\n"
            "    window: {due_by: params.due}\n    params:\n"
            + "".join(f"      {n}: {json.dumps(t)}\n" for n, t in ACTION_PARAMS.items()))
    folder = _write(tmp_path / "policies", {"edges.yaml": body})
    runner = CliRunner()
    checked = runner.invoke(cli, ["validate", str(folder)])
    ran = runner.invoke(cli, ["run", "--as-of", str(DAY), "--policies", str(folder), "--data",
                              str(store), "--state", str(tmp_path / "s.db"), "--out",
                              str(tmp_path / "out")])
    for result in (checked, ran):
        assert result.exit_code in (0, 1), (result.output, result.exception)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit), result.exception
    assert (checked.exit_code == 0) == (ran.exit_code == 0), (checked.output, ran.output)
