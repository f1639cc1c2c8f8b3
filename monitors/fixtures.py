"""`promtool test rules` fixtures for each SLO, with expectations from the burn-rate arithmetic itself.

Each scenario is a cumulative count of good and bad events, sampled every 15 s. A small model computes,
for every check time, what each alert must be doing: the error ratio over a window is the change of the
bad count over the change of all valid events in that window (the counters start at 0, so Prometheus'
rate() needs no extrapolation and the ratio is exact). The fixture asserts those states, with the exact
annotations, and promtool checks the generated rules agree. The scenarios:

- outage: 3 h healthy, then 100% errors. The page fires within the theoretical detection time
  (14.4 x budget x 1 h: 52 s for 99.9%) plus one evaluation interval, and not one interval before it.
- burn-10x: 1 h healthy, then 10x the budget in errors (1% for 99.9%) for an hour: it tickets and does
  not page. (With six hours of history the 6x/6h page would follow after 3.6 h; this is the early phase.)
- spike: 1 h at the base rate, then 10x the traffic at half the budget in errors: nothing fires.
- low-volume: 100% errors below the SLO's minimum volume: no burn alert; the model shows it would page
  without the guard.
- no-data: no series at all: SLIMissing fires after its `for:`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from monitors.rules import (
    ABSENT_FOR,
    WATCHDOG,
    SLOContext,
    alert_rules,
    campaign_rules,
    impact_annotation,
)
from peakops import metrics
from peakops.slo import parse_duration

STEP = 15  # seconds between samples, and the evaluation interval
BASE_RATE = 10.0  # valid events per second in the scenarios


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
        """The alert's value (the long window's ratio of the first tier that holds), or None."""
        budget = self.ctx.slo.error_budget
        total_rate = self.rate5m(self.good, t) + self.rate5m(self.bad, t)
        if guarded and total_rate < self.ctx.slo.peakops.min_events_per_second:
            return None
        for tier, factor in self.ctx.tiers(severity):
            long, short = self.ratio(t, tier.long), self.ratio(t, tier.short)
            threshold = factor * budget
            if long is not None and short is not None and long > threshold and short > threshold:
                return long
        return None


def _humanize_percentage(value: float) -> str:
    return f"{value * 100:.4g}%"


def _go_printf(fmt: str, value: float) -> str:
    return fmt % value


def expected_alert(ctx: SLOContext, model: Model, t: int, severity: str, value: float) -> dict[str, Any]:
    rule = next(
        r
        for r in alert_rules(ctx)
        if r["alert"] == ctx.slo.alerting.name and r["labels"]["severity"] == severity
    )
    labels = {**ctx.extra_labels, **ctx.labels, **rule["labels"]}
    failed_per_minute = model.rate5m(model.bad, t) * 60 * ctx.orders_per_failed_event()
    annotations = dict(rule["annotations"])
    annotations["description"] = annotations["description"].replace(
        "{{ $value | humanizePercentage }}", _humanize_percentage(value)
    )
    if annotations["impact"] == impact_annotation(ctx):
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
    budget = ctx.slo.error_budget
    per_step = BASE_RATE * STEP
    # Three hours of history keep the 6x/6h page from firing before the 14.4x/1h one: with H seconds of
    # history it fires after t/(H+t) > 6x budget, and t* = 14.4 x budget x 1 h, so H > 2.4 h for any budget.
    history, hour = _steps(3 * 3600), _steps(3600)
    page_factor = ctx.tiers("page")[0][1] if ctx.tiers("page") else None
    found: list[Scenario] = []
    if page_factor is not None:
        detection = page_factor * budget * 3600  # seconds of full outage to spend the tier's budget share
        deadline = history * STEP + math.floor((detection + STEP) / STEP) * STEP
        outage_steps = _steps(detection) + 8
        found.append(
            Scenario(
                "outage",
                [per_step] * history + [0.0] * outage_steps,
                [0.0] * history + [per_step] * outage_steps,
                [history * STEP, deadline - STEP, deadline],
                f"100% errors after 3 h healthy: pages by {detection:.0f} s (theory) + {STEP} s evaluation",
            )
        )
    found.append(
        Scenario(
            "burn-10x",
            [per_step] * hour + [per_step * (1 - 10 * budget)] * hour,
            [0.0] * hour + [per_step * 10 * budget] * hour,
            [hour * STEP, 2 * hour * STEP],
            "1 h healthy, then errors at 10x the budget for 1 h: a ticket, no page",
        )
    )
    found.append(
        Scenario(
            "spike",
            [per_step * (1 - budget / 2)] * hour + [10 * per_step * (1 - budget / 2)] * (hour // 2),
            [per_step * budget / 2] * hour + [10 * per_step * budget / 2] * (hour // 2),
            [hour * STEP, hour * STEP + 300, (hour + hour // 2) * STEP],
            "a healthy 10x spike (errors at half the budget): nothing fires",
        )
    )
    minimum = ctx.slo.peakops.min_events_per_second
    if minimum > 0:
        trickle = minimum / 2 * STEP
        found.append(
            Scenario(
                "low-volume",
                [trickle] * hour + [0.0] * _steps(1800),
                [0.0] * hour + [trickle] * _steps(1800),
                [hour * STEP + 300, hour * STEP + 1800],
                f"100% errors at half the minimum volume ({minimum / 2:g}/s): the guard holds",
            )
        )
    return found


def _compress(values: list[float]) -> str:
    """[0, 150, 300, 450, 450] -> "0+150x3 450": promtool's expanding notation, run by run."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i + 1
        if j < len(values):
            step = values[j] - values[i]
            while j + 1 < len(values) and math.isclose(values[j + 1] - values[j], step, abs_tol=1e-9):
                j += 1
            count = j - i
            sign = "+" if step >= 0 else "-"
            out.append(f"{_num(values[i])}{sign}{_num(abs(step))}x{count}")
            i = j + 1
        else:
            out.append(_num(values[i]))
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
            if value is not None and ctx.tiers(severity):
                spec = ctx.slo.alerting.page_alert if severity == "page" else ctx.slo.alerting.ticket_alert
                if not spec.disable:
                    expected.append(expected_alert(ctx, model, t, severity, value))
        tests.append({"eval_time": f"{t}s", "alertname": ctx.slo.alerting.name, "exp_alerts": expected})
    return tests


def fixture(ctx: SLOContext, rules_file: str, group_order: list[str]) -> dict[str, Any] | None:
    """The promtool test file for one SLO, or None when its SLI is free-form PromQL (write one by hand)."""
    if ctx.sli.fixture is None:
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
    return _test_file(rules_file, group_order, tests)


def _test_file(rules_file: str, group_order: list[str], tests: list[dict[str, Any]]) -> dict[str, Any]:
    # Without an explicit order promtool evaluates groups in an arbitrary one, and an alert could read
    # the recordings of the previous step.
    return {
        "rule_files": [rules_file],
        "evaluation_interval": f"{STEP}s",
        "group_eval_order": group_order,
        "tests": tests,
    }


def _rule(ctx: SLOContext, alertname: str) -> dict[str, Any]:
    return next(r for r in alert_rules(ctx) if r["alert"] == alertname)


def common_fixture(contexts: list[SLOContext], rules_file: str, group_order: list[str]) -> dict[str, Any]:
    """Alerts across SLOs: SLIMissing with no data at all, the Watchdog, and campaign traffic missing."""
    absent = int(parse_duration(ABSENT_FOR).total_seconds())
    missing = [
        {
            "exp_labels": {**ctx.extra_labels, **ctx.labels, "severity": "ticket"},
            "exp_annotations": _rule(ctx, "SLIMissing")["annotations"],
        }
        for ctx in contexts
    ]
    tests: list[dict[str, Any]] = [
        {
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
    ]
    by_service: dict[str, list[SLOContext]] = {}
    for ctx in contexts:
        by_service.setdefault(ctx.spec.service, []).append(ctx)
    for ctxs in by_service.values():
        spec, plan = ctxs[0].spec, ctxs[0].plan
        if spec.peakops.campaign is None or plan is None:
            continue
        traffic = next(c for c in ctxs if c.slo.name == spec.peakops.campaign.traffic_slo)
        if traffic.sli.fixture is None:
            continue
        tests.append(campaign_test(traffic, plan.name))
    return _test_file(rules_file, group_order, tests)


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
    window = f'{{campaign="{campaign}"}}'
    rule = next(r for r in campaign_rules_for(traffic) if r.get("alert") == "CampaignTrafficMissing")
    firing = [
        {
            "exp_labels": {"service": traffic.spec.service, "campaign": campaign, **rule["labels"]},
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
    runbook = traffic.slo.alerting.annotations["runbook_url"]
    return campaign_rules(traffic.spec, traffic.plan, traffic.slo.name, runbook)
