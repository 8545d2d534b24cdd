"""The Starlette application: routes, error rendering, and the engine they share.

With `sync = "normal"` an engine call never waits on the disk (a commit is a write
into the OS cache and checkpoints run in the store's own thread), so it runs inline
on the event loop: the hop to a worker thread and back cost more CPU than the call
(docs/service.md, Performance). A call that would wait for a lock held elsewhere (a
nightly run writing the state file) gives up at once and is retried in a small pool
of worker threads, so the event loop never sleeps on a lock. With `sync = "full"`
every engine call goes to the pool, which keeps parsing requests while a commit
waits for its fsync. Each request reads the active engine once, so a reload in
between never mixes two policy sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api import Engine, EventError
from ..event.store import Busy, without_waiting
from ..release.bundle import opened
from .bodies import check, read_json
from .catchall import CatchAll
from .guard import Guard
from .openapi import document
from .outcomes import import_rows
from .people import People
from .problems import Problem, problem_response
from .reload import PolicyReloader
from .settings import ServiceSettings
from .workpage import WorkPage

ENGINE_THREADS = 4
T = TypeVar("T")

_STATUS_KINDS = {400: "malformed-json", 401: "unauthorized", 404: "not-found",
                 405: "method-not-allowed", 413: "too-large", 415: "unsupported-media-type"}


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not JSON: {type(value).__name__}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode()  # one encoder, not one per response


def load_engine(settings: ServiceSettings) -> PolicyReloader[Engine]:
    """The first engine (raises DiagnosticError for invalid policies) and its reloader."""
    state, sync, backend = settings.state, settings.sync, settings.backend

    def build(paths: Sequence[Path]) -> Engine:
        return Engine.load(policies=list(paths), state=state, sync=sync, backend=backend)

    if settings.bundle is None:
        return PolicyReloader(settings.policies, build, settings.reload_interval)
    public_key = settings.public_key

    def from_bundle(paths: Sequence[Path]) -> Engine:
        """A refused bundle raises: the reloader keeps the last good engine."""
        with opened(paths[0], public_key) as (_plan, verified):
            return Engine.load(policies=[verified.folder], state=state, sync=sync)

    return PolicyReloader([settings.bundle], from_bundle, settings.reload_interval)


def create_app(settings: ServiceSettings,
               reloader: PolicyReloader[Engine] | None = None) -> Starlette:
    engines = reloader or load_engine(settings)
    pool = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="engine")
    inline = settings.sync == "normal"

    async def in_pool(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def engine_call(fn: Callable[..., T], *args: Any) -> T:
        """Inline when nothing can make it wait, else in the pool (see the module doc)."""
        if inline:
            try:
                with without_waiting():
                    return fn(*args)
            except Busy:  # nothing was done; wait for the lock in a worker thread
                pass
        return await in_pool(fn, *args)

    async def post_event(request: Request, schema: str, method: str) -> Response:
        """A POS event checked against the document, then handed to the engine."""
        body = await read_json(request)
        check(body, schema)
        handler = getattr(engines.current.engine, method)
        try:
            answer = await engine_call(handler, body)
        except EventError as err:
            raise event_problem(err) from None
        return JSON({"actions": list(answer), "decisions": answer.decisions})

    async def post_purchase(request: Request) -> Response:
        return await post_event(request, "Receipt", "on_purchase")

    async def post_customer(request: Request) -> Response:
        return await post_event(request, "Customer", "on_customer")

    async def post_complaint(request: Request) -> Response:
        return await post_event(request, "Complaint", "on_complaint")

    async def post_host_event(request: Request) -> Response:
        return await post_event(request, "Event", "on_event")

    async def open_actions(request: Request) -> Response:
        engine = engines.current.engine
        actions = await engine_call(engine.open_actions, request.path_params["customer_id"])
        return JSON({"actions": actions})

    async def post_outcomes(request: Request) -> Response:
        body = await read_json(request)
        check(body, "OutcomesRequest")
        if settings.state is None:
            raise Problem("unavailable", "the service runs without a state file")
        return JSON(await in_pool(import_rows, settings.state, body["outcomes"]))

    async def health(request: Request) -> Response:
        return JSON(health_view(engines))

    async def bundle(request: Request) -> Response:
        return JSON(bundle_view(engines))

    async def openapi(request: Request) -> Response:
        return JSON(document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engines.start()
        try:
            yield
        finally:
            engines.stop()

    routes = [
        Route("/v1/purchases", post_purchase, methods=["POST"]),
        Route("/v1/customers", post_customer, methods=["POST"]),
        Route("/v1/complaints", post_complaint, methods=["POST"]),
        Route("/v1/events", post_host_event, methods=["POST"]),
        Route("/v1/customers/{customer_id:path}/actions", open_actions, methods=["GET"]),
        Route("/v1/outcomes", post_outcomes, methods=["POST"]),
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/bundle", bundle, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *WorkPage(settings, engines, People(settings.data, settings.enrich), in_pool).routes(),
    ]
    middleware = [Middleware(CatchAll),
                  Middleware(Guard, token=settings.token, max_body=settings.max_body)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={Problem: _problem, HTTPException: _http_problem})
    app.state.engines = engines
    return app


def health_view(engines: PolicyReloader[Engine]) -> dict[str, Any]:
    """Up, with the active bundle; `degraded` while the policy files on disk failed to
    load (the last good set still answers). Details stay behind the token, in /v1/bundle."""
    error = engines.error
    view = {"status": "ok" if error is None else "degraded",
            "bundle": engines.current.engine.bundle}
    return view if error is None else {**view, "reload_failed_at": error.at}


def bundle_view(engines: PolicyReloader[Engine]) -> dict[str, Any]:
    active = engines.current
    error = engines.error
    return {
        "bundle": active.engine.bundle,
        "loaded_at": active.loaded_at,
        "policies": [{"id": p.id, "version": p.version} for p in active.engine.plan.policies],
        "reload_error": None if error is None else {
            "at": error.at, "message": error.message, "diagnostics": error.diagnostics,
            "codes": list(error.codes)},
    }


def event_problem(err: EventError) -> Problem:
    """The engine's refusal of a receipt; its message names the field, never the value."""
    message = str(err).removeprefix(f"{err.code}: ")
    errors = None if err.field is None else [
        {"pointer": f"/{err.field}", "code": err.code, "message": message}]
    return Problem("invalid-event", message, errors=errors, code=err.code)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = _STATUS_KINDS.get(exc.status_code, "invalid-request")
    detail = {404: "no such endpoint", 405: "this endpoint does not take that method"}.get(
        exc.status_code, "the request was refused")
    return problem_response(Problem(kind, detail, headers=exc.headers))
