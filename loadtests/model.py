"""The traffic model: a campaign plan (or a canned shape) -> planned arrivals per second of a test.

Each influencer's clicks ramp linearly from the post to a peak, then decay exponentially (half-life) or
by a power law. The peak is chosen so the whole curve integrates to followers x reach x click-through,
and arrivals in an interval are computed from the curve's closed-form integral, so a second of the test
holds exactly the visitors the plan puts there. Staggered posts add up; the baseline runs underneath.

A plan spans hours; a test spans a minute. `time_scale` is plan seconds per test second, and
`traffic_scale` the share of the real visitors sent (or give `peak_arrivals` and the scale follows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from peakops.plan import CampaignPlan, Decay, Influencer

ORGANIC = "organic"
RETURNING = "returning"
ABUSIVE = "abusive"
INFLUENCER_PREFIX = "influencer:"


def _tail_integral(decay: Decay) -> float:
    """Integral of the normalised decay curve (peak 1) from the peak to infinity."""
    if decay.kind == "exponential":
        return decay.half_life_seconds / math.log(2)
    return decay.tau_seconds / (decay.alpha - 1)


def peak_rate(influencer: Influencer) -> float:
    """Visitors per second at the top of the curve."""
    area_per_unit_peak = influencer.ramp_seconds / 2 + _tail_integral(influencer.decay)
    return influencer.expected_visitors / area_per_unit_peak


def cumulative_visitors(influencer: Influencer, seconds_since_post: float) -> float:
    """Visitors who have arrived from this post by `seconds_since_post` (closed form)."""
    t = seconds_since_post
    if t <= 0:
        return 0.0
    peak = peak_rate(influencer)
    ramp = influencer.ramp_seconds
    if t <= ramp:
        return peak * t * t / (2 * ramp)
    after = t - ramp
    decay = influencer.decay
    if decay.kind == "exponential":
        tail = _tail_integral(decay) * (1 - 2 ** (-after / decay.half_life_seconds))
    else:
        tail = (
            decay.tau_seconds / (decay.alpha - 1) * (1 - (1 + after / decay.tau_seconds) ** (1 - decay.alpha))
        )
    return peak * (ramp / 2 + tail)


def rate_at(influencer: Influencer, seconds_since_post: float) -> float:
    t = seconds_since_post
    if t <= 0:
        return 0.0
    peak = peak_rate(influencer)
    if t <= influencer.ramp_seconds:
        return peak * t / influencer.ramp_seconds
    after = t - influencer.ramp_seconds
    decay = influencer.decay
    if decay.kind == "exponential":
        return peak * 2 ** (-after / decay.half_life_seconds)
    return float(peak * (1 + after / decay.tau_seconds) ** -decay.alpha)


@dataclass(frozen=True)
class Timeline:
    """Planned arrivals in each second of the test, by kind of visitor.

    Kinds: ``influencer:<slug>``, ``organic``, ``returning``, ``abusive``.
    """

    arrivals: dict[str, list[float]]
    seconds: int
    plan_start: datetime | None = None
    time_scale: float = 1.0
    traffic_scale: float = 1.0
    source: str = ""
    totals: list[float] = field(init=False)

    def __post_init__(self) -> None:
        totals = [sum(series[i] for series in self.arrivals.values()) for i in range(self.seconds)]
        object.__setattr__(self, "totals", totals)

    def peak_window(self, fraction: float = 0.5) -> tuple[int, int]:
        """First and last second (inclusive) whose planned arrivals reach `fraction` of the maximum."""
        top = max(self.totals, default=0.0)
        busy = [i for i, value in enumerate(self.totals) if value >= fraction * top and value > 0]
        return (busy[0], busy[-1]) if busy else (0, max(0, self.seconds - 1))

    def plan_time(self, test_second: float) -> datetime | None:
        if self.plan_start is None:
            return None
        return self.plan_start + timedelta(seconds=test_second * self.time_scale)

    @property
    def total_arrivals(self) -> float:
        return sum(self.totals)


def _split_baseline(plan: CampaignPlan, per_second: float) -> dict[str, float]:
    returning = per_second * plan.baseline.returning_share
    return {ORGANIC: per_second - returning, RETURNING: returning}


def from_plan(
    plan: CampaignPlan,
    *,
    start: datetime | None = None,
    duration_s: int,
    time_scale: float = 1.0,
    traffic_scale: float | None = None,
    peak_arrivals: float | None = None,
) -> Timeline:
    """Arrivals for `duration_s` test seconds, starting at plan time `start` (default: the window)."""
    if duration_s <= 0 or time_scale <= 0:
        raise ValueError("duration and time scale must be positive")
    start = plan.window.localise(start) if start else plan.window.start
    series: dict[str, list[float]] = {}
    for influencer in plan.influencers:
        offset = (start - influencer.post_time).total_seconds()
        points = [
            cumulative_visitors(influencer, offset + (i + 1) * time_scale)
            - cumulative_visitors(influencer, offset + i * time_scale)
            for i in range(duration_s)
        ]
        series[INFLUENCER_PREFIX + influencer.slug] = points
    for kind, per_second in _split_baseline(plan, plan.baseline.visitors_per_second).items():
        series[kind] = [per_second * time_scale] * duration_s
    # Abusive clients are part of the traffic: added before scaling, so --peak-arrivals N means the
    # busiest second holds N arrivals in all, whatever the plan's abusive share.
    _add_abusive(series, plan.mix.abusive_share)
    scale = _scale(series, traffic_scale, peak_arrivals)
    scaled = {kind: [v * scale for v in values] for kind, values in series.items()}
    return Timeline(scaled, duration_s, start, time_scale, scale, source=f"plan {plan.name}")


def _scale(series: dict[str, list[float]], traffic_scale: float | None, peak_arrivals: float | None) -> float:
    if peak_arrivals is not None:
        top = max(
            (sum(values[i] for values in series.values()) for i in range(len(next(iter(series.values()))))),
            default=0.0,
        )
        return peak_arrivals / top if top > 0 else 0.0
    return 1.0 if traffic_scale is None else traffic_scale


def _add_abusive(series: dict[str, list[float]], share: float) -> None:
    if share <= 0:
        return
    seconds = len(next(iter(series.values())))
    totals = [sum(values[i] for values in series.values()) for i in range(seconds)]
    series[ABUSIVE] = [t * share / (1 - share) for t in totals]


def rescaled(timeline: Timeline, traffic_scale: float | None, peak_arrivals: float | None) -> Timeline:
    """The same shape with every second multiplied: by `traffic_scale`, or so that the busiest second
    holds `peak_arrivals` (what `--peak-arrivals` means for a plan, now for a canned shape too)."""
    if traffic_scale is None and peak_arrivals is None:
        return timeline
    scale = _scale(timeline.arrivals, traffic_scale, peak_arrivals)
    return replace(
        timeline,
        arrivals={kind: [v * scale for v in values] for kind, values in timeline.arrivals.items()},
        traffic_scale=timeline.traffic_scale * scale,
    )


# ---- canned shapes: quick use without a plan ---------------------------------------------------------


def _shape(
    rate: Callable[[float], float],
    duration_s: int,
    influencer_share: float,
    name: str,
    abusive_share: float = 0.01,
) -> Timeline:
    totals = [rate(i + 0.5) for i in range(duration_s)]
    series = {
        INFLUENCER_PREFIX + "*": [t * influencer_share for t in totals],
        ORGANIC: [t * (1 - influencer_share) * 0.8 for t in totals],
        RETURNING: [t * (1 - influencer_share) * 0.2 for t in totals],
    }
    _add_abusive(series, abusive_share)
    return Timeline(series, duration_s, source=f"shape {name}")


def spike(
    duration_s: int,
    baseline: float,
    multiplier: float = 10,
    ramp_s: float = 10,
    half_life_s: float | None = None,
    at_s: float | None = None,
) -> Timeline:
    """Baseline, then N x baseline within `ramp_s` seconds, then an exponential decay."""
    at = duration_s * 0.2 if at_s is None else at_s
    half_life = half_life_s or max(1.0, duration_s * 0.2)
    extra = baseline * (multiplier - 1)

    def rate(t: float) -> float:
        if t < at:
            return baseline
        if t < at + ramp_s:
            return baseline + extra * (t - at) / ramp_s
        return baseline + extra * 2 ** (-(t - at - ramp_s) / half_life)

    return _shape(rate, duration_s, influencer_share=(multiplier - 1) / multiplier, name="spike")


def waves(duration_s: int, baseline: float, multiplier: float = 5, count: int = 3) -> Timeline:
    """Several posts in a row: a spike every duration/count seconds."""
    period = duration_s / count
    extra = baseline * (multiplier - 1)
    ramp = max(1.0, period * 0.1)
    half_life = max(1.0, period * 0.2)

    def rate(t: float) -> float:
        phase = t % period
        if phase < ramp:
            return baseline + extra * phase / ramp
        return baseline + extra * 2 ** (-(phase - ramp) / half_life)

    return _shape(rate, duration_s, influencer_share=0.7, name="waves")


def flash_sale(duration_s: int, baseline: float, multiplier: float = 8) -> Timeline:
    """A sale opens at a fixed moment: a step to N x baseline, held, then back."""
    opens, closes = duration_s * 0.25, duration_s * 0.75

    def rate(t: float) -> float:
        return baseline * multiplier if opens <= t < closes else baseline

    return _shape(rate, duration_s, influencer_share=0.8, name="flash-sale")


def soak(duration_s: int, baseline: float) -> Timeline:
    """Constant load, for leaks and drift."""
    return _shape(lambda _t: baseline, duration_s, influencer_share=0.2, name="soak")


SHAPES: dict[str, Callable[[int, float], Timeline]] = {
    "spike": spike,
    "waves": waves,
    "flash-sale": flash_sale,
    "soak": soak,
}
