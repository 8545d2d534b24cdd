"""docs/configuration.md is generated from the declared keys, and the declared keys are
the keys the code reads: a key read but not declared (so not documented), or declared
but never read, fails here. Undeclared sections and keys are refused at load time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loyaltyrules import config as config_module
from loyaltyrules import lifecycle
from loyaltyrules.cli import delivering, report, serve, settings
from loyaltyrules.config import Config, load_config
from loyaltyrules.configkeys import KEYS, SECTIONS, boolean, reference
from loyaltyrules.diagnostics import DiagnosticError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"


def declared(section: str) -> set[str]:
    return {k.name for k in KEYS if k.section == section}


def test_the_reference_page_is_generated_from_the_declarations() -> None:
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/configuration.md is out of date: python -m loyaltyrules.configkeys > "
        "docs/configuration.md")
    for key in KEYS:
        assert f"| `{key.name}` |" in DOC.read_text(encoding="utf-8")


def test_keys_checked_by_their_own_modules_are_the_declared_ones() -> None:
    assert declared("source") == config_module._SOURCE_KEYS
    assert declared("source.tables.*") == config_module._TABLE_KEYS
    assert declared("serve") == set(serve.SERVE_KEYS)
    assert declared("bundle") == set(settings.BUNDLE_KEYS)


class Reads(dict[str, Any]):
    """A section that remembers which keys were asked for."""

    def __init__(self, name: str, seen: set[str]) -> None:
        super().__init__()
        self.name, self.seen = name, seen

    def __bool__(self) -> bool:
        return True  # `section or {}` must keep reading through this one

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(f"{self.name}.{key}")
        if any(s.name == f"{self.name}.{key}" for s in SECTIONS):
            return Reads(f"{self.name}.{key}", self.seen)
        return default


class Sections(dict[str, Any]):
    def __init__(self, seen: set[str]) -> None:
        super().__init__()
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        return Reads(key, self.seen)


def readers(config: Config) -> Iterator[object]:
    """Every function that reads loyaltyrules.toml beyond [source]."""
    yield lifecycle.settings(config)
    yield report._expected_years(config, None)
    yield delivering.lock_timeout(config, None)
    yield settings.policy_paths(config, ())
    yield settings.state_path(config, None)
    yield settings.store_setting(config, None)
    yield settings.ingest_store_setting(config)
    yield settings.out_dir(config, None)
    yield serve.sync_mode(config, None)
    yield settings.public_key(config)
    yield serve.backend_choice(config, None)
    yield boolean(config.sections, "sheets", "enrich")
    yield settings.evaluator(config, None)


def test_every_key_the_code_reads_is_declared_and_every_declared_key_is_read() -> None:
    seen: set[str] = set()
    config = Config(sections=Sections(seen))
    list(readers(config))
    nested = {s.name for s in SECTIONS}
    read = {name for name in seen if name not in nested}
    wanted = {f"{k.section}.{k.name}" for k in KEYS if not k.section.startswith("source")}
    assert read == wanted


def test_every_section_and_run_key_the_code_names_is_declared() -> None:
    sections, run_keys = set(), set()
    for path in (ROOT / "src" / "loyaltyrules").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        sections |= set(re.findall(r"sections\.get\(\"([a-z_]+)\"", text))
        sections |= set(re.findall(r"boolean\([^,]+, \"([a-z_]+)\"", text))
        run_keys |= set(re.findall(r"run_setting\(\w+, \"([a-z_]+)\"", text))
    assert sections <= {s.name for s in SECTIONS}
    assert run_keys and run_keys <= declared("run")


def full_file() -> str:
    """A loyaltyrules.toml with every declared key."""
    values = {"boolean": "true", "seconds": "5", "days": "1", "integer": "60",
              "number > 0": "3", "number 0..1": "0.1", "table": "{}"}
    lines = []
    for section in SECTIONS:
        name = section.name.replace("*", "customers")
        lines.append(f"[{name}]")
        for key in (k for k in KEYS if k.section == section.name):
            if key.name in ("tables", "derive_from"):
                continue  # a table of its own below; customers cannot derive and be read
            value = values.get(key.kind, '"x"')
            if key.name in ("fingerprint", "sync", "role", "decimal_separator"):
                value = key.default
            lines.append(f"{key.name} = {value}")
    return "\n".join(lines) + "\n"


def test_a_file_with_every_key_loads(tmp_path: Path) -> None:
    path = tmp_path / "loyaltyrules.toml"
    path.write_text(full_file().replace("thousands_separator = \"x\"", ""), encoding="utf-8")
    loaded = load_config(path)
    assert lifecycle.settings(loaded).grace_days == 1
    assert boolean(loaded.sections, "sheets", "enrich") is True


@pytest.mark.parametrize(("text", "message"), [
    ("[sheet]\nenrich = true\n",
     "unknown section 'sheet' in the file\n    hint: did you mean 'sheets'?"),
    ("[sheets]\nenrch = true\n",
     "unknown key 'enrch' in [sheets]\n    hint: did you mean 'enrich'?"),
    ("[run]\nlock_timout = 5\n",
     "unknown key 'lock_timout' in [run]\n    hint: did you mean 'lock_timeout'?"),
    ("[contact_rules.escalation]\ngrace = 1\n",
     "unknown key 'grace' in [contact_rules.escalation]"),
    ("[contact_rules]\nescalate = {}\n", "hint: did you mean 'escalation'?"),
    ("[sheets]\nenrich = \"yes\"\n", "[sheets] enrich must be true or false"),
    ("[contact_rules.routing]\nenabled = \"false\"\n",
     "[contact_rules.routing] enabled must be true or false"),
])
def test_undeclared_or_mistyped_keys_are_refused_with_the_line(
        tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "loyaltyrules.toml"
    path.write_text("# settings\n" + text, encoding="utf-8")
    with pytest.raises(DiagnosticError) as caught:
        load_config(path)
    rendered = caught.value.diagnostics[0].render()
    assert message in rendered
    assert ":2:" in rendered or ":3:" in rendered  # the line of the key or section
