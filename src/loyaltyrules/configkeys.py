"""Every key of `loyaltyrules.toml`, declared once: its section, type, default and
meaning, and the flag that overrides it.

docs/configuration.md is generated from this table (`python -m loyaltyrules.configkeys
> docs/configuration.md`; a test checks the file is up to date), and `load_config`
refuses a section or key that is not declared here, with a "did you mean" hint: a
misspelt key would otherwise be ignored without a word. The modules that read a key
keep their own checks of its value; tests check that their lists of keys match this
one.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KEYS", "SECTIONS", "Key", "Section", "boolean", "keys_of", "not_boolean", "reference",
           "unknown_keys"]


@dataclass(frozen=True)
class Section:
    name: str  # "run"; "source.tables.*": one table per input table name
    about: str
    owner_checks: bool = False  # its module refuses unknown keys itself, in its own words


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    kind: str
    default: str
    meaning: str
    flag: str = ""


SECTIONS: tuple[Section, ...] = (
    Section("source", "Where the data is and how to read it (docs/data-sources.md).",
            owner_checks=True),
    Section("source.tables.*", "One input table (`customers`, `purchases`, "
            "`purchase_lines`, `stores`, `staff`, `calendar`, `complaints`, `events`, `outcomes`): "
            "where it is and how its columns are named.", owner_checks=True),
    Section("run", "The nightly run, `export` and the commands that share the ledger."),
    Section("state", "The ledger in a database instead of a file (docs/postgresql.md).",
            owner_checks=True),
    Section("serve", "The HTTP service and its store work page (docs/service.md).",
            owner_checks=True),
    Section("sheets", "Task sheets and the store work page (docs/outputs.md)."),
    Section("bundle", "Policy bundles a store accepts (docs/release.md).", owner_checks=True),
    Section("reports", "`loyaltyrules report` (docs/reports.md)."),
    Section("engine", "Where run and backtest evaluate the policies: DuckDB in process, or "
            "the same plan on Apache Spark (docs/spark.md)."),
    Section("contact_rules", "Lifecycle tasks the run adds (docs/outcomes.md); holds the "
            "two tables below."),
    Section("contact_rules.escalation", "A follow-up with no outcome, overdue: a task for "
            "the store manager."),
    Section("contact_rules.routing", "An outcome whose topic is `region` or `company`: a "
            "task for the regional office or HQ customer service."),
)

_TABLE = "source.tables.*"
KEYS: tuple[Key, ...] = (
    Key("source", "data", "path", '"data"', "The data source: a folder of table files or "
        "a SQLite file, relative to the toml file, or a `postgresql://` URL.", "--data"),
    Key("source", "currency", "string", "none", "Expected currency; receipts in another "
        "are rejects. None: no check."),
    Key("source", "timezone", "string", "none", "Informational: naive timestamps are the "
        "store's local time."),
    Key("source", "reject_share", "number 0..1", "0.05", "A table whose dropped rows pass "
        "this share of its rows makes the input unusable (exit 2)."),
    Key("source", "consent_default", "boolean", "true", "What a missing consent means: "
        "true = not opted out."),
    Key("source", "fingerprint", '"stat" or "content"', '"stat"', "How input files are "
        "fingerprinted for the ledger: name, size and mtime, or name, size and sha256."),
    Key("source", "tables", "table", "none", "One `[source.tables.<table>]` per input "
        "table that needs a path, mapping or format."),
    Key(_TABLE, "path", "string", "found by name", "File, folder or glob relative to "
        "`data` (or the SQLite table)."),
    Key(_TABLE, "columns", "table", "none", "Canonical column name = the source's name."),
    Key(_TABLE, "defaults", "table", "none", "A constant for a column the source lacks."),
    Key(_TABLE, "derive_from", '"purchases" or "purchase_lines"', "none", "customers "
        "only: build the customers table from the receipts."),
    Key(_TABLE, "timestamp_format", "string", "ISO 8601", "A strptime format read besides "
        "ISO 8601, e.g. `%d/%m/%Y %H:%M`."),
    Key(_TABLE, "delimiter", "string", "sniffed", "CSV field delimiter."),
    Key(_TABLE, "decimal_separator", '"." or ","', '"."', "In money and quantity text."),
    Key(_TABLE, "thousands_separator", "string", "none", 'Digit grouping: ",", ".", " ", '
        '"\'", NBSP or narrow NBSP; never the decimal separator.'),
    Key("run", "policies", "path", "./policies, else the bundled pack", "The policy set.",
        "--policies"),
    Key("run", "state", "path", '"loyaltyrules-state.sqlite"', "The ledger and the "
        "point-of-sale views.", "--state"),
    Key("run", "out", "path", '"out"', "Where actions are delivered: a folder, a .jsonl or "
        ".csv file, or - for standard output.", "--out"),
    Key("run", "lock_timeout", "seconds", "600", "How long a run or export waits while "
        "another holds the ledger; 0: do not wait.", "--lock-timeout"),
    Key("run", "ingest_store", "boolean", "false", "Keep the checked input beside a SQLite "
        "state (`<state>.ingest.duckdb`), so a night reads only new or changed files. The "
        "file is a copy of the input, customers' contact details included: turn it on "
        "where the state folder is kept as safely as the data."),
    Key("run", "store", "store_id", "none: every store", "The one store a run or export "
        "is for, when stores share a ledger.", "--store"),
    Key("state", "url", "URL", "none: `[run] state`", "A `postgresql://` URL of the ledger, "
        "over `[run] state`, for every command.", "--state"),
    Key("serve", "sync", '"normal" or "full"', '"normal"', "How far a receipt's commit has "
        "reached when it is answered.", "--sync"),
    Key("bundle", "public_key", "path", "none: any bundle, signed or not", "HQ's Ed25519 "
        "public key (PEM), relative to this file: with it, `--bundle` accepts only bundles "
        "signed by its private key, in every command."),
    Key("serve", "backend", '"native" or "durable_rules"', '"native"', "Which per-event "
        "engine decides which policies fire; durable_rules needs the durable extra and "
        "runs receipt-triggered policies only (docs/durable-rules.md).", "--backend"),
    Key("sheets", "enrich", "boolean", "false", "Customers' names, phones, emails and "
        "addresses on task sheets and the store work page, and names filled into messages. "
        "Never in logs, errors, the ledger, JSON Lines or CSV."),
    Key("reports", "expected_years", "number > 0", "3", "Years a customer is expected to "
        "stay, for lifetime value.", "--expected-years"),
    Key("engine", "kind", '"duckdb" or "spark"', '"duckdb"', "The evaluator of `run` and "
        "`backtest`; Spark needs `pip install 'loyaltyrules[spark]'` and Java 17.",
        "--engine"),
    Key("engine", "master", "Spark master URL", "spark-submit's, else local[*]", "Where "
        "Spark runs: `local[4]`, `spark://host:7077`, `yarn`, `k8s://...`."),
    Key("engine", "staging", "path", "a temporary folder", "Where the checked input tables "
        "go as Parquet for Spark; on a cluster, a path every executor can read."),
    Key("engine", "conf", "table", "none", "Any `spark.*` setting, for a session the "
        "engine starts."),
    Key("contact_rules.escalation", "enabled", "boolean", "true", "Escalate overdue "
        "follow-ups."),
    Key("contact_rules.escalation", "role", "action role", '"store_manager"', "Who gets "
        "the escalation task."),
    Key("contact_rules.escalation", "grace_days", "days", "0", "Days after due_by before "
        "escalating."),
    Key("contact_rules.escalation", "due_days", "days", "1", "The escalation task is due "
        "this many days after it is made."),
    Key("contact_rules.escalation", "priority", "integer", "70", "Its priority."),
    Key("contact_rules.routing", "enabled", "boolean", "true", "Route feedback by topic."),
    Key("contact_rules.routing", "due_days", "days", "7", "The routing task is due this "
        "many days after the outcome."),
    Key("contact_rules.routing", "priority", "integer", "50", "Its priority."),
)


def keys_of(section: str) -> tuple[str, ...]:
    return tuple(k.name for k in KEYS if k.section == section)


def _subsections(section: str) -> tuple[str, ...]:
    """`contact_rules` -> (`escalation`, `routing`): tables nested in a section."""
    prefix = section + "."
    return tuple(s.name[len(prefix):] for s in SECTIONS
                 if s.name.startswith(prefix) and "." not in s.name[len(prefix):])


def unknown_keys(doc: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, unknown name, known names) for each section or key of a parsed
    loyaltyrules.toml that is not declared; sections whose owner checks its keys
    itself are left to it."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    top = tuple(s.name for s in SECTIONS if "." not in s.name)
    for name, body in doc.items():
        if name not in top:
            found.append(("the file", name, top))
        elif isinstance(body, dict):
            found += _unknown_in(name, body)
    return found


def _unknown_in(section: str, body: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    spec = next(s for s in SECTIONS if s.name == section)
    if spec.owner_checks:
        return []
    nested = _subsections(section)
    known = keys_of(section) + nested
    found = [(f"[{section}]", key, known) for key in body if key not in known]
    for sub in nested:
        if isinstance(body.get(sub), dict):
            found += _unknown_in(f"{section}.{sub}", body[sub])
    return found


def not_boolean(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(section, key) of each declared boolean key whose value is not true or false
    (`enabled = "false"` would otherwise read as true)."""
    found = []
    for key in KEYS:
        if key.kind != "boolean" or _owner_checks(key.section):
            continue
        body: Any = doc
        for part in key.section.split("."):
            body = body.get(part) if isinstance(body, dict) else None
        if isinstance(body, dict) and key.name in body and not isinstance(body[key.name], bool):
            found.append((key.section, key.name))
    return found


def _owner_checks(section: str) -> bool:
    return any(s.owner_checks for s in SECTIONS if section.split(".")[0] == s.name)


def boolean(sections: Mapping[str, Mapping[str, Any]], section: str, key: str) -> bool:
    """A declared boolean key's value, else its default; ValueError when not a boolean."""
    declared = next(k for k in KEYS if k.section == section and k.name == key)
    value = (sections.get(section) or {}).get(key, declared.default == "true")
    if not isinstance(value, bool):
        raise ValueError(f"[{section}] {key} must be true or false")
    return value


def reference() -> str:
    """docs/configuration.md: every section and key, from the declarations above."""
    lines = [
        "# Configuration reference (`loyaltyrules.toml`)", "",
        "<!-- Generated by `python -m loyaltyrules.configkeys > docs/configuration.md` from "
        "src/loyaltyrules/configkeys.py; tests/test_configuration_doc.py fails when it is "
        "out of date. -->", "",
        "Every command reads `loyaltyrules.toml` in the working directory (or `--config "
        "FILE`); a flag given on the command line wins over the key it names. Relative "
        "paths are relative to the file. A section or key not listed here is refused "
        "(exit 1, with the line and a \"did you mean\"), so a misspelt key never passes "
        "unnoticed.", ""]
    for section in SECTIONS:
        lines += [f"## `[{section.name}]`", "", section.about, ""]
        rows = [k for k in KEYS if k.section == section.name]
        if not rows:
            continue
        lines += ["| key | type | default | flag | meaning |", "|---|---|---|---|---|"]
        lines += [f"| `{k.name}` | {k.kind} | {k.default} | {f'`{k.flag}`' if k.flag else ''}"
                  f" | {k.meaning} |" for k in rows]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(reference())
