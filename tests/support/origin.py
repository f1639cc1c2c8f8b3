"""A recording HTTP origin for edge and load-balancer tests: answers every request like the app's landing
pages (cacheable HTML, or a JSON 422 for writes) and records each request line and header as it arrived.

    with recording_origin() as origin:     origin.url, origin.requests -> [(method, raw target, headers)]
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The app's landing pages answer with this (app/settings.py defaults): public, cacheable, revalidatable.
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=60, stale-if-error=600"


@dataclass
class Origin:
    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def targets(self) -> list[str]:
        with self.lock:
            return [target for _method, target, _headers in self.requests]


@contextlib.contextmanager
def recording_origin() -> Iterator[Origin]:
    origin = Origin("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes, content_type: str, cacheable: bool) -> None:
            with origin.lock:
                origin.requests.append((self.command, self.path, dict(self.headers)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", CACHE_CONTROL if cacheable else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path.startswith("/api/"):
                self._answer(200, b'{"ok": true}', "application/json", cacheable=False)
            else:
                self._answer(200, b"<html>landing</html>", "text/html", cacheable=True)

        do_HEAD = do_GET

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._answer(422, b'{"error": "invalid request"}', "application/json", cacheable=False)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin.url = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
