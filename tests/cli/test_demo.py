"""`peakops demo`, as `make demo` runs it, on a short rehearsal through the whole local stack."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_rehearse import run_peakops


@pytest.mark.timeout(480)
def test_demo_rehearses_the_demo_plan_and_says_go(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`make demo`: the demo plan's rehearsal (a healthy spike, then a payment outage whose page must fire
    and resolve, its checkout burn allowed) ends in go, exit 0."""
    # A short path: supervisord's control socket lives in the stack directory (AF_UNIX paths are short).
    stack_dir = tmp_path_factory.mktemp("demo")
    report = tmp_path_factory.mktemp("demo-report")
    result = run_peakops("demo", "--report", str(report), stack_dir=stack_dir, timeout=460)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Rehearsal: GO" in out
    summary = json.loads((report / "summary.json").read_text())
    assert [(s["name"], s["verdict"]) for s in summary["scenarios"]] == [
        ("healthy", "go"),
        ("payment-outage", "go"),
    ]
    assert (report / "report.html").exists()
    # The capacity step load on one instance: a knee within the bars, replicas for each post.
    capacity = summary["capacity"]
    assert capacity["knee_per_second"] is not None, capacity
    assert capacity["steps"][0]["within_bars"], capacity["steps"]
    assert [post["influencer"] for post in capacity["posts"]] == ["lena-glow", "marco-fit", "sofia-style"]
    assert all(post["replicas"] >= 1 for post in capacity["posts"])
    config = capacity["stack_config"]
    assert (
        config["peakops:appReplicasMin"]
        <= config["peakops:prescaleReplicas"]
        < config["peakops:appReplicasMax"]
    )
    assert "Capacity:" in (report / "report.html").read_text()
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
