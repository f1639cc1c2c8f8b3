"""The generated Alertmanager config: amtool checks it and tests its routes."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from monitors.alertmanager import Receivers, alertmanager_config, time_intervals
from monitors.inbox import Store, serving, summarize
from peakops.generated import dump_yaml
from peakops.paths import GENERATED_DIR, REPO_ROOT
from peakops.plan import load_plan
from tests.support.procs import free_port, run_service

CONFIG = GENERATED_DIR / "alertmanager.yml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60)


def test_amtool_check_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "3 receivers" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["sloth_severity=page", "sloth_service=shop", "sloth_slo=checkout-success"], "pager"),
        (["sloth_severity=ticket", "sloth_service=shop", "sloth_slo=landing-latency"], "chat"),
        # A Sloth spec's own severity does not route: sloth_severity does.
        (["sloth_severity=page", "severity=critical"], "pager"),
        (["sloth_severity=ticket", "severity=page"], "chat"),
        # peakops' own alerts (SLIMissing, saturation) carry severity only.
        (["alertname=SLIMissing", "severity=ticket"], "chat"),
        (["alertname=HostCPUSaturated", "severity=page"], "pager"),
        # Inside the campaign window this ticket pages; outside it the pager route is muted, and it
        # continues to chat either way. amtool ignores time, so it shows both.
        (
            ["sloth_severity=ticket", "sloth_slo=checkout-success", "campaign=spring-glow-drop"],
            "pager,chat",
        ),
        (
            ["alertname=CampaignErrorBudgetExhausted", "severity=ticket", "campaign=spring-glow-drop"],
            "pager,chat",
        ),
        (["sloth_severity=ticket", "campaign=another-campaign"], "chat"),
        (["alertname=Watchdog", "severity=none"], "watchdog"),
        (["alertname=SomethingUnrouted"], "chat"),
    ],
)
def test_amtool_routes(labels: list[str], receivers: str) -> None:
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def test_the_campaign_route_is_active_only_in_the_window() -> None:
    result = amtool("config", "routes", f"--config.file={CONFIG}")
    assert (
        '{campaign="spring-glow-drop",sloth_severity="ticket"}  continue: true  receiver: pager'
        in result.stdout
    ), result.stdout
    config = yaml.safe_load(CONFIG.read_text())
    campaign = [r for r in config["route"]["routes"] if 'campaign="spring-glow-drop"' in r["matchers"]]
    assert len(campaign) == 2
    assert all(r["active_time_intervals"] == ["campaign-spring-glow-drop"] for r in campaign)
    assert [i["name"] for i in config["time_intervals"]] == ["campaign-spring-glow-drop"]


def test_time_intervals_follow_the_plan_window_across_midnight() -> None:
    plan = load_plan(REPO_ROOT / "campaigns" / "demo.yaml")
    zone = plan.window.start.tzinfo
    overnight = plan.model_copy(
        update={
            "window": plan.window.model_copy(
                update={
                    "start": datetime(2026, 12, 31, 22, 0, tzinfo=zone),
                    "end": datetime(2027, 1, 1, 2, 0, tzinfo=zone),
                }
            )
        }
    )
    intervals = time_intervals(overnight)
    assert [i["times"] for i in intervals] == [
        [{"start_time": "22:00", "end_time": "24:00"}],
        [{"start_time": "00:00", "end_time": "02:00"}],
    ]
    assert [(i["days_of_month"], i["months"], i["years"]) for i in intervals] == [
        (["31"], ["12"], ["2026"]),
        (["1"], ["1"], ["2027"]),
    ]
    assert {i["location"] for i in intervals} == {"Europe/Berlin"}


def plan_live(name: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    plan = load_plan(REPO_ROOT / "campaigns" / "demo.yaml")
    window = plan.window.model_copy(update={"start": start, "end": end, "timezone": "UTC"})
    return plan.model_copy(update={"name": name, "window": window})


def post_alerts(url: str, *label_sets: dict[str, str]) -> None:
    now = datetime.now(UTC).isoformat()
    alerts = [
        {"labels": labels, "annotations": {"summary": labels["alertname"]}, "startsAt": now}
        for labels in label_sets
    ]
    assert httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).status_code == 200


def test_a_real_alertmanager_pages_campaign_tickets_only_inside_the_window(tmp_path: Path) -> None:
    """amtool ignores time; a running Alertmanager shows the window doing its job, and the inhibition."""
    now = datetime.now(UTC)
    live = plan_live("live-now", now - timedelta(hours=1), now + timedelta(hours=1))
    later = plan_live("next-week", now + timedelta(days=7), now + timedelta(days=7, hours=2))
    inbox_port, am_port = free_port(), free_port()
    receivers = Receivers(
        webhook_url=f"http://127.0.0.1:{inbox_port}/alerts",
        pagerduty_url=f"http://127.0.0.1:{inbox_port}/pagerduty",
        group_wait="1s",
        group_interval="1s",
    )
    config_dir = tmp_path / "alertmanager"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "secrets" / "slack_api_url").write_text(f"http://127.0.0.1:{inbox_port}/slack")
    (config_dir / "secrets" / "pagerduty_routing_key").write_text("test-routing-key")
    (config_dir / "alertmanager.yml").write_text(dump_yaml(alertmanager_config([live, later], receivers)))
    store = Store(tmp_path / "inbox.jsonl")
    url = f"http://127.0.0.1:{am_port}"
    command = [
        "prometheus-alertmanager",
        f"--config.file={config_dir / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    with (
        serving("127.0.0.1", inbox_port, store),
        run_service(command, tmp_path / "alertmanager.log", f"{url}/-/ready", cwd=config_dir),
    ):
        base = {"sloth_service": "shop", "sloth_severity": "ticket"}
        post_alerts(
            url,
            {**base, "alertname": "LiveTicket", "sloth_id": "shop-a", "campaign": "live-now"},
            {**base, "alertname": "LaterTicket", "sloth_id": "shop-b", "campaign": "next-week"},
            # A page and a ticket of the same SLO: the ticket is inhibited.
            {"alertname": "Burn", "sloth_service": "shop", "sloth_id": "shop-c", "sloth_severity": "page"},
            {"alertname": "Burn", "sloth_service": "shop", "sloth_id": "shop-c", "sloth_severity": "ticket"},
        )

        def delivered() -> dict[str, set[str]]:
            seen: dict[str, set[str]] = {}
            for record in store.read():
                summary = summarize(record)
                for name in summary.alerts.split(", "):
                    if name:
                        seen.setdefault(name.split(" ")[0], set()).add(record["path"])
            return seen

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(delivered()) < 3:
            time.sleep(0.2)
        time.sleep(2)  # room for anything that should not arrive
        seen = delivered()
        kinds = [summarize(record).kind for record in store.read()]
    assert seen["LiveTicket/ticket"] == {"/alerts/pager", "/alerts/chat"}
    assert seen["LaterTicket/ticket"] == {"/alerts/chat"}
    assert seen["Burn/page"] == {"/alerts/pager"}
    assert "Burn/ticket" not in seen
    # Slack and PagerDuty got the same: two pages (LiveTicket, Burn), two chat tickets (Live, Later).
    assert kinds.count("pagerduty") == 2
    assert kinds.count("slack") == 2
