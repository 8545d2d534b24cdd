"""Message templates: every action names one that exists, and tone rules hold.

The playbook's tone rules are data-checked here: greetings (`no_sales`) never
mention promotions or new products; lapsed-customer notes (`no_blame`) never ask
what went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Location, did_you_mean
from ..yamlsource import YamlDocument

FORBIDDEN_WORDS = {
    "no_sales": (
        "sale", "discount", "promotion", "promo", "% off", "offer", "coupon", "new arrival",
        "new collection", "new product", "折扣", "优惠", "促销", "新品", "特价", "할인",
        "세일", "프로모션", "신상품", "신제품",
    ),
    "no_blame": (
        "what went wrong", "did something happen", "something wrong", "why haven't",
        "why have you not", "unhappy", "complain", "发生了什么", "为什么", "不满意", "무슨 일",
        "왜 ", "불만",
    ),
}


@dataclass(frozen=True)
class TemplateRef:
    template_id: str
    channel: str
    location: Location


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
            index[template_id] = TemplateRef(template_id, body["channel"], here)
            problems.extend(_check_tone(doc, template_id, body))
    return index, problems


def _check_tone(doc: YamlDocument, template_id: str, body: dict[str, object]
                ) -> Iterator[Diagnostic]:
    words = FORBIDDEN_WORDS.get(str(body.get("tone")), ())
    texts = body.get("text")
    if not isinstance(texts, dict):
        return
    for locale, text in texts.items():
        for word in words:
            found = re.search(re.escape(word), str(text), re.IGNORECASE)
            if found:  # point at the word itself, not just the text it sits in
                path = ("templates", template_id, "text", locale)
                yield Diagnostic("template.tone",
                                 f"template {template_id!r} ({locale}) has tone "
                                 f"{body['tone']!r} but says {word!r}",
                                 doc.scalar_location(path, found.start()),
                                 "greetings are not sales, and lapsed notes do not ask "
                                 "what went wrong")


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
