"""The playbook's tone rules, as phrase lists per language.

Two rules (DESIGN section 2): holiday, seasonal and birthday greetings never mention
promotions or new products (`no_sales`); lapsed-customer messages never ask what went
wrong (`no_blame`). Each rule is a list of patterns per language: English patterns
match whole words, case-insensitively, and catch the usual paraphrases ("new winter
collection", "latest arrivals", "shop now and save", "did we do something to upset
you?"); Chinese and Korean patterns match anywhere in the text. tests/corpus/tone/
holds the paraphrases each list must catch, and the texts it must leave alone.

Which rule a template must keep follows from the policies that use it (see
`required_rules`), not only from the tone it declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

NO_SALES, NO_BLAME = "no_sales", "no_blame"

# Declared tones that carry a rule of their own; `service` and `thanks` carry none.
DECLARED = {"greeting": NO_SALES, NO_SALES: NO_SALES, NO_BLAME: NO_BLAME}

_WORDS = r"(?:[\w'’-]+\s+){0,2}?"  # up to two words in between: "new winter collection"
_PRODUCTS = (r"(?:collections?|arrivals?|products?|styles?|ranges?|lines?|items?|designs?"
             r"|looks?|stock|pieces?|releases?|launch(?:es)?|fashions?|trends?|models?)")

PHRASES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    NO_SALES: {
        "en": (
            r"\bsales?\b(?!\s+(?:team|staff|associates?|assistants?|department|people))",
            r"\bdiscount(?:s|ed)?\b", r"\bpromo(?:tion(?:al|s)?|s)?\b", r"\bcoupons?\b",
            r"\bvouchers?\b", r"\bdeals?\b", r"\bbargains?\b", r"\bclearance\b",
            r"\bmark(?:ed)?[- ]?downs?\b", r"\d+\s*%(?:\s+off)?", r"\bper\s*cent\b",
            r"\bhalf\s+off\b",
            r"\boff\s+(?:everything|all|any|your|the|selected|storewide|sitewide)\b",
            r"\b(?:special|exclusive|limited|holiday|seasonal|our|this|great|latest)\s+offers?\b",
            r"\boffers?\s+(?:ends?|valid|expires?|available)\b", r"\blimited[- ]time\b",
            r"\bwhile\s+stocks?\s+last\b", r"\bbuy\s+(?:one|two|\d|now|more)\b", r"\bbogo\b",
            r"\bfree\s+(?:gifts?|shipping|delivery|items?)\b",
            r"\bshop\s+(?:now|today|online|our|the|with\s+us)\b",
            r"\bshopping\s+(?:spree|event|days?)\b",
            r"\bcome\s+(?:in|by)\s+(?:and\s+)?(?:see|shop|browse|discover|check)\b",
            r"\bcheck\s+out\s+(?:our|the)\b", r"\bbrowse\b", r"\bin[- ]stores?\s+now\b",
            r"\bnow\s+in\s+stores?\b", r"\bavailable\s+now\b",
            r"\bsav(?:e|es|ing|ings)\b(?!\s+the\s+date)",
            rf"\bnew\s+{_WORDS}{_PRODUCTS}\b", rf"\blatest\s+{_WORDS}{_PRODUCTS}\b",
            r"\bnewest\b", r"\barrivals\b", r"\bcollections?\b",
            r"\b(?:new|fresh|just|newly)\s+(?:in|arrived|landed|launched|released|dropped)\b",
        ),
        "zh": (
            "折扣", "打折", r"[一二三四五六七八九\d]+折", "优惠", "促销", "特价", "特惠", "减价",
            "降价", "清仓", "甩卖", "满减", "立减", "返现", "券", "买一送一", "限时", "抢购",
            "秒杀", "新品", "新款", "上新", "新到", "新货", "到货", "系列", "新装", "上市",
            "上架", "选购", "快来", "省钱", "大促", "让利", "包邮", "赠品",
        ),
        "ko": (
            "할인", "세일", "프로모션", "특가", "쿠폰", "이벤트", "혜택", "신상", "신제품",
            "신작", "컬렉션", "입고", "출시", "최신", "한정", "구매하세요", "쇼핑", r"지금\s*바로",
            "절약", "적립", "사은품", "증정", r"무료\s*배송", r"\d+\s*%", r"1\+1",
            r"놓치지\s*마세요",
        ),
    },
    NO_BLAME: {
        "en": (
            r"\bwent\s+wrong\b", r"\b(?:something|anything)\s+(?:went\s+)?wrong\b",
            r"\bwhat(?:'s|’s|\s+is|\s+was)\s+wrong\b", r"\bwhat\s+happened\b",
            r"\bdid\s+(?:something|anything)\s+(?:happen|go\s+wrong)\b",
            r"\b(?:did|have)\s+we\s+(?:do|say|done|said)\s+(?:something|anything)\b",
            r"\bsomething\s+we\s+(?:did|said)\b", r"\bwas\s+it\s+(?:something|anything)\b",
            r"\bupset\b", r"\bunhappy\b", r"\bdisappoint\w*\b", r"\bdissatisf\w*\b",
            r"\bdispleas\w*\b", r"\bcomplain\w*\b", r"\blet\s+you\s+down\b",
            r"\boffen(?:d|ded|se)\b",
            r"(?<!that's )(?<!that’s )(?<!that is )(?<!this is )(?<!which is )\bwhy\b",
            r"\bwhere\s+have\s+you\s+been\b",
            r"\bstopped\s+(?:coming|visiting|shopping|buying)\b",
            r"\b(?:no\s+longer|don't|do\s+not)\s+(?:come|visit|shop)\b",
            r"\breasons?\s+(?:you|for\s+your|why)\b",
            r"\bwhat\s+(?:can|could)\s+we\s+(?:do|have\s+done)\s+better\b",
            r"\bwhat\s+we\s+(?:can|could)\s+(?:do|have\s+done)\s+better\b",
            r"\b(?:tell|let)\s+us\s+(?:know\s+)?what\s+(?:we|went|happened)\b",
            r"\bmistakes?\b", r"\bour\s+fault\b",
            r"\b(?:not|wasn't|weren't)\s+(?:happy|satisfied|pleased)\s+with\b",
            r"\bis\s+(?:everything|anything)\s+(?:ok|okay|alright|all\s+right)\b",
        ),
        "zh": (
            "发生了什么", "出了什么事", "怎么了", r"怎么.{0,4}没来", "为什么", "为何", "不满",
            "失望", "生气", "不高兴", "得罪", "做错", "做得不好", "不好的地方", "有什么问题",
            "哪里不好", "投诉", "抱怨", "不愉快", "怠慢", "不再光临", "不来了", "没有再来",
            "是不是我们",
        ),
        "ko": (
            r"무슨\s*일", "왜", "불만", "서운", "섭섭", "실망", r"기분이?\s*(?:상하|나쁘|안\s*좋)",
            "언짢", r"불편(?:하셨|하신|한\s*점|하게)", "불쾌", r"잘못(?:했|한|된|이)",
            r"문제(?:가|라도)\s*있", r"뭐가\s*문제", r"무엇이\s*문제", r"화가?\s*나(?:셨|신)",
            r"발길이?\s*끊", r"안\s*오시", r"안\s*오세", r"오지\s*않으",
        ),
    },
}
_COMPILED = {
    (rule, language): re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    for rule, by_language in PHRASES.items()
    for language, patterns in by_language.items()
}

# Who a rule speaks to: a greeting is a message (a call or a visit on a yearly date
# may be a pre-season call, which talks about the season's goods); a lapsed customer
# must not be asked what went wrong by any channel, task sheets included. Discounts,
# gifts and tier changes are the benefit itself, not a message about it.
RULE_CHANNELS = {
    NO_SALES: frozenset({"sms", "email", "letter"}),
    NO_BLAME: frozenset({"sms", "email", "letter", "call", "visit", "task"}),
}
WHAT = {NO_SALES: "a holiday, seasonal or birthday greeting",
        NO_BLAME: "a lapsed-customer message"}
HINTS = {NO_SALES: "a greeting is about the customer: no promotions, no new products",
         NO_BLAME: "a lapsed-customer message says we miss them; it never asks what went wrong"}
# Facts that say how long the customer has been away: a policy reading them is about a lapse.
LAPSE_FACTS = ("customer.days_since_last_purchase", "customer.days_since_last_positive_purchase",
               "customer.last_purchase_date", "customer.last_positive_purchase_date")


def language(locale: str) -> str:
    return locale.split("-")[0]


def checked_languages(rule: str) -> frozenset[str]:
    return frozenset(PHRASES[rule])


def findings(rule: str, locale: str, text: str) -> Iterator[re.Match[str]]:
    """Every phrase of `text` that breaks `rule` (none for a language without a list)."""
    pattern = _COMPILED.get((rule, language(locale)))
    return iter(()) if pattern is None else pattern.finditer(text)


def policy_rules(trigger: Mapping[str, Any], reads: frozenset[str]) -> set[str]:
    """The tone rules a policy's action must keep, from what the policy is. `reads`
    holds the fact paths and the `function()`s of its conditions and the action's tests.

    A yearly date or a day of the calendar table (a holiday or a season) or a birthday
    makes its messages greetings; reading how long the customer has been away makes
    them lapsed-customer messages."""
    rules = set()
    yearly = trigger.get("kind") == "schedule" and trigger.get("every") in ("year", "calendar")
    if yearly or "is_birthday()" in reads:
        rules.add(NO_SALES)
    if reads & set(LAPSE_FACTS):
        rules.add(NO_BLAME)
    return rules
