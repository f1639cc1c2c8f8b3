"""One campaign context: the plan, the SLO specs and what derives from both, resolved once.

    resolve(plan=None, specs=None) -> CampaignContext
        plan   a campaign plan file      (default: peakops.paths.DEFAULT_PLAN)
        specs  a directory of SLO specs  (default: peakops.paths.SPECS_DIR)

The CLI, the Locust entry point and the monitoring generator each resolve it once and pass it on. The
plan owns the business facts (window, influencers, products, funnel, per-journey load-test bars); the SLO
specs own the objectives. A bar both would state is taken from one of them only: the load test's checkout
success bar is the objective of the SLO on checkout outcomes (`checkout_objective`).

Raises PlanError or SpecError (messages name the file and the field) when either is invalid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peakops import metrics
from peakops.paths import DEFAULT_PLAN, SPECS_DIR
from peakops.plan import CampaignPlan, load_plan
from peakops.slo import SLO, SLOSpec, SpecSource, load_specs


@dataclass(frozen=True)
class Objective:
    """An SLO's objective with where it comes from, for reports: "SLO shop/checkout-success (99.9%)"."""

    spec: SLOSpec
    slo: SLO

    @property
    def ratio(self) -> float:
        return round(self.slo.objective / 100, 12)

    @property
    def alert_name(self) -> str | None:
        """None when the SLO's alerts are disabled."""
        return self.slo.alerting.name

    def __str__(self) -> str:
        return f"SLO {self.spec.service}/{self.slo.name} ({self.slo.objective:g}%)"


@dataclass(frozen=True)
class CampaignContext:
    plan_path: Path
    plan: CampaignPlan
    specs_dir: Path
    specs: Sequence[SpecSource]

    def checkout_objective(self) -> Objective | None:
        """The SLO on all checkout outcomes (no selector), or None when no spec has one."""
        for source in self.specs:
            spec = source.spec
            for slo in spec.slos:
                outcomes = slo.sli.outcomes
                if outcomes is not None and outcomes.metric == metrics.CHECKOUTS and not outcomes.selector:
                    return Objective(spec, slo)
        return None


def resolve(plan: Path | None = None, specs: Path | None = None) -> CampaignContext:
    plan_path = plan or DEFAULT_PLAN
    specs_dir = specs or SPECS_DIR
    return CampaignContext(plan_path, load_plan(plan_path), specs_dir, tuple(load_specs(specs_dir)))
