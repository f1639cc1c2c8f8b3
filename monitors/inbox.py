"""A local alert inbox: a webhook receiver that records every notification it gets, and shows them.

Alertmanager's webhook, Slack and PagerDuty receivers all point here on the local stack and in the
tests (the real Slack and PagerDuty cannot be reached from this machine). Each POST is appended to a
JSON Lines file and fsynced before the answer, so an acknowledged notification is never lost.

    POST /<anything>        record it (the path tells which receiver sent it: /alerts/pager, /slack, ...)
    GET  /notifications     everything recorded, oldest first
    GET  /healthz           ok
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 1 << 20


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock, self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for raw in self.path.read_text().splitlines():
            try:
                records.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write; the others stand
        return records


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "peakops-inbox"

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "ok"})
            elif self.path == "/notifications":
                self._reply(200, store.read())
            else:
                self._reply(404, {"error": "GET /notifications or /healthz"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": f"body over {MAX_BODY} bytes"})
                return
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode(errors="replace")
            store.append(
                {
                    "received_at": time.time(),
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": body,
                }
            )
            self._reply(200, {"status": "recorded"})

        def log_message(self, format: str, *args: Any) -> None:
            return  # the store is the log

    return Handler


@contextmanager
def serving(host: str, port: int, store: Store) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, port), _handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Summary:
    received_at: float
    receiver: str
    kind: str  # alertmanager, slack, pagerduty, other
    status: str  # firing, resolved, trigger, resolve
    alerts: str  # "CheckoutSuccessBudgetBurn/page (checkout-success)"
    detail: str


def summarize(record: dict[str, Any]) -> Summary:
    """One line per notification, whatever the receiver's payload format."""
    body = record.get("body")
    path = str(record.get("path", ""))
    at = float(record.get("received_at", 0))
    if isinstance(body, dict) and "alerts" in body and "status" in body:
        names = []
        for alert in body.get("alerts", []):
            labels = alert.get("labels", {})
            severity = labels.get("sloth_severity") or labels.get("severity", "?")
            slo = f" ({labels['sloth_slo']})" if "sloth_slo" in labels else ""
            names.append(f"{labels.get('alertname', '?')}/{severity}{slo}")
        impact = body.get("commonAnnotations", {}).get("impact", "")
        return Summary(at, path, "alertmanager", str(body["status"]), ", ".join(names), impact)
    if isinstance(body, dict) and "attachments" in body:
        attachment = (body.get("attachments") or [{}])[0]
        title = str(attachment.get("title", ""))
        status = "resolved" if title.startswith("[RESOLVED]") else "firing"
        return Summary(at, path, "slack", status, title, str(body.get("channel", "")))
    if isinstance(body, dict) and "event_action" in body:
        payload = body.get("payload") or {}
        return Summary(at, path, "pagerduty", str(body["event_action"]), str(payload.get("summary", "")), "")
    return Summary(at, path, "other", "", "", str(body)[:80])
