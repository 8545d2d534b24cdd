"""A file given as the state is checked before anything writes to it: a newer
release's state, a CSV, random bytes, a truncated copy, another program's database or
a URL is refused untouched, with the file named and exit status 3, on every path."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loyaltyrules.api import Engine
from loyaltyrules.cli import cli
from loyaltyrules.examples import example_data_dir
from loyaltyrules.ledger import SCHEMA_VERSION, Ledger, connect_state
from loyaltyrules.outcomes import import_outcomes
from loyaltyrules.reports import staff_report, volumes_report
from loyaltyrules.state.sqlite import SqliteState
from loyaltyrules.statefile import UnusableState, check_state, locate

from _paths import PACK

STATE_EXIT = 3


@pytest.fixture(scope="module")
def real_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state written by a real run: ledger, outcomes and the POS views."""
    folder = tmp_path_factory.mktemp("real")
    state = folder / "state.sqlite"
    result = CliRunner().invoke(cli, [
        "run", "--example", "--as-of", "2025-01-01", "--through", "2025-02-28", "-q",
        "--policies", str(PACK), "--state", str(state), "--out", str(folder / "out")])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(state)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return state


def _copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


def _newer(real_state: Path, folder: Path) -> Path:
    state = _copy(real_state, folder / "newer.sqlite")
    conn = sqlite3.connect(state)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    return state


def _outcomes_file(folder: Path) -> Path:
    file = folder / "outcomes.csv"
    file.write_text("action_id,status,completed_at\n" + "0" * 32 + ",done,2025-03-01T10:00\n",
                    encoding="utf-8")
    return file


def _commands(state: Path, folder: Path) -> dict[str, list[str]]:
    """Every command that opens a state, pointed at `state`."""
    window = ["--from", "2025-01-01", "--to", "2025-02-28", "--state", str(state)]
    return {
        "run": ["run", "--example", "--as-of", "2025-03-01", "--policies", str(PACK),
                "--state", str(state), "--out", str(folder / "out"), "-q"],
        "catch-up": ["run", "--example", "--policies", str(PACK), "--state", str(state),
                     "--out", str(folder / "out"), "-q"],
        "serve": ["serve", "--policies", str(PACK), "--state", str(state), "--port", "0",
                  "--reload-interval", "0"],
        "outcomes": ["outcomes", "import", str(_outcomes_file(folder)), "--state", str(state)],
        "report staff": ["report", "staff", *window],
        "report actions": ["report", "actions", *window],
    }


def _refused(result: Result, name: str) -> None:
    assert result.exit_code == STATE_EXIT, result.output
    assert "unusable state" in result.output and name in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("command", ["run", "catch-up", "serve", "outcomes", "report staff",
                                     "report actions"])
def test_a_newer_state_is_refused_before_any_write(real_state: Path, tmp_path: Path,
                                                   command: str) -> None:
    state = _newer(real_state, tmp_path)
    before = state.read_bytes()
    result = CliRunner().invoke(cli, _commands(state, tmp_path)[command])
    _refused(result, "newer.sqlite")
    assert "newer loyaltyrules" in result.output
    assert state.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("newer*")) == ["newer.sqlite"]  # no -wal


_WINDOW = (dt.date(2025, 1, 1), dt.date(2025, 2, 28))
API: dict[str, Callable[[Path], object]] = {
    "Ledger.open": lambda p: Ledger.open(p).close(),
    "Engine.load": lambda p: Engine.load(PACK, p).close(),
    "import_outcomes": lambda p: import_outcomes(p, _outcomes_file(p.parent)),
    "staff_report": lambda p: staff_report(p, *_WINDOW),
    "volumes_report": lambda p: volumes_report(p, *_WINDOW),
}


@pytest.mark.parametrize("opener", sorted(API))
def test_every_opening_in_the_api_checks_first(real_state: Path, tmp_path: Path,
                                               opener: str) -> None:
    state = _newer(real_state, tmp_path)
    before = state.read_bytes()
    with pytest.raises(UnusableState) as info:
        API[opener](state)
    assert info.value.code == "state.newer-version" and info.value.path == str(state)
    assert state.read_bytes() == before


def _wrong_files(real_state: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    csv_file = folder / "purchases.csv"
    shutil.copyfile(example_data_dir() / "purchases.csv", csv_file)
    noise = folder / "noise.sqlite"
    noise.write_bytes(os.urandom(50_000))
    data = real_state.read_bytes()
    truncated = folder / "truncated.sqlite"
    truncated.write_bytes(data[: len(data) // 2])
    stub = folder / "stub.sqlite"
    stub.write_bytes(data[:60])
    other = folder / "shop.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE purchases (purchase_id TEXT, amount TEXT)")
    conn.commit()
    conn.close()
    return {"csv": (csv_file, "state.not-sqlite"), "random": (noise, "state.not-sqlite"),
            "truncated": (truncated, "state.damaged"), "stub": (stub, "state.damaged"),
            "another program's database": (other, "state.not-a-state")}


@pytest.mark.parametrize("kind", ["csv", "random", "truncated", "stub",
                                  "another program's database"])
def test_a_wrong_file_as_state_is_the_users_mistake(real_state: Path, tmp_path: Path,
                                                    kind: str) -> None:
    path, code = _wrong_files(real_state, tmp_path)[kind]
    before = path.read_bytes()
    for name, command in _commands(path, tmp_path).items():
        result = CliRunner().invoke(cli, command)
        _refused(result, path.name)
        assert f"[{code}]" in result.output, name
    with pytest.raises(UnusableState, match=code):
        Engine.load(PACK, path)
    assert path.read_bytes() == before


def test_a_folder_as_state(tmp_path: Path) -> None:
    with pytest.raises(UnusableState) as info:
        check_state(tmp_path, SCHEMA_VERSION)
    assert info.value.code == "state.not-a-file"


def _state_commands(url: str, folder: Path) -> list[list[str]]:
    return [["run", "--example", "--as-of", "2025-01-01", "-q", "--state", url],
            ["serve", "--state", url],
            ["outcomes", "import", str(_outcomes_file(folder)), "--state", url],
            ["report", "staff", "--from", "2025-01-01", "--to", "2025-01-31", "--state", url]]


@pytest.mark.parametrize("url", ["sqlite:///tmp/x.sqlite", "mysql+pymysql://u:s3cret@h/d",
                                 "postgresql:/no-slashes/ledger"])
def test_a_url_of_another_kind_is_refused_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in _state_commands(url, tmp_path):
        result = runner.invoke(cli, command)
        assert result.exit_code == STATE_EXIT, result.output
        assert "[state.url]" in result.output and "s3cret" not in result.output
        assert "SQLite file" in result.output and "postgresql:// URL" in result.output
    for call in (Ledger.open, lambda u: Engine.load(PACK, u)):
        with pytest.raises(UnusableState, match="URL"):
            call(url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outcomes.csv"]  # no sqlite:


@pytest.mark.parametrize("url", ["postgresql://loyalty:s3cret@127.0.0.1:1/ledger",
                                 "postgres://loyalty@127.0.0.1:1/ledger?password=s3cret"])
def test_an_unreachable_database_is_refused_without_its_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A PostgreSQL URL names a database; one that cannot be reached exits 3 with the
    URL shown without its password, and nothing is created here."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in _state_commands(url, tmp_path):
        result = runner.invoke(cli, command)
        assert result.exit_code == STATE_EXIT, result.output
        assert "[state.unreachable]" in result.output and "cannot connect" in result.output
        assert "s3cret" not in result.output and "loyalty@127.0.0.1:1/ledger" in result.output
    for call in (Ledger.open, lambda u: Engine.load(PACK, u)):
        with pytest.raises(UnusableState, match="cannot connect"):
            call(url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outcomes.csv"]


def test_a_url_in_the_configuration_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loyaltyrules.toml").write_text(
        '[run]\nstate = "mysql://u:pw@h/db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "--example", "--as-of", "2025-01-01", "-q"])
    assert result.exit_code == STATE_EXIT and "[state.url]" in result.output
    assert "pw@" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loyaltyrules.toml"]


def test_paths_that_are_not_urls() -> None:
    for value in ("state.sqlite", "C:/loyalty/state.sqlite", "C:state.sqlite", "./a:b/s.db",
                  "/srv/loyalty/state.sqlite"):
        assert locate(value) == SqliteState(Path(value))


def test_a_new_and_an_empty_state_are_created(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for path in (tmp_path / "sub" / "new.sqlite", empty):
        check_state(path, SCHEMA_VERSION)
        with Ledger.open(path) as ledger:
            assert ledger.count() == 0


def test_checking_keeps_this_process_locks(tmp_path: Path) -> None:
    """A run checks its state again while its ledger is open: the check must not drop
    the locks this process holds (a plain open and close of the file releases every
    POSIX lock of the process on it). Without its shared lock, another process that
    closes the file believes it is the last user and removes the WAL under us."""
    state = tmp_path / "state.sqlite"
    Ledger.open(state).close()
    conn = connect_state(state)
    try:
        conn.execute("SELECT count(*) FROM actions").fetchone()
        for _ in range(3):
            check_state(state, SCHEMA_VERSION)
            connect_state(state).close()
        other = subprocess.run(
            [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
             "c.execute('INSERT INTO runs SELECT * FROM runs'); c.commit(); c.close()",
             str(state)], capture_output=True, text=True, timeout=60)
        assert other.returncode == 0, other.stderr
        assert state.with_name("state.sqlite-wal").exists()  # still ours, still in use
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM runs")
        conn.execute("COMMIT")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
