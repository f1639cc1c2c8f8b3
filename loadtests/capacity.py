"""Capacity from a step load: the knee of one app instance, and the replicas each post of a plan needs.

    knee(steps, limits) -> Knee             the highest step one instance sustains within the SLO bars
    post_peaks(plan) -> [PostPeak]          the plan's predicted arrivals per second at each post's peak
    replicas_needed(rate, knee, headroom)   ceil(rate / (knee x (1 - headroom)))
    stack_config(peaks, knee, headroom, baseline) -> the Pulumi stack keys (appReplicasMin/Max,
                                                     prescaleReplicas) the program reads (infra/config.py)

A step counts only when the generator produced its load (`Step.valid`: at least MIN_ACHIEVED_RATIO of
the planned arrivals started; loadtests/verdict.py applies the same check), so the knee is the shop's,
not the generator's. Rates are visitor arrivals per second (each a whole journey), the unit of the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from loadtests.model import rate_at
from loadtests.verdict import MIN_ACHIEVED_RATIO
from peakops.plan import CampaignPlan


@dataclass(frozen=True)
class Step:
    """One step of the step load, measured: planned and started arrivals/s, p95 (ms), error ratio."""

    planned_per_second: float
    started_per_second: float
    p95_ms: float
    error_ratio: float
    generator_saturated: bool = False  # the load test's verdict was invalid (e.g. its CPU at 90%)

    @property
    def valid(self) -> bool:
        started_enough = self.started_per_second >= MIN_ACHIEVED_RATIO * self.planned_per_second
        return started_enough and not self.generator_saturated


@dataclass(frozen=True)
class Limits:
    """The SLO bars a step must meet (the plan's journey thresholds, or the SLO specs' latency bar)."""

    p95_ms: float
    max_error_ratio: float


@dataclass(frozen=True)
class Knee:
    """arrivals/s one instance sustains (None: not even the first step), and why the search stopped."""

    per_second: float | None
    reason: str


def knee(steps: list[Step], limits: Limits) -> Knee:
    """The last step, in increasing order, before the first that misses a bar. A step the generator could
    not produce ends the search as invalid evidence, never as the shop's limit."""
    best: float | None = None
    for step in sorted(steps, key=lambda s: s.planned_per_second):
        if not step.valid:
            short = (
                "the generator saturated"
                if step.generator_saturated
                else f"the generator started {step.started_per_second:.1f} of {step.planned_per_second:.1f}/s"
            )
            return Knee(best, f"{short} at {step.planned_per_second:g}/s: no evidence past this step")
        if step.p95_ms > limits.p95_ms:
            return Knee(
                best, f"p95 {step.p95_ms:.0f} ms > {limits.p95_ms:.0f} ms at {step.planned_per_second:g}/s"
            )
        if step.error_ratio > limits.max_error_ratio:
            return Knee(
                best,
                f"error ratio {step.error_ratio:.2%} > {limits.max_error_ratio:.2%} "
                f"at {step.planned_per_second:g}/s",
            )
        best = step.planned_per_second
    return Knee(best, "every step within the bars: the knee is at least the last step")


@dataclass(frozen=True)
class PostPeak:
    slug: str
    post_time: datetime
    peak_at: datetime
    per_second: float  # every post's visitors plus the baseline, at this post's peak


def post_peaks(plan: CampaignPlan) -> list[PostPeak]:
    """For each post: the predicted arrivals/s when its clicks peak (ramp end), all posts superposed
    (loadtests/model.py rate_at) plus the baseline's visitors and the abusive share on top."""
    out = []
    for influencer in plan.influencers:
        moment = influencer.post_time + timedelta(seconds=influencer.ramp_seconds)
        visitors = plan.baseline.visitors_per_second + sum(
            rate_at(other, (moment - other.post_time).total_seconds()) for other in plan.influencers
        )
        # Abusive clients are a share of all arrivals (loadtests/model.py adds them the same way).
        total = visitors / (1 - plan.mix.abusive_share)
        out.append(PostPeak(influencer.slug, influencer.post_time, moment, total))
    return out


def replicas_needed(per_second: float, knee_per_second: float, headroom: float) -> int:
    """ceil(rate / (knee x (1 - headroom))): `headroom` is the share of each instance kept free (0.3: run
    at 70% of the knee). Raises ValueError on a knee <= 0 or a headroom outside [0, 1)."""
    if knee_per_second <= 0:
        raise ValueError("knee_per_second must be > 0")
    if not 0 <= headroom < 1:
        raise ValueError("headroom must be in [0, 1)")
    return max(1, math.ceil(per_second / (knee_per_second * (1 - headroom))))


def stack_config(
    peaks: list[PostPeak], knee_per_second: float, headroom: float, baseline_per_second: float
) -> dict[str, int]:
    """The keys of the Pulumi stack the program reads: the HPA's floor for the baseline, the pre-scaled
    minimum for the busiest post, and a maximum with one spare instance above it."""
    floor = replicas_needed(baseline_per_second, knee_per_second, headroom)
    busiest = max((replicas_needed(p.per_second, knee_per_second, headroom) for p in peaks), default=floor)
    prescale = max(floor, busiest)
    return {
        "peakops:appReplicasMin": floor,
        "peakops:prescaleReplicas": prescale,
        "peakops:appReplicasMax": prescale + 1,
    }
