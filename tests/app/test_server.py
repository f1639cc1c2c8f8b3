"""Graceful shutdown of a real app process: SIGTERM during a stream of checkouts loses nothing."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.app.helpers import new_cart
from tests.conftest import ADMIN_TOKEN, StartApp
from tests.support.procs import AppProcess

STREAM_WORKERS = 8


@dataclass
class StreamResult:
    acknowledged: list[str] = field(default_factory=list)
    # What the requests sent before SIGTERM got: each must be a 201, none cut off.
    outcomes_before_term: list[int | str] = field(default_factory=list)
    refused_after_close: int = 0
    ready_during_drain: list[int] = field(default_factory=list)


async def _stream_checkouts(app: AppProcess, carts: list[str], sigterm_after_s: float) -> StreamResult:
    result = StreamResult()
    term_at: list[float] = []
    queue = list(carts)
    # No keep-alive: each checkout opens its own connection, as the spike's many clients do.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as client:

        async def worker(index: int) -> None:
            while queue:
                cart_id = queue.pop()
                before = not term_at
                try:
                    response = await client.post(
                        "/api/checkout",
                        json={"cart_id": cart_id, "email": f"w{index}@example.com"},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                except httpx.ConnectError:
                    result.refused_after_close += 1  # the socket is closed: nothing was acknowledged
                    if before:
                        result.outcomes_before_term.append("connect-error")
                    await asyncio.sleep(0.01)
                    continue
                except httpx.HTTPError as exc:
                    if before:
                        result.outcomes_before_term.append(type(exc).__name__)
                    continue
                if before:
                    result.outcomes_before_term.append(response.status_code)
                if response.status_code == 201:
                    result.acknowledged.append(response.json()["order_id"])

        async def terminator() -> None:
            await asyncio.sleep(sigterm_after_s)
            term_at.append(time.monotonic())
            app.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)
            try:
                ready = await client.get("/readyz")
                result.ready_during_drain.append(ready.status_code)
            except httpx.HTTPError:
                result.ready_during_drain.append(-1)

        await asyncio.gather(terminator(), *(worker(i) for i in range(STREAM_WORKERS)))
    return result


@pytest.mark.timeout(180)
def test_sigterm_during_checkout_stream_loses_no_acknowledged_order(
    start_app: StartApp, database_url: str, tmp_path: Path
) -> None:
    app = start_app(
        database_url,
        PEAKOPS_PAYMENT_SANDBOX_LATENCY_SECONDS="0.2",  # keep checkouts in flight when the signal lands
        PEAKOPS_SHUTDOWN_DRAIN_SECONDS="0.5",
    )
    with httpx.Client(base_url=app.url, timeout=30) as client:
        carts = [new_cart(client, {"TEE": 1}) for _ in range(400)]
        visits = [client.post("/api/visits", json={"influencer": "marco-fit"}) for _ in range(5)]
        assert {v.status_code for v in visits} == {202}

    result = asyncio.run(_stream_checkouts(app, carts, sigterm_after_s=1.5))
    exit_code = app.process.wait(timeout=60)

    assert exit_code == 0, app.log()
    assert "Waiting for" in app.log() or "Shutting down" in app.log()
    assert result.ready_during_drain == [503], "readiness must turn false before the socket closes"
    assert result.outcomes_before_term
    assert set(result.outcomes_before_term) == {201}, result.outcomes_before_term
    acknowledged = result.acknowledged
    assert len(acknowledged) > len(result.outcomes_before_term)  # the drain kept serving
    assert result.refused_after_close, "the stream should have outlived the server"

    restarted = start_app(database_url)
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        missing = [oid for oid in acknowledged if client.get(f"/api/orders/{oid}").status_code != 200]
        assert missing == []
        assert client.get("/api/products/TEE").json()["stock"] == 100000 - len(acknowledged)
        report = client.get("/api/attribution", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
        marco = next(r for r in report["influencers"] if r["slug"] == "marco-fit")
        assert marco["visits"] == 5  # buffered visits were flushed on shutdown


def test_proxy_headers_are_believed_only_from_the_trusted_load_balancers() -> None:
    """Like HAProxy: X-Forwarded-For names the client only when the peer is a configured proxy."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from app.main import create_app
    from app.server import build_server
    from app.settings import Settings

    default = build_server(create_app(Settings(catalog=None)), "127.0.0.1", 0).config
    default.load()
    assert not default.proxy_headers
    assert not isinstance(default.loaded_app, ProxyHeadersMiddleware)
    trusted = Settings(catalog=None, trusted_proxies=["10.0.2.10"])
    config = build_server(create_app(trusted), "127.0.0.1", 0).config
    config.load()
    assert isinstance(config.loaded_app, ProxyHeadersMiddleware)
    assert config.loaded_app.trusted_hosts.always_trust is False
    assert "10.0.2.10" in config.loaded_app.trusted_hosts
    assert "127.0.0.1" not in config.loaded_app.trusted_hosts
