"""Limits per policy: what one file may ask of the engine.

A franchise runs one policy set for every store, so one oversized policy must be
refused at `validate`, where it is located, and not discovered by a night that runs
out of time or memory. The limits sit far above any playbook line (the default
pack's largest policy has 1 condition, 3 actions and under 200 characters of
expressions) and keep every policy's compiled query small: compile and evaluation
cost grow linearly with these sizes (tests/test_policy_limits.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..yamlsource import YamlDocument
from .expressions import expression_sites

MAX_POLICY_BYTES = 256 * 1024
MAX_CONDITIONS = 500
MAX_ACTIONS = 50
MAX_EXPRESSION_CHARS = 100_000  # all the expressions of one policy, together


def check_limits(doc: YamlDocument) -> Iterator[Diagnostic]:
    """Every limit a schema-valid policy document passes, each at the first item over it."""
    size = len(doc.text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        yield Diagnostic("policy.too-large",
                         f"the policy file is {size:,} bytes; a policy may have at most "
                         f"{MAX_POLICY_BYTES:,}", doc.location(()),
                         "split it into several policies")
    yield from _count(doc, "conditions", MAX_CONDITIONS,
                      "combine conditions with `in [...]`, or split the policy")
    yield from _count(doc, "actions", MAX_ACTIONS, "split the policy")
    yield from _expression_size(doc)


def _count(doc: YamlDocument, key: str, limit: int, hint: str) -> Iterator[Diagnostic]:
    items = doc.data.get(key) or []
    if len(items) > limit:
        yield Diagnostic(f"policy.too-many-{key}",
                         f"the policy has {len(items):,} {key}; at most {limit:,} are allowed",
                         doc.location((key, limit)), hint)


def _expression_size(doc: YamlDocument) -> Iterator[Diagnostic]:
    total = 0
    for path, _want in expression_sites(doc.data):
        value = doc.data
        for part in path:
            value = value[part]
        total += len(str(value))
        if total > MAX_EXPRESSION_CHARS:
            yield Diagnostic("policy.too-complex",
                             f"the policy's expressions pass {MAX_EXPRESSION_CHARS:,} "
                             "characters here", doc.location(path),
                             "shorten the conditions, or split the policy")
            return
