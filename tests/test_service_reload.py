"""Policy hot reload: a changed set replaces the engine; a broken one is reported and
the last good set stays active."""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from pathlib import Path

import pytest

from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

RECEIPT = {"purchase_id": "P1", "customer_id": "C1", "store_id": "S1", "staff_id": "E7",
           "purchased_at": "2025-11-21T15:04:00", "amount": "2350.00"}


@pytest.fixture()
def policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(PACK, target)
    return target


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_change_then_break_then_fix(tmp_path: Path, policies: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    settings = ServiceSettings(policies=(policies,), state=tmp_path / "s.sqlite",
                               reload_interval=0)
    app = create_app(settings)
    engines = app.state.engines
    call = policies / "big-purchase-call.yaml"
    with TestClient(app) as client:
        first = client.get("/v1/bundle").json()["bundle"]
        assert engines.check() is False  # nothing changed

        _edit(call, "default: 2000", "default: 2500")
        assert engines.check() is True
        second = client.get("/v1/bundle").json()
        assert second["bundle"] != first and second["reload_error"] is None
        client.post("/v1/customers", json={"customer_id": "C1", "home_store": "S1"})
        below = client.post("/v1/purchases", json=RECEIPT).json()  # < 2500
        assert below == {"actions": [], "decisions": []}

        caplog.set_level(logging.WARNING, logger="loyaltyrules.service")
        _edit(call, "conditions:", "conditions:\n  - purchase.amount >= params.nope")
        assert engines.check() is False
        assert engines.check() is False  # the same broken files are not retried
        broken = client.get("/v1/bundle").json()
        assert broken["bundle"] == second["bundle"]  # the last good set stays active
        error = broken["reload_error"]
        assert error["diagnostics"] >= 1 and error["codes"] and error["at"]
        assert "policy reload failed" in caplog.text and second["bundle"] in caplog.text
        assert client.get("/v1/health").json()["bundle"] == second["bundle"]

        _edit(call, "\n  - purchase.amount >= params.nope", "")  # back to the active set
        assert engines.check() is False
        assert client.get("/v1/bundle").json()["reload_error"] is None

        _edit(call, "default: 2500", "default: 2000")
        assert engines.check() is True
        fixed = client.get("/v1/bundle").json()
        assert fixed["bundle"] == first and fixed["reload_error"] is None
        receipt = {**RECEIPT, "purchase_id": "P2"}
        assert len(client.post("/v1/purchases", json=receipt).json()["actions"]) == 1


def test_the_poller_picks_up_changes(tmp_path: Path, policies: Path) -> None:
    settings = ServiceSettings(policies=(policies,), state=tmp_path / "s.sqlite",
                               reload_interval=0.1)
    with TestClient(create_app(settings)) as client:
        first = client.get("/v1/bundle").json()["bundle"]
        call = policies / "big-purchase-call.yaml"
        # a change of meaning: a comment alone no longer changes the bundle id
        call.write_text(call.read_text(encoding="utf-8").replace("default: 2000", "default: 2100"),
                        encoding="utf-8")
        deadline = time.monotonic() + 15
        bundle = first
        while bundle == first and time.monotonic() < deadline:
            time.sleep(0.05)
            bundle = client.get("/v1/health").json()["bundle"]
        assert bundle != first
        assert client.get("/v1/bundle").json()["reload_error"] is None
