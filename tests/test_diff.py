"""`loyaltyrules diff` as HQ reviews a release: exactly the changes made, by meaning
(never comments), folders or bundles alike, and a changed policy whose version was not
bumped refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.cli import cli
from loyaltyrules.release.bundle import build

from _paths import PACK


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture()
def changed(tmp_path: Path) -> Path:
    """The pack with the big-purchase threshold lowered (version bumped) and one policy
    added; comments added elsewhere, which are no change."""
    copy = tmp_path / "new"
    shutil.copytree(PACK, copy)
    call = copy / "big-purchase-call.yaml"
    _edit(call, "default: 2000", "default: 1500")
    _edit(call, "\nversion: 2", "\nversion: 3")
    added = copy / "lapsed-call.yaml"
    shutil.copy(copy / "lapsed-contact.yaml", added)
    _edit(added, "id: lapsed-contact", "id: lapsed-call")
    birthday = copy / "birthday-greeting.yaml"
    birthday.write_text("# reviewed\n" + birthday.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


def test_diff_shows_exactly_the_changed_threshold_and_the_added_policy(changed: Path) -> None:
    result = invoke("diff", str(PACK), str(changed), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["policies"] == [
        {"policy": "big-purchase-call", "status": "re-versioned", "old_version": 2,
         "new_version": 3, "version_not_bumped": False,
         "changes": [{"path": "params.threshold.default", "old": 2000, "new": 1500}]},
        {"policy": "lapsed-call", "status": "added", "old_version": None, "new_version": 1,
         "version_not_bumped": False, "changes": []},
    ]
    assert report["overrides"] == report["templates"] == report["contact_rules"] == []


def test_table_and_markdown(changed: Path) -> None:
    table = invoke("diff", str(PACK), str(changed))
    assert table.exit_code == 0, table.output
    assert "re-versioned  big-purchase-call v2 -> v3" in table.output
    assert "params.threshold.default: 2000 -> 1500" in table.output
    assert "added         lapsed-call v1" in table.output
    assert "birthday" not in table.output
    markdown = invoke("diff", str(PACK), str(changed), "--format", "markdown")
    assert "| big-purchase-call | re-versioned | v2 -> v3 |" in markdown.output
    assert "| params.threshold.default | `2000` | `1500` |" in markdown.output


def test_a_changed_policy_without_a_version_bump_fails(changed: Path) -> None:
    _edit(changed / "big-purchase-call.yaml", "\nversion: 3", "\nversion: 2")
    result = invoke("diff", str(PACK), str(changed))
    assert result.exit_code == 1
    assert "big-purchase-call v2 (version not bumped)" in result.output
    assert "changed without a version bump: big-purchase-call v2" in result.output
    allowed = invoke("diff", str(PACK), str(changed), "--allow-same-version")
    assert allowed.exit_code == 0, allowed.output


def test_a_retitled_policy_needs_no_bump(tmp_path: Path) -> None:
    copy = tmp_path / "new"
    shutil.copytree(PACK, copy)
    text = (copy / "vip-tiers.yaml").read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    _edit(copy / "vip-tiers.yaml", title, "title: VIP card tiers, reworded")
    result = invoke("diff", str(PACK), str(copy))
    assert result.exit_code == 0, result.output
    assert "changed       vip-tiers v1" in result.output and "title:" in result.output


def test_bundles_compare_like_folders(changed: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "old.bundle", tmp_path / "new.bundle"
    build([PACK], old)
    build([changed], new)
    from_bundles = invoke("diff", str(old), str(new), "--format", "json")
    from_folders = invoke("diff", str(PACK), str(changed), "--format", "json")
    assert from_bundles.exit_code == 0, from_bundles.output
    assert json.loads(from_bundles.output) == json.loads(from_folders.output)


def test_overrides_per_region_and_store(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, threshold in ((old, 1800), (new, 1600)):
        shutil.copytree(PACK, folder)
        (folder / "overrides").mkdir()
        (folder / "overrides" / "north.yaml").write_text(
            "kind: override\ntarget: {region: north}\npolicies:\n"
            f"  big-purchase-call: {{params: {{threshold: {threshold}}}}}\n", encoding="utf-8")
    (new / "overrides" / "s1.yaml").write_text(
        "kind: override\ntarget: {store: S1}\npolicies:\n"
        "  big-purchase-call: {params: {threshold: 2500}}\n", encoding="utf-8")
    report = json.loads(invoke("diff", str(old), str(new), "--format", "json").output)
    assert report["overrides"] == [
        {"path": "region north.big-purchase-call.params.threshold", "old": 1800, "new": 1600},
        {"path": "store S1", "old": None,
         "new": {"big-purchase-call": {"params": {"threshold": 2500}}}},
    ]
    assert report["policies"] == []


def test_a_changed_metric_declaration(tmp_path: Path) -> None:
    copy = tmp_path / "new"
    shutil.copytree(PACK, copy)
    _edit(copy / "metrics.yaml", "history: 1096d", "history: 1200d")
    result = invoke("diff", str(PACK), str(copy), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"] == [
        {"path": "history_days", "old": 1096, "new": 1200}]
