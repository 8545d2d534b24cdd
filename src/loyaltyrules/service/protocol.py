"""uvicorn's HTTP protocol, with its own refusals as problem details too.

A request that is not valid HTTP/1.1 (a `Content-Length: 12abc`, a broken request
line, a URL too long for the parser) is refused by uvicorn's parser before the
application sees it, with a text/plain 400. The classes here are uvicorn's own
(httptools when installed, else h11) with only that answer replaced, so every error
the service gives is `application/problem+json` (docs/service.md, Errors).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .problems import MEDIA_TYPE, Problem, problem_bytes

MALFORMED = Problem("malformed-request",
                    "the request is not valid HTTP/1.1 (request line, headers or framing)")


def malformed_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole 400 answer, as bytes: the connection closes after it."""
    body = problem_bytes(MALFORMED)
    head = [b"HTTP/1.1 400 Bad Request\r\n"]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
             b"content-length: " + str(len(body)).encode() + b"\r\n",
             b"connection: close\r\n\r\n"]
    return b"".join(head) + body


def problem_protocol(base: type[Any] | None = None) -> type[asyncio.Protocol]:
    """`base` (default: what uvicorn's "auto" picks) answering malformed requests with
    a problem; pass it to uvicorn as `http=`."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol

    class ProblemHTTPProtocol(base):  # type: ignore[misc,valid-type]
        def send_400_response(self, msg: str) -> None:
            # `msg` is uvicorn's fixed text; the request's bytes are never echoed
            self.transport.write(malformed_response(self.server_state.default_headers))
            self.transport.close()

    ProblemHTTPProtocol.__name__ = f"Problem{base.__name__}"
    return ProblemHTTPProtocol
