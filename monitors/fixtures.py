"""`promtool test rules` fixtures for each SLO, with expectations from the burn-rate arithmetic itself.

Each scenario is a cumulative count of good and bad events, sampled every 15 s. A small model computes,
for every check time, what each alert must be doing: the error ratio over a window is the change of the
bad count over the change of all valid events in that window (the counters start at 0, so Prometheus'
rate() needs no extrapolation and the ratio is exact). The fixture asserts those states, with the exact
annotations, and promtool checks the generated rules agree. The scenarios:

- outage: healthy history, then 100% errors. The page fires within the theoretical detection time
  (14.4 x budget x 1 h: 52 s for 99.9%) plus one evaluation interval, and not one interval before it.
- burn-10x: healthy history, then 10x the budget in errors (1% for 99.9%) for an hour: it tickets and
  does not page. (With more history the 6x/6h page would follow after 3.6 h; this is the early phase.)
- spike: the base rate, then 10x the traffic at half the budget in errors: nothing fires.
- low-volume: 100% errors below the SLO's minimum volume: no burn alert; the model shows it would page
  without the guard.
- no-data: no series at all: SLIMissing fires after its `for:`.

Cost: promtool evaluates every rule of the files a test loads at every 15 s step, and a rule over a
long window reads every sample so far, so a test costs about its length squared times its rules. Each
fixture loads only its own SLO's rules (one file per SLO), and each history is as short as its proof
needs: what holds the slow 6x/6h page back in the outage is the 6 h window's volume of good events (2.4
hours of the base rate), which a shorter, denser history gives as well; the hour before the outage,
which the 14.4x/1h page reads, stays at the base rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from monitors import watch
from monitors.rules import (
    ABSENT_FOR,
    WATCHDOG,
    SLOContext,
    alert_rules,
    campaign_rules,
    service_file,
    slo_file,
)
from monitors.sli import promql_string
from peakops import metrics
from peakops.slo import parse_duration

STEP = 15  # seconds between samples, and the evaluation interval
BASE_RATE = 10.0  # valid events per second in the scenarios
RULES_DIR = "../rules"
RuleFiles = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    good_per_step: list[float]  # events in each 15 s step
    bad_per_step: list[float]
    checks: list[int]  # seconds from the start at which alert states are asserted
    note: str

    def cumulative(self) -> tuple[list[float], list[float]]:
        good, bad = [0.0], [0.0]
        for g, b in zip(self.good_per_step, self.bad_per_step, strict=True):
            good.append(good[-1] + g)
            bad.append(bad[-1] + b)
        return good, bad


def _steps(seconds: float) -> int:
    return int(seconds // STEP)


class Model:
    """What the generated rules must say about a scenario, computed independently of Prometheus."""

    def __init__(self, ctx: SLOContext, scenario: Scenario) -> None:
        self.ctx = ctx
        self.good, self.bad = scenario.cumulative()

    def _delta(self, series: list[float], t: int, window: str) -> float:
        end = _steps(t)
        start = max(0, end - _steps(parse_duration(window).total_seconds()))
        return series[end] - series[start]

    def ratio(self, t: int, window: str) -> float | None:
        total = self._delta(self.good, t, window) + self._delta(self.bad, t, window)
        return self._delta(self.bad, t, window) / total if total > 0 else None

    def rate5m(self, series: list[float], t: int) -> float:
        return self._delta(series, t, "5m") / 300

    def burn_value(self, t: int, severity: str, guarded: bool = True) -> float | None:
        """The alert's value (Sloth's expression: the short window's ratio of the first tier that holds),
        or None when it does not fire."""
        budget = float(self.ctx.budget)
        total_rate = self.rate5m(self.good, t) + self.rate5m(self.bad, t)
        if guarded and total_rate < self.ctx.slo.peakops.min_events_per_second:
            return None
        for tier, factor in self.ctx.tiers(severity):
            long, short = self.ratio(t, tier.long), self.ratio(t, tier.short)
            threshold = factor * budget
            if long is not None and short is not None and long > threshold and short > threshold:
                return short
        return None


def _humanize_percentage(value: float) -> str:
    return f"{value * 100:.4g}%"


def _go_printf(fmt: str, value: float) -> str:
    return fmt % value


def _go_value(value: float) -> str:
    """A float64 as Go's %v prints it: 20, 0.5, 1e+21."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def expand(template: str, labels: dict[str, str], value: float | None = None) -> str:
    """An annotation as Prometheus renders it, for the constructs the generators write: $labels.x,
    $value (plain, | humanizePercentage, printf "%.2f"), and printed braces ({{ "{{" }})."""
    text = re.sub(r"{{ ?\$labels\.(\w+) ?}}", lambda m: labels.get(m.group(1), ""), template)
    if value is not None:
        text = text.replace("{{ $value | humanizePercentage }}", _humanize_percentage(value))
        text = text.replace('{{ printf "%.2f" $value }}', f"{value:.2f}")
        text = text.replace("{{ $value }}", _go_value(value))
    return re.sub(r'{{ "({{|}})" }}', lambda m: m.group(1), text)


def expected_alert(ctx: SLOContext, model: Model, t: int, severity: str, value: float) -> dict[str, Any]:
    rule = next(
        r
        for r in alert_rules(ctx)
        if r["alert"] == ctx.slo.alerting.name and r["labels"]["sloth_severity"] == severity
    )
    labels = {**ctx.series_labels, **rule["labels"]}
    annotations = {name: expand(text, labels, value) for name, text in rule["annotations"].items()}
    if "impact" in rule["annotations"] and ctx.has_impact:
        failed_per_minute = model.rate5m(model.bad, t) * 60 * ctx.orders_per_failed_event()
        aov = _plan_average_order_value(ctx)
        revenue = _go_printf("%.0f", failed_per_minute * aov) if aov is not None else "unknown"
        currency = ctx.plan.products[0].currency + " " if ctx.plan else ""
        annotations["impact"] = (
            f"~{_go_printf('%.1f', failed_per_minute)} failed orders/min, ~{currency}{revenue} revenue/min "
            "at the current error rate"
        )
    return {"exp_labels": labels, "exp_annotations": annotations}


def _plan_average_order_value(ctx: SLOContext) -> float | None:
    if ctx.plan is None:
        return None
    prices = [p.price for p in ctx.plan.products if not p.synthetic]
    return float(f"{sum(prices) / len(prices):.6g}")


def scenarios(ctx: SLOContext) -> list[Scenario]:
    budget = float(ctx.budget)
    per_step = BASE_RATE * STEP
    hour = _steps(3600)
    page_factor = ctx.tiers("page")[0][1] if ctx.tiers("page") else None
    found: list[Scenario] = []
    if page_factor is not None:
        # With good events of volume V before the outage, the 6x/6h page fires once t/(V/r + t) > 6x
        # budget; the 14.4x/1h one fires at t* = 14.4 x budget x 1 h, so V must exceed 2.4 h of the base
        # rate r for any budget. Half an hour at 4x then an hour at 1x gives 3 h of it; the hour the
        # 14.4x/1h page reads is all at the base rate.
        dense, base = _steps(1800), hour
        history = dense + base
        detection = page_factor * budget * 3600  # seconds of full outage to spend the tier's budget share
        deadline = history * STEP + math.floor((detection + STEP) / STEP) * STEP
        outage_steps = _steps(detection) + 8
        found.append(
            Scenario(
                "outage",
                [4 * per_step] * dense + [per_step] * base + [0.0] * outage_steps,
                [0.0] * history + [per_step] * outage_steps,
                [history * STEP, deadline - STEP, deadline],
                f"100% errors after 3 h of good events: pages by {detection:.0f} s (theory) + {STEP} s "
                "evaluation",
            )
        )
    half = _steps(1800)
    found.append(
        Scenario(
            "burn-10x",
            [2 * per_step] * half + [per_step * (1 - 10 * budget)] * hour,
            [0.0] * half + [per_step * 10 * budget] * hour,
            [half * STEP, (half + hour) * STEP],
            "an hour of good events, then errors at 10x the budget for 1 h: a ticket, no page",
        )
    )
    ten = _steps(600)
    found.append(
        Scenario(
            "spike",
            [per_step * (1 - budget / 2)] * ten + [10 * per_step * (1 - budget / 2)] * (2 * ten),
            [per_step * budget / 2] * ten + [10 * per_step * budget / 2] * (2 * ten),
            [ten * STEP, ten * STEP + 300, 3 * ten * STEP],
            "the base rate, then 10x the traffic at half the budget in errors: nothing fires",
        )
    )
    minimum = ctx.slo.peakops.min_events_per_second
    if minimum > 0:
        trickle = minimum / 2 * STEP
        found.append(
            Scenario(
                "low-volume",
                [trickle] * ten + [0.0] * _steps(1800),
                [0.0] * ten + [trickle] * _steps(1800),
                [ten * STEP + 300, ten * STEP + 1800],
                f"100% errors at half the minimum volume ({minimum / 2:g}/s): the guard holds",
            )
        )
    return found


def _compress(values: list[float]) -> str:
    """[0, 150, 300, 450, 450] -> "0+150x3 450": promtool's expanding notation, run by run.

    promtool expands ``a+bxn`` by repeated float addition, so a run can end a hair above where the
    next run starts (0.075 added 40 times is 3.0000000000000018, not 3). A counter that then restarts
    at 3 would read as a reset; each run therefore starts where promtool's previous run ended when
    the two differ only by that rounding.
    """
    out: list[str] = []
    last: float | None = None  # the value promtool produced last
    i = 0
    while i < len(values):
        text = _num(values[i])
        start = float(text)
        if last is not None:
            carried = last + (values[i] - values[i - 1])
            if start != carried and math.isclose(start, carried, rel_tol=1e-9, abs_tol=1e-9):
                start, text = carried, repr(carried)
        j = i + 1
        if j < len(values):
            step = values[j] - values[i]
            while j + 1 < len(values) and math.isclose(values[j + 1] - values[j], step, abs_tol=1e-9):
                j += 1
            count = j - i
            sign = "+" if step >= 0 else "-"
            step_text = _num(abs(step))
            out.append(f"{text}{sign}{step_text}x{count}")
            last = start
            signed = float(step_text) if step >= 0 else -float(step_text)
            for _ in range(count):
                last += signed
            i = j + 1
        else:
            out.append(text)
            last = start
            i = j
    return " ".join(out)


def _num(value: float) -> str:
    return f"{round(value, 9):g}" if abs(value) < 1e15 else repr(value)


def _alert_tests(ctx: SLOContext, model: Model, checks: list[int]) -> list[dict[str, Any]]:
    tests = []
    for t in checks:
        expected = []
        for severity in ("page", "ticket"):
            value = model.burn_value(t, severity)
            if value is not None:
                expected.append(expected_alert(ctx, model, t, severity, value))
        tests.append({"eval_time": f"{t}s", "alertname": ctx.slo.alerting.name, "exp_alerts": expected})
    return tests


def slo_rule_files(ctx: SLOContext, files: RuleFiles) -> list[str]:
    """What a fixture of this SLO loads: its service's file (business, campaign) and its own."""
    return [name for name in (service_file(ctx.spec.service), slo_file(ctx)) if name in files]


def fixture(ctx: SLOContext, files: RuleFiles) -> dict[str, Any] | None:
    """The promtool test file for one SLO, or None when its SLI is free-form PromQL (write one by hand)
    or it has no burn alert to test."""
    if ctx.sli.fixture is None or ctx.slo.alerting.name is None:
        return None
    tests: list[dict[str, Any]] = []
    for scenario in scenarios(ctx):
        model = Model(ctx, scenario)
        good, bad = scenario.cumulative()
        series = ctx.sli.fixture(good, bad)
        tests.append(
            {
                "name": f"{ctx.slo.name}: {scenario.name}: {scenario.note}",
                "interval": f"{STEP}s",
                "input_series": [
                    {"series": name, "values": _compress(values)} for name, values in series.items()
                ],
                "alert_rule_test": _alert_tests(ctx, model, scenario.checks),
            }
        )
    return _test_file(slo_rule_files(ctx, files), files, tests)


def _test_file(
    names: list[str], files: dict[str, list[dict[str, Any]]], tests: list[dict[str, Any]]
) -> dict[str, Any]:
    # Without an explicit order promtool evaluates groups in an arbitrary one, and an alert could read
    # the recordings of the previous step.
    return {
        "rule_files": [f"{RULES_DIR}/{name}" for name in names],
        "evaluation_interval": f"{STEP}s",
        "group_eval_order": [group["name"] for name in names for group in files[name]],
        "tests": tests,
    }


def _rule(ctx: SLOContext, alertname: str) -> dict[str, Any]:
    return next(r for r in alert_rules(ctx) if r["alert"] == alertname)


def common_fixtures(
    contexts: list[SLOContext], files: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Alerts across SLOs, one test file each: SLIMissing with no data at all and the Watchdog (every
    file, but a 10-minute test), and, per service with a campaign, its traffic alert (its own files)."""
    absent = int(parse_duration(ABSENT_FOR).total_seconds())
    missing = [
        {
            "exp_labels": {**ctx.series_labels, "severity": "ticket"},
            "exp_annotations": {
                k: expand(v, ctx.series_labels) for k, v in _rule(ctx, "SLIMissing")["annotations"].items()
            },
        }
        for ctx in contexts
    ]
    no_data = {
        "name": f"no data: every SLO's SLIMissing fires after {ABSENT_FOR}; the Watchdog always fires",
        "interval": f"{STEP}s",
        "input_series": [],
        "alert_rule_test": [
            {"eval_time": f"{absent - STEP}s", "alertname": "SLIMissing", "exp_alerts": []},
            {"eval_time": f"{absent + STEP}s", "alertname": "SLIMissing", "exp_alerts": missing},
            {
                "eval_time": "0s",
                "alertname": "Watchdog",
                "exp_alerts": [
                    {"exp_labels": WATCHDOG["labels"], "exp_annotations": WATCHDOG["annotations"]}
                ],
            },
        ],
    }
    found = {"common": _test_file(list(files), files, [no_data])}
    by_service: dict[str, list[SLOContext]] = {}
    for ctx in contexts:
        by_service.setdefault(ctx.spec.service, []).append(ctx)
    for service, ctxs in by_service.items():
        spec, plan = ctxs[0].spec, ctxs[0].plan
        if spec.peakops.campaign is None or plan is None:
            continue
        traffic = next(c for c in ctxs if c.slo.name == spec.peakops.campaign.traffic_slo)
        if traffic.sli.fixture is None:
            continue
        found[f"{service}-campaign"] = _test_file(
            slo_rule_files(traffic, files), files, [campaign_test(traffic, plan.name)]
        )
    return found


def campaign_test(traffic: SLOContext, campaign: str) -> dict[str, Any]:
    """The window opens at 600 s and closes at 4200 s; traffic stops at 1800 s.

    The 5 m rate reaches 0 at 2100 s, and after the alert's 5 m `for:` it fires at 2400 s; it ends with
    the window.
    """
    per_step = BASE_RATE * STEP
    flowing, total = _steps(1800), _steps(4800)
    good = [0.0]
    for step in range(total):
        good.append(good[-1] + (per_step if step < flowing else 0.0))
    series = traffic.sli.fixture(good, [0.0] * (total + 1)) if traffic.sli.fixture else {}
    window = f"{{campaign={promql_string(campaign)}}}"
    rule = next(r for r in campaign_rules_for(traffic) if r.get("alert") == "CampaignTrafficMissing")
    firing = [
        {
            "exp_labels": {"sloth_service": traffic.spec.service, "campaign": campaign, **rule["labels"]},
            "exp_annotations": rule["annotations"],
        }
    ]
    return {
        "name": "campaign live, traffic missing: fires 5 m after the traffic stops, ends with the window",
        "interval": f"{STEP}s",
        "input_series": [
            *({"series": n, "values": _compress(v)} for n, v in series.items()),
            {"series": f"{metrics.CAMPAIGN_START}{window}", "values": f"600x{total}"},
            {"series": f"{metrics.CAMPAIGN_END}{window}", "values": f"4200x{total}"},
        ],
        "alert_rule_test": [
            {"eval_time": "300s", "alertname": "CampaignTrafficMissing", "exp_alerts": []},
            {"eval_time": "1800s", "alertname": "CampaignTrafficMissing", "exp_alerts": []},
            {"eval_time": "2385s", "alertname": "CampaignTrafficMissing", "exp_alerts": []},
            {"eval_time": "2415s", "alertname": "CampaignTrafficMissing", "exp_alerts": firing},
            {"eval_time": "4215s", "alertname": "CampaignTrafficMissing", "exp_alerts": []},
        ],
    }


def campaign_rules_for(traffic: SLOContext) -> list[dict[str, Any]]:
    assert traffic.plan is not None
    return campaign_rules(traffic.spec, traffic.plan, traffic.slo.name, traffic.slo.alerting.runbook_url)


# --- the watcher and saturation rules (monitors/watch.py): one scenario per alert, firing and not ---

WatchCase = tuple[str, str, list[tuple[str, str]], str, list[tuple[dict[str, str], float]]]


def _watch_cases() -> list[WatchCase]:
    """(name, alert, [(series, values)], eval time, [(labels of a firing alert, its value)]); an empty
    list says nothing fires. Series step 1m. Values are those the rules must compute (hand-computed)."""
    node = 'instance="host-1", job="node"'
    fs = f'{node}, device="/dev/sda1", fstype="ext4", mountpoint="/"'
    cpu = [
        (f'node_cpu_seconds_total{{{node}, cpu="{c}", mode="{m}"}}', v)
        for c in ("0", "1")
        for m, v in (("idle", "0+3x40"), ("user", "0+57x40"))  # 57 s of 60 busy: 95%
    ]
    quiet_cpu = [(name, "0+30x40") for name, _ in cpu]  # 50%
    host = {"instance": "host-1", "job": "node"}
    disk = {**host, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    lb = 'instance="lb-1", job="haproxy"'
    lb_labels = {"instance": "lb-1", "job": "haproxy"}
    exporter = 'instance="edge-1", job="exporter"'
    edge = {"instance": "edge-1"}
    journeys = f'peakops_synthetic_journeys_total{{{exporter}, result="success", failed_step=""}}'
    lines = f'peakops_edge_log_lines_total{{{exporter}, result="parsed"}}'
    log_errors = f'peakops_exporter_errors_total{{{exporter}, component="log"}}'
    failing = f'peakops_synthetic_journeys_total{{{exporter}, result="failure", failed_step="cart"}}'
    return [
        ("95% CPU for 20m", "NodeCPUHighUsage", cpu, "20m", [(host, 95.0)]),
        ("95% CPU for 10m: not yet", "NodeCPUHighUsage", cpu, "10m", []),
        ("50% CPU", "NodeCPUHighUsage", quiet_cpu, "30m", []),
        (
            "load 5 on 2 cores",
            "NodeSystemSaturation",
            [*cpu, (f"node_load1{{{node}}}", "5x40")],
            "20m",
            [(host, 2.5)],
        ),
        ("load 3 on 2 cores", "NodeSystemSaturation", [*cpu, (f"node_load1{{{node}}}", "3x40")], "20m", []),
        (
            "95% memory",
            "NodeMemoryHighUtilization",
            [
                (f"node_memory_MemAvailable_bytes{{{node}}}", "5e8x40"),
                (f"node_memory_MemTotal_bytes{{{node}}}", "1e10x40"),
            ],
            "20m",
            [(host, 95.0)],
        ),
        (
            "80% memory",
            "NodeMemoryHighUtilization",
            [
                (f"node_memory_MemAvailable_bytes{{{node}}}", "2e9x40"),
                (f"node_memory_MemTotal_bytes{{{node}}}", "1e10x40"),
            ],
            "20m",
            [],
        ),
        (
            "14% free, full within the day",
            "NodeFilesystemSpaceFillingUp",
            [
                (f"node_filesystem_avail_bytes{{{fs}}}", "1.4e10-1e7x100"),
                (f"node_filesystem_size_bytes{{{fs}}}", "1e11x100"),
                (f"node_filesystem_readonly{{{fs}}}", "0x100"),
            ],
            "90m",
            [
                (
                    {
                        **host,
                        "device": "/dev/sda1",
                        "fstype": "ext4",
                        "mountpoint": "/",
                        "severity": "ticket",
                    },
                    13.1,
                )
            ],
        ),
        (
            "14% free and steady",
            "NodeFilesystemSpaceFillingUp",
            [
                (f"node_filesystem_avail_bytes{{{fs}}}", "1.4e10x100"),
                (f"node_filesystem_size_bytes{{{fs}}}", "1e11x100"),
                (f"node_filesystem_readonly{{{fs}}}", "0x100"),
            ],
            "90m",
            [],
        ),
        (
            "9% free, full within hours: ticket and page",
            "NodeFilesystemSpaceFillingUp",
            [
                (f"node_filesystem_avail_bytes{{{fs}}}", "9e9-5e7x100"),
                (f"node_filesystem_size_bytes{{{fs}}}", "1e11x100"),
                (f"node_filesystem_readonly{{{fs}}}", "0x100"),
            ],
            "90m",
            [({**disk, "severity": s}, 4.5) for s in ("ticket", "page")],
        ),
        (
            "80% of file descriptors",
            "NodeFileDescriptorLimit",
            [(f"node_filefd_allocated{{{node}}}", "800x40"), (f"node_filefd_maximum{{{node}}}", "1000x40")],
            "20m",
            [({**host, "severity": "ticket"}, 80.0)],
        ),
        (
            "50% of file descriptors",
            "NodeFileDescriptorLimit",
            [(f"node_filefd_allocated{{{node}}}", "500x40"), (f"node_filefd_maximum{{{node}}}", "1000x40")],
            "20m",
            [],
        ),
        (
            "a server fails its checks",
            "HAProxyServerDown",
            [
                (f'haproxy_server_status{{{lb}, proxy="app", server="a", state="DOWN"}}', "0 0 1x10"),
                (f'haproxy_server_status{{{lb}, proxy="app", server="b", state="DOWN"}}', "0x12"),
            ],
            "5m",
            [({**lb_labels, "proxy": "app", "server": "a", "state": "DOWN"}, 1.0)],
        ),
        (
            "no server left",
            "HAProxyBackendDown",
            [(f'haproxy_backend_status{{{lb}, proxy="app", state="UP"}}', "1 1 0x10")],
            "5m",
            [({**lb_labels, "proxy": "app", "state": "UP"}, 0.0)],
        ),
        (
            "backups serve",
            "HAProxyBackendDown",
            [(f'haproxy_backend_status{{{lb}, proxy="app", state="UP"}}', "1x12")],
            "5m",
            [],
        ),
        (
            "a queue that grows",
            "HAProxyBackendQueueGrowing",
            [(f'haproxy_backend_current_queue{{{lb}, proxy="app"}}', "0+2x40")],
            "10m",
            [({**lb_labels, "proxy": "app"}, 20.0)],
        ),
        (
            "a steady short queue",
            "HAProxyBackendQueueGrowing",
            [(f'haproxy_backend_current_queue{{{lb}, proxy="app"}}', "3x40")],
            "10m",
            [],
        ),
        (
            "90% of a frontend's maxconn",
            "HAProxySessionLimitNear",
            [
                (f'haproxy_frontend_current_sessions{{{lb}, proxy="edge"}}', "90x10"),
                (f'haproxy_frontend_limit_sessions{{{lb}, proxy="edge"}}', "100x10"),
                (f"haproxy_process_current_connections{{{lb}}}", "100x10"),
                (f"haproxy_process_max_connections{{{lb}}}", "4000x10"),
            ],
            "5m",
            [({**lb_labels, "proxy": "edge"}, 0.9)],
        ),
        (
            "a frontend without a limit",
            "HAProxySessionLimitNear",
            [
                (f'haproxy_frontend_current_sessions{{{lb}, proxy="edge"}}', "90x10"),
                (f'haproxy_frontend_limit_sessions{{{lb}, proxy="edge"}}', "0x10"),
            ],
            "5m",
            [],
        ),
        (
            "journeys cross the edge, the log does not grow",
            "ExporterLogTailStalled",
            [(journeys, "0+2x40"), (lines, "100x40")],
            "20m",
            [(edge, 20.0)],
        ),
        (
            "journeys and log lines",
            "ExporterLogTailStalled",
            [(journeys, "0+2x40"), (lines, "100+2x40")],
            "20m",
            [],
        ),
        (
            "reading the log fails",
            "ExporterLogTailStalled",
            [(journeys, "0+2x40"), (lines, "100+2x40"), (log_errors, "0+1x40")],
            "20m",
            [(edge, 10.0)],
        ),
        ("no journey at all", "SyntheticJourneysStalled", [(journeys, "50x40")], "20m", [(edge, 0.0)]),
        (
            "journeys that fail still run",
            "SyntheticJourneysStalled",
            [
                (journeys, "50x40"),
                (
                    failing,
                    "0+1x40",
                ),
            ],
            "20m",
            [],
        ),
        (
            "a target does not answer",
            "ScrapeTargetDown",
            [('up{instance="app-1:8000", job="app"}', "1 0x10")],
            "5m",
            [({"instance": "app-1:8000", "job": "app"}, 0.0)],
        ),
        (
            "every target answers",
            "ScrapeTargetDown",
            [('up{instance="app-1:8000", job="app"}', "1x10")],
            "5m",
            [],
        ),
    ]


def watch_fixtures(files: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """promtool fixtures for monitors/watch.py: each alert fires on its scenario, with its labels and its
    expanded annotations, and stays quiet on its control."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for name, alertname, series, at, firing in _watch_cases():
        file = next(
            f
            for f in (watch.WATCHER_FILE, watch.SATURATION_FILE)
            if any(r["alert"] == alertname for g in files[f] for r in g["rules"])
        )
        rules = [r for g in files[file] for r in g["rules"] if r["alert"] == alertname]
        expected = []
        for labels, value in firing:
            # Several rules share a name (ticket and page tiers): the labels name the severity.
            rule = next(
                r for r in rules if r["labels"]["severity"] == labels.get("severity", r["labels"]["severity"])
            )
            alert_labels = {**labels, **rule["labels"]}
            annotations = {k: expand(v, alert_labels, value) for k, v in rule["annotations"].items()}
            expected.append({"exp_labels": alert_labels, "exp_annotations": annotations})
        by_file.setdefault(file, []).append(
            {
                "name": name,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [{"eval_time": at, "alertname": alertname, "exp_alerts": expected}],
            }
        )
    return {
        file.removesuffix(".yml"): {
            "rule_files": [f"{RULES_DIR}/{file}"],
            "evaluation_interval": "1m",
            "tests": tests,
        }
        for file, tests in by_file.items()
    }
