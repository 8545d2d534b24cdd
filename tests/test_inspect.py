"""`loyaltyrules inspect --store S`: a store's effective params with their sources, its
enabled policies, and overrides that name a store or region the data does not know."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.cli import cli

from _paths import PACK


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def with_overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(PACK, folder)
    (folder / "overrides").mkdir()
    (folder / "overrides" / "north.yaml").write_text(
        "kind: override\ntarget: {region: north}\npolicies:\n"
        "  big-purchase-call: {params: {threshold: 1800}}\n", encoding="utf-8")
    (folder / "overrides" / "s2.yaml").write_text(
        "kind: override\ntarget: {store: S2}\npolicies:\n"
        "  big-purchase-call: {params: {due_days: 12d}}\n"
        "  birthday-greeting: {enabled: false}\n", encoding="utf-8")
    (folder / "overrides" / "s9.yaml").write_text(
        "kind: override\ntarget: {store: S9}\npolicies:\n"
        "  big-purchase-call: {params: {threshold: 1700}}\n", encoding="utf-8")
    return folder


def _policies(output: str) -> dict[str, dict[str, object]]:
    return {p["policy"]: p for p in json.loads(output)["policies"]}


def test_effective_params_and_their_sources(with_overrides: Path) -> None:
    result = invoke("inspect", "--store", "S2", "--region", "north", "--policies",
                    str(with_overrides), "--format", "json")
    assert result.exit_code == 0, result.output
    found = _policies(result.output)
    call = {p["name"]: p for p in found["big-purchase-call"]["params"]}  # type: ignore[union-attr]
    assert call["threshold"]["value"] == "1800.00"
    assert call["threshold"]["source"].startswith("region north: ")
    assert call["due_days"]["value"] == "12d"
    assert call["due_days"]["source"].startswith("store S2: ")
    assert found["birthday-greeting"]["enabled"] is False
    assert found["lapsed-contact"]["enabled"] is True
    lapsed = found["lapsed-contact"]["params"]
    assert all(p["source"].startswith("HQ: ") for p in lapsed)  # type: ignore[union-attr]
    elsewhere = _policies(invoke("inspect", "--store", "S1", "--region", "south",
                                 "--policies", str(with_overrides), "--format",
                                 "json").output)
    assert {p["name"]: p["value"] for p in elsewhere["big-purchase-call"]["params"]} == {
        "threshold": "2000.00", "call_after": "7d", "due_days": "10d"}


def test_the_region_from_the_data_and_unknown_targets(with_overrides: Path) -> None:
    result = invoke("inspect", "--store", "S2", "--policies", str(with_overrides),
                    "--example", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["region"] == "north"  # the example store's stores table
    assert any("store 'S9'" in w and "changes nothing" in w for w in report["warnings"])
    table = invoke("inspect", "--store", "S2", "--policies", str(with_overrides), "--example")
    assert "big-purchase-call v2: enabled" in table.output
    assert "birthday-greeting v1: disabled here" in table.output


def test_without_data_the_region_must_be_given(with_overrides: Path) -> None:
    result = invoke("inspect", "--store", "S2", "--policies", str(with_overrides))
    assert result.exit_code == 0
    assert "region overrides are not applied here" in result.output
