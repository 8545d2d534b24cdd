"""The outermost middleware: an unexpected exception becomes a plain 500 problem.

Only the exception's class is logged: its message could quote request data. No
traceback reaches the client.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import MEDIA_TYPE, Problem, problem_bytes

log = logging.getLogger("loyaltyrules.service")


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as err:  # the last line of defence
            log.error("internal error on %s %s: %s", scope.get("method"), _route(scope),
                      type(err).__name__)
            if started:
                raise
            body = problem_bytes(Problem("internal", "an internal error occurred; it was logged"))
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", MEDIA_TYPE.encode()),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def _route(scope: Scope) -> str:
    """The path with the customer id left out (ids are not personal data, but stay terse)."""
    path = str(scope.get("path", ""))
    return "/v1/customers/{id}/actions" if path.startswith("/v1/customers/") else path
