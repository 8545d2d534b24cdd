"""Validation as an ordered list of named stages over a policy set.

load -> schema -> models -> limits -> metrics -> policies -> expressions -> templates
-> overrides -> contact. A file that fails a stage is left out of the later ones (its
later errors would only echo the first, and a policy over the limits is not worth
checking further); every other file goes on, so one run reports everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..contact.checks import check_contact_rules
from ..contact.model import ContactRules, parse_contact_rules
from ..diagnostics import Diagnostic, Location, Severity, did_you_mean, sort_diagnostics
from ..metrics.declare import MetricSet
from ..model import parse_metrics, parse_override, parse_policy, parse_templates
from ..yamlsource import YamlDocument
from .discover import KINDS, LoadedFile, PolicySetFile, discover, display_name, load
from .expressions import ParsedPolicy, check_expressions
from .limits import check_limits
from .metrics import (
    check_metrics,
    check_trigger_metric,
    default_metrics,
    metric_uses,
    salvage,
    unused_metrics,
)
from .overrides import check_overrides
from .policies import PER_POLICY, check_versions
from .schema import check_schema
from .templates import (
    check_placeholders,
    check_template_refs,
    check_tones,
    known_names,
    template_index,
    template_uses,
)

_SCHEMAS = {"policy": "policy", "override": "override", "templates": "templates",
            "contact-rules": "contact-rules", "metrics": "metrics"}
_MODELS: dict[str, Callable[[Any], Any]] = {
    "policy": parse_policy,
    "override": parse_override,
    "templates": parse_templates,
    "metrics": parse_metrics,
}


@dataclass
class Context:
    """What the stages share: the files still in play and everything found so far."""

    sources: list[PolicySetFile]
    given: list[Path] = field(default_factory=list)  # the files and folders named
    loaded: list[LoadedFile] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)  # display name -> pydantic model
    parsed: dict[str, ParsedPolicy] = field(default_factory=dict)
    contact: dict[str, ContactRules] = field(default_factory=dict)  # display name -> rules
    metrics: MetricSet = field(default_factory=MetricSet)  # the customer.* metrics
    metric_docs: list[LoadedFile] = field(default_factory=list)  # loaded, valid or not
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[LoadedFile]:
        return [f for f in self.loaded if f.kind == kind]

    def drop_failed(self) -> None:
        failed = {d.location.file for d in self.diagnostics if d.severity is Severity.ERROR}
        self.loaded = [f for f in self.loaded if f.source.display not in failed]


def stage_load(ctx: Context) -> None:
    maybe_policies = 0  # loaded as policies, or unreadable where a policy would be
    for source in ctx.sources:
        result = load(source)
        if isinstance(result, list):
            ctx.diagnostics.extend(result)
            maybe_policies += source.folder_kind == "policy"
            continue
        maybe_policies += result.kind == "policy"
        declared = result.doc.data.get("kind") if isinstance(result.doc.data, dict) else None
        if declared is not None and declared not in KINDS:
            ctx.diagnostics.append(Diagnostic(
                "schema.enum", f"kind: {declared!r} is not a known file kind",
                result.doc.location(("kind",)),
                did_you_mean(str(declared), KINDS) or f"one of: {', '.join(KINDS)}"))
            continue
        ctx.loaded.append(result)
        if result.kind == "metrics":
            ctx.metric_docs.append(result)
    folders = [p for p in ctx.given if p.is_dir()]
    if folders and not maybe_policies:
        ctx.diagnostics.append(empty_set(folders))


def empty_set(given: Sequence[Path]) -> Diagnostic:
    """A policy set without a policy: nothing would ever be evaluated."""
    names = ", ".join(display_name(p) for p in given) or "the given paths"
    return Diagnostic("policy-set.empty", f"no policy in {names}: there is nothing to evaluate",
                      Location(display_name(given[0]) if given else "."),
                      "point at the folder that holds the policy files (*.yaml)")


def stage_schema(ctx: Context) -> None:
    for file in ctx.loaded:
        schema = _SCHEMAS.get(file.kind)
        if schema:
            ctx.diagnostics.extend(check_schema(file.doc, schema))


def _typed(ctx: Context, file: LoadedFile, parse: Callable[[Any], Any]) -> Any | None:
    """The typed model of a schema-valid file; a disagreement is our bug, so say so."""
    try:
        return parse(file.doc.data)
    except ValidationError as err:
        ctx.diagnostics.append(Diagnostic(
            "internal.model-mismatch",
            f"the schema accepts this file but the typed model does not: {err.errors()[0]}",
            Location(file.source.display, 1, 1), "please report this"))
        return None


def stage_models(ctx: Context) -> None:
    """Typed models of schema-valid files; a disagreement is our bug, so say so."""
    for file in ctx.loaded:
        parse = _MODELS.get(file.kind)
        if parse is not None:
            model = _typed(ctx, file, parse)
            if model is not None:
                ctx.models[file.source.display] = model


def stage_limits(ctx: Context) -> None:
    for file in ctx.of_kind("policy"):
        ctx.diagnostics.extend(check_limits(file.doc))


def _metrics_files(ctx: Context) -> list[tuple[YamlDocument, Any]]:
    return [(f.doc, ctx.models[f.source.display]) for f in ctx.of_kind("metrics")
            if f.source.display in ctx.models]


def stage_metrics(ctx: Context) -> None:
    """The set's metrics files, else (none at all) the default pack's metrics. A file
    that failed its schema still gives its valid declarations to the policies."""
    if not ctx.metric_docs:
        ctx.metrics = default_metrics()
        return
    files, broken = _metrics_files(ctx), set[str]()
    for file in ctx.metric_docs:
        if file.source.display not in ctx.models:
            model, names = salvage(file.doc.data)
            files += [(file.doc, model)] if model is not None else []
            broken |= names
    metrics, problems = check_metrics(files)
    ctx.metrics = replace(metrics, broken=metrics.broken | broken)
    ctx.diagnostics.extend(problems)


def stage_policies(ctx: Context) -> None:
    docs = [f.doc for f in ctx.of_kind("policy")]
    for doc in docs:
        for check in PER_POLICY:
            ctx.diagnostics.extend(check(doc))
    ctx.diagnostics.extend(check_versions(docs))


def stage_expressions(ctx: Context) -> None:
    """Every expression against the catalog; then which declared metrics go unread."""
    types = ctx.metrics.types()
    used: set[str] = set()
    for file in ctx.of_kind("policy"):
        parsed, problems = check_expressions(file.doc, types)
        ctx.diagnostics.extend(problems)
        ctx.diagnostics.extend(check_trigger_metric(file.doc, ctx.metrics))
        ctx.parsed[file.source.display] = parsed
        used |= metric_uses(parsed.checked.values(), file.doc.data["trigger"])
    ctx.diagnostics.extend(unused_metrics(_metrics_files(ctx), ctx.metrics, used))


def stage_templates(ctx: Context) -> None:
    index, problems = template_index([f.doc for f in ctx.of_kind("templates")])
    ctx.diagnostics.extend(problems)
    policies = ctx.of_kind("policy")
    uses = [use for f in policies
            for use in template_uses(f.doc, ctx.parsed.get(f.source.display))]
    ctx.diagnostics.extend(check_tones(index, uses))
    if not index or not policies:
        return  # validating single files: the templates or their policies live elsewhere
    ctx.diagnostics.extend(check_placeholders(index, uses, known_names(uses)))
    for file in policies:
        ctx.diagnostics.extend(check_template_refs(file.doc, index))


def stage_overrides(ctx: Context) -> None:
    policies: dict[str, list[YamlDocument]] = {}
    for file in ctx.of_kind("policy"):
        policies.setdefault(file.doc.data["id"], []).append(file.doc)
    ctx.diagnostics.extend(check_overrides([f.doc for f in ctx.of_kind("override")], policies))


def stage_contact(ctx: Context) -> None:
    """The contact rules file: its model (if schema-valid) and its semantic checks."""
    failed = {d.location.file for d in ctx.diagnostics if d.severity is Severity.ERROR}
    files = [f for f in ctx.of_kind("contact-rules") if f.source.display not in failed]
    for file in files:
        rules = _typed(ctx, file, parse_contact_rules)
        if rules is not None:
            ctx.contact[file.source.display] = rules
    ctx.diagnostics.extend(check_contact_rules([f.doc for f in files]))


# (name, stage, whether files with errors so far are dropped before it)
STAGES: Sequence[tuple[str, Callable[[Context], None], bool]] = (
    ("load", stage_load, False),
    ("schema", stage_schema, False),
    ("models", stage_models, True),
    ("limits", stage_limits, False),
    ("metrics", stage_metrics, False),
    ("policies", stage_policies, True),
    ("expressions", stage_expressions, False),
    ("templates", stage_templates, False),
    ("overrides", stage_overrides, False),
    ("contact", stage_contact, False),
)


@dataclass(frozen=True)
class ValidationResult:
    diagnostics: list[Diagnostic]
    context: Context

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_paths(paths: Iterable[Path]) -> ValidationResult:
    given = list(paths)
    sources, problems = discover(given)
    ctx = Context(sources, given, diagnostics=list(problems))
    for _name, stage, drop_failed_first in STAGES:
        if drop_failed_first:
            ctx.drop_failed()
        stage(ctx)
    return ValidationResult(sort_diagnostics(ctx.diagnostics), ctx)


def bundle_hash(files: Sequence[LoadedFile]) -> str:
    """Content hash of a policy set's meaning: each shipped file's kind and parsed
    content, in canonical JSON, in a fixed order. Comments, layout, quoting, key order,
    file names and the test cases do not change it; any changed value does."""
    digest = hashlib.sha256()
    for canonical in sorted(semantic_texts(files)):
        digest.update(canonical.encode() + b"\0")
    return digest.hexdigest()[:16]


def shipped(files: Sequence[LoadedFile]) -> list[LoadedFile]:
    """The files a policy set ships to stores: all but its test cases."""
    return [f for f in files if f.kind != "policy-test"]


def semantic_texts(files: Sequence[LoadedFile]) -> list[str]:
    return [
        json.dumps({"kind": f.kind, "content": f.doc.data}, sort_keys=True, default=str,
                   separators=(",", ":"), ensure_ascii=False)
        for f in shipped(files)
    ]
