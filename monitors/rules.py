"""Prometheus rules from SLO specs: error ratios per window, multi-window multi-burn-rate alerts, impact.

For each SLO (labels ``service`` and ``slo`` on every series)::

    slo:sli_error:ratio_rate5m ... ratio_rate3d, ratio_rate<period>   errors / valid events, by counts
    slo:sli_total:rate5m, slo:sli_error:rate5m                         volume guard and impact
    slo:impact_failed_orders:per_minute, slo:impact_revenue:per_minute what the burn is costing
    ALERT <alerting.name> severity=page    14.4x over 1h and 5m, or 6x over 6h and 30m (for 30d)
    ALERT <alerting.name> severity=ticket  3x over 1d and 2h, or 1x over 3d and 6h
    ALERT SLIMissing                        the SLI has no data: the SLO is blind

The burn factors are written for a 30-day period as the share of budget each tier spends in its long
window (2%, 5%, 10%, 10%); other periods rescale them (factor = share x period / long window, never
below 1x) and drop tiers whose long window is longer than the period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from monitors.sli import ResolvedSLI
from peakops import metrics
from peakops.plan import CampaignPlan
from peakops.slo import SLO, SLOSpec, SpecError, parse_duration

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
ABSENT_FOR = "10m"
TRAFFIC_MISSING_FOR = "5m"


@dataclass(frozen=True)
class BurnTier:
    severity: Literal["page", "ticket"]
    long: str
    short: str
    budget_share: float  # of the period's error budget, spent in the long window at this burn

    def factor(self, period: timedelta) -> float | None:
        long = parse_duration(self.long)
        if long > period:
            return None
        return max(1.0, round(self.budget_share * (period / long), 4))


TIERS = (
    BurnTier("page", "1h", "5m", 0.02),
    BurnTier("page", "6h", "30m", 0.05),
    BurnTier("ticket", "1d", "2h", 0.10),
    BurnTier("ticket", "3d", "6h", 0.10),
)


@dataclass(frozen=True)
class Options:
    """`time_scale` divides every window and `for:` (a rehearsal compresses 1h into 1m); 1 in production."""

    time_scale: float = 1.0


def format_duration(seconds: float) -> str:
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def scaled(window: str, options: Options) -> str:
    if options.time_scale == 1:
        return window
    return format_duration(parse_duration(window).total_seconds() / options.time_scale)


def humanize_factor(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class SLOContext:
    spec: SLOSpec
    slo: SLO
    sli: ResolvedSLI
    where: str  # for errors: "file: slos[i] (name 'x')"
    plan: CampaignPlan | None

    @property
    def labels(self) -> dict[str, str]:
        return {"service": self.spec.service, "slo": self.slo.name}

    @property
    def selector(self) -> str:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in self.labels.items()) + "}"

    @property
    def extra_labels(self) -> dict[str, str]:
        return {**self.spec.labels, **self.slo.labels}

    def windows(self) -> list[str]:
        windows = list(WINDOWS)
        if self.slo.peakops.period not in windows:
            windows.append(self.slo.peakops.period)
        return windows

    def tiers(self, severity: str) -> list[tuple[BurnTier, float]]:
        found = []
        for tier in TIERS:
            factor = tier.factor(self.slo.peakops.period_delta)
            if tier.severity == severity and factor is not None:
                found.append((tier, factor))
        return found

    def orders_per_failed_event(self) -> float:
        value = self.slo.peakops.impact.orders_per_failed_event
        if value == "funnel":
            assert self.plan is not None  # the spec model requires the plan for "funnel"
            funnel = self.plan.funnel
            return round(funnel.browse * funnel.cart * funnel.checkout, 6)
        return float(value)


def check_reachable(ctx: SLOContext) -> None:
    """A burn threshold at or above 100% errors could never fire: say so instead of generating it."""
    for tier in TIERS:
        factor = tier.factor(ctx.slo.peakops.period_delta)
        if factor is not None and factor * ctx.slo.error_budget >= 1:
            raise SpecError(
                f"{ctx.where}: objective: {ctx.slo.objective}% leaves a budget of "
                f"{ctx.slo.error_budget:.4g}; "
                f"the {tier.severity} burn of {humanize_factor(factor)}x over {tier.long} would need more "
                "than 100% errors and could never fire; raise the objective"
            )


def recording_rules(ctx: SLOContext, options: Options) -> list[dict[str, Any]]:
    labels = {**ctx.extra_labels, **ctx.labels}
    rules: list[dict[str, Any]] = []
    for window in ctx.windows():
        w = scaled(window, options)
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": f"({ctx.sli.errors(w)})\n/\n({ctx.sli.total(w)})",
                "labels": labels,
            }
        )
    short = scaled("5m", options)
    rules += [
        {"record": "slo:sli_total:rate5m", "expr": ctx.sli.total(short), "labels": labels},
        {"record": "slo:sli_error:rate5m", "expr": ctx.sli.errors(short), "labels": labels},
        {
            "record": "slo:objective:ratio",
            "expr": f"vector({ctx.slo.objective / 100:.12g})",
            "labels": labels,
        },
        {
            "record": "slo:error_budget_remaining:ratio",
            "expr": (
                f"1 - slo:sli_error:ratio_rate{ctx.slo.peakops.period}{ctx.selector}"
                f" / {ctx.slo.error_budget:.12g}"
            ),
            "labels": labels,
        },
        {
            "record": "slo:impact_failed_orders:per_minute",
            "expr": f"slo:sli_error:rate5m{ctx.selector} * 60 * {ctx.orders_per_failed_event():.6g}",
            "labels": labels,
        },
        {
            "record": "slo:impact_revenue:per_minute",
            "expr": (
                f"slo:impact_failed_orders:per_minute{ctx.selector}\n"
                f'* on(service) group_left() peakops:average_order_value{{service="{ctx.spec.service}"}}'
            ),
            "labels": labels,
        },
    ]
    return rules


def _burn_condition(ctx: SLOContext, tiers: list[tuple[BurnTier, float]]) -> str:
    budget = ctx.slo.error_budget
    branches = []
    for tier, factor in tiers:
        threshold = f"({humanize_factor(factor)} * {budget:.12g})"
        branches.append(
            f"(slo:sli_error:ratio_rate{tier.long}{ctx.selector} > {threshold}\n"
            f" and slo:sli_error:ratio_rate{tier.short}{ctx.selector} > {threshold})"
        )
    condition = "(\n" + "\nor\n".join(branches) + "\n)"
    minimum = ctx.slo.peakops.min_events_per_second
    if minimum > 0:
        # Ten errors out of twenty requests at 3 a.m. are not an outage worth waking anyone for.
        condition += f"\nand on(service, slo) slo:sli_total:rate5m{ctx.selector} >= {minimum:g}"
    return condition


def _query_template(record: str, ctx: SLOContext, fmt: str) -> str:
    return (
        f'{{{{ with query `{record}{ctx.selector}` }}}}{{{{ . | first | value | printf "{fmt}" }}}}'
        "{{ else }}unknown{{ end }}"
    )


def impact_annotation(ctx: SLOContext) -> str:
    currency = ctx.plan.products[0].currency if ctx.plan else ""
    return (
        f"~{_query_template('slo:impact_failed_orders:per_minute', ctx, '%.1f')} failed orders/min, "
        f"~{currency + ' ' if currency else ''}"
        f"{_query_template('slo:impact_revenue:per_minute', ctx, '%.0f')} revenue/min "
        "at the current error rate"
    )


def _tier_text(tiers: list[tuple[BurnTier, float]]) -> str:
    return " or ".join(f"{humanize_factor(f)}x over {t.long} and {t.short}" for t, f in tiers)


def alert_rules(ctx: SLOContext) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    alerting = ctx.slo.alerting
    for severity, alert in (("page", alerting.page_alert), ("ticket", alerting.ticket_alert)):
        tiers = ctx.tiers(severity)
        if alert.disable or not tiers:
            continue
        labels = {**ctx.extra_labels, **alerting.labels, **alert.labels, "severity": severity}
        if ctx.slo.peakops.campaign:
            assert ctx.plan is not None
            labels["campaign"] = ctx.plan.name
        speed = "fast" if severity == "page" else "steadily"
        annotations = {
            "summary": f"{ctx.spec.service} {ctx.slo.name}: error budget burning {speed}",
            "description": (
                f"{ctx.slo.description.strip() + ' ' if ctx.slo.description else ''}"
                "{{ $value | humanizePercentage }} of valid events failed over the long window; "
                f"the objective is {ctx.slo.objective:g}% over {ctx.slo.peakops.period}. "
                f"Fires at {_tier_text(tiers)}."
            ),
            "impact": impact_annotation(ctx),
            **alerting.annotations,
            **alert.annotations,
        }
        rules.append(
            {
                "alert": alerting.name,
                "expr": _burn_condition(ctx, tiers),
                "labels": labels,
                "annotations": annotations,
            }
        )
    rules.append(
        {
            "alert": "SLIMissing",
            "expr": f"absent(slo:sli_total:rate5m{ctx.selector})",
            "for": ABSENT_FOR,
            "labels": {**ctx.extra_labels, **ctx.labels, "severity": "ticket"},
            "annotations": {
                "summary": f"{ctx.spec.service} {ctx.slo.name}: the SLI has no data",
                "description": (
                    f"No valid events for SLO {ctx.slo.name} for {ABSENT_FOR}: the metric is gone or "
                    "renamed, or its target is not scraped. Burn-rate alerts for this SLO cannot fire."
                ),
                "runbook_url": alerting.annotations["runbook_url"],
            },
        }
    )
    return rules


def _scale_for(rules: list[dict[str, Any]], options: Options) -> list[dict[str, Any]]:
    for rule in rules:
        if "for" in rule:
            rule["for"] = scaled(rule["for"], options)
    return rules


def business_rules(spec: SLOSpec, plan: CampaignPlan | None) -> list[dict[str, Any]]:
    """The average order value that turns failed orders into revenue: measured, else the plan's prices."""
    measured = f"sum(rate({metrics.ORDER_REVENUE}[1h])) / (sum(rate({metrics.ORDERS}[1h])) > 0)"
    if plan is not None:
        prices = [p.price for p in plan.products if not p.synthetic]
        measured += f"\nor vector({sum(prices) / len(prices):.6g})"
    return [{"record": "peakops:average_order_value", "expr": measured, "labels": {"service": spec.service}}]


def campaign_rules(spec: SLOSpec, plan: CampaignPlan, traffic_slo: str, runbook: str) -> list[dict[str, Any]]:
    """The window comes from the plan through the exporter's gauges, so promtool can move it in a test."""
    selector = f'{{service="{spec.service}", slo="{traffic_slo}"}}'
    window = f'{{campaign="{plan.name}"}}'
    return [
        {
            "record": "peakops:campaign_live",
            "expr": (
                f"max by (campaign) ((time() >= {metrics.CAMPAIGN_START}{window})"
                f" and (time() < {metrics.CAMPAIGN_END}{window})) * 0 + 1"
            ),
            "labels": {"service": spec.service},
        },
        {
            "alert": "CampaignTrafficMissing",
            "expr": (
                f'peakops:campaign_live{{service="{spec.service}"}}\n'
                f"unless on(service) (slo:sli_total:rate5m{selector} > 0)"
            ),
            "for": TRAFFIC_MISSING_FOR,
            "labels": {"severity": "page"},
            "annotations": {
                "summary": f"Campaign {plan.name} is live but {traffic_slo} sees no traffic",
                "description": (
                    f"The campaign window ({plan.window.start.isoformat()} to {plan.window.end.isoformat()}) "
                    f"is open and {traffic_slo} has had no valid events for {TRAFFIC_MISSING_FOR}: the "
                    "influencers' links, DNS, the CDN or the exporter are broken, and every visitor is lost."
                ),
                "runbook_url": runbook,
                "impact": "every campaign visitor; the posts' peak lasts minutes",
            },
        },
    ]


def campaign_slo_rules(ctx: SLOContext, options: Options) -> list[dict[str, Any]]:
    """The time-boxed SLO: errors over valid events during the campaign window only, and its budget.

    Each 5 m rate counts if the campaign was live at the start of its 5 m, so traffic just before the
    window never leaks in; summing non-overlapping 5 m rates weighs every event once.
    """
    assert ctx.plan is not None
    step = scaled("5m", options)
    length = (ctx.plan.window.end - ctx.plan.window.start).total_seconds() + 600
    span = format_duration(length / options.time_scale)
    live = f'peakops:campaign_live{{service="{ctx.spec.service}"}}'
    gate = f"and on() ({live} offset {step})"
    labels = {**ctx.extra_labels, **ctx.labels, "campaign": ctx.plan.name}
    return [
        {
            "record": "slo:sli_error:ratio_campaign",
            "expr": (
                f"sum_over_time((slo:sli_error:rate5m{ctx.selector} {gate})[{span}:{step}])\n/\n"
                f"sum_over_time((slo:sli_total:rate5m{ctx.selector} {gate})[{span}:{step}])"
            ),
            "labels": labels,
        },
        {
            "record": "slo:campaign_error_budget_remaining:ratio",
            "expr": f"1 - slo:sli_error:ratio_campaign{ctx.selector} / {ctx.slo.error_budget:.12g}",
            "labels": labels,
        },
        {
            "alert": "CampaignErrorBudgetExhausted",
            "expr": f"slo:campaign_error_budget_remaining:ratio{ctx.selector} <= 0\nand on() {live}",
            "labels": {**labels, "severity": "ticket"},
            "annotations": {
                "summary": f"{ctx.spec.service} {ctx.slo.name}: the campaign's error budget is spent",
                "description": (
                    f"Over the campaign window so far, more than {100 - ctx.slo.objective:.3g}% of valid "
                    f"events failed: the campaign missed {ctx.slo.name}'s {ctx.slo.objective:g}% objective."
                ),
                "runbook_url": ctx.slo.alerting.annotations["runbook_url"],
                "impact": impact_annotation(ctx),
            },
        },
    ]


WATCHDOG = {
    "alert": "Watchdog",
    "expr": "vector(1)",
    "labels": {"severity": "none"},
    "annotations": {
        "summary": "The alerting pipeline is alive",
        "description": (
            "Always firing. A dead man's switch outside this stack pages when it stops arriving: then "
            "Prometheus, the rules or Alertmanager are down and no other alert can reach anyone."
        ),
        "runbook_url": "docs/runbooks/watchdog.md",
    },
}


def group_name(*parts: str) -> str:
    # promtool evaluates groups in name order: "<service>/business" < "<service>/sli/..." < "<service>/slo"
    # puts recordings before the alerts that read them, as their order in the file says.
    return "/".join(re.sub(r"[^a-zA-Z0-9_-]", "-", part) for part in parts)


def rule_groups(contexts: list[SLOContext], options: Options) -> list[dict[str, Any]]:
    """Recording groups first, then alerts: promtool evaluates groups in order at each step."""
    groups: list[dict[str, Any]] = []
    specs: dict[str, tuple[SLOSpec, CampaignPlan | None, list[SLOContext]]] = {}
    for ctx in contexts:
        specs.setdefault(ctx.spec.service, (ctx.spec, ctx.plan, []))[2].append(ctx)
    for service, (spec, plan, ctxs) in specs.items():
        groups.append({"name": group_name(service, "business"), "rules": business_rules(spec, plan)})
        for ctx in ctxs:
            groups.append(
                {"name": group_name(service, "sli", ctx.slo.name), "rules": recording_rules(ctx, options)}
            )
    for service, (spec, plan, ctxs) in specs.items():
        alerts: list[dict[str, Any]] = []
        campaign = spec.peakops.campaign
        campaign_alerts: list[dict[str, Any]] = []
        if campaign is not None and plan is not None:
            traffic = next(c for c in ctxs if c.slo.name == campaign.traffic_slo)
            live, missing = campaign_rules(
                spec, plan, campaign.traffic_slo, traffic.slo.alerting.annotations["runbook_url"]
            )
            alerts.append(live)  # first: the campaign rules below read it in the same evaluation
            for ctx in ctxs:
                if ctx.slo.peakops.campaign:
                    campaign_alerts += campaign_slo_rules(ctx, options)
            campaign_alerts.append(missing)
        for ctx in ctxs:
            alerts += alert_rules(ctx)
        alerts += campaign_alerts
        groups.append({"name": group_name(service, "slo-alerts"), "rules": _scale_for(alerts, options)})
    groups.append({"name": "watchdog", "rules": [dict(WATCHDOG)]})
    return groups
