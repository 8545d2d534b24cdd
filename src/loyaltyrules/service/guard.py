"""ASGI middleware run before routing: bearer token and request size limit.

The size limit is enforced twice: a declared Content-Length over the limit is
refused before any byte is read, and a body without one (chunked) is counted as it
arrives and refused as soon as it passes the limit. Either way nothing is parsed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import bearer_ok, exempt
from .problems import MEDIA_TYPE, Problem, problem_bytes


class Guard:
    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.token is not None and not exempt(scope["path"]) \
                and not bearer_ok(headers.get(b"authorization"), self.token):
            await _answer(send, Problem("unauthorized", "send Authorization: Bearer <token>",
                                        headers={"www-authenticate": "Bearer"}))
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _answer(send, Problem("malformed-json", "invalid Content-Length header"))
                return
            if length > self.max_body:
                await _answer(send, _too_large(self.max_body))
                return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _too_large(self.max_body)
            return message

        return counted


def _too_large(limit: int) -> Problem:
    return Problem("too-large", f"the request body is limited to {limit} bytes")


async def _answer(send: Send, problem: Problem) -> None:
    body = problem_bytes(problem)
    headers = [(b"content-type", MEDIA_TYPE.encode()),
               (b"content-length", str(len(body)).encode()),
               *((k.encode(), v.encode()) for k, v in problem.headers.items())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
