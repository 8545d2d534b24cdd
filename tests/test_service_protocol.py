"""Answers the application never sees are problems too, and health tells a failed
reload: what a POS receives over a real socket, from a real server."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loyaltyrules.service.app import create_app
from loyaltyrules.service.openapi import document
from loyaltyrules.service.protocol import problem_protocol
from loyaltyrules.service.settings import ServiceSettings

from _paths import PACK
from _service import start_serve

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

MALFORMED = {
    "bad Content-Length": b"POST /v1/purchases HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 12abc\r\n\r\n{}",
    "100 KB URL": b"GET /v1/health?q=" + b"0" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage request line": b"HELLO THERE\r\n\r\n",
    "two Content-Lengths": b"POST /v1/purchases HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                           b"Content-Length: 3\r\n\r\n{}",
}


def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _assert_problem(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["type"] == "https://loyaltyrules.dev/problems/malformed-request"
    assert problem["status"] == 400 and problem["title"] and problem["detail"]
    jsonschema.validate(problem, document()["components"]["schemas"]["Problem"])
    assert b"12abc" not in body and b"HELLO" not in body  # nothing sent is echoed


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`loyaltyrules serve` itself, as a process."""
    server, base = start_serve(tmp_path_factory.mktemp("serve") / "state.sqlite")
    try:
        yield int(base.rsplit(":", 1)[1])
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("request_name", sorted(MALFORMED))
def test_serve_answers_malformed_http_with_a_problem(served: int, request_name: str) -> None:
    _assert_problem(*_exchange(served, MALFORMED[request_name]))
    status, headers, body = _exchange(served, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["status"] == "ok"  # and it keeps serving


@pytest.fixture(params=[HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
def in_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """The app on uvicorn with either HTTP implementation, in a thread."""
    app = create_app(ServiceSettings(policies=(PACK,), state=tmp_path / "s.sqlite",
                                     reload_interval=0))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                            http=problem_protocol(request.param), lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield port, "h11" if request.param is H11Protocol else "httptools"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("request_name", sorted(MALFORMED))
def test_both_http_implementations_answer_with_a_problem(in_process: tuple[int, str],
                                                         request_name: str) -> None:
    port, implementation = in_process
    if (implementation, request_name) == ("h11", "100 KB URL"):
        pytest.skip("h11 parses a 100 KB URL (httptools' URL parser stops at 64 KiB)")
    _assert_problem(*_exchange(port, MALFORMED[request_name]))


def test_the_default_protocol_is_uvicorns_choice() -> None:
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert issubclass(problem_protocol(), AutoHTTPProtocol)


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_health_reports_a_failed_reload(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(PACK, policies)
    app = create_app(ServiceSettings(policies=(policies,), state=tmp_path / "s.sqlite",
                                     reload_interval=0))
    engines = app.state.engines
    schema: dict[str, Any] = document()["components"]["schemas"]["Health"]
    call = policies / "big-purchase-call.yaml"
    with TestClient(app) as client:
        ok = client.get("/v1/health").json()
        assert ok == {"status": "ok", "bundle": engines.current.engine.bundle}
        _edit(call, "conditions:", "conditions:\n  - purchase.amount >= params.nope")
        assert engines.check() is False
        answer = client.get("/v1/health")
        assert answer.status_code == 200  # still serving, on the last good set
        degraded = answer.json()
        jsonschema.validate(degraded, schema)
        assert degraded["status"] == "degraded" and degraded["bundle"] == ok["bundle"]
        assert degraded["reload_failed_at"] == client.get("/v1/bundle").json()[
            "reload_error"]["at"]
        _edit(call, "\n  - purchase.amount >= params.nope", "")
        assert engines.check() is False  # the files are the active set again
        assert client.get("/v1/health").json() == ok
