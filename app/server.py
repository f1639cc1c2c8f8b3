"""Run the app under uvicorn (uvloop event loop, httptools parser) with a graceful shutdown.

On SIGTERM: readiness turns false at once, the server keeps serving for `shutdown_drain_seconds` so a
load balancer polling /readyz stops routing to it, then it closes its socket, lets in-flight requests
finish (up to `shutdown_timeout_seconds`) and runs the app's shutdown (flushes buffered visits). An
order is acknowledged only after its transaction committed, so none that a client saw is lost.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.runtime.draining
        self.runtime.draining = True
        drain_s = self.runtime.settings.shutdown_drain_seconds
        if first and drain_s > 0 and sig == signal.SIGTERM:
            timer = threading.Timer(drain_s, self._stop)
            timer.daemon = True
            timer.start()
            return
        super().handle_exit(sig, frame)
        # A drained shutdown is a clean exit: do not re-raise the signal after it (uvicorn's default),
        # so supervisors and tests see exit status 0.
        self._captured_signals.clear()

    def _stop(self) -> None:
        self.should_exit = True


def build_server(app: FastAPI, host: str, port: int) -> DrainingServer:
    runtime: Runtime = app.state.runtime
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # the edge writes the access log; per-request logging here halves throughput
        timeout_graceful_shutdown=int(runtime.settings.shutdown_timeout_seconds),
        timeout_keep_alive=15,
        # The client address (the ASGI scope's client, which logs and any future per-client rule read)
        # comes from X-Forwarded-For only when the peer is a trusted load balancer, as in HAProxy.
        proxy_headers=bool(runtime.settings.trusted_proxies),
        forwarded_allow_ips=runtime.settings.trusted_proxies or None,
        backlog=4096,
        log_level="info",
    )
    return DrainingServer(config, runtime)


def serve(host: str, port: int, settings: Settings | None = None) -> None:
    server = build_server(create_app(settings), host, port)
    server.run()
    if not server.started:
        raise SystemExit(3)
