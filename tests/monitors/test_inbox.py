"""The local alert inbox: a real process records every notification, whatever its format, and shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.procs import free_port, run_service

ALERTMANAGER = {
    "version": "4",
    "status": "firing",
    "receiver": "pager",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "CheckoutSuccessBudgetBurn",
                "severity": "critical",  # a spec's own value: sloth_severity is what is shown
                "sloth_severity": "page",
                "sloth_slo": "checkout-success",
            },
        }
    ],
    "commonAnnotations": {"impact": "~12.0 failed orders/min"},
}
SLACK = {"channel": "#campaign-alerts", "attachments": [{"title": "[RESOLVED] PromoRedemptionBudgetBurn"}]}
PAGERDUTY = {
    "routing_key": "k",
    "event_action": "trigger",
    "payload": {"summary": "shop checkout-success: burning fast"},
}


def test_records_every_notification_and_shows_them(tmp_path: Path) -> None:
    port, store = free_port(), tmp_path / "inbox.jsonl"
    command = [
        sys.executable,
        "-m",
        "cli",
        "oncall",
        "inbox",
        "--listen",
        f"127.0.0.1:{port}",
        "--store",
        str(store),
    ]
    url = f"http://127.0.0.1:{port}"
    with run_service(command, tmp_path / "inbox.log", f"{url}/healthz") as inbox:
        for path, body in (("/alerts/pager", ALERTMANAGER), ("/slack", SLACK), ("/pagerduty", PAGERDUTY)):
            assert httpx.post(f"{url}{path}", json=body, timeout=5).status_code == 200
        assert httpx.post(f"{url}/alerts/chat", content=b"not json", timeout=5).status_code == 200
        too_big = httpx.post(f"{url}/alerts/chat", content=b"x" * (2 << 20), timeout=5)
        assert too_big.status_code == 413
        recorded = httpx.get(f"{url}/notifications", timeout=5).json()
        assert [r["path"] for r in recorded] == ["/alerts/pager", "/slack", "/pagerduty", "/alerts/chat"]
        assert inbox.terminate() == 0
    # Stopped: every acknowledged notification is on disk.
    relative = subprocess.run(
        [sys.executable, "-m", "cli", "oncall", "show", "--store", str(store), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summaries = json.loads(relative.stdout)
    assert [(s["kind"], s["status"]) for s in summaries] == [
        ("alertmanager", "firing"),
        ("slack", "resolved"),
        ("pagerduty", "trigger"),
        ("other", ""),
    ]
    assert summaries[0]["alerts"] == "CheckoutSuccessBudgetBurn/page (checkout-success)"
    assert summaries[0]["detail"] == "~12.0 failed orders/min"
    table = subprocess.run(
        [sys.executable, "-m", "cli", "oncall", "show", "--store", str(store)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "4 notifications" in table.stdout
