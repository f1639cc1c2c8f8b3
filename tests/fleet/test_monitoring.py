"""Monitoring across the fleet: the monitoring host scrapes every host over the network (node exporters,
the app hosts, HAProxy, the edges' SLI exporters), runs the rules `peakops slo generate` writes, and a
real fault on one host (an app host stopped) reaches the inbox as an alert naming that host."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import httpx
import yaml

from peakops.paths import REPO_ROOT
from tests.fleet.fleet import Fleet

RULES_DIR = "/var/lib/peakops/monitoring/prometheus/rules"
# The committed rules: the generator on campaigns/demo.yaml at time scale 1, which the example fleet's
# monitoring host uses too (a drift test keeps these equal to a fresh `peakops slo generate`).
GENERATED_RULES = REPO_ROOT / "monitors" / "generated" / "rules"
# ScrapeTargetDown holds `for: 2m`; then a 5 s evaluation and the fleet's 5 s group wait.
ALERT_DEADLINE_S = 240


def prometheus(hosts: Fleet) -> str:
    return f"http://{hosts.in_group('monitoring')[0].address}:9090"


def inbox(hosts: Fleet) -> str:
    return f"http://{hosts.in_group('monitoring')[0].address}:9095"


def targets_by_job(hosts: Fleet) -> dict[str, dict[str, str]]:
    """{job: {host label (or instance): health}} from Prometheus' active targets."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    data = httpx.get(f"{prometheus(hosts)}/api/v1/targets", params={"state": "active"}, timeout=10).json()
    for target in data["data"]["activeTargets"]:
        labels = target["labels"]
        found[labels["job"]][labels.get("host", labels["instance"])] = target["health"]
    return found


def test_the_monitoring_host_scrapes_every_host(hosts: Fleet, converged: dict[str, Any]) -> None:
    expected = {
        "node": {h.name for h in hosts.hosts},
        "app": {h.name for h in hosts.in_group("app")},
        "haproxy": {h.name for h in hosts.in_group("load_balancer")},
        "exporter": {h.name for h in hosts.in_group("edge")},
    }
    deadline, found = time.monotonic() + 60, targets_by_job(hosts)
    while time.monotonic() < deadline:
        found = targets_by_job(hosts)
        if all(found.get(job) == dict.fromkeys(names, "up") for job, names in expected.items()):
            break
        time.sleep(2)
    for job, names in expected.items():
        assert found.get(job) == dict.fromkeys(names, "up"), (job, dict(found))


def test_the_rules_are_the_generated_ones(hosts: Fleet, converged: dict[str, Any]) -> None:
    monitoring = hosts.in_group("monitoring")[0].name
    installed = hosts.ssh(monitoring, f"ls {RULES_DIR}").stdout.split()
    assert sorted(installed) == sorted(p.name for p in GENERATED_RULES.glob("*.yml"))
    for name in installed:
        # Equal but for the header's command line, which names the fleet's Alertmanager options too.
        header, _, text = hosts.ssh(monitoring, f"cat {RULES_DIR}/{name}").stdout.partition("\n")
        committed_header, _, committed = (GENERATED_RULES / name).read_text().partition("\n")
        assert text == committed, name
        assert header.startswith(committed_header.split(" by `")[0]), (header, committed_header)
    # ...and Prometheus evaluates every group of them.
    groups = httpx.get(f"{prometheus(hosts)}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {(g["name"], len(g["rules"])) for g in groups}
    expected = {
        (g["name"], len(g["rules"]))
        for p in GENERATED_RULES.glob("*.yml")
        for g in yaml.safe_load(p.read_text())["groups"]
    }
    assert loaded == expected
    assert all(rule.get("lastError", "") == "" for group in groups for rule in group["rules"])


def alerts_received(hosts: Fleet, since: float) -> list[dict[str, Any]]:
    """Every alert in Alertmanager's webhook notifications the inbox got after `since` (epoch s)."""
    records = httpx.get(f"{inbox(hosts)}/notifications", timeout=10).json()
    return [
        {**alert, "receiver_path": record["path"]}
        for record in records
        if record["received_at"] >= since and record["path"].startswith("/alerts")
        for alert in record["body"].get("alerts", [])
    ]


def test_a_stopped_app_host_alerts_into_the_inbox_naming_it(hosts: Fleet, converged: dict[str, Any]) -> None:
    victim = hosts.in_group("app")[0].name
    since = time.time()
    hosts.stop_host(victim)
    try:
        # HAProxy on both balancers marks it down (server appN: the Nth primary in the inventory);
        # seen through the monitoring host's scrape of each balancer.
        query = 'haproxy_server_status{state="DOWN", proxy="app", server="app1"} == 1'
        balancers = {lb.name for lb in hosts.in_group("load_balancer")}
        deadline, down_on = time.monotonic() + 60, set[str]()
        while time.monotonic() < deadline and down_on != balancers:
            time.sleep(2)
            answer = httpx.get(f"{prometheus(hosts)}/api/v1/query", params={"query": query}, timeout=10)
            down_on = {r["metric"].get("host") for r in answer.json()["data"]["result"]}
        assert down_on == balancers, down_on
        deadline = time.monotonic() + ALERT_DEADLINE_S
        mine: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not mine:
            time.sleep(5)
            mine = [
                a
                for a in alerts_received(hosts, since)
                if a["status"] == "firing" and a["labels"]["alertname"] == "ScrapeTargetDown"
            ]
        took = time.time() - since
        assert mine, f"no ScrapeTargetDown in the inbox {ALERT_DEADLINE_S} s after {victim} stopped"
        # Every firing ScrapeTargetDown is the stopped host's (the app and its node exporter), by name.
        assert {a["labels"].get("host") for a in mine} == {victim}, mine
        assert {a["labels"]["job"] for a in mine} <= {"app", "node"}, mine
        assert all(a["receiver_path"] == "/alerts/chat" for a in mine), mine  # a ticket, not a page
        print(f"ScrapeTargetDown for {victim} in the inbox {took:.0f} s after it stopped")
    finally:
        hosts.start_host(victim)
