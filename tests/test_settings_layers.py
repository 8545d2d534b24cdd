"""Flags override only what they name: every key of loyaltyrules.toml survives every
flag that names another setting, and each flag replaces its own key, and no more.

Before, `run --data DIR` read DIR with the defaults of an empty configuration: a store
with `consent_default = false` sent contacts to customers who never agreed as soon as
the folder was named on the command line. One case per key; a guard test fails when
a key is added to the configuration without a case here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules import config as config_module
from loyaltyrules.cli import cli, delivering, settings
from loyaltyrules.cli.report import _expected_years
from loyaltyrules.cli.serve import sync_mode
from loyaltyrules.config import Config, SourceConfig, TableConfig, parse_config
from loyaltyrules.lifecycle import settings as lifecycle_settings
from loyaltyrules.sources.loader import resolve_config
from loyaltyrules.state.sqlite import SqliteState

# [source] keys: a TOML line setting each to something other than its default, and
# the field it must give after `--data elsewhere`.
SOURCE_CASES: dict[str, tuple[str, str, Any]] = {
    "currency": ('currency = "gbp"', "currency", "GBP"),
    "timezone": ('timezone = "Asia/Seoul"', "timezone", "Asia/Seoul"),
    "reject_share": ("reject_share = 0.5", "reject_share", 0.5),
    "consent_default": ("consent_default = false", "consent_default", False),
    "fingerprint": ('fingerprint = "content"', "fingerprint", "content"),
}
TABLE_CASES: dict[str, tuple[str, Any]] = {
    "path": ('path = "exports/receipts.csv"', "exports/receipts.csv"),
    "columns": ('columns = { amount = "Total" }', {"amount": "Total"}),
    "defaults": ('defaults = { currency = "EUR" }', {"currency": "EUR"}),
    "timestamp_format": ('timestamp_format = "%d/%m/%Y %H:%M"', "%d/%m/%Y %H:%M"),
    "delimiter": ('delimiter = ";"', ";"),
    "decimal_separator": ('decimal_separator = ","', ","),
    "thousands_separator": ("thousands_separator = \"'\"", "'"),
}
# derive_from is allowed on customers only
DERIVE = ('[source.tables.customers]\nderive_from = "purchases"\n', "derive_from", "purchases")


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "loyaltyrules.toml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def _after_data_flag(config: Config, tmp_path: Path) -> SourceConfig:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    source = settings.data_source(config, elsewhere)
    resolved = resolve_config(source)
    assert resolved.data == elsewhere  # --data replaces the folder ...
    return resolved


def test_every_source_key_has_a_case() -> None:
    covered = {"data", "tables", *SOURCE_CASES}
    assert covered == config_module._SOURCE_KEYS
    assert {*TABLE_CASES, DERIVE[1]} == config_module._TABLE_KEYS


@pytest.mark.parametrize("key", sorted(SOURCE_CASES))
def test_data_flag_keeps_the_source_key(tmp_path: Path, key: str) -> None:
    line, field, value = SOURCE_CASES[key]
    config = _config(tmp_path, f'[source]\ndata = "data"\n{line}\n')
    resolved = _after_data_flag(config, tmp_path)
    assert getattr(resolved, field) == value  # ... and nothing else
    assert dataclasses.replace(resolved, data=config.source.data) == config.source


@pytest.mark.parametrize("key", sorted(TABLE_CASES))
def test_data_flag_keeps_the_table_key(tmp_path: Path, key: str) -> None:
    line, value = TABLE_CASES[key]
    config = _config(tmp_path, f'[source]\ndata = "data"\n[source.tables.purchases]\n{line}\n')
    table = _after_data_flag(config, tmp_path).table("purchases")
    assert getattr(table, key) == value
    assert table == config.source.table("purchases") != TableConfig()


def test_data_flag_keeps_derive_from(tmp_path: Path) -> None:
    text, field, value = DERIVE
    config = _config(tmp_path, f'[source]\ndata = "data"\n{text}')
    assert getattr(_after_data_flag(config, tmp_path).table("customers"), field) == value


def test_data_flag_naming_a_configuration_uses_that_one(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "loyaltyrules.toml").write_text('[source]\ncurrency = "krw"\n')
    config = _config(tmp_path, '[source]\ncurrency = "gbp"\n')
    source = settings.data_source(config, other)
    assert resolve_config(source).currency == "KRW"


# ---------------------------------------------------------------- end to end


def _store(tmp_path: Path, example_store: Path, toml: str) -> Path:
    shutil.copytree(example_store, tmp_path / "data")
    (tmp_path / "loyaltyrules.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def _run(tmp_path: Path, name: str, *flags: str) -> dict[str, Any]:
    summary = tmp_path / f"{name}.json"
    result = CliRunner().invoke(cli, [
        "run", "--as-of", "2025-01-01", "--through", "2025-03-31", "--state",
        str(tmp_path / f"{name}.sqlite"), "--out", str(tmp_path / name), "-q",
        "--summary-json", str(summary), *flags])
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(summary.read_text())
    return found


def test_run_with_data_flag_keeps_consent_default(
        tmp_path: Path, example_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: the same folder, named or not, must send the same contacts."""
    monkeypatch.chdir(_store(tmp_path, example_store,
                             '[source]\ndata = "data"\nconsent_default = false\n'))
    plain, flagged = _run(tmp_path, "plain"), _run(tmp_path, "flagged", "--data", "data")
    assert plain["contact"] == flagged["contact"]
    assert plain["contact"]["reasons"].get("expired no-consent:sms", 0) > 0
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    for name in names:
        if name.startswith("actions-"):
            assert (tmp_path / "plain" / name).read_bytes() == \
                (tmp_path / "flagged" / name).read_bytes()


def test_run_with_data_flag_keeps_the_column_mapping(
        tmp_path: Path, example_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, example_store,
                   '[source]\ndata = "data"\n[source.tables.purchases.columns]\n'
                   'amount = "Total"\n')
    receipts = store / "data" / "purchases.csv"
    header, rest = receipts.read_text().split("\n", 1)
    receipts.write_text(header.replace("amount", "Total") + "\n" + rest)
    shutil.copytree(store / "data", store / "copy")
    monkeypatch.chdir(store)
    assert _run(tmp_path, "plain")["new"] == _run(tmp_path, "flagged", "--data", "copy")["new"]


# ---------------------------------------------------------------- [run], [serve], ...

RUN_KEYS = {"policies": "hq-policies", "state": "ledger.sqlite", "out": "outputs",
            "lock_timeout": 12.5, "store": "S001"}


def _resolved_run(config: Config, **flags: Any) -> dict[str, Any]:
    return {
        "policies": settings.policy_paths(config, flags.get("policies", ())),
        "state": settings.state_path(config, flags.get("state")),
        "out": settings.out_dir(config, flags.get("out")),
        "lock_timeout": delivering.lock_timeout(config, flags.get("lock_timeout")),
        "store": settings.store_setting(config, flags.get("store")),
    }


@pytest.mark.parametrize("key", sorted(RUN_KEYS))
def test_each_run_flag_replaces_only_its_key(tmp_path: Path, key: str) -> None:
    config = _config(tmp_path, "[run]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in RUN_KEYS.items()))
    from_config = _resolved_run(config)
    assert from_config == {"policies": [tmp_path / "hq-policies"],
                           "state": SqliteState(tmp_path / "ledger.sqlite"),
                           "out": str(tmp_path / "outputs"), "lock_timeout": 12.5,
                           "store": "S001"}
    flag: dict[str, Any] = {"policies": (Path("mine"),), "state": Path("mine.sqlite"),
                            "out": "mine", "lock_timeout": 0.0, "store": "S002"}
    flagged = _resolved_run(config, **{key: flag[key]})
    want = {"policies": [Path("mine")], "state": SqliteState(Path("mine.sqlite")), "out": "mine",
            "lock_timeout": 0.0, "store": "S002"}
    assert flagged == {**from_config, key: want[key]}


def test_every_run_key_has_a_case() -> None:
    documented = settings.__doc__ or ""
    run_part = documented.split("[run]", 1)[1].split("[serve]", 1)[0]
    keys = {line.split("=")[0].strip() for line in run_part.splitlines() if "=" in line}
    assert keys == set(RUN_KEYS)


def test_a_bad_lock_timeout_is_invalid_configuration(tmp_path: Path) -> None:
    config = _config(tmp_path, '[run]\nlock_timeout = "soon"\n')
    with pytest.raises(SystemExit) as exit_:
        delivering.lock_timeout(config, None)
    assert exit_.value.code == settings.EXIT_INVALID


def test_serve_sync_key_and_its_flag(tmp_path: Path) -> None:
    config = _config(tmp_path, '[serve]\nsync = "full"\n[run]\nstate = "x.sqlite"\n')
    assert sync_mode(config, None) == "full"
    assert sync_mode(config, "normal") == "normal"
    assert settings.state_path(config, Path("other.sqlite")) == SqliteState(Path("other.sqlite"))
    assert sync_mode(config, None) == "full"  # --state names the ledger, not the sync


def test_reports_expected_years_key_and_its_flag(tmp_path: Path) -> None:
    config = _config(tmp_path, "[reports]\nexpected_years = 4\n")
    assert _expected_years(config, None) == Decimal(4)
    assert _expected_years(config, "2.5") == Decimal("2.5")


LIFECYCLE_CASES = {
    ("escalation", "enabled"): ("false", "escalate", False),
    ("escalation", "role"): ('"regional_sales"', "escalation_role", "regional_sales"),
    ("escalation", "grace_days"): ("3", "grace_days", 3),
    ("escalation", "due_days"): ("5", "escalation_due_days", 5),
    ("escalation", "priority"): ("80", "escalation_priority", 80),
    ("routing", "enabled"): ("false", "route", False),
    ("routing", "due_days"): ("9", "routing_due_days", 9),
    ("routing", "priority"): ("40", "routing_priority", 40),
}


@pytest.mark.parametrize("section_key", sorted(LIFECYCLE_CASES))
def test_contact_rules_keys_reach_the_run(tmp_path: Path, section_key: tuple[str, str]
                                          ) -> None:
    section, key = section_key
    value, field, want = LIFECYCLE_CASES[section_key]
    config = _config(tmp_path, f"[contact_rules.{section}]\n{key} = {value}\n"
                               '[source]\ndata = "data"\n')
    # the run hands the whole configuration on, whatever flags named the data
    source = settings.data_source(config, tmp_path / "elsewhere")
    assert getattr(lifecycle_settings(config), field) == want
    assert isinstance(source, Config) and source.sections == config.sections
