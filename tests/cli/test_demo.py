"""`peakops demo`, as `make demo` runs it, on a short rehearsal through the whole local stack."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_rehearse import run_peakops
from tests.support.procs import PG_BIN


@pytest.fixture
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stack directory for `peakops demo`; its PostgreSQL cluster (kept outside the directory when run
    as root: ansible/inventories/local) removed afterwards."""
    # A short path: supervisord's control socket lives in the stack directory (AF_UNIX paths are short).
    stack_dir = tmp_path_factory.mktemp("demo")
    try:
        yield stack_dir
    finally:
        data_dir = cluster_dir(stack_dir)
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


def cluster_dir(stack_dir: Path) -> Path | None:
    """The stack's PostgreSQL data directory, from the program supervisord ran it as."""
    conf = stack_dir / "supervisor" / "conf.d" / "database.conf"
    found = re.search(r" -D (\S+)", conf.read_text()) if conf.exists() else None
    return Path(found.group(1)) if found else None


def database_orders(stack_dir: Path, windows: list[tuple[float, float]]) -> list[int]:
    """Non-synthetic orders created in each (start, end) epoch window, counted by psql (not through
    peakops) in the stack's PostgreSQL: its cluster started for the count as its owner (the demo brought
    the stack down) and stopped again."""
    data_dir = cluster_dir(stack_dir)
    assert data_dir is not None, "the stack ran no PostgreSQL"
    assert (data_dir / "PG_VERSION").exists(), data_dir
    owner = pwd.getpwuid(data_dir.stat().st_uid).pw_name
    run_as = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    port = re.search(r"^port = (\d+)", (data_dir / "peakops.conf").read_text(), re.M)
    assert port, "no port in the cluster's peakops.conf"

    def run(*command: str) -> str:
        done = subprocess.run(
            [*run_as, *command], capture_output=True, text=True, check=False, cwd=data_dir, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-w"]
    run(*pg_ctl, "-l", str(data_dir / "count.log"), "start")
    try:
        counts = []
        for start, end in windows:
            sql = (
                "SELECT count(*) FROM orders WHERE NOT synthetic "  # noqa: S608 - two floats of ours
                f"AND created_at BETWEEN to_timestamp({float(start)}) AND to_timestamp({float(end)})"
            )
            psql = [str(PG_BIN / "psql"), "-h", str(data_dir), "-p", port.group(1), "-U", "postgres"]
            counts.append(int(run(*psql, "-d", "shop", "-XAtc", sql)))
    finally:
        run(*pg_ctl, "-m", "fast", "stop")
    return counts


@pytest.mark.timeout(720)
def test_demo_rehearses_the_demo_plan_and_says_go(
    demo_stack: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make demo`: the demo plan's rehearsal ends in go, exit 0: a healthy spike; a payment outage whose
    page must fire and resolve, its checkout burn allowed; a database restart, on PostgreSQL, whose cart
    page must fire and resolve with no acknowledged order lost."""
    stack_dir = demo_stack
    report = tmp_path_factory.mktemp("demo-report")
    result = run_peakops("demo", "--report", str(report), stack_dir=stack_dir, timeout=700)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Rehearsal: GO" in out
    summary = json.loads((report / "summary.json").read_text())
    assert [(s["name"], s["verdict"]) for s in summary["scenarios"]] == [
        ("healthy", "go"),
        ("payment-outage", "go"),
        ("database-restart", "go"),
    ]
    # The database restart: the stack ran on PostgreSQL, the cart SLO paged in its bound and resolved,
    # and every acknowledged order is in the database, as psql counts them.
    assert summary["database"] == "postgresql"
    restart = summary["scenarios"][2]
    texts = [line["text"] for line in restart["lines"]]
    assert any(t.startswith("CartAvailabilityBudgetBurn paged") for t in texts), texts
    assert any(t.startswith("CartAvailabilityBudgetBurn resolved") for t in texts), texts
    assert any(e["event"].startswith("fault: PostgreSQL stopped") for e in restart["timeline"])
    books = [s["accounting"] for s in summary["scenarios"]]
    assert all(b["acknowledged"] == b["stored"] == b["prometheus_orders"] for b in books), books
    # Brought down afterwards: supervisord (and with it every program) has exited.
    assert not (stack_dir / "supervisor" / "supervisord.pid").exists()
    # Each scenario's orders as psql counts them in its time window (the capacity steps after the
    # scenarios place orders too: outside every window).
    windows = [(s["started_at"], s["started_at"] + s["seconds"]) for s in summary["scenarios"]]
    assert database_orders(stack_dir, windows) == [b["stored"] for b in books]
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
