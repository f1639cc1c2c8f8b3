"""The generated Alertmanager config: amtool checks it and tests its routes."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pytest

from monitors.alertmanager import time_intervals
from monitors.generate import GENERATED_DIR
from peakops.plan import load_plan
from peakops.procs import REPO_ROOT

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
        (["severity=page", "service=shop", "slo=checkout-success"], "pager"),
        (["severity=ticket", "service=shop", "slo=landing-latency"], "chat"),
        # Inside the campaign window this ticket pages; outside it the pager route is muted, and it
        # continues to chat either way. amtool ignores time, so it shows both.
        (
            ["severity=ticket", "service=shop", "slo=checkout-success", "campaign=spring-glow-drop"],
            "pager,chat",
        ),
        (["severity=ticket", "campaign=another-campaign"], "chat"),
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
    assert '{campaign="spring-glow-drop",severity="ticket"}  continue: true  receiver: pager' in result.stdout
    text = CONFIG.read_text()
    assert "active_time_intervals:\n    - campaign-spring-glow-drop" in text


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
