"""SLO specs -> everything Prometheus, promtool, Kubernetes and Alertmanager read, written all or nothing.

monitors/generated/
  rules/<service>.yml       per service: the average order value, the campaign window and traffic alert
  rules/<service>-<slo>.yml per SLO: Sloth's three groups (SLI and metadata recordings, alerts) and the
                            campaign SLO's rules (promtool check rules; Prometheus loads rules/*.yml)
  rules/watchdog.yml        the dead man's switch
  rules/watcher.yml         the SLI exporter and the scrapes (monitors/watch.py)
  rules/saturation.yml      hosts (node exporter) and HAProxy (monitors/watch.py)
  prometheusrule.yaml       every group as a monitoring.coreos.com/v1 PrometheusRule
  alertmanager.yml          routes, inhibition, receivers (amtool check-config)
  tests/<service>-<slo>.test.yml  promtool test rules fixtures, one per SLO (loading only its rules),
                            tests/common.test.yml and tests/<service>-campaign.test.yml
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitors import fixtures, watch
from monitors.alertmanager import Receivers, alertmanager_config
from monitors.rules import Options, SLOContext, check_reachable, reachability_warnings, rule_files
from monitors.sli import resolve
from peakops.context import CampaignContext
from peakops.generated import dump_yaml, header
from peakops.paths import REPO_ROOT, relative
from peakops.slo import DEFAULT_RUNBOOK, SpecError

RULES_DIR = "rules"  # one file per service and per SLO: Prometheus loads rules/*.yml


@dataclass(frozen=True)
class Settings:
    options: Options = field(default_factory=Options)
    receivers: Receivers = field(default_factory=Receivers)
    namespace: str = "peakops"  # of the PrometheusRule

    def command(self, campaign: CampaignContext) -> str:
        parts = [
            "peakops slo generate",
            f"--plan {relative(campaign.plan_path)}",
            f"--specs {relative(campaign.specs_dir)}",
        ]
        if self.options.time_scale != 1:
            parts.append(f"--time-scale {self.options.time_scale:g}")
        defaults = Receivers()
        for name in ("webhook_url", "pagerduty_url", "slack_channel", "group_wait", "group_interval"):
            value = getattr(self.receivers, name)
            if value != getattr(defaults, name):
                parts.append(f"--{name.replace('_', '-')} {value}")
        return " ".join(parts)


def _runbook_exists(url: str, where: str, root: Path) -> None:
    if re.match(r"^https?://", url):
        return
    if not (root / url).is_file():
        raise SpecError(f"{where}: alerting.annotations.runbook_url: {url!r} does not exist under {root}")


def contexts(campaign: CampaignContext, root: Path = REPO_ROOT) -> list[SLOContext]:
    """Resolve and check every SLO of the campaign's specs; all problems together in one SpecError.

    A spec that guards the campaign (``peakops.campaign``) is read with the campaign's plan."""
    found: list[SLOContext] = []
    problems: list[str] = []
    for source in campaign.specs:
        spec = source.spec
        plan = campaign.plan if spec.peakops.campaign is not None else None
        for index, slo in enumerate(spec.slos):
            where = f"{source.where}: slos[{index}] (name {slo.name!r})"
            try:
                ctx = SLOContext(spec, slo, resolve(slo, f"{where}: sli"), where, plan, source.api)
                check_reachable(ctx)
                _runbook_exists(slo.alerting.runbook_url, where, root)
            except SpecError as exc:
                problems.append(str(exc))
                continue
            found.append(ctx)
    if problems:
        raise SpecError("\n".join(problems))
    return found


def warnings(ctxs: list[SLOContext]) -> list[str]:
    """What a spec leaves to the generator's defaults, or generates but can never fire: a line each."""
    found = []
    for ctx in ctxs:
        alerting = ctx.slo.alerting
        if "runbook_url" not in alerting.annotations and not (
            alerting.page_alert.disable and alerting.ticket_alert.disable
        ):
            found.append(
                f"{ctx.where}: alerting.annotations.runbook_url: not set; the alerts link {DEFAULT_RUNBOOK}"
            )
        found += reachability_warnings(ctx)
    return found


def render(campaign: CampaignContext, settings: Settings, root: Path = REPO_ROOT) -> dict[str, str]:
    """Relative path -> text, for every generated file. Raises SpecError before anything is written."""
    ctxs = contexts(campaign, root)
    guarded = any(ctx.plan is not None for ctx in ctxs)
    sources = [
        *sorted({relative(source.path) for source in campaign.specs}),
        *([relative(campaign.plan_path)] if guarded else []),
    ]
    top = header(sources, settings.command(campaign))
    scale_note = (
        f"# Windows and `for:` compressed {settings.options.time_scale:g}x for a rehearsal, not production.\n"
        if settings.options.time_scale != 1
        else ""
    )
    rules = {**rule_files(ctxs, settings.options), **watch.rule_files(settings.options)}
    groups = [group for file_groups in rules.values() for group in file_groups]
    files: dict[str, str] = {
        f"{RULES_DIR}/{name}": top + scale_note + dump_yaml({"groups": file_groups})
        for name, file_groups in rules.items()
    }
    files["prometheusrule.yaml"] = top + scale_note + dump_yaml(prometheus_rule(groups, settings.namespace))
    plans = [campaign.plan] if guarded else []
    files["alertmanager.yml"] = top + dump_yaml(alertmanager_config(plans, settings.receivers))
    if settings.options.time_scale == 1:
        # Fixtures assert real windows; a compressed rehearsal copy has none.
        for ctx in ctxs:
            test = fixtures.fixture(ctx, rules)
            if test is not None:
                files[f"tests/{ctx.sloth_id}.test.yml"] = top + dump_yaml(test)
        for name, test in {**fixtures.common_fixtures(ctxs, rules), **fixtures.watch_fixtures(rules)}.items():
            files[f"tests/{name}.test.yml"] = top + dump_yaml(test)
    return files


def prometheus_rule(groups: list[dict[str, Any]], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "peakops-slos",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "peakops", "app.kubernetes.io/component": "slo-rules"},
        },
        "spec": {"groups": groups},
    }
