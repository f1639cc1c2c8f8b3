"""The per-instance state every request may need, and the two cross-cutting pieces that use it:
the observability middleware (RED metrics per route template) and the instrumented route class
(fault injection and load shedding, which must know the route template before the handler runs)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson
import starlette.responses
from fastapi import Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import unavailable
from app.faults import FaultRegistry
from app.metrics import AppMetrics
from app.settings import Settings
from app.shop import Shop
from peakops.metrics import UNMATCHED_ROUTE

log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Work a visitor does not miss when it is refused: shed first, so checkout keeps the CPU.
NON_CRITICAL_ROUTES = frozenset({"/api/recommendations", "/api/visits"})


@dataclass
class Runtime:
    settings: Settings
    metrics: AppMetrics
    shop: Shop
    faults: FaultRegistry
    started_at: float = field(default_factory=time.time)
    ready: bool = False
    draining: bool = False
    in_flight: int = 0


class JSONResponse(starlette.responses.JSONResponse):
    """orjson-encoded JSON: several times faster than the stdlib encoder on the hot paths. A JSONResponse
    (as FastAPI's ORJSONResponse is), so the API document gives each route's JSON schema."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


class ObservabilityMiddleware:
    """Counts and times every HTTP request by route template (bounded labels). A pure ASGI
    middleware: the BaseHTTPMiddleware wrapper would cost more than the routes it measures."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        runtime.metrics.http_requests_in_flight.set_function(lambda: runtime.in_flight)

    def _series(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        key = (method, route, status)
        series = self._children.get(key)
        if series is None:
            metrics = self.runtime.metrics
            series = (
                metrics.http_requests.labels(method, route, str(status)),
                metrics.http_request_duration.labels(method, route),
            )
            self._children[key] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        runtime.in_flight += 1
        start = time.perf_counter()
        status = 500

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            runtime.in_flight -= 1
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED_ROUTE) if route is not None else UNMATCHED_ROUTE
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            counter, histogram = self._series(method, template, status)
            counter.inc()
            histogram.observe(time.perf_counter() - start)


class DatabaseUnavailable:
    """Answers 503 "database unavailable" with Retry-After: 1 when a request finds the database
    unreachable (app.db.unavailable: stopped, restarting, its connections closed), instead of a 500 or a
    reset connection: clients and the edge retry, and the SLIs count a 5xx either way.

    A pure ASGI middleware placed outside the hot paths and the router, so both are covered, and inside
    the observability middleware, so the 503s are counted. An error after the response started, or any
    other error, propagates unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started or not unavailable(exc):
                raise
            # One line, no traceback: during an outage every request says the same thing.
            log.warning("database unavailable: %s %s: %s", scope["method"], scope["path"], type(exc).__name__)
            answer = error_response(503, "database unavailable", headers={"Retry-After": "1"})
            await answer(scope, receive, send)


class InstrumentedRoute(APIRoute):
    """An APIRoute that applies rehearsal faults and load shedding for its own route template."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        template = self.path
        non_critical = template in NON_CRITICAL_ROUTES

        async def instrumented(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            if non_critical and runtime.in_flight > runtime.settings.shed_inflight_threshold:
                runtime.metrics.load_shed.labels(template).inc()
                return error_response(503, "shed under load; retry later", headers={"Retry-After": "1"})
            effect = runtime.faults.effect_for(template)
            if effect is not None:
                if effect.latency_s:
                    await asyncio.sleep(effect.latency_s)
                if effect.error:
                    return error_response(500, "injected fault")
            return await handler(request)

        return instrumented
