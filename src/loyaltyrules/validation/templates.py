"""Message templates: every action names one that exists, placeholders are names the
template can receive, and the tone rules hold.

A template's `{placeholders}` are filled by the host from the action record and its
own files (docs/policy-format.md, "Placeholders"), so a placeholder must be a name
every action sending the template can give. The tone a template must keep follows
from the policies that send it (tone.py), and from the tone it declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..conditions import ast
from ..diagnostics import Diagnostic, Location, Severity, did_you_mean
from ..yamlsource import YamlDocument
from . import tone
from .expressions import ParsedPolicy

# Every action can give these: the host fills the first three from its own records
# (the recipient's name, the store's name, the assignee's name), the others are
# fields of the action record.
ALWAYS = frozenset({"name", "store", "staff_name", "customer_id", "store_id", "region",
                    "as_of", "not_before", "due_by", "policy", "action_id"})
RECEIPT = frozenset({"purchase_id", "amount"})  # the receipt that triggered the action
REFERRAL = {"referrer": frozenset({"friend_name"}),  # the new customer, to the referrer
            "customer": frozenset({"referrer_name"})}  # the referrer, to the new customer
EVERY_CONTEXT = ALWAYS | RECEIPT | frozenset().union(*REFERRAL.values())
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class TemplateRef:
    template_id: str
    channel: str
    tone: str
    location: Location
    doc: YamlDocument
    texts: Mapping[str, str]  # locale -> text


@dataclass(frozen=True)
class TemplateUse:
    """One action (or fallback) of one policy that sends a template."""

    template_id: str
    policy_id: str
    names: frozenset[str]  # the placeholders it can fill
    rules: frozenset[str]  # the tone rules the policy makes it keep
    location: Location  # the `template:` reference in the policy file


@dataclass(frozen=True)
class Placeholder:
    name: str
    offset: int  # of the `{`


def template_index(docs: Sequence[YamlDocument]) -> tuple[dict[str, TemplateRef], list[Diagnostic]]:
    index: dict[str, TemplateRef] = {}
    problems: list[Diagnostic] = []
    for doc in docs:
        for template_id, body in (doc.data.get("templates") or {}).items():
            here = doc.location(("templates", template_id), key=True)
            if template_id in index:
                problems.append(Diagnostic("template.duplicate",
                                           f"template {template_id!r} is defined twice", here,
                                           related=(index[template_id].location,)))
                continue
            texts = {str(k): str(v) for k, v in (body.get("text") or {}).items()}
            index[template_id] = TemplateRef(template_id, body["channel"], str(body["tone"]),
                                             here, doc, texts)
            problems.extend(_syntax(index[template_id]))
    return index, problems


# -- placeholders --------------------------------------------------------------------
def placeholders(text: str) -> tuple[list[Placeholder], list[tuple[int, str]]]:
    """The `{name}`s of a text, and its syntax problems as (offset, message).

    `{{` and `}}` stand for literal braces."""
    found: list[Placeholder] = []
    problems: list[tuple[int, str]] = []
    i = 0
    while i < len(text):
        if text.startswith(("{{", "}}"), i):
            i += 2
        elif text[i] == "}":
            problems.append((i, "'}' closes no placeholder (write '}}' for a brace)"))
            i += 1
        elif text[i] == "{":
            i = _one(text, i, found, problems)
        else:
            i += 1
    return found, problems


def _one(text: str, start: int, found: list[Placeholder],
         problems: list[tuple[int, str]]) -> int:
    close = text.find("}", start + 1)
    opened = text.find("{", start + 1)
    if close < 0 or 0 <= opened < close:
        problems.append((start, "'{' is never closed (write '{{' for a brace)"))
        return start + 1
    name = text[start + 1 : close]
    if _NAME.fullmatch(name):
        found.append(Placeholder(name, start))
    else:
        problems.append((start, f"{{{name}}} is not a placeholder: names are lower-case "
                                "letters, digits and _"))
    return close + 1


def _syntax(ref: TemplateRef) -> Iterator[Diagnostic]:
    for locale, text in ref.texts.items():
        for offset, message in placeholders(text)[1]:
            yield Diagnostic("template.syntax",
                             f"template {ref.template_id!r} ({locale}): {message}",
                             ref.doc.scalar_location(_text_path(ref, locale), offset))


def _text_path(ref: TemplateRef, locale: str) -> tuple[str, ...]:
    return ("templates", ref.template_id, "text", locale)


def check_placeholders(index: Mapping[str, TemplateRef], uses: Sequence[TemplateUse],
                       known: frozenset[str]) -> Iterator[Diagnostic]:
    """Each placeholder must be a name every action sending the template gives (an
    error). An unused template is held to every name some action of the set gives
    (`known`), as a warning: a set that ships part of a templates file (a store's
    subset, one backend's policies) must still load, and nothing can send it here."""
    for ref in index.values():
        mine = [u for u in uses if u.template_id == ref.template_id]
        for locale, text in ref.texts.items():
            for placeholder in placeholders(text)[0]:
                problem = _unknown(placeholder, mine, known)
                if problem is not None:
                    message, names, related = problem
                    yield Diagnostic(
                        "template.unknown-placeholder",
                        f"template {ref.template_id!r} ({locale}): {message}",
                        ref.doc.scalar_location(_text_path(ref, locale), placeholder.offset),
                        did_you_mean(placeholder.name, names) or _listed(names),
                        Severity.ERROR if mine else Severity.WARNING, related=related)


def _unknown(placeholder: Placeholder, uses: Sequence[TemplateUse], known: frozenset[str]
             ) -> tuple[str, frozenset[str], tuple[Location, ...]] | None:
    name = placeholder.name
    for use in uses:
        if name not in use.names:
            return (f"{{{name}}} is not a name policy {use.policy_id!r} gives this template",
                    use.names, (use.location,))
    if not uses and name not in known:
        return f"{{{name}}} is not a name any action gives a template", known, ()
    return None


def _listed(names: frozenset[str]) -> str:
    return "placeholders it can use: " + ", ".join(sorted(names))


# -- where templates are used ----------------------------------------------------------
def template_uses(doc: YamlDocument, parsed: ParsedPolicy | None) -> list[TemplateUse]:
    data = doc.data
    found = []
    for i, action in enumerate(data.get("actions") or []):
        names = _names(data, action)
        fallback = action.get("fallback") or {}
        sends: list[tuple[tuple[str | int, ...], Any, Any]] = [
            (("actions", i), action["type"], action.get("template")),
            (("actions", i, "fallback"), fallback.get("type"), fallback.get("template")),
        ]
        rules = tone.policy_rules(data["trigger"], _reads(parsed, i))
        for path, channel, template_id in sends:
            if template_id is None:
                continue
            wanted = frozenset(r for r in rules if channel in tone.RULE_CHANNELS[r])
            found.append(TemplateUse(template_id, data["id"], names, wanted,
                                     doc.location((*path, "template"))))
    return found


def _names(policy: Mapping[str, Any], action: Mapping[str, Any]) -> frozenset[str]:
    trigger = policy["trigger"]["kind"]
    names = ALWAYS | frozenset(action.get("params") or {})
    if trigger in ("purchase", "first_purchase", "crossing") or action.get("on") == "upgrade":
        names |= RECEIPT
    if trigger == "first_purchase":
        names |= REFERRAL[action.get("recipient") or "customer"]
    return names


def _reads(parsed: ParsedPolicy | None, action: int) -> frozenset[str]:
    """Fact paths and functions of the policy's conditions and of this action's tests."""
    if parsed is None:
        return frozenset()
    tests = [c for path, c in parsed.checked.items() if path[0] == "conditions"
             or path in (("actions", action, "when"), ("actions", action, "fallback", "when"))]
    reads = set()
    for checked in tests:
        for node in ast.walk(checked.node) if checked.node is not None else ():
            if isinstance(node, ast.Path):
                reads.add(node.path)
            elif isinstance(node, ast.Call):
                reads.add(f"{node.name}()")
    return frozenset(reads)


def known_names(uses: Sequence[TemplateUse]) -> frozenset[str]:
    return EVERY_CONTEXT.union(*(u.names for u in uses))


# -- tone ------------------------------------------------------------------------------
def check_tones(index: Mapping[str, TemplateRef], uses: Sequence[TemplateUse]
                ) -> Iterator[Diagnostic]:
    for ref in index.values():
        declared = tone.DECLARED.get(ref.tone)
        by_rule: dict[str, TemplateUse | None] = {declared: None} if declared else {}
        for use in uses:
            if use.template_id == ref.template_id:
                for rule in sorted(use.rules):
                    by_rule.setdefault(rule, use)
        for rule, sender in by_rule.items():
            if sender is not None:
                yield _declared_otherwise(ref, rule, sender)
            yield from _phrases(ref, rule, sender)


def _declared_otherwise(ref: TemplateRef, rule: str, use: TemplateUse) -> Diagnostic:
    return Diagnostic("template.tone-declared",
                      f"template {ref.template_id!r} declares tone {ref.tone!r}, but policy "
                      f"{use.policy_id!r} sends it as {tone.WHAT[rule]}: it is checked as "
                      f"{rule}", ref.doc.location(("templates", ref.template_id, "tone")),
                      f"declare `tone: {rule}`", Severity.WARNING, (use.location,))


def _phrases(ref: TemplateRef, rule: str, use: TemplateUse | None) -> Iterator[Diagnostic]:
    for locale, text in ref.texts.items():
        path = _text_path(ref, locale)
        if tone.language(locale) not in tone.checked_languages(rule):
            yield Diagnostic("template.tone-unchecked",
                             f"template {ref.template_id!r} ({locale}): no {rule} phrase list "
                             f"for this language, so the text is not checked",
                             ref.doc.location(path), "have the text reviewed by hand",
                             Severity.WARNING)
            continue
        for found in tone.findings(rule, locale, text):
            said = f"says {found.group(0)!r}"
            message = (f"template {ref.template_id!r} ({locale}) has tone {ref.tone!r} but {said}"
                       if use is None else
                       f"template {ref.template_id!r} ({locale}) is sent as {tone.WHAT[rule]} "
                       f"by policy {use.policy_id!r} but {said}")
            yield Diagnostic("template.tone", message,
                             ref.doc.scalar_location(path, found.start()), tone.HINTS[rule],
                             related=() if use is None else (use.location,))


# -- references --------------------------------------------------------------------------
def check_template_refs(doc: YamlDocument, index: dict[str, TemplateRef]) -> Iterator[Diagnostic]:
    for i, action in enumerate(doc.data.get("actions") or []):
        if "template" in action:  # optional: the host may word the action itself
            yield from _check_ref(doc, index, ("actions", i), action["type"], action["template"])
        fallback = action.get("fallback")
        if fallback and "template" in fallback:
            yield from _check_ref(doc, index, ("actions", i, "fallback"), fallback["type"],
                                  fallback["template"])


def _check_ref(doc: YamlDocument, index: dict[str, TemplateRef], path: tuple[str | int, ...],
               channel: str, template_id: str) -> Iterator[Diagnostic]:
    where = doc.location((*path, "template"))
    ref = index.get(template_id)
    if ref is None:
        yield Diagnostic("template.unknown", f"no template named {template_id!r}", where,
                         did_you_mean(template_id, index) or "add it to templates/")
    elif ref.channel != channel:
        yield Diagnostic("template.channel",
                         f"template {template_id!r} is for {ref.channel}, the action is {channel}",
                         where, related=(ref.location,))
