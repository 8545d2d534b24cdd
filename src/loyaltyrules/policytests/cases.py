"""Policy test cases kept beside the policies (`policies/tests/*.yaml`).

A case gives a few rows of each input table and a business date, and expects
actions (a subset match on the fields it names), optionally exactly those, and
actions that must not appear. Each case runs through the same source checks and
the same engine as a nightly run, on its own small in-memory data set (workspace.py).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, DiagnosticError
from ..engine.batch import evaluate, queries
from ..engine.compile import PolicyQuery
from ..plan import Plan
from ..sources import UnusableInput, open_source
from ..validation.discover import LoadedFile, discover, load
from ..validation.schema import check_schema
from .coverage import Coverage, cover
from .workspace import case_connection


def matches(expected: Any, actual: Any) -> bool:
    """Subset match: every field the case names has the same value (compared as text)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if expected is None or actual is None:
        return expected is actual
    return _text(expected) == _text(actual)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(Decimal(str(value)).normalize())
    return str(value)


def _json_default(value: Any) -> str:
    return str(value)


# A case may leave out a required table; it is given empty, with its header.
EMPTY_REQUIRED = {
    "customers": "customer_id\n",
    "purchases": "purchase_id,customer_id,store_id,purchased_at,amount\n",
}


def _write_tables(folder: Path, given: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    for table, header in EMPTY_REQUIRED.items():
        if table not in given and not (table == "purchases" and "purchase_lines" in given):
            (folder / f"{table}.csv").write_text(header, encoding="utf-8")
    for table, rows in given.items():
        lines = (json.dumps({k: v for k, v in row.items()}, default=_json_default) for row in rows)
        (folder / f"{table}.jsonl").write_text(
            "".join(f"{line}\n" for line in lines), encoding="utf-8"
        )


@dataclass(frozen=True)
class Case:
    """One case of a test file, with the policies it needs evaluated (None: all)."""

    file: str
    name: str
    data: Mapping[str, Any]
    policy: str | None  # the file's policy
    needed: frozenset[str] | None

    @property
    def dates(self) -> tuple[dt.date, dt.date]:
        as_of = dt.date.fromisoformat(str(self.data["as_of"]))
        return as_of, dt.date.fromisoformat(str(self.data.get("through", as_of)))


@dataclass
class CaseResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    produced: list[dict[str, Any]] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def passed(self) -> bool:
        return not self.failures


def cases_of(file: LoadedFile) -> list[Case]:
    data = file.doc.data
    policy = data.get("policy")
    return [
        Case(file.source.display, str(case.get("name", f"case {i + 1}")), case,
             None if policy is None else str(policy), _needed(case, policy))
        for i, case in enumerate(data.get("cases") or [])
    ]


def _needed(case: Mapping[str, Any], policy: Any) -> frozenset[str] | None:
    """The file's policy and every policy the case's expectations name; None (all
    policies) when neither names one."""
    named = {str(w["policy"]) for w in [*(case.get("expect") or []),
                                        *(case.get("expect_not") or [])]
             if isinstance(w, Mapping) and "policy" in w}
    if policy is not None:
        named.add(str(policy))
    return frozenset(named) or None


# The queries of the last plan, by (first date, last date, policies needed): cases
# alike in those share them (building one is most of a case's Python time).
_built: tuple[Plan | None, dict[Any, list[PolicyQuery]]] = (None, {})


def _queries(plan: Plan, case: Case) -> list[PolicyQuery]:
    global _built
    if _built[0] is not plan:
        _built = (plan, {})
    key = (*case.dates, case.needed)
    made = _built[1].get(key)
    if made is None:
        made = _built[1][key] = queries(plan, *case.dates, case.needed)
    return made


def run_case(plan: Plan, case: Case, covering: bool = False) -> CaseResult:
    """Evaluate the case's policies on its data, and check what they produced."""
    result = CaseResult(case.file, case.name)
    start, end = case.dates
    with tempfile.TemporaryDirectory(prefix="loyaltyrules-case-") as tmp, \
            case_connection() as con:
        folder = Path(tmp)
        _write_tables(folder, case.data.get("given") or {})
        try:
            open_source(folder, as_of_limit=max(end, dt.date.today()), connection=con)
        except UnusableInput as err:
            result.failures.append(f"the case's data is unusable: {err}")
            return result
        actions = evaluate(con, plan, start, end, only=case.needed,
                           built=_queries(plan, case)).actions
        if covering:
            result.coverage = cover(con, plan, start, end, case.needed)
    result.failures.extend(_check(case.data, actions, case.policy))
    result.produced = actions
    return result


def _check(
    case: Mapping[str, Any], actions: list[dict[str, Any]], policy: str | None
) -> Iterator[str]:
    expected = case.get("expect") or []
    unused = list(actions)
    for want in expected:
        hit = next((a for a in unused if matches(want, a)), None)
        if hit is None:
            yield f"expected an action matching {json.dumps(want, default=str)}"
        else:
            unused.remove(hit)
    for unwanted in case.get("expect_not") or []:
        if any(matches(unwanted, a) for a in actions):
            yield f"expected no action matching {json.dumps(unwanted, default=str)}"
    if case.get("exact"):
        policies = {str(w.get("policy", policy)) for w in expected} or {str(policy)}
        extra = [a for a in unused if a["policy"] in policies]
        for action in extra:
            summary = {k: action[k] for k in ("policy", "type", "customer_id", "as_of", "due_by")}
            yield f"unexpected action {json.dumps(summary)}"



def split_test_files(paths: Sequence[Path]) -> tuple[list[Path], set[Path] | None]:
    """The policy sets to load for `paths`, and the test files to run (None: every test
    file of the sets). A test file given on its own brings the policy set it belongs
    to: the folder holding its `tests/` folder, else the folder it sits in."""
    sets: list[Path] = []
    chosen: set[Path] = set()
    for path in paths:
        if not (path.is_file() and _is_test_file(path)):
            sets.append(path)
            continue
        chosen.add(path.resolve())
        folders = [p for p in path.parents if p.name == "tests"]
        home = folders[0].parent if folders else path.parent
        if home.resolve() not in {s.resolve() for s in sets}:
            sets.append(home)
    whole_sets = any(p.is_dir() for p in paths)
    return sets, (None if whole_sets or not chosen else chosen)


def _is_test_file(path: Path) -> bool:
    """As `validate` would take the file: a test by its folder or its declared kind."""
    sources, _problems = discover([path])
    loaded = [load(source) for source in sources]
    return any(isinstance(f, LoadedFile) and f.kind == "policy-test" for f in loaded)


def check_test_file(file: LoadedFile) -> list[Diagnostic]:
    return check_schema(file.doc, "policy-test")


def raise_if_invalid(files: Sequence[LoadedFile]) -> None:
    problems = [d for f in files for d in check_test_file(f)]
    if problems:
        raise DiagnosticError(problems)
