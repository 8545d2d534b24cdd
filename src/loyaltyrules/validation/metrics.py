"""The metrics files of a policy set: declarations checked into a MetricSet.

Names are unique and not record fields; each aggregate fits its field; `where` is a
condition over the receipt (`purchase.*`); an expression metric reads other metrics,
the record and `as_of`, without cycles; no window needs more history than the file's
`history:`. Policies then see every metric as `customer.<name>`; the metrics no policy
reads (and that are not published to hosts) are reported as unused.
A policy set without a metrics file uses the default pack's (`default_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from ..conditions import ExprError, metric_paths, parse
from ..conditions.catalog import CUSTOMER_RECORD, RESERVED_NAMES, Env, all_facts
from ..conditions.checker import CheckResult, check
from ..conditions.types import BOOL, DATE, DYN, NULL, Type, is_list, is_numeric
from ..diagnostics import Diagnostic, DiagnosticError, Severity, did_you_mean
from ..metrics.declare import (
    RECEIPT_FIELDS,
    Metric,
    MetricSet,
    Window,
    aggregate_problem,
    aggregate_type,
    metric_reads,
)
from ..model import MetricsFile, MetricSpec, parse_metrics
from ..resources import default_policies_dir
from ..yamlsource import PathKey, YamlDocument, load_yaml_file
from .schema import check_schema


@dataclass(frozen=True)
class Declared:
    """A declaration and the file it sits in."""

    name: str
    spec: MetricSpec
    doc: YamlDocument
    history: int

    def at(self, *path: str | int, key: bool = False) -> Any:
        return self.doc.location(("metrics", self.name, *path), key=key)


def check_metrics(files: Sequence[tuple[YamlDocument, MetricsFile]]
                  ) -> tuple[MetricSet, list[Diagnostic]]:
    """The metrics of schema-valid metrics files, and every problem found in them."""
    declared, problems = _collect(files)
    checked: dict[str, Metric] = {}
    failed: set[str] = set()
    for item in list(declared.values()):
        form = _form_problem(item)
        if form is not None:
            problems.append(form)
            failed.add(item.name)
            del declared[item.name]
    for item in declared.values():
        if item.spec.expression is None:
            metric, errors = _aggregate(item)
            problems += errors
            (failed.add(item.name) if errors else checked.update({item.name: metric}))
    order, cycles = _derived_order(declared)
    problems += cycles
    for name in order:
        metric, errors = _derived(declared[name], checked, failed)
        problems += errors
        (failed.add(name) if errors else checked.update({name: metric}))
    history = min((d.history for d in declared.values()), default=MetricSet().history)
    return MetricSet(checked, history, broken=frozenset(failed)), problems


def salvage(data: Any) -> tuple[MetricsFile | None, frozenset[str]]:
    """The valid declarations of a metrics file that failed its schema (so one broken
    declaration does not hide the others from the policies), and the broken names."""
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        return None, frozenset()
    good: dict[str, MetricSpec] = {}
    for name, spec in data["metrics"].items():
        try:
            good[name] = MetricSpec.model_validate(spec)
        except ValidationError:
            continue
    broken = frozenset(n for n in data["metrics"] if isinstance(n, str) and n not in good)
    history = data.get("history")
    try:
        return MetricsFile.model_validate({"kind": "metrics", "metrics": good,
                                           "history": history}), broken
    except ValidationError:
        pass  # a bad history (reported by the schema): the default, or no declarations
    return (MetricsFile(kind="metrics", metrics=good) if good else None), broken


def _collect(files: Sequence[tuple[YamlDocument, MetricsFile]]
             ) -> tuple[dict[str, Declared], list[Diagnostic]]:
    declared: dict[str, Declared] = {}
    problems: list[Diagnostic] = []
    for doc, model in files:
        history = int(model.history[:-1])
        for name, spec in model.metrics.items():
            item = Declared(name, spec, doc, history)
            if name in declared:
                problems.append(Diagnostic(
                    "metric.duplicate", f"metric {name!r} is declared twice",
                    item.at(key=True), "rename one of them",
                    related=(declared[name].at(key=True),)))
            elif name in RESERVED_NAMES:
                problems.append(Diagnostic(
                    "metric.reserved", f"customer.{name} is already a fact "
                    f"({'the tier ladder' if name == 'tier' else 'the customer record'})",
                    item.at(key=True), "choose another name"))
            else:
                declared[name] = item
    return declared, problems


_AGGREGATE_KEYS = ("source", "aggregate", "of", "window", "where")


def _form_problem(item: Declared) -> Diagnostic | None:
    """A key of the other form: an expression metric with a window, a count with `of`."""
    spec = item.spec
    if spec.expression is not None:
        extra = next((k for k in _AGGREGATE_KEYS if getattr(spec, k) is not None), None)
        if extra is not None:
            return Diagnostic("metric.form", f"metric {item.name!r} is an expression; "
                              f"{extra!r} belongs to aggregates", item.at(extra, key=True),
                              f"remove {extra!r}, or `expression`")
    elif spec.aggregate in ("count", "count_days") and spec.of is not None:
        return Diagnostic("metric.form", f"{spec.aggregate} counts receipts; it takes no 'of'",
                          item.at("of", key=True), "remove 'of'")
    return None


def _aggregate(item: Declared) -> tuple[Metric, list[Diagnostic]]:
    spec = item.spec
    aggregate = spec.aggregate or "count"
    problems: list[Diagnostic] = []
    problem = aggregate_problem(aggregate, spec.of)
    if problem:
        problems.append(Diagnostic("metric.type", f"metric {item.name!r}: {problem}",
                                   item.at("of"), "aggregate a number (purchase.amount)"))
    window = Window.parse(spec.window or "all")
    need = window.span_days
    if need is not None and need > item.history:
        problems.append(Diagnostic(
            "metric.window-too-long",
            f"window {window.text} can need {need} days of receipts; the stores keep "
            f"{item.history} (history: {item.history}d)", item.at("window"),
            "shorten the window, or raise `history:` if the stores keep more"))
    where = None
    if spec.where is not None:
        where, errors = _expression(item, "where", spec.where, _receipt_env(), BOOL)
        problems += errors
    kind = RECEIPT_FIELDS.get(spec.of or "")
    metric = Metric(item.name, aggregate_type(aggregate, kind), aggregate, spec.of, window,
                    where=where, where_text=spec.where or "", publish=spec.publish,
                    description=spec.description)
    return metric, problems


def _receipt_env() -> Env:
    return Env(dict(RECEIPT_FIELDS), known=all_facts(), segments=False)


def _derived_env(checked: Mapping[str, Metric], failed: set[str]) -> Env:
    facts: dict[str, Type] = {"as_of": DATE}
    facts.update({f"customer.{n}": t for n, t in CUSTOMER_RECORD.items()})
    facts.update({m.path: m.type for m in checked.values()})
    facts.update({f"customer.{n}": DYN for n in failed})  # reported at their own place
    return Env(facts, known=all_facts({m.name: m.type for m in checked.values()}),
               segments=False)


def _derived(item: Declared, checked: Mapping[str, Metric], failed: set[str]
             ) -> tuple[Metric, list[Diagnostic]]:
    text = item.spec.expression or ""
    result, problems = _expression(item, "expression", text, _derived_env(checked, failed), None)
    kind = result.type or DYN
    if not problems and (kind in (NULL, DYN) or is_list(kind)):
        problems.append(Diagnostic("metric.type", f"metric {item.name!r} has no value type "
                                   f"({kind})", item.at("expression")))
    reads = metric_reads(result.node) - set(CUSTOMER_RECORD)
    metric = Metric(item.name, kind, expression=result, expression_text=text, reads=reads,
                    publish=item.spec.publish, description=item.spec.description)
    return metric, problems


def _expression(item: Declared, place: str, text: str, env: Env, want: Type | None
                ) -> tuple[CheckResult, list[Diagnostic]]:
    result = check(text, env, want_bool=want == BOOL)
    path: PathKey = ("metrics", item.name, place)
    return result, [Diagnostic(e.code, e.message, item.doc.scalar_location(path, e.offset),
                               e.suggestion) for e in result.errors]


def _derived_order(declared: Mapping[str, Declared]) -> tuple[list[str], list[Diagnostic]]:
    """Expression metrics, each after the expression metrics it reads; cycles reported."""
    derived = {name: d for name, d in declared.items() if d.spec.expression is not None}
    reads = {name: _names_read(d, derived) for name, d in derived.items()}
    order: list[str] = []
    problems: list[Diagnostic] = []
    state: dict[str, str] = {}
    cyclic: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            loop = [*trail[trail.index(name):], name]
            cyclic.update(loop)
            problems.append(Diagnostic(
                "metric.cycle", "metrics read each other in a loop: "
                + " -> ".join(f"customer.{n}" for n in loop),
                derived[name].at("expression"), "one of them must be an aggregate"))
            return
        state[name] = "open"
        for other in sorted(reads[name]):
            visit(other, [*trail, name])
        state[name] = "done"
        order.append(name)

    for name in derived:
        visit(name, [])
    return [n for n in order if n not in cyclic], problems


def _names_read(item: Declared, derived: Mapping[str, Declared]) -> set[str]:
    try:
        node = parse(item.spec.expression or "")
    except ExprError:
        return set()  # reported when the expression is checked
    return {n for n in metric_reads(node) if n in derived}


# -- use by policies ---------------------------------------------------------------
def metric_uses(checked: Iterable[CheckResult], trigger: Mapping[str, Any]) -> set[str]:
    """The customer (and referrer) metrics a policy's expressions and trigger name."""
    names = {trigger["metric"].removeprefix("customer.")} if "metric" in trigger else set()
    for result in checked:
        if result.node is not None:
            for path in metric_paths(result.node):
                group, _, name = path.partition(".")
                if group in ("customer", "referrer"):
                    names.add(name)
    return names


def unused_metrics(files: Sequence[tuple[YamlDocument, MetricsFile]], metrics: MetricSet,
                   used: set[str]) -> Iterator[Diagnostic]:
    """A warning for each declared metric that no policy reads and hosts are not shown."""
    needed = {m.name for m in metrics.closure(used)}
    for doc, model in files:
        for name, spec in model.metrics.items():
            if name in metrics and name not in needed and not spec.publish:
                yield Diagnostic(
                    "metric.unused", f"customer.{name} is declared but no policy reads it",
                    doc.location(("metrics", name), key=True),
                    "use it in a policy, mark it `publish: true` for hosts, or remove it",
                    Severity.WARNING)


def check_trigger_metric(doc: YamlDocument, metrics: MetricSet) -> Iterator[Diagnostic]:
    """A crossing or tier ladder watches a declared numeric metric of a fitting window."""
    trigger = doc.data["trigger"]
    if "metric" not in trigger:
        return
    where = doc.location(("trigger", "metric"))
    name = trigger["metric"].removeprefix("customer.")
    if name in metrics.broken:
        return  # reported at its declaration
    numeric = [n for n, m in metrics.metrics.items() if is_numeric(m.type)]
    if name not in metrics:
        hint = did_you_mean(name, numeric) or "declare it in the metrics file (metrics.yaml)"
        yield Diagnostic("trigger.unknown-metric",
                         f"{trigger['metric']} is not a declared metric", where, hint)
        return
    if not is_numeric(metrics[name].type):
        yield Diagnostic("trigger.metric-type", f"{trigger['metric']} is "
                         f"{metrics[name].type}, not a number", where)
        return
    problem = _window_problem(trigger["kind"], metrics.windows(name))
    if problem is None and trigger["kind"] == "tier_ladder":
        problem = _ladder_problem(metrics, name)
    if problem:
        yield Diagnostic("trigger.metric-window", f"{trigger['metric']}: {problem}", where)


def _ladder_problem(metrics: MetricSet, name: str) -> str | None:
    """A ladder's points come from receipts alone (the history computes them per
    receipt, before any customer record or date is joined)."""
    for metric in metrics.closure({name}):
        record = metric_reads(metric.expression.node if metric.expression else None) \
            & set(CUSTOMER_RECORD)
        if record or metric.reads_as_of:
            what = f"customer.{sorted(record)[0]}" if record else "as_of"
            return f"a tier ladder's points come from receipts only; it reads {what}"
    return None


def _window_problem(kind: str, windows: frozenset[Window]) -> str | None:
    yearly = bool(windows) and all(w.unit == "year" and not w.last for w in windows)
    if kind == "tier_ladder" and not yearly:
        return "a tier ladder climbs a metric of the calendar year (window this_year)"
    if kind == "crossing" and not yearly and any(w.unit not in ("all", "days")
                                                  for w in windows):
        return ("a crossing watches a running value: window all or Nd (once ever per "
                "threshold), or this_year (once per year)")
    return None


# -- the default pack's metrics ------------------------------------------------------
@cache
def default_metrics() -> MetricSet:
    """The metrics of the bundled pack, for policy sets without a metrics file."""
    path = default_policies_dir() / "metrics.yaml"
    doc = load_yaml_file(path, str(path))
    problems = check_schema(doc, "metrics")
    if problems:
        raise DiagnosticError(problems)
    metrics, problems = check_metrics([(doc, parse_metrics(doc.data))])
    if problems:
        raise DiagnosticError(problems)
    return MetricSet(metrics.metrics, metrics.history, declared=False)
