"""The Alertmanager config that goes with the generated rules.

    Watchdog                                -> watchdog (a dead man's switch; repeats every minute)
    sloth_severity=page                     -> pager  (PagerDuty + webhook)
    sloth_severity=ticket, campaign=<name>  -> pager, only inside the campaign window, and continues to ...
    sloth_severity=ticket                   -> chat   (Slack + webhook)
    a page inhibits the ticket of the same SLO (sloth_id)

SLO burn alerts carry Sloth's sloth_severity; their severity label is the spec's own (any value, e.g.
"critical"), so it does not route. peakops' other alerts (SLIMissing, campaign, saturation) have no
sloth_severity and route by severity=page|ticket the same way.

Secrets are files next to the config (``secrets/slack_api_url``, ``secrets/pagerduty_routing_key``),
written by the monitoring role from environment variables or vaulted vars; nothing secret is ever in
this file. Alertmanager 0.25 opens these relative paths from its working directory, so the role runs it
in the config's directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peakops.plan import CampaignPlan

SLACK_API_URL_FILE = "secrets/slack_api_url"
TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.slo }}"
PAGERDUTY_KEY_FILE = "secrets/pagerduty_routing_key"


@dataclass(frozen=True)
class Receivers:
    webhook_url: str = "http://127.0.0.1:9095/alerts"  # the local inbox; an incident tool on a fleet
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    slack_channel: str = "#campaign-alerts"
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"


def campaign_interval_name(plan: CampaignPlan) -> str:
    return f"campaign-{plan.name}"


def time_intervals(plan: CampaignPlan) -> list[dict[str, Any]]:
    """The campaign window as Alertmanager time intervals: one per local calendar day it touches."""
    zone = plan.window.start.tzinfo
    start = plan.window.start.astimezone(zone)
    end = plan.window.end.astimezone(zone)
    intervals = []
    day = start.date()
    while day <= end.date():
        day_start = start if day == start.date() else datetime.combine(day, datetime.min.time(), zone)
        begin = day_start.strftime("%H:%M")
        finish = end.strftime("%H:%M") if day == end.date() else "24:00"
        if begin != finish:
            intervals.append(
                {
                    "times": [{"start_time": begin, "end_time": finish}],
                    "days_of_month": [str(day.day)],
                    "months": [str(day.month)],
                    "years": [str(day.year)],
                    "location": plan.window.timezone,
                }
            )
        day += timedelta(days=1)
    return intervals


def alertmanager_config(campaigns: list[CampaignPlan], receivers: Receivers) -> dict[str, Any]:
    base = receivers.webhook_url.rstrip("/")
    routes: list[dict[str, Any]] = [
        {
            "receiver": "watchdog",
            "matchers": ['alertname="Watchdog"'],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "1m",
        },
        # SLO burn alerts route by sloth_severity, as Sloth sets it (their severity is the spec's own);
        # peakops' other alerts (SLIMissing, CampaignTrafficMissing, saturation) by severity.
        {"receiver": "pager", "matchers": ['sloth_severity="page"'], "repeat_interval": "1h"},
        {"receiver": "pager", "matchers": ['severity="page"', 'sloth_severity=""'], "repeat_interval": "1h"},
    ]
    for plan in campaigns:
        # A campaign SLO's burn ticket, and the campaign's own tickets (its budget spent), page while
        # the campaign is live. Outside the window the route is muted; continuing keeps them in chat.
        for ticket in (['sloth_severity="ticket"'], ['severity="ticket"', 'sloth_severity=""']):
            routes.append(
                {
                    "receiver": "pager",
                    "matchers": [*ticket, f'campaign="{plan.name}"'],
                    "active_time_intervals": [campaign_interval_name(plan)],
                    "continue": True,
                }
            )
    routes.append({"receiver": "chat", "matchers": ['sloth_severity="ticket"']})
    routes.append({"receiver": "chat", "matchers": ['severity="ticket"']})

    annotations = (
        "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
        "Impact: {{ .Annotations.impact }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}"
    )
    config: dict[str, Any] = {
        "route": {
            "receiver": "chat",
            "group_by": ["alertname", "sloth_id", "sloth_severity", "severity"],
            "group_wait": receivers.group_wait,
            "group_interval": receivers.group_interval,
            "repeat_interval": receivers.repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": ['sloth_severity="page"'],
                "target_matchers": ['sloth_severity="ticket"'],
                "equal": ["sloth_id"],
            }
        ],
        "receivers": [
            {
                "name": "pager",
                "pagerduty_configs": [
                    {
                        "routing_key_file": PAGERDUTY_KEY_FILE,
                        "url": receivers.pagerduty_url,
                        "description": "{{ .CommonAnnotations.summary }}",
                        "details": {
                            "impact": "{{ .CommonAnnotations.impact }}",
                            "runbook": "{{ .CommonAnnotations.runbook_url }}",
                            "firing": "{{ .Alerts.Firing | len }}",
                        },
                    }
                ],
                "webhook_configs": [{"url": f"{base}/pager", "send_resolved": True}],
            },
            {
                "name": "chat",
                "slack_configs": [
                    {
                        "api_url_file": SLACK_API_URL_FILE,
                        "channel": receivers.slack_channel,
                        "send_resolved": True,
                        "title": TITLE,
                        "text": annotations,
                    }
                ],
                "webhook_configs": [{"url": f"{base}/chat", "send_resolved": True}],
            },
            {
                "name": "watchdog",
                "webhook_configs": [{"url": f"{base}/watchdog", "send_resolved": False}],
            },
        ],
    }
    if campaigns:
        config["time_intervals"] = [
            {"name": campaign_interval_name(plan), "time_intervals": time_intervals(plan)}
            for plan in campaigns
        ]
    return config
