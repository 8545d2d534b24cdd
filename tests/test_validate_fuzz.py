"""Generated inputs: `validate` answers with diagnostics or success, never an exception,
and answers each input in well under a second.

Inputs: random YAML documents (random nested data dumped by yaml.safe_dump), random
text and bytes, policy-shaped documents with plausible but random fields (they get
past the schema into the semantic checks), random override files against a valid
policy, and random expression strings in every expression site of a valid policy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.diagnostics import Diagnostic
from loyaltyrules.validation.pipeline import ValidationResult, validate_paths

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LIMIT_SECONDS = 1.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _timed(paths: tuple[Path, ...]) -> tuple[ValidationResult, float]:
    start = time.perf_counter()
    result = validate_paths(list(paths))
    return result, time.perf_counter() - start


def run(*paths: Path) -> ValidationResult:
    """Validate; the call must return (any exception fails the test) within the limit.

    A slow call is timed once more: a busy machine may stall one call, while an input
    that is really slow to validate is slow every time.
    """
    result, elapsed = _timed(paths)
    if elapsed >= LIMIT_SECONDS:
        result, elapsed = _timed(paths)
    assert elapsed < LIMIT_SECONDS, f"validate took {elapsed:.2f}s"
    for diagnostic in result.diagnostics:
        assert isinstance(diagnostic, Diagnostic)
        assert diagnostic.code and diagnostic.message
        assert diagnostic.location.line >= 0 and diagnostic.location.col >= 0
        assert "internal" not in diagnostic.code, diagnostic.render()
    return result


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ------------------------------------------------------------ random YAML documents

KEYS = st.one_of(
    st.sampled_from(["id", "title", "version", "kind", "trigger", "params", "conditions",
                     "actions", "on", "type", "default", "min", "max", "window", "due_by",
                     "effective", "from", "until", "target", "policies", "templates", "<<"]),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["7d", "-1d", "2024-02-29", "2024-02-30", "yes", "on", "~", "params.x",
                     "purchase.amount >= 100", "0x1F", "1e999", ".inf", "*a", "&a", "!!str"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=40,
)


@FUZZ
@given(data=DOCUMENTS, flow=st.booleans(), kind=st.sampled_from(["", "overrides/", "templates/"]))
def test_random_yaml_document(workdir: Path, data: Any, flow: bool, kind: str) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    path = write(workdir / "doc", f"{kind}random.yaml", text)
    run(path)
    path.unlink()


YAML_CHARS = "abc019 -:#&*!|>'\"[]{},?%@`\t\n.~<=\\\x00\u00e9\ufeff"
YAMLISH = st.text(alphabet=st.sampled_from(list(YAML_CHARS)), max_size=200)


@FUZZ
@given(text=st.one_of(YAMLISH, st.text(max_size=300)))
def test_random_text(workdir: Path, text: str) -> None:
    run(write(workdir, "text.yaml", text))


@FUZZ
@given(raw=st.binary(max_size=300), prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"id: x\n"]))
def test_random_bytes(workdir: Path, raw: bytes, prefix: bytes) -> None:
    run(write(workdir, "bytes.yaml", prefix + raw))


# ------------------------------------------------------------ policy-shaped documents

PARAM_TYPES = ["int", "decimal", "string", "bool", "duration", "date"]
PARAM_VALUES = st.one_of(
    st.integers(-5, 10**6), st.decimals(-10**6, 10**6, places=2).map(str),
    st.sampled_from(["0d", "7d", "-3d", "30d", "2024-01-01", "2023-12-31", "9999-12-31",
                     "text", True, False, None]),
)
EXPRESSIONS = st.sampled_from([
    "purchase.amount >= params.p", "customer.tier == \"gold\"", "params.p", "7d", "-1d", "0d",
    "customer.lifetime_spend", "tier.name", "referrer.customer_id", "as_of", "\"5000\"", "5000",
    "params.q", "1 / 0", "customer.points_this_year > params.p", "x ?", "",
])
TRIGGERS = st.one_of(
    st.sampled_from([{"kind": "purchase"}, {"kind": "first_purchase"},
                     {"kind": "schedule", "every": "day"},
                     {"kind": "schedule", "every": "year", "on": "02-29"}]),
    st.builds(lambda t: {"kind": "crossing", "metric": "customer.lifetime_spend", "threshold": t},
              EXPRESSIONS),
    st.builds(lambda tiers: {"kind": "tier_ladder", "metric": "customer.points_this_year",
                             "tiers": tiers},
              st.lists(st.fixed_dictionaries(
                  {"name": st.sampled_from(["silver", "gold", "gold", "x_1"]),
                   "min": st.one_of(EXPRESSIONS, st.integers(-3, 9).map(str))},
                  optional={"discount_pct": EXPRESSIONS}), min_size=1, max_size=4)),
)
PARAM_SPECS = st.dictionaries(
    st.sampled_from(["p", "q", "due"]),
    st.fixed_dictionaries({"type": st.sampled_from(PARAM_TYPES), "default": PARAM_VALUES},
                          optional={"min": PARAM_VALUES, "max": PARAM_VALUES,
                                    "overridable": st.booleans()}),
    max_size=3,
)
ACTIONS = st.lists(st.fixed_dictionaries(
    {"type": st.sampled_from(["sms", "call", "tier_change", "discount"]),
     "assignee": st.fixed_dictionaries({"role": st.just("store_staff")},
                                       optional={"source": EXPRESSIONS}),
     "window": st.fixed_dictionaries({"due_by": st.sampled_from(["0d", "7d", "-2d", "params.due",
                                                                "params.p", "params.zz"])},
                                     optional={"not_before": st.sampled_from(["0d", "9d",
                                                                              "params.due"])})},
    optional={"on": st.sampled_from(["upgrade", "downgrade", None]),
              "when": st.one_of(st.none(), EXPRESSIONS),
              "template": st.sampled_from(["big-purchase-call", "nope"]),
              "params": st.dictionaries(st.sampled_from(["a", "b"]), EXPRESSIONS, max_size=2)},
), min_size=1, max_size=3)
POLICIES = st.fixed_dictionaries(
    {"id": st.sampled_from(["big-purchase-call", "fuzzed-policy"]), "title": st.just("Fuzzed"),
     "version": st.integers(1, 3), "trigger": TRIGGERS, "actions": ACTIONS},
    optional={"params": PARAM_SPECS,
              "conditions": st.lists(EXPRESSIONS, max_size=3),
              "disable": st.sampled_from(["allowed", "forbidden"]),
              "effective": st.fixed_dictionaries(
                  {}, optional={"from": st.sampled_from(["2024-01-01", "2026-01-01", None]),
                                "until": st.sampled_from(["2025-12-31", "2023-01-01", None])})},
)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@FUZZ
@given(policies=st.lists(POLICIES, min_size=1, max_size=3))
def test_policy_shaped_documents(workdir: Path, policies: list[dict[str, Any]]) -> None:
    folder = workdir / "set"
    for old in folder.glob("*.yaml"):
        old.unlink()
    for i, policy in enumerate(policies):
        write(folder, f"p{i}.yaml", _dump(policy))
    run(folder)


OVERRIDES = st.fixed_dictionaries({
    "kind": st.just("override"),
    "target": st.sampled_from([{"region": "north"}, {"store": "S1"}]),
    "policies": st.dictionaries(
        st.sampled_from(["big-purchase-call", "birthday-greeting", "nope"]),
        st.fixed_dictionaries({}, optional={
            "params": st.dictionaries(st.sampled_from(["threshold", "due_days", "x"]),
                                      PARAM_VALUES.filter(lambda v: v is not None), max_size=2),
            "enabled": st.booleans()}),
        max_size=3),
})


@FUZZ
@given(overrides=st.lists(OVERRIDES, min_size=1, max_size=3))
def test_random_overrides_against_the_pack(workdir: Path, overrides: list[dict[str, Any]]) -> None:
    folder = workdir / "overrides"
    for old in folder.glob("*.yaml"):
        old.unlink()
    for i, override in enumerate(overrides):
        write(folder, f"o{i}.yaml", _dump(override))
    run(PACK_POLICY, folder)


# ------------------------------------------------------------ random expressions

PACK_POLICY = Path(__file__).resolve().parents[1] / "policies" / "big-purchase-call.yaml"
TOKENS = st.sampled_from([
    "purchase.amount", "customer.tier", "customer.teir", "params.threshold", "params.nope",
    "as_of", "customer.birthday", "tier.name", "has(", "is_birthday(", "days_between(",
    "rank_in_region(", "size(", "date(", "floor(", "min(", "unknown(", "(", ")", "[", "]",
    ",", "?", ":", "&&", "||", "!", "==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*",
    "/", "%", "1", "0", "-1", "2000.50", "99999999999999999999", "7d", "7x", "-0d",
    '"gold"', '"platinum"', "'x'", '"unterminated', "true", "false", "null", "\\", "@",
    "\u00e9", "\u00b2", "\n", " ",
])
EXPRESSION_TEXT = st.one_of(
    st.lists(TOKENS, max_size=25).map(" ".join),
    st.lists(TOKENS, max_size=25).map("".join),
    st.text(max_size=60),
)
SITES = ["condition", "when", "source", "param", "condition-block"]


def _policy_with(expression: str, site: str) -> str:
    """The pack's big-purchase-call with `expression` in one expression site."""
    data = yaml.safe_load(PACK_POLICY.read_text(encoding="utf-8"))
    action = data["actions"][0]
    if site == "condition":
        data["conditions"] = [expression]
    elif site == "when":
        action["when"] = expression
    elif site == "source":
        action["assignee"]["source"] = expression
    elif site == "param":
        action["params"] = {"amount": expression}
    else:
        return _dump(data).replace("conditions:\n- ", "conditions:\n- |-\n  " + "\n  ".join(
            expression.split("\n")) + "\n- ", 1)
    return _dump(data)


@FUZZ
@given(expression=EXPRESSION_TEXT, site=st.sampled_from(SITES))
def test_random_expressions(workdir: Path, expression: str, site: str) -> None:
    run(write(workdir, "expr.yaml", _policy_with(expression, site)))


def _positions_inside(result: ValidationResult, text: str) -> Iterator[tuple[int, int]]:
    lines = text.split("\n")
    for diagnostic in result.errors:
        line, col = diagnostic.location.line, diagnostic.location.col
        assert 1 <= line <= len(lines), diagnostic.render()
        assert 1 <= col <= len(lines[line - 1]) + 1, diagnostic.render()
        yield line, col


@FUZZ
@given(expression=st.lists(TOKENS, min_size=1, max_size=12).map(" ".join))
def test_expression_errors_point_inside_the_file(workdir: Path, expression: str) -> None:
    text = _policy_with(expression, "condition")
    result = run(write(workdir, "pos.yaml", text))
    list(_positions_inside(result, text))
