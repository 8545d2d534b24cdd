"""Bundles as HQ and a store use them: build -> sign -> verify -> run end to end, a
tampered byte or a missing signature refused, the content hash blind to comments and
tests, and a service that keeps its last good bundle when a bad one arrives."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.cli import cli
from loyaltyrules.plan import compile_paths
from loyaltyrules.release.bundle import BundleRefused, build, load_plan
from loyaltyrules.release.signing import generate
from loyaltyrules.service.app import load_engine
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private = tmp_path / "keys" / "hq"
    private.parent.mkdir()
    return private, generate(private)


@pytest.fixture()
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    out = tmp_path / "pack.bundle"
    result = invoke("bundle", "build", str(PACK), "-o", str(out), "--sign", str(keys[0]))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def store(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    """A store's folder whose configuration names HQ's public key."""
    folder = tmp_path / "store-config"
    folder.mkdir()
    (folder / "loyaltyrules.toml").write_text(
        f'[bundle]\npublic_key = "{keys[1].as_posix()}"\n', encoding="utf-8")
    return folder / "loyaltyrules.toml"


def test_build_sign_verify_run_end_to_end(signed: Path, store: Path, tmp_path: Path,
                                          keys: tuple[Path, Path]) -> None:
    assert not os.stat(keys[0]).st_mode & 0o077  # the private key is the owner's alone
    verified = invoke("bundle", "verify", str(signed), "--config", str(store))
    assert verified.exit_code == 0, verified.output
    assert "signature: good" in verified.output
    manifest = json.loads(zipfile.ZipFile(signed).read("manifest.json"))
    # every shipped kind, the declared metrics too
    assert {f["kind"] for f in manifest["files"]} == {"policy", "templates", "contact-rules",
                                                      "metrics"}
    assert manifest["schema_versions"]["policy"].startswith("sha256:")
    assert not [f for f in manifest["files"] if "/tests/" in f["path"]]
    out = tmp_path / "actions.jsonl"
    ran = invoke("run", "--bundle", str(signed), "--example", "--as-of", "2025-11-20",
                 "--state", str(tmp_path / "state.db"), "--out", str(out),
                 "--config", str(store))
    assert ran.exit_code == 0, ran.output
    actions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert actions and {a["bundle"] for a in actions} == {manifest["bundle"]}
    assert manifest["bundle"] == compile_paths([PACK]).bundle  # same set, same id


def test_backtest_from_a_bundle(signed: Path, store: Path) -> None:
    result = invoke("backtest", "--bundle", str(signed), "--example", "--from", "2025-11-01",
                    "--to", "2025-11-20", "--config", str(store))
    assert result.exit_code == 0, result.output
    assert f"(bundle {load_plan(signed).bundle})" in result.output


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_a_tampered_byte_is_refused(signed: Path, store: Path, tmp_path: Path,
                                    keys: tuple[Path, Path]) -> None:
    original = signed.read_bytes()
    tampered = tmp_path / "tampered.bundle"
    # every 97th byte of the file: zip headers, manifest, policies, the signature
    for at in range(0, len(original), 97):
        tampered.write_bytes(_flip(original, at))
        with pytest.raises(BundleRefused):
            load_plan(tampered, keys[1])
    result = invoke("run", "--bundle", str(tampered), "--example", "--as-of", "2025-11-20",
                    "--state", str(tmp_path / "s.db"), "--out", str(tmp_path / "o.jsonl"),
                    "--config", str(store))
    assert result.exit_code == 1 and "bundle refused" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def _rezip(source: Path, target: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        zout.comment = zin.comment  # the signature, as it was
        for info in zin.infolist():
            zout.writestr(info.filename, change.get(info.filename, zin.read(info)))


def test_an_edited_policy_or_manifest_is_refused(signed: Path, tmp_path: Path,
                                                 keys: tuple[Path, Path]) -> None:
    name = "files/policies/big-purchase-call.yaml"
    text = zipfile.ZipFile(signed).read(name).replace(b"2000", b"1500")
    edited = tmp_path / "edited.bundle"
    _rezip(signed, edited, {name: text})
    with pytest.raises(BundleRefused, match="does not match its hash"):
        load_plan(edited)  # even with no key: the manifest's hashes are checked
    manifest = json.loads(zipfile.ZipFile(signed).read("manifest.json"))
    for entry in manifest["files"]:
        if entry["path"].endswith("big-purchase-call.yaml"):
            entry["sha256"] = hashlib.sha256(text).hexdigest()
    _rezip(signed, edited, {name: text, "manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(BundleRefused, match="signature does not verify"):
        load_plan(edited, keys[1])


def test_an_unsigned_bundle_is_refused_when_a_key_is_configured(
        tmp_path: Path, store: Path) -> None:
    unsigned = tmp_path / "unsigned.bundle"
    assert invoke("bundle", "build", str(PACK), "-o", str(unsigned)).exit_code == 0
    result = invoke("bundle", "verify", str(unsigned), "--config", str(store))
    assert result.exit_code == 1
    assert "is not signed, and a public key is configured" in result.output
    plain = invoke("bundle", "verify", str(unsigned))  # no key: usable, says so
    assert plain.exit_code == 0 and "signature: none" in plain.output


def test_a_bundle_signed_by_another_key_is_refused(tmp_path: Path, signed: Path) -> None:
    other = generate(tmp_path / "other")
    with pytest.raises(BundleRefused, match="signed with another key"):
        load_plan(signed, other)


def test_the_hash_ignores_comments_layout_and_tests(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(PACK, copy)
    policy = copy / "big-purchase-call.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text("# reviewed by HQ\n" + text.replace("\n", "  # note\n", 3)
                      + "\n\n# end\n", encoding="utf-8")
    shutil.rmtree(copy / "tests")
    assert compile_paths([copy]).bundle == compile_paths([PACK]).bundle
    first, second = tmp_path / "a.bundle", tmp_path / "b.bundle"
    build([PACK], first)
    build([copy], second)
    assert load_plan(first).bundle == load_plan(second).bundle
    policy.write_text(text.replace("default: 2000", "default: 1500"), encoding="utf-8")
    assert "default: 1500" in policy.read_text(encoding="utf-8")
    assert compile_paths([copy]).bundle != compile_paths([PACK]).bundle


def test_serve_keeps_the_last_good_bundle(tmp_path: Path, signed: Path,
                                          keys: tuple[Path, Path]) -> None:
    live = tmp_path / "live.bundle"
    shutil.copy(signed, live)
    engines = load_engine(ServiceSettings(policies=(), bundle=live, public_key=keys[1],
                                          reload_interval=0))
    try:
        good = engines.current.engine.bundle
        assert good == load_plan(signed).bundle
        build([PACK], live)  # unsigned: refused, the last good bundle stays
        assert engines.check() is False
        assert engines.current.engine.bundle == good
        assert engines.error is not None and "bundle.refused" in engines.error.codes
        changed = tmp_path / "changed"
        shutil.copytree(PACK, changed)
        threshold = changed / "big-purchase-call.yaml"
        threshold.write_text(threshold.read_text(encoding="utf-8").replace(
            "default: 2000", "default: 1800"), encoding="utf-8")
        build([changed], live, keys[0])  # signed: taken
        assert engines.check() is True
        assert engines.current.engine.bundle == load_plan(live).bundle != good
    finally:
        engines.close()


def test_a_bad_key_is_a_clear_error(tmp_path: Path) -> None:
    not_a_key = tmp_path / "hq"
    not_a_key.write_text("not a key\n", encoding="utf-8")
    result = invoke("bundle", "build", str(PACK), "-o", str(tmp_path / "p.bundle"),
                    "--sign", str(not_a_key))
    assert result.exit_code == 1 and "not an unencrypted PEM private key" in result.output
    assert not (tmp_path / "p.bundle").exists()
    built = invoke("bundle", "build", str(PACK), "-o", str(tmp_path / "q.bundle"))
    assert built.exit_code == 0
    refused = invoke("bundle", "verify", str(tmp_path / "q.bundle"), "--public-key",
                     str(not_a_key))
    assert refused.exit_code == 1 and "the public key cannot be used" in refused.output


def test_serve_refuses_an_unsigned_bundle_at_start(tmp_path: Path, store: Path) -> None:
    unsigned = tmp_path / "unsigned.bundle"
    build([PACK], unsigned)
    result = invoke("serve", "--bundle", str(unsigned), "--port", "0", "--state",
                    str(tmp_path / "s.sqlite"), "--config", str(store))
    assert result.exit_code == 1
    assert "is not signed" in result.output and "nothing is served" in result.output
