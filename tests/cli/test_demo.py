"""`peakops demo`, as `make demo` runs it, on a short rehearsal through the whole local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from peakops.paths import REPO_ROOT


@pytest.mark.timeout(480)
def test_demo_rehearses_the_spike_and_prints_the_verdict(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A short path: supervisord's control socket lives in the stack directory (AF_UNIX paths are short).
    stack_dir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--duration", "10", "--peak-arrivals", "20"],
        capture_output=True,
        text=True,
        timeout=460,
        cwd=REPO_ROOT,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "PEAKOPS_STACK_DIR": str(stack_dir),
            "COLUMNS": "160",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Verdict: PASS" in out
    assert "Journeys over the peak window" in out
    assert "influencer" in out
    assert "Attribution" in out
    assert "lena-glow" in out
    assert "edge cache hit ratio" in out
    # The rehearsal's outage: paged through Prometheus and Alertmanager, resolved, relative from the inbox.
    assert "paged after" in out
    assert "resolved" in out
    assert "On-call inbox" in out
    assert "CheckoutSuccessBudgetBurn/page" in out
    # Brought down afterwards: supervisord (and with it every program) has exited.
    assert not (stack_dir / "supervisor" / "supervisord.pid").exists()
    # What the inbox recorded (it outlives the stack): the page as on-call gets it, with its runbook,
    # its impact and the campaign, through the webhook and PagerDuty's Events API; then its resolution.
    records = [
        json.loads(line) for line in (stack_dir / "monitoring" / "inbox.jsonl").read_text().splitlines()
    ]
    pages = [
        r
        for r in records
        if r["path"] == "/alerts/pager"
        and any(a["labels"].get("alertname") == "CheckoutSuccessBudgetBurn" for a in r["body"]["alerts"])
    ]
    firing = next(r["body"] for r in pages if r["body"]["status"] == "firing")
    assert firing["commonAnnotations"]["runbook_url"] == "docs/runbooks/checkout.md"
    assert "failed orders/min" in firing["commonAnnotations"]["impact"]
    assert firing["commonLabels"]["campaign"] == "spring-glow-drop"
    assert firing["commonLabels"]["sloth_severity"] == "page"
    assert any(r["body"]["status"] == "resolved" for r in pages)
    assert any(r["path"] == "/pagerduty" and r["body"]["event_action"] == "trigger" for r in records)
