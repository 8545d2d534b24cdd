"""Small, safe Markdown pieces for the task sheets.

Ids and values come from store data, so they are shown as code spans (Markdown is not
interpreted inside) with control characters flattened: a hostile id cannot add lines,
links or headings to a sheet. File names keep to a portable character set.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["code", "one_line", "quote", "safe_file_stem", "words"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MARKUP = re.compile(r"([\\`*_\[\]<>#!|~&])")
_MAX_STEM = 60


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters turned into spaces."""
    return _CONTROL.sub(" ", text).strip()


def words(text: str) -> str:
    """`text` (a name from store data) as plain Markdown text: one line, and every
    character that could start markup escaped with a backslash."""
    return _MARKUP.sub(r"\\\1", one_line(text))


def code(text: object) -> str:
    """`text` as an inline code span, fenced longer than any backtick run inside it."""
    body = one_line(str(text)) or " "
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def quote(text: str, indent: str = "") -> list[str]:
    """`text` (a template, written by HQ) as a block quote, one line per line."""
    return [f"{indent}> {one_line(line)}".rstrip() for line in text.splitlines() or [""]]


def safe_file_stem(text: str) -> str:
    """A portable file-name part; altered or long names get a hash to stay distinct."""
    stem = _UNSAFE_NAME.sub("_", text)[:_MAX_STEM]
    if stem == text and stem:
        return stem
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{stem}~{digest}" if stem else digest
