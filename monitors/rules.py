"""Prometheus rules from SLO specs, in Sloth's shape: what Sloth v0.16 generates for a spec, plus peakops'
own rules, so the community Sloth dashboards work on peakops' output unchanged.

For each SLO, three groups named as Sloth names them (``sloth_id`` is ``<service>-<slo>``; every series
carries ``sloth_id``, ``sloth_service``, ``sloth_slo`` and the spec's and the SLO's labels)::

    sloth-slo-sli-recordings-<id>
      slo:sli_error:ratio_rate5m ... ratio_rate3d, ratio_rate<period>  (label sloth_window)
      slo:sli_total:rate5m, slo:sli_error:rate5m                        peakops: volume guard, impact
    sloth-slo-meta-recordings-<id>
      slo:objective:ratio, slo:error_budget:ratio, slo:time_period:days, slo:current_burn_rate:ratio,
      slo:period_burn_rate:ratio, slo:period_error_budget_remaining:ratio, sloth_slo_info
      slo:impact_failed_orders:per_minute, slo:impact_revenue:per_minute  peakops: what a burn costs
    sloth-slo-alerts-<id>
      ALERT <alerting.name> sloth_severity=page    14.4x over 5m and 1h, or 6x over 30m and 6h (30d)
      ALERT <alerting.name> sloth_severity=ticket  3x over 2h and 1d, or 1x over 6h and 3d
      ALERT SLIMissing                             peakops: the SLI has no data, the SLO is blind

Per service (peakops): the average order value and, for a campaign, its window and traffic alert.

Where peakops deliberately differs from Sloth (README, "Sloth compatibility"):
- the period's error ratio (``ratio_rate30d``) of a counted SLI is errors over valid events in the period;
  Sloth averages the 5m ratios, which weighs a quiet night like the peak. A raw SLI has no counts: there
  peakops averages as Sloth does;
- the error budget is written exactly (0.001 for 99.9, where Sloth writes 0.0009999999999999432);
- a burn factor never drops below 1x and a tier longer than the period is dropped (other periods);
- the burn alerts also need a minimum volume (``peakops.min_events_per_second``), when set;
- ``severity`` is the user's label, as written (none when unset, as in Sloth); Alertmanager routes by
  ``sloth_severity``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from monitors.sli import ResolvedSLI, promql_string
from peakops import metrics
from peakops.plan import CampaignPlan
from peakops.slo import SLO, PluginEffects, SLOSpec, SpecError, parse_duration, plugin_effects

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLOTH_SUMMARY = "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."
ABSENT_FOR = "10m"
TRAFFIC_MISSING_FOR = "5m"
SLOTH_VERSION = "peakops"  # sloth_slo_info's sloth_version: who generated the rules
Severity = Literal["page", "ticket"]


@dataclass(frozen=True)
class BurnTier:
    severity: Severity
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


def number(value: Decimal | float) -> str:
    """A number as PromQL reads it, exactly: 30, 0.001, 1E-13 (positional up to 12 digits)."""
    if not isinstance(value, Decimal):
        return f"{value:.12g}"
    value = value.normalize()
    positional = f"{value:f}"
    return positional if len(positional.replace("-", "").replace(".", "")) <= 12 else str(value)


def go_template_text(text: str) -> str:
    """Free text safe inside an alert annotation (a Go template): braces are printed, never executed."""
    return re.sub(r"({{|}})", lambda m: '{{ "' + m.group(1) + '" }}', text)


@dataclass(frozen=True)
class SLOContext:
    spec: SLOSpec
    slo: SLO
    sli: ResolvedSLI
    where: str  # for errors: "file: slos[i] (name 'x')"
    plan: CampaignPlan | None
    api: str = "prometheus/v1"  # the form the spec was written in (sloth_slo_info says, as Sloth does)

    @property
    def sloth_id(self) -> str:
        return f"{self.spec.service}-{self.slo.name}"

    @property
    def labels(self) -> dict[str, str]:
        """What identifies the SLO's series, as Sloth names it."""
        return {"sloth_id": self.sloth_id, "sloth_service": self.spec.service, "sloth_slo": self.slo.name}

    @property
    def selector(self) -> str:
        return "{" + ", ".join(f"{k}={promql_string(v)}" for k, v in self.labels.items()) + "}"

    @property
    def extra_labels(self) -> dict[str, str]:
        return {**self.spec.labels, **self.slo.labels}

    @property
    def series_labels(self) -> dict[str, str]:
        """Every label a recording of this SLO carries (the window aside)."""
        return {**self.extra_labels, **self.labels}

    @property
    def display(self) -> str:
        """ "shop checkout-success", safe inside an annotation."""
        return go_template_text(f"{self.spec.service} {self.slo.name}")

    @property
    def budget(self) -> Decimal:
        return self.slo.error_budget

    def windows(self) -> list[str]:
        windows = list(WINDOWS)
        if self.slo.peakops.period not in windows:
            windows.append(self.slo.peakops.period)
        return windows

    def tiers(self, severity: str, enabled_only: bool = True) -> list[tuple[BurnTier, float]]:
        alert = self.slo.alerting.page_alert if severity == "page" else self.slo.alerting.ticket_alert
        if enabled_only and alert.disable:
            return []
        found = []
        for tier in TIERS:
            factor = tier.factor(self.slo.peakops.period_delta)
            if tier.severity == severity and factor is not None:
                found.append((tier, factor))
        return found

    @property
    def plugins(self) -> PluginEffects:
        """What the spec's and the SLO's Sloth plugins change (info labels, group intervals)."""
        return plugin_effects(self.spec.slo_plugins, self.slo.plugins)

    @property
    def has_impact(self) -> bool:
        """The spec states what a failed event costs (``peakops.impact``), and events are counted."""
        return self.sli.counted and self.slo.peakops.impact is not None

    def orders_per_failed_event(self) -> float:
        impact = self.slo.peakops.impact
        assert impact is not None  # callers check has_impact
        value = impact.orders_per_failed_event
        if value == "funnel":
            assert self.plan is not None  # the spec model requires the plan for "funnel"
            funnel = self.plan.funnel
            return round(funnel.browse * funnel.cart * funnel.checkout, 6)
        return float(value)


def unreachable_tiers(ctx: SLOContext, severity: str) -> list[tuple[BurnTier, float]]:
    """The enabled tiers whose threshold is at or above 100% errors: they can never fire."""
    return [(t, f) for t, f in ctx.tiers(severity) if Decimal(repr(f)) * ctx.budget >= 1]


def check_reachable(ctx: SLOContext) -> None:
    """An enabled alert none of whose tiers can fire (every threshold at or above 100% errors) is refused:
    say so instead of generating it. A tier alone out of reach is kept, as Sloth keeps it (the other
    tier still fires), and `reachability_warnings` names it. Disabled alerts are not checked."""
    for severity in ("page", "ticket"):
        tiers = ctx.tiers(severity)
        if tiers and len(unreachable_tiers(ctx, severity)) == len(tiers):
            burns = " and ".join(f"{humanize_factor(f)}x over {t.long}" for t, f in tiers)
            raise SpecError(
                f"{ctx.where}: objective: {ctx.slo.objective}% leaves a budget of {number(ctx.budget)}; "
                f"the {severity} burns of {burns} would all need more than 100% errors and could never "
                f"fire; raise the objective or disable the {severity} alert"
            )


def reachability_warnings(ctx: SLOContext) -> list[str]:
    return [
        f"{ctx.where}: objective: the {severity} tier {humanize_factor(f)}x over {t.long} needs more than "
        f"{float(Decimal(repr(f)) * ctx.budget):.0%} errors and can never fire; the alert's other tiers can"
        for severity in ("page", "ticket")
        for t, f in unreachable_tiers(ctx, severity)
    ]


def ratio_rule(ctx: SLOContext, window: str, options: Options) -> dict[str, Any]:
    w = scaled(window, options)
    labels = {**ctx.series_labels, "sloth_window": window}
    if window == ctx.slo.peakops.period and not ctx.sli.counted:
        # A raw SLI is a ratio: over the period, the average of its 5m ratios (as Sloth computes it).
        expr = (
            f"sum_over_time(slo:sli_error:ratio_rate5m{ctx.selector}[{w}])\n"
            f"/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{ctx.selector}[{w}])"
        )
    else:
        expr = ctx.sli.ratio(w)
    return {"record": f"slo:sli_error:ratio_rate{window}", "expr": expr, "labels": labels}


def sli_recordings(ctx: SLOContext, options: Options) -> list[dict[str, Any]]:
    rules = [ratio_rule(ctx, window, options) for window in ctx.windows()]
    if ctx.sli.counted:
        short = scaled("5m", options)
        rules += [
            {"record": "slo:sli_total:rate5m", "expr": ctx.sli.total(short), "labels": ctx.series_labels},
            {"record": "slo:sli_error:rate5m", "expr": ctx.sli.errors(short), "labels": ctx.series_labels},
        ]
    return rules


def meta_recordings(ctx: SLOContext) -> list[dict[str, Any]]:
    """Sloth's metadata recordings (the dashboards read them), then peakops' impact."""
    sel, labels = ctx.selector, ctx.series_labels
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    objective = 1 - ctx.budget
    rules: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({number(objective)})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector({number(ctx.budget)})", "labels": labels},
        {
            "record": "slo:time_period:days",
            "expr": f"vector({number(Decimal(ctx.slo.peakops.period_delta.total_seconds()) / 86400)})",
            "labels": labels,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{sel}\n/ {on}\nslo:error_budget:ratio{sel}",
            "labels": labels,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": (
                f"slo:sli_error:ratio_rate{ctx.slo.peakops.period}{sel}\n/ {on}\nslo:error_budget:ratio{sel}"
            ),
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **labels,
                "sloth_mode": "cli-gen-prom" if ctx.api == "prometheus/v1" else "cli-gen-k8s",
                "sloth_objective": f"{ctx.slo.objective:g}",
                "sloth_spec": ctx.api,
                "sloth_version": SLOTH_VERSION,
            },
        },
    ]
    effects = ctx.plugins
    for rule in rules:
        if rule["record"] == effects.info_metric:  # Sloth's info_labels plugin
            rule["labels"] = {**rule["labels"], **effects.info_labels}
    if ctx.has_impact:
        rules += [
            {
                "record": "slo:impact_failed_orders:per_minute",
                "expr": f"slo:sli_error:rate5m{sel} * 60 * {ctx.orders_per_failed_event():.6g}",
                "labels": labels,
            },
            {
                "record": "slo:impact_revenue:per_minute",
                "expr": (
                    f"slo:impact_failed_orders:per_minute{sel}\n* on(sloth_service) group_left()"
                    f" peakops:average_order_value{{sloth_service={promql_string(ctx.spec.service)}}}"
                ),
                "labels": labels,
            },
        ]
    return rules


def burn_condition(ctx: SLOContext, tiers: list[tuple[BurnTier, float]]) -> str:
    """Sloth's multiwindow, multi-burn-rate expression (short window first), then peakops' volume guard."""
    branches = []
    for tier, factor in tiers:
        threshold = f"({humanize_factor(factor)} * {number(ctx.budget)})"
        short, long = (
            f"max(slo:sli_error:ratio_rate{window}{ctx.selector} > {threshold}) without (sloth_window)"
            for window in (tier.short, tier.long)
        )
        branches.append(f"(\n    {short}\n    and\n    {long}\n)")
    condition = "\nor\n".join(branches)
    minimum = ctx.slo.peakops.min_events_per_second
    if minimum > 0:
        # Ten errors out of twenty requests at 3 a.m. are not an outage worth waking anyone for.
        condition = f"(\n{condition}\n)\nand on(sloth_id) slo:sli_total:rate5m{ctx.selector} >= {minimum:g}"
    return condition


def _query_template(record: str, ctx: SLOContext, fmt: str) -> str:
    query = f"{record}{ctx.selector}".replace("`", "")
    value = f'{{{{ . | first | value | printf "{fmt}" }}}}'
    return f"{{{{ with query `{query}` }}}}{value}{{{{ else }}}}unknown{{{{ end }}}}"


def impact_annotation(ctx: SLOContext) -> dict[str, str]:
    """``{"impact": ...}`` when the spec states an impact, else nothing (a plain Sloth spec has none)."""
    if not ctx.has_impact:
        return {}
    currency = ctx.plan.products[0].currency if ctx.plan else ""
    return {
        "impact": (
            f"~{_query_template('slo:impact_failed_orders:per_minute', ctx, '%.1f')} failed orders/min, "
            f"~{currency + ' ' if currency else ''}"
            f"{_query_template('slo:impact_revenue:per_minute', ctx, '%.0f')} revenue/min "
            "at the current error rate"
        )
    }


def _tier_text(tiers: list[tuple[BurnTier, float]]) -> str:
    return " or ".join(f"{humanize_factor(f)}x over {t.short} and {t.long}" for t, f in tiers)


def burn_alert(ctx: SLOContext, severity: Severity) -> dict[str, Any] | None:
    alerting = ctx.slo.alerting
    alert = alerting.page_alert if severity == "page" else alerting.ticket_alert
    tiers = ctx.tiers(severity)
    if not tiers:
        return None
    assert alerting.name is not None  # required while an alert is enabled
    # The user's labels as written, severity included, and no severity of ours: as Sloth does.
    # sloth_severity (page or ticket), as Sloth sets it, is what Alertmanager routes on.
    labels = {**alerting.labels, **alert.labels, "sloth_severity": severity}
    if ctx.slo.peakops.campaign:
        assert ctx.plan is not None
        labels["campaign"] = ctx.plan.name
    description = go_template_text(ctx.slo.description.strip()) + " " if ctx.slo.description else ""
    annotations = {
        "title": (
            f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn "
            "rate is too fast."
        ),
        # Sloth's default summary, word for word (the dashboards and runbooks of its users quote it).
        "summary": SLOTH_SUMMARY,
        "description": (
            f"{description}{{{{ $value | humanizePercentage }}}} of valid events failed over the short "
            "window; "
            f"the objective is {ctx.slo.objective:g}% over {ctx.slo.peakops.period}. "
            f"Fires at {_tier_text(tiers)}."
        ),
        **impact_annotation(ctx),
        "runbook_url": alerting.runbook_url,
        **alerting.annotations,
        **alert.annotations,
    }
    return {
        "alert": alerting.name,
        "expr": burn_condition(ctx, tiers),
        "labels": labels,
        "annotations": annotations,
    }


def sli_missing(ctx: SLOContext) -> dict[str, Any]:
    """No data: the SLO is blind and no burn alert of it can fire."""
    series = "slo:sli_total:rate5m" if ctx.sli.counted else "slo:sli_error:ratio_rate5m"
    return {
        "alert": "SLIMissing",
        "expr": f"absent({series}{ctx.selector})",
        "for": ABSENT_FOR,
        "labels": {**ctx.series_labels, "severity": "ticket"},
        "annotations": {
            "summary": f"{ctx.display}: the SLI has no data",
            "description": (
                f"No valid events for SLO {ctx.display} for {ABSENT_FOR}: the metric is gone or renamed, or "
                "its target is not scraped. Burn-rate alerts for this SLO cannot fire."
            ),
            "runbook_url": ctx.slo.alerting.runbook_url,
        },
    }


def alert_rules(ctx: SLOContext) -> list[dict[str, Any]]:
    burns = [rule for severity in ("page", "ticket") if (rule := burn_alert(ctx, severity)) is not None]
    return [*burns, sli_missing(ctx)]


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
    labels = {"sloth_service": spec.service}
    return [{"record": "peakops:average_order_value", "expr": measured, "labels": labels}]


def campaign_rules(spec: SLOSpec, plan: CampaignPlan, traffic_slo: str, runbook: str) -> list[dict[str, Any]]:
    """The window comes from the plan through the exporter's gauges, so promtool can move it in a test."""
    service = promql_string(spec.service)
    selector = f"{{sloth_service={service}, sloth_slo={promql_string(traffic_slo)}}}"
    window = f"{{campaign={promql_string(plan.name)}}}"
    return [
        {
            "record": "peakops:campaign_live",
            "expr": (
                f"max by (campaign) ((time() >= {metrics.CAMPAIGN_START}{window})"
                f" and (time() < {metrics.CAMPAIGN_END}{window})) * 0 + 1"
            ),
            "labels": {"sloth_service": spec.service},
        },
        {
            "alert": "CampaignTrafficMissing",
            "expr": (
                f"peakops:campaign_live{{sloth_service={service}}}\n"
                f"unless on(sloth_service) (slo:sli_total:rate5m{selector} > 0)"
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
    live = f"peakops:campaign_live{{sloth_service={promql_string(ctx.spec.service)}}}"
    gate = f"and on() ({live} offset {step})"
    labels = {**ctx.series_labels, "campaign": ctx.plan.name}
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
            "expr": f"1 - slo:sli_error:ratio_campaign{ctx.selector} / {number(ctx.budget)}",
            "labels": labels,
        },
        {
            "alert": "CampaignErrorBudgetExhausted",
            "expr": f"slo:campaign_error_budget_remaining:ratio{ctx.selector} <= 0\nand on() {live}",
            "labels": {**labels, "severity": "ticket"},
            "annotations": {
                "summary": f"{ctx.display}: the campaign's error budget is spent",
                "description": (
                    f"Over the campaign window so far, more than {100 - ctx.slo.objective:.3g}% of valid "
                    f"events failed: the campaign missed {ctx.display}'s {ctx.slo.objective:g}% objective."
                ),
                "runbook_url": ctx.slo.alerting.runbook_url,
                **impact_annotation(ctx),
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

WATCHDOG_FILE = "watchdog.yml"


def service_file(service: str) -> str:
    return f"{service}.yml"


def slo_file(ctx: SLOContext) -> str:
    return f"{ctx.sloth_id}.yml"


def rule_files(contexts: list[SLOContext], options: Options) -> dict[str, list[dict[str, Any]]]:
    """File name -> its rule groups: one file per service (business, campaign), one per SLO (Sloth's
    three groups, and the campaign SLO's), one for the Watchdog. A fixture loads only the files its SLO
    reads, so promtool evaluates its rules alone."""
    files: dict[str, list[dict[str, Any]]] = {}
    by_service: dict[str, list[SLOContext]] = {}
    for ctx in contexts:
        by_service.setdefault(ctx.spec.service, []).append(ctx)
    for service, ctxs in by_service.items():
        spec, plan = ctxs[0].spec, ctxs[0].plan
        groups: list[dict[str, Any]] = []
        if any(ctx.has_impact for ctx in ctxs):
            groups.append({"name": f"peakops-{service}-business", "rules": business_rules(spec, plan)})
        if spec.peakops.campaign is not None and plan is not None:
            traffic = next(c for c in ctxs if c.slo.name == spec.peakops.campaign.traffic_slo)
            rules = campaign_rules(spec, plan, traffic.slo.name, traffic.slo.alerting.runbook_url)
            groups.append({"name": f"peakops-{service}-campaign", "rules": _scale_for(rules, options)})
        if groups:
            files[service_file(service)] = groups
        for ctx in ctxs:
            slo_groups = [
                {"name": f"sloth-slo-sli-recordings-{ctx.sloth_id}", "rules": sli_recordings(ctx, options)},
                {"name": f"sloth-slo-meta-recordings-{ctx.sloth_id}", "rules": meta_recordings(ctx)},
                {"name": f"sloth-slo-alerts-{ctx.sloth_id}", "rules": _scale_for(alert_rules(ctx), options)},
            ]
            intervals = ctx.plugins.intervals  # Sloth's rule_intervals plugin
            for group, kind in zip(slo_groups, ("sli", "meta", "alerts"), strict=True):
                if kind in intervals:
                    group["interval"] = scaled(intervals[kind], options)
            if ctx.slo.peakops.campaign and ctx.sli.counted:
                rules = _scale_for(campaign_slo_rules(ctx, options), options)
                slo_groups.append({"name": f"peakops-slo-campaign-{ctx.sloth_id}", "rules": rules})
            files[slo_file(ctx)] = slo_groups
    files[WATCHDOG_FILE] = [{"name": "peakops-watchdog", "rules": [dict(WATCHDOG)]}]
    return files
