"""Turns expression text into tokens. Hand-written: small, exact error offsets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import ExprError
from .values import DURATION_DAYS, INT_MAX

MAX_LENGTH = 2000
MAX_INT = INT_MAX
# -9223372036854775808 is `-` and 9223372036854775808: the token may be one above
# MAX_INT, and the checker refuses it unless a minus sign made it a negative literal.
MAX_INT_TOKEN = INT_MAX + 1
# Decimals are DECIMAL(18,3) in SQL: at most 15 integer digits and 3 decimal places.
MAX_DECIMAL_DIGITS = 15
MAX_DECIMAL_PLACES = 3

KEYWORDS = {"true", "false", "null", "in"}
# Longest first, so "<=" wins over "<".
OPERATORS = (
    "||",
    "&&",
    "==",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "!",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "?",
    ":",
)
MISTAKES = {"=": "==", "&": "&&", "|": "||"}
ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Token:
    kind: str  # "int" "decimal" "string" "duration" "ident" "keyword" "op" "eof"
    text: str
    start: int
    end: int
    value: object = None


def _is_ident_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_ident_char(ch: str) -> bool:
    return _is_ident_start(ch) or _is_digit(ch)


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def tokens(self) -> list[Token]:
        if len(self.text) > MAX_LENGTH:
            raise ExprError(
                "expr.too-long",
                f"expression is {len(self.text)} characters long; the limit is {MAX_LENGTH}",
                MAX_LENGTH,
                len(self.text),
            )
        out: list[Token] = []
        while True:
            token = self._next()
            out.append(token)
            if token.kind == "eof":
                return out

    def _next(self) -> Token:
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t\r\n":
            self.pos += 1
        start = self.pos
        if start >= len(text):
            return Token("eof", "", start, start)
        ch = text[start]
        if _is_digit(ch):
            return self._number()
        if ch in "\"'":
            return self._string()
        if _is_ident_start(ch):
            return self._ident()
        for op in OPERATORS:
            if text.startswith(op, start):
                self.pos += len(op)
                return Token("op", op, start, self.pos)
        if ch in MISTAKES:
            raise ExprError(
                "expr.syntax",
                f"unexpected {ch!r}",
                start,
                start + 1,
                f"did you mean {MISTAKES[ch]!r}?",
            )
        raise ExprError("expr.syntax", f"unexpected character {ch!r}", start, start + 1)

    def _ident(self) -> Token:
        start = self.pos
        while self.pos < len(self.text) and _is_ident_char(self.text[self.pos]):
            self.pos += 1
        word = self.text[start : self.pos]
        return Token("keyword" if word in KEYWORDS else "ident", word, start, self.pos)

    def _digits(self) -> None:
        while self.pos < len(self.text) and _is_digit(self.text[self.pos]):
            self.pos += 1

    def _number(self) -> Token:
        start = self.pos
        self._digits()
        is_decimal = False
        if self.text.startswith(".", self.pos):
            if not (self.pos + 1 < len(self.text) and _is_digit(self.text[self.pos + 1])):
                raise ExprError(
                    "expr.bad-number",
                    "a decimal point must be followed by digits",
                    start,
                    self.pos + 1,
                    f"write {self.text[start : self.pos]}.0",
                )
            self.pos += 1
            self._digits()
            is_decimal = True
        body_end = self.pos
        while self.pos < len(self.text) and _is_ident_char(self.text[self.pos]):
            self.pos += 1
        suffix = self.text[body_end : self.pos]
        if suffix:
            return self._suffixed(start, body_end, suffix, is_decimal)
        body = self.text[start:body_end]
        if is_decimal:
            return Token("decimal", body, start, body_end, _decimal_value(body, start))
        return Token("int", body, start, body_end, _int_value(body, start))

    def _suffixed(self, start: int, body_end: int, suffix: str, is_decimal: bool) -> Token:
        text = self.text[start : self.pos]
        if suffix == "d" and not is_decimal:
            return Token("duration", text, start, self.pos, _days_value(text[:-1], start))
        if suffix[0] in "eE" and (len(suffix) == 1 or suffix[1:].isdigit()):
            raise ExprError(
                "expr.bad-number",
                f"exponent notation is not supported: {text!r}",
                start,
                self.pos,
                "write the number out in full",
            )
        raise ExprError(
            "expr.bad-duration",
            f"bad duration {text!r}: durations are whole days written like 7d",
            start,
            self.pos,
            "use a whole number of days followed by 'd', e.g. 7d",
        )

    def _string(self) -> Token:
        start = self.pos
        quote = self.text[start]
        self.pos += 1
        parts: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == quote:
                self.pos += 1
                value = "".join(parts)
                return Token("string", self.text[start : self.pos], start, self.pos, value)
            if ch == "\\":
                parts.append(self._escape())
                continue
            parts.append(ch)
            self.pos += 1
        raise ExprError(
            "expr.unterminated-string",
            "string is not closed",
            start,
            len(self.text),
            f"add a closing {quote}",
        )

    def _escape(self) -> str:
        at = self.pos
        ch = self.text[at + 1] if at + 1 < len(self.text) else ""
        if ch in ESCAPES and ch:
            self.pos += 2
            return ESCAPES[ch]
        if ch == "u":
            digits = self.text[at + 2 : at + 6]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if not 0xD800 <= code <= 0xDFFF:
                    self.pos += 6
                    return chr(code)
        if not ch:
            raise ExprError("expr.unterminated-string", "string is not closed", at, len(self.text))
        raise ExprError(
            "expr.syntax",
            f"unknown escape sequence \\{ch}",
            at,
            at + 2,
            "escapes are \\\\ \\\" \\' \\n \\t \\r and \\uXXXX",
        )


def _int_value(body: str, start: int) -> int:
    value = int(body)
    if value > MAX_INT_TOKEN:
        raise ExprError(
            "expr.bad-number",
            f"integer {body} is out of range",
            start,
            start + len(body),
            f"integers are {-MAX_INT_TOKEN} to {MAX_INT}",
        )
    return value


def _days_value(body: str, start: int) -> int:
    value = int(body)
    if value > DURATION_DAYS:
        raise ExprError(
            "expr.bad-duration",
            f"duration {body}d is out of range",
            start,
            start + len(body) + 1,
            f"durations are at most {DURATION_DAYS}d either way",
        )
    return value


def _decimal_value(body: str, start: int) -> Decimal:
    whole, places = body.split(".")
    if len(places) > MAX_DECIMAL_PLACES or len(whole.lstrip("0")) > MAX_DECIMAL_DIGITS:
        raise ExprError(
            "expr.bad-number",
            f"decimal {body} does not fit: at most {MAX_DECIMAL_DIGITS} digits before "
            f"the point and {MAX_DECIMAL_PLACES} after",
            start,
            start + len(body),
        )
    return Decimal(body)


def tokenize(text: str) -> list[Token]:
    return Lexer(text).tokens()
