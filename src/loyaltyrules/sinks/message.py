"""A task's message as the associate sends or says it: its template's text in the
customer's language, every `{placeholder}` filled or listed as missing.

The language is the first of: the customer's `locale` (customers table), the locale of
the action's store (stores table), the pack's default (`en`, the text every template
has, docs/policy-format.md); a locale the template has no text for is skipped, and
`ko-KR` falls back to `ko`. Placeholders are the names docs/policy-format.md lists:
`name`, `friend_name` and `referrer_name` are customers' names (personal data, filled
only with enrichment), `store` the store's name, `staff_name` the assignee's name,
the rest fields of the action record, its receipt and its params.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..validation.templates import placeholders
from .directory import Directory

__all__ = ["PACK_LOCALE", "Message", "choose_locale", "message_for", "render"]

PACK_LOCALE = "en"  # every template has English (templates schema)
# Placeholders holding a customer's name: filled only when enrichment is on.
PERSONAL = ("name", "friend_name", "referrer_name")
_RECORD = ("customer_id", "store_id", "region", "as_of", "not_before", "due_by", "policy",
           "action_id")


@dataclass(frozen=True)
class Message:
    """A rendered text: literal pieces and placeholders (name, value or None)."""

    locale: str
    pieces: tuple[tuple[str, str | None, bool], ...]  # (text or name, value, is placeholder)

    @property
    def text(self) -> str:
        """The text, with an unfilled placeholder left as `{name}`."""
        return "".join(_shown(piece) for piece in self.pieces)

    @property
    def missing(self) -> tuple[str, ...]:
        """Placeholders without a value, each once, in the order they appear."""
        names = [text for text, value, slot in self.pieces if slot and value is None]
        return tuple(dict.fromkeys(names))


def _shown(piece: tuple[str, str | None, bool]) -> str:
    text, value, slot = piece
    if not slot:
        return text
    return value if value is not None else "{" + text + "}"


def _candidates(locale: str | None) -> list[str]:
    if not locale:
        return []
    language = locale.split("-")[0].split("_")[0].lower()
    return list(dict.fromkeys([locale, language]))


def choose_locale(texts: Mapping[str, str], wanted: Iterable[str | None]) -> str:
    """The first wanted locale (or its language) the texts have, else the pack's."""
    for locale in wanted:
        for candidate in _candidates(locale):
            if candidate in texts:
                return candidate
    return PACK_LOCALE if PACK_LOCALE in texts else next(iter(texts))


def render(texts: Mapping[str, str], wanted: Sequence[str | None],
           value: Callable[[str], str | None]) -> Message:
    """The text in the chosen locale with each placeholder's `value` put in (None:
    unknown); `{{` and `}}` become braces."""
    locale = choose_locale(texts, wanted)
    text = texts[locale]
    pieces: list[tuple[str, str | None, bool]] = []
    at = 0
    for slot in placeholders(text)[0]:
        pieces.append((_literal(text[at:slot.offset]), None, False))
        pieces.append((slot.name, value(slot.name), True))
        at = slot.offset + len(slot.name) + 2
    pieces.append((_literal(text[at:]), None, False))
    return Message(locale, tuple(p for p in pieces if p[2] or p[0]))


def _literal(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def message_for(action: Mapping[str, Any], texts: Mapping[str, str] | None,
                directory: Directory, fallback: str = PACK_LOCALE) -> Message | None:
    """The message of an action (or a merged entry of one, given its parent's fields),
    or None when it has no template text."""
    if not texts:
        return None
    customer = directory.customers([action["customer_id"]])[action["customer_id"]]
    store = directory.store(action["store_id"])
    wanted = [customer.locale, store.locale, fallback]
    return render(texts, wanted, lambda name: value_of(name, action, directory))


def value_of(name: str, action: Mapping[str, Any], directory: Directory) -> str | None:
    """What a placeholder of the action's message stands for (None: not known)."""
    if name in _RECORD:
        return _text(action.get(name))
    reason = action.get("reason") or {}
    params = action.get("params") or {}
    receipt = (reason.get("values") or {}).get("purchase.amount")
    if name == "amount" and receipt is not None:
        return _text(receipt)  # the receipt's exact decimal text, not a JSON number
    if name in params:
        return _text(params[name])
    if name == "purchase_id":
        return _text(reason.get("purchase_id"))
    if name == "store":
        return directory.store(action["store_id"]).name
    if name == "staff_name":
        who = directory.assignee(action.get("assignee") or {}, action["store_id"])
        return who.name if who else None
    customer = _person(name, action, directory)
    return directory.customers([customer])[customer].name if customer else None


def _person(name: str, action: Mapping[str, Any], directory: Directory) -> str | None:
    """The customer a name placeholder means: the recipient (`name`), the referrer
    (`referrer_name`), or the new customer whose first purchase it is (`friend_name`)."""
    recipient = str(action["customer_id"])
    reason = action.get("reason") or {}
    if name == "name":
        return recipient
    if name == "referrer_name":
        found = (reason.get("values") or {}).get("referrer.customer_id")
    elif name == "friend_name" and reason.get("purchase_id"):
        found = directory.buyer(str(reason["purchase_id"]))
    else:
        return None
    return str(found) if found is not None and str(found) != recipient else None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
