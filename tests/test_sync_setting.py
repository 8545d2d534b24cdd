"""The state file's sync setting: from `serve --sync` / `[serve] sync` / Engine.load down
to SQLite's PRAGMA synchronous, the errors for bad values, background checkpoints,
and the inline engine calls that give way to a thread when the file is locked."""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.api import Engine
from loyaltyrules.cli import cli
from loyaltyrules.event.store import WAL_LIMIT_PAGES, Busy, without_waiting
from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PRAGMA = {"full": 2, "normal": 1}  # what PRAGMA synchronous reads back
RECEIPT = {"purchase_id": "P1", "customer_id": "C1", "store_id": "S1", "staff_id": "E7",
           "purchased_at": "2025-11-21T15:04:00", "amount": "2350.00", "currency": "EUR"}


def _synchronous(engine: Engine) -> int:
    return int(engine.store.read(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]))


def _autocheckpoint(engine: Engine) -> int:
    return int(engine.store.read(
        lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))


# --- Engine.load ------------------------------------------------------------------


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_the_setting_reaches_sqlite(tmp_path: Path, sync: str) -> None:
    engine = Engine.load(policies=[PACK], state=tmp_path / "state.sqlite", sync=sync)
    try:
        assert _synchronous(engine) == PRAGMA[sync]
        assert engine.store.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) \
            == "wal"
    finally:
        engine.close()


def _checkpointers() -> int:
    return sum(t.name == "wal-checkpoint" for t in threading.enumerate())


def test_the_embedding_default_stays_full(tmp_path: Path) -> None:
    before = _checkpointers()
    engine = Engine.load(policies=[PACK], state=tmp_path / "state.sqlite")
    try:
        assert _synchronous(engine) == PRAGMA["full"]
        assert _autocheckpoint(engine) == 1000  # SQLite's own; no background thread
        assert _checkpointers() == before
    finally:
        engine.close()


@pytest.mark.parametrize("bad", ["fast", "FULL", "off", ""])
def test_a_bad_value_is_refused_by_name(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="sync must be one of full, normal"):
        Engine.load(policies=[PACK], state=tmp_path / "state.sqlite", sync=bad)


def test_normal_checkpoints_in_the_background(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    before = _checkpointers()
    engine = Engine.load(policies=[PACK], state=state, sync="normal")
    try:
        assert _autocheckpoint(engine) == WAL_LIMIT_PAGES
        assert _checkpointers() == before + 1
        engine.on_customer({"customer_id": "C1", "home_store": "S1"})
        for n in range(20):
            engine.on_purchase({**RECEIPT, "purchase_id": f"P{n}"})
        deadline = time.monotonic() + 10
        while True:  # the thread copies every frame into the database soon after
            probe = sqlite3.connect(state)
            try:
                _, frames, copied = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                probe.close()
            if frames == copied or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert frames > 0 and frames == copied
    finally:
        engine.close()
    assert _checkpointers() == before  # close() stops it


# --- without_waiting: never sleep on a lock --------------------------------------


@pytest.fixture()
def locked(tmp_path: Path) -> Iterator[tuple[Engine, sqlite3.Connection]]:
    """An engine, and a second connection that holds the state file's write lock."""
    state = tmp_path / "state.sqlite"
    engine = Engine.load(policies=[PACK], state=state, sync="normal")
    engine.on_customer({"customer_id": "C1", "home_store": "S1"})
    other = sqlite3.connect(state, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield engine, other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        engine.close()


def test_a_locked_file_is_busy_at_once_and_nothing_is_written(
        locked: tuple[Engine, sqlite3.Connection]) -> None:
    engine, other = locked
    started = time.monotonic()
    with pytest.raises(Busy), without_waiting():
        engine.on_purchase(RECEIPT)
    assert time.monotonic() - started < 1  # not the 30 s busy timeout
    other.execute("ROLLBACK")
    assert len(engine.on_purchase(RECEIPT)) > 0  # the receipt was not marked seen before
    busy = engine.store.read(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0])
    assert busy == 30_000  # restored after the attempt


def test_reads_do_not_wait_for_the_file_lock(locked: tuple[Engine, sqlite3.Connection]) -> None:
    engine, _ = locked
    with without_waiting():  # WAL: a reader never waits for a writer
        assert engine.open_actions("C1") == []


def test_the_service_waits_for_the_lock_off_the_event_loop(tmp_path: Path) -> None:
    settings = ServiceSettings(policies=(PACK,), state=tmp_path / "state.sqlite",
                               reload_interval=0)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/customers", json={"customer_id": "C1",
                                                  "home_store": "S1"}).status_code == 200
        other = sqlite3.connect(settings.state or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a nightly run's transaction, say
        answers: list[Any] = []
        poster = threading.Thread(
            target=lambda: answers.append(client.post("/v1/purchases", json=RECEIPT)))
        poster.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert client.get("/v1/health").status_code == 200  # the loop is free meanwhile
        assert time.monotonic() - started < 1
        assert poster.is_alive() and not answers  # the receipt waits for the lock
        other.execute("ROLLBACK")
        other.close()
        poster.join(timeout=30)
        assert answers[0].status_code == 200 and answers[0].json()["actions"]


# --- serve: --sync and [serve] sync ------------------------------------------------


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `serve` would have handed to uvicorn (nothing binds a port)."""
    import uvicorn

    seen: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        seen["sync"] = _synchronous(app.state.engines.current.engine)
        seen["options"] = options

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def _serve(tmp_path: Path, *args: str, config: str | None = None) -> Any:
    options = ["serve", "--policies", str(PACK), "--state", str(tmp_path / "s.sqlite"),
               "--reload-interval", "0", *args]
    if config is not None:
        (tmp_path / "loyaltyrules.toml").write_text(config, encoding="utf-8")
        options += ["--config", str(tmp_path / "loyaltyrules.toml")]
    return CliRunner().invoke(cli, options)


@pytest.mark.parametrize(("args", "config", "expected"), [
    ((), None, "normal"),  # serve's default
    (("--sync", "full"), None, "full"),
    (("--sync", "NORMAL"), None, "normal"),
    ((), '[serve]\nsync = "full"\n', "full"),
    ((), '[serve]\nsync = "Normal"\n', "normal"),
    (("--sync", "normal"), '[serve]\nsync = "full"\n', "normal"),  # the flag wins
])
def test_serve_passes_the_setting_to_sqlite(tmp_path: Path, served: dict[str, Any],
                                            args: tuple[str, ...], config: str | None,
                                            expected: str) -> None:
    result = _serve(tmp_path, *args, config=config)
    assert result.exit_code == 0, result.output
    assert served["sync"] == PRAGMA[expected]
    assert served["options"]["proxy_headers"] is False


def test_a_bad_flag_is_a_usage_error(tmp_path: Path, served: dict[str, Any]) -> None:
    result = _serve(tmp_path, "--sync", "fast")
    assert result.exit_code == 2 and not served
    assert "Invalid value for '--sync': 'fast' is not one of 'full', 'normal'" in result.output


@pytest.mark.parametrize(("config", "message"), [
    ('[serve]\nsync = "fast"\n', "loyaltyrules.toml: [serve] sync must be one of 'full', "
                                 "'normal'"),
    ("[serve]\nsync = 1\n", "[serve] sync must be one of"),
    ('[serve]\nsynchronous = "full"\n', "[serve] has an unknown key 'synchronous'"),
    ('[serve]\nsynk = "full"\n', "unknown key 'synk'; did you mean 'sync'?"),
])
def test_a_bad_configuration_is_exit_1(tmp_path: Path, served: dict[str, Any], config: str,
                                       message: str) -> None:
    result = _serve(tmp_path, config=config)
    assert result.exit_code == 1 and not served
    assert result.output.startswith("loyaltyrules: ") and message in result.output
