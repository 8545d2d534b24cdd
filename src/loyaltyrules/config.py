"""`loyaltyrules.toml`: typed defaults for every command, read once.

Only the `[source]` section is typed here; other sections are kept as plain tables in
`Config.sections` for the modules that own them. Unknown keys inside `[source]` are
errors with a "did you mean" hint, because a misspelt mapping silently reads nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from loyaltyrules.configkeys import not_boolean, unknown_keys
from loyaltyrules.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_FILE = "loyaltyrules.toml"

TABLE_NAMES = (
    "customers",
    "purchases",
    "purchase_lines",
    "stores",
    "staff",
    "calendar",
    "complaints",
    "events",
    "outcomes",
)
DATABASE_URLS = ("postgresql://", "postgres://")  # a source that is a database
_SOURCE_KEYS = {
    "data",
    "currency",
    "timezone",
    "reject_share",
    "consent_default",
    "fingerprint",
    "tables",
}
_TABLE_KEYS = {
    "path",
    "columns",
    "defaults",
    "derive_from",
    "timestamp_format",
    "delimiter",
    "decimal_separator",
    "thousands_separator",
}
# Number formats as spreadsheets export them: `1,999.00`, `1.999,00`, `1 999,00`, `1'999.00`.
DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = (",", ".", " ", "'", "\u00a0", "\u202f")


@dataclass(frozen=True)
class TableConfig:
    """How one canonical table is found and named in the source."""

    path: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> source name
    defaults: Mapping[str, str] = field(default_factory=dict)  # canonical -> constant
    derive_from: str | None = None  # customers only: build from purchases / purchase_lines
    timestamp_format: str | None = None  # strptime format; default ISO 8601
    delimiter: str | None = None  # CSV only; default sniffed
    decimal_separator: str = "."  # in money and quantity text
    thousands_separator: str | None = None  # none: digits are not grouped

    @property
    def plain_numbers(self) -> bool:
        """Numbers in the strict default form (`1999.00`, `-3`), read as DuckDB reads them."""
        return self.decimal_separator == "." and self.thousands_separator is None


@dataclass(frozen=True)
class SourceConfig:
    data: Path = Path("data")
    url: str | None = None  # a database instead of `data` (postgresql://...; sources/postgres.py)
    currency: str | None = None
    timezone: str | None = None
    reject_share: float = 0.05
    consent_default: bool = True
    fingerprint: str = "stat"  # stat | content
    tables: Mapping[str, TableConfig] = field(default_factory=dict)

    def table(self, name: str) -> TableConfig:
        return self.tables.get(name, TableConfig())


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    path: Path | None = None
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def load_config(path: str | Path | None = None) -> Config:
    """Read `path`, or `loyaltyrules.toml` in the working directory when present.

    Relative paths inside the file resolve against the file's own directory.
    """
    if path is None:
        candidate = Path.cwd() / CONFIG_FILE
        if not candidate.is_file():
            return Config(source=SourceConfig(data=Path.cwd() / "data"))
        path = candidate
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error("config.unreadable", f"cannot read the configuration: {exc}", file) from exc
    return parse_config(text, file)


def parse_config(text: str, file: Path) -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(str(exc))
        msg = f"invalid TOML: {_strip_position(str(exc))}"
        raise _error("config.syntax", msg, file, line, col) from exc
    ctx = _Context(text, file)
    for where, name, known in unknown_keys(doc):
        what = "section" if where == "the file" else "key"
        ctx.fail("config.unknown-key", f"unknown {what} {name!r} in {where}", name,
                 did_you_mean(name, known))
    for section, key in not_boolean(doc):
        ctx.fail("config.bad-value", f"[{section}] {key} must be true or false", key)
    source = _parse_source(doc.get("source", {}), ctx, file.parent)
    sections = {k: v for k, v in doc.items() if k != "source" and isinstance(v, dict)}
    return Config(source=source, path=file, sections=sections)


@dataclass(frozen=True)
class _Context:
    text: str
    file: Path

    def fail(self, code: str, message: str, key: str, suggestion: str | None = None) -> NoReturn:
        line = _line_of(self.text, key)
        raise _error(code, message, self.file, line, 1 if line else 0, suggestion)


def _parse_source(raw: object, ctx: _Context, base: Path) -> SourceConfig:
    if not isinstance(raw, dict):
        ctx.fail("config.bad-value", "[source] must be a table", "source")
    _check_keys(raw, _SOURCE_KEYS, "source", ctx)
    share = raw.get("reject_share", 0.05)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        ctx.fail("config.bad-value", "reject_share must be a number from 0 to 1", "reject_share")
    fingerprint = _opt_str(raw, "fingerprint", ctx) or "stat"
    if fingerprint not in ("stat", "content"):
        ctx.fail("config.bad-value", "fingerprint must be 'stat' or 'content'", "fingerprint")
    consent = raw.get("consent_default", True)
    if not isinstance(consent, bool):
        ctx.fail("config.bad-value", "consent_default must be true or false", "consent_default")
    currency = _opt_str(raw, "currency", ctx)
    data = _opt_str(raw, "data", ctx) or "data"
    url = data if data.startswith(DATABASE_URLS) else None
    return SourceConfig(
        data=base / ("." if url else data),
        url=url,
        currency=currency.upper() if currency else None,
        timezone=_opt_str(raw, "timezone", ctx),
        reject_share=float(share),
        consent_default=consent,
        fingerprint=fingerprint,
        tables=_parse_tables(raw.get("tables", {}), ctx),
    )


def _parse_tables(raw: object, ctx: _Context) -> dict[str, TableConfig]:
    if not isinstance(raw, dict):
        ctx.fail("config.bad-value", "[source.tables] must be a table", "tables")
    _check_keys(raw, set(TABLE_NAMES), "source.tables", ctx, code="config.unknown-table")
    return {name: _parse_table(name, body, ctx) for name, body in raw.items()}


def _parse_table(name: str, raw: object, ctx: _Context) -> TableConfig:
    if not isinstance(raw, dict):
        ctx.fail("config.bad-value", f"[source.tables.{name}] must be a table", name)
    _check_keys(raw, _TABLE_KEYS, f"source.tables.{name}", ctx)
    derive = _opt_str(raw, "derive_from", ctx)
    if derive is not None and (name != "customers" or derive not in _LINE_TABLES):
        ctx.fail(
            "config.bad-value",
            "derive_from is allowed on customers only, from purchases or purchase_lines",
            "derive_from",
        )
    decimal, thousands = _separators(raw, ctx)
    return TableConfig(
        path=_opt_str(raw, "path", ctx),
        columns=_str_map(raw, "columns", ctx),
        defaults=_str_map(raw, "defaults", ctx),
        derive_from=derive,
        timestamp_format=_opt_str(raw, "timestamp_format", ctx),
        delimiter=_opt_str(raw, "delimiter", ctx),
        decimal_separator=decimal,
        thousands_separator=thousands,
    )


def _separators(raw: Mapping[str, object], ctx: _Context) -> tuple[str, str | None]:
    decimal = _opt_str(raw, "decimal_separator", ctx) or "."
    if decimal not in DECIMAL_SEPARATORS:
        ctx.fail("config.bad-value", "decimal_separator must be '.' or ','", "decimal_separator")
    thousands = _opt_str(raw, "thousands_separator", ctx) or None
    if thousands is not None and (thousands not in THOUSANDS_SEPARATORS or thousands == decimal):
        shown = ", ".join(repr(t) for t in THOUSANDS_SEPARATORS)
        ctx.fail(
            "config.bad-value",
            f"thousands_separator must be one of {shown}, and not the decimal separator",
            "thousands_separator",
        )
    return decimal, thousands


_LINE_TABLES = ("purchases", "purchase_lines")


def _check_keys(
    raw: Mapping[str, object],
    known: set[str],
    where: str,
    ctx: _Context,
    code: str = "config.unknown-key",
) -> None:
    for key in raw:
        if key not in known:
            ctx.fail(code, f"unknown key {key!r} in [{where}]", key, did_you_mean(key, known))


def _opt_str(raw: Mapping[str, object], key: str, ctx: _Context) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        ctx.fail("config.bad-value", f"{key} must be a string", key)
    return value if isinstance(value, str) else None


def _str_map(raw: Mapping[str, object], key: str, ctx: _Context) -> dict[str, str]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        ctx.fail("config.bad-value", f"{key} must be a table of names", key)
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            ctx.fail("config.bad-value", f"{key}.{name} must be a string", name)
        out[name] = str(item)
    return out


def _line_of(text: str, key: str) -> int:
    """Best-effort line of a key or table header, since tomllib keeps no positions."""
    pattern = re.compile(rf"^\s*(\[[^\]]*\b{re.escape(key)}\b[^\]]*\]|\"?{re.escape(key)}\"?\s*=)")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return number
    return 0


_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml_position(message: str) -> tuple[int, int]:
    match = _POSITION.search(message)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _strip_position(message: str) -> str:
    return _POSITION.sub("", message).strip()


def _error(
    code: str,
    message: str,
    file: Path,
    line: int = 0,
    col: int = 0,
    suggestion: str | None = None,
) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, Location(str(file), line, col), suggestion)])
