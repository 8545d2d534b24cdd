"""The HTTP service in process: endpoints, problem+json errors, auth, size limit."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from loyaltyrules.api import Engine
from loyaltyrules.service.app import create_app
from loyaltyrules.service.openapi import text as openapi_text
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK, SCHEMAS

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "s3cret-token-for-tests"
CUSTOMER = {"customer_id": "C1", "home_store": "S1", "name": "Ada Example",
            "phone": "000-555-0100", "email": "ada@example.invalid"}
RECEIPT = {"purchase_id": "P9", "customer_id": "C1", "store_id": "S1", "staff_id": "E7",
           "purchased_at": "2025-11-21T15:04:00", "amount": "2350.00", "currency": "EUR"}


def _client(tmp_path: Path, **options: Any) -> TestClient:
    settings = ServiceSettings(policies=(PACK,), state=tmp_path / "state.sqlite",
                               reload_interval=0, **options)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path) as c:
        yield c


def _problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://loyaltyrules.dev/problems/{kind}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_the_published_document_is_the_served_one(client: TestClient) -> None:
    assert (SCHEMAS / "openapi.json").read_text(encoding="utf-8") == openapi_text()
    assert client.get("/openapi.json").json() == json.loads(openapi_text())


def test_a_purchase_returns_its_actions_once(client: TestClient) -> None:
    assert client.post("/v1/customers", json=CUSTOMER).json() == {"actions": [], "decisions": []}
    first = client.post("/v1/purchases", json=RECEIPT)
    assert first.status_code == 200
    actions = first.json()["actions"]
    assert [a["policy"] for a in actions] == ["big-purchase-call"]
    schema = json.loads((SCHEMAS / "action.schema.json").read_text())
    for action in actions:
        jsonschema.validate(action, schema)
    resent = client.post("/v1/purchases", json=RECEIPT).json()
    assert resent == {"actions": [], "decisions": []}
    listed = client.get("/v1/customers/C1/actions").json()["actions"]
    assert [a["action_id"] for a in listed] == [actions[0]["action_id"]]
    assert client.get("/v1/customers/nobody/actions").json() == {"actions": []}


def test_numbers_are_exact_decimals(client: TestClient) -> None:
    client.post("/v1/customers", json=CUSTOMER)
    body = json.dumps({**RECEIPT, "amount": 2000.10}).encode()
    response = client.post("/v1/purchases", content=body,
                           headers={"content-type": "application/json"})
    assert response.json()["actions"][0]["reason"]["values"]["purchase.amount"] == "2000.10"


def test_outcomes_close_actions(client: TestClient) -> None:
    client.post("/v1/customers", json=CUSTOMER)
    action_id = client.post("/v1/purchases", json=RECEIPT).json()["actions"][0]["action_id"]
    rows = [{"action_id": action_id, "status": "done", "completed_at": "2025-11-25T11:30:00",
             "staff_id": "E7", "note": "private words"},
            {"action_id": "0" * 32, "status": "done"}]
    response = client.post("/v1/outcomes", json={"outcomes": rows})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["new"] == 1 and result["rows_rejected"] == 1
    assert result["rejected"][0]["index"] == 1 and result["rejected"][0]["field"] == "action_id"
    assert "private" not in response.text
    assert client.get("/v1/customers/C1/actions").json() == {"actions": []}


def test_health_and_bundle(client: TestClient) -> None:
    engine = Engine.load(policies=[PACK])
    assert client.get("/v1/health").json() == {"status": "ok", "bundle": engine.bundle}
    bundle = client.get("/v1/bundle").json()
    assert bundle["bundle"] == engine.bundle and bundle["reload_error"] is None
    assert {"id": "big-purchase-call", "version": 2} in bundle["policies"]
    engine.close()


@pytest.mark.parametrize(("body", "kind", "status"), [
    (b"{", "malformed-json", 400),
    (b'{"amount": NaN}', "malformed-json", 400),
    (b'{"a": 1, "a": 2}', "malformed-json", 400),
    (b"\xff\xfe", "malformed-json", 400),
    (b"[]", "invalid-request", 422),
    (b'{"purchase_id": "P1"}', "invalid-request", 422),
])
def test_bad_bodies_are_problems(client: TestClient, body: bytes, kind: str,
                                 status: int) -> None:
    response = client.post("/v1/purchases", content=body,
                           headers={"content-type": "application/json"})
    _problem(response, status, kind)


def test_field_errors_name_fields_not_values(client: TestClient) -> None:
    receipt = {**RECEIPT, "amount": "12 euros, Ada Example", "store_id": ""}
    del receipt["purchased_at"]
    body = _problem(client.post("/v1/purchases", json=receipt), 422, "invalid-request")
    assert {(e["pointer"], e["code"]) for e in body["errors"]} == {
        ("/amount", "pattern"), ("/store_id", "minLength"), ("/purchased_at", "required")}
    assert "Ada" not in json.dumps(body)


def test_engine_refusals_are_422(client: TestClient) -> None:
    receipt = {**RECEIPT, "purchased_at": "2025-13-45T10:00"}
    body = _problem(client.post("/v1/purchases", json=receipt), 422, "invalid-event")
    assert body["code"] == "bad-timestamp"
    assert body["errors"][0]["pointer"] == "/purchased_at"


def test_media_type_method_and_route_problems(client: TestClient) -> None:
    _problem(client.post("/v1/purchases", content=b"{}",
                         headers={"content-type": "text/plain"}), 415, "unsupported-media-type")
    _problem(client.delete("/v1/purchases"), 405, "method-not-allowed")
    _problem(client.get("/v2/anything"), 404, "not-found")


def test_body_size_is_limited_before_parsing(tmp_path: Path) -> None:
    with _client(tmp_path, max_body=1024) as small:
        big = json.dumps({**RECEIPT, "pad": "x" * 2000}).encode()
        _problem(small.post("/v1/purchases", content=big,
                            headers={"content-type": "application/json"}), 413, "too-large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"pad": "'
            for _ in range(50):
                yield b"x" * 100
            yield b'"}'

        _problem(small.post("/v1/purchases", content=chunks(),
                            headers={"content-type": "application/json"}), 413, "too-large")
        assert small.post("/v1/customers", json=CUSTOMER).status_code == 200


def test_a_token_guards_every_endpoint_but_health(tmp_path: Path) -> None:
    with _client(tmp_path, token=TOKEN) as guarded:
        assert guarded.get("/v1/health").status_code == 200
        for path in ("/v1/bundle", "/openapi.json", "/v1/customers/C1/actions"):
            response = guarded.get(path)
            _problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
            _problem(guarded.get(path, headers={"authorization": "Bearer wrong"}), 401,
                     "unauthorized")
            _problem(guarded.get(path, headers={"authorization": f"Basic {TOKEN}"}), 401,
                     "unauthorized")
            ok = guarded.get(path, headers={"authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200
        # unauthenticated clients learn nothing, not even the size limit
        big = b"x" * 100_000
        _problem(guarded.post("/v1/purchases", content=big), 401, "unauthorized")


def test_a_bug_is_a_plain_500(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(self: Engine, receipt: object) -> list[dict[str, Any]]:
        raise RuntimeError("secret detail C1 000-555-0100")

    monkeypatch.setattr(Engine, "on_purchase", broken)
    body = _problem(client.post("/v1/purchases", json=RECEIPT), 500, "internal")
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert "RuntimeError" in caplog.text and "secret" not in caplog.text
