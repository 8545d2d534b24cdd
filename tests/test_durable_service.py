"""`serve --backend durable_rules`: the service's own schemathesis run against an app on
the durable_rules backend (no 5xx, every answer as documented), and the command itself:
a real process answers a receipt as the native backend does, and a policy set outside
the subset is refused at start with exit status 1 naming the construct."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyaltyrules.service.app import create_app
from loyaltyrules.service.settings import ServiceSettings

from _durable import available, need_durable, subset_pack
from _paths import PACK
from _service import start_serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CONFORMANCE = [schemathesis.checks.not_a_server_error, status_code_conformance,
               content_type_conformance, response_schema_conformance,
               response_headers_conformance]  # as test_service_fuzz.py checks the native one
_FOLDER = Path(tempfile.mkdtemp(prefix="loyaltyrules-durable-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)


def _app() -> object:
    if not available():  # the schema is built at import time; the test itself skips
        return create_app(ServiceSettings(policies=(PACK,), state=_FOLDER / "n.sqlite",
                                          reload_interval=0))
    return create_app(ServiceSettings(policies=(subset_pack(_FOLDER / "policies", True),),
                                      state=_FOLDER / "state.sqlite", reload_interval=0,
                                      backend="durable_rules"))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_response_on_durable_rules_follows_the_document(case: schemathesis.Case) -> None:
    need_durable()
    case.call_and_validate(checks=CONFORMANCE)


def _answers(base: str) -> list[object]:
    said: list[object] = []
    said.append(httpx.post(f"{base}/v1/customers", json={
        "customer_id": "C1", "region": "north", "referred_by": "R"}).json())
    for i, amount in enumerate(["2500", "12000", "-20"]):
        said.append(httpx.post(f"{base}/v1/purchases", json={
            "purchase_id": f"P{i}", "customer_id": "C1", "store_id": "S1",
            "purchased_at": f"2025-03-0{i + 1}T10:00:00", "amount": amount}).json())
    return said


def test_serve_on_durable_rules_answers_as_the_native_backend(tmp_path: Path) -> None:
    need_durable()
    policies = subset_pack(tmp_path / "policies", rich=True)
    said = {}
    for backend in ("native", "durable_rules"):
        server, base = start_serve(tmp_path / f"{backend}.db", "--backend", backend,
                                   policies=policies)
        try:
            said[backend] = _answers(base)
        finally:
            server.terminate()
            server.wait(30)
    assert said["durable_rules"] == said["native"]
    assert any(answer["actions"] for answer in said["native"])  # type: ignore[index]


def test_serve_refuses_a_policy_set_outside_the_subset(tmp_path: Path) -> None:
    need_durable()
    done = subprocess.run(
        [sys.executable, "-m", "loyaltyrules", "serve", "--port", "0", "--state",
         str(tmp_path / "s.db"), "--policies", str(PACK), "--backend", "durable_rules"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "birthday-greeting.yaml" in done.stderr
    assert "trigger kind 'schedule'" in done.stderr
    assert "the durable_rules backend cannot run 12 of these policies" in done.stderr
