"""Capacity arithmetic: the knee of a step load, the plan's peaks per post, replicas with headroom."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loadtests.capacity import Limits, Step, knee, post_peaks, replicas_needed, stack_config
from loadtests.model import from_plan
from peakops.paths import DEFAULT_PLAN
from peakops.plan import load_plan

LIMITS = Limits(p95_ms=500, max_error_ratio=0.01)


def test_the_knee_is_the_last_step_within_the_bars() -> None:
    steps = [
        Step(10, 10, 40, 0.0),
        Step(20, 20, 90, 0.0),
        Step(40, 40, 310, 0.004),
        Step(80, 80, 900, 0.002),  # p95 over the bar
        Step(160, 160, 300, 0.0),  # never reached: the search stopped before it
    ]
    found = knee(steps, LIMITS)
    assert found.per_second == 40
    assert found.reason == "p95 900 ms > 500 ms at 80/s"


def test_errors_end_the_search_too() -> None:
    found = knee([Step(10, 10, 40, 0.0), Step(20, 20, 60, 0.05)], LIMITS)
    assert (found.per_second, found.reason) == (10, "error ratio 5.00% > 1.00% at 20/s")


def test_a_step_the_generator_could_not_produce_is_no_evidence() -> None:
    """94% of the planned arrivals started: the generator's limit, not the shop's."""
    found = knee([Step(10, 10, 40, 0.0), Step(20, 18.8, 60, 0.0), Step(40, 40, 60, 0.0)], LIMITS)
    assert found.per_second == 10
    assert "the generator started 18.8 of 20.0/s" in found.reason
    saturated = knee([Step(10, 10, 40, 0.0), Step(20, 20, 60, 0.0, generator_saturated=True)], LIMITS)
    assert (saturated.per_second, saturated.reason) == (
        10,
        "the generator saturated at 20/s: no evidence past this step",
    )


def test_no_step_within_the_bars_gives_no_knee() -> None:
    assert knee([Step(10, 10, 700, 0.0)], LIMITS).per_second is None


@pytest.mark.parametrize(
    ("rate", "knee_rate", "headroom", "expected"),
    [(100, 30, 0.3, 5), (21, 30, 0.3, 1), (21.01, 30, 0.3, 2), (0, 30, 0.0, 1), (90, 30, 0.0, 3)],
)
def test_replicas_keep_the_stated_headroom(
    rate: float, knee_rate: float, headroom: float, expected: int
) -> None:
    assert replicas_needed(rate, knee_rate, headroom) == expected


def test_nonsense_capacity_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="knee_per_second must be > 0"):
        replicas_needed(10, 0, 0.3)
    with pytest.raises(ValueError, match=r"headroom must be in \[0, 1\)"):
        replicas_needed(10, 30, 1)


def test_each_posts_peak_is_what_the_traffic_model_plays() -> None:
    """The prediction and the load test share one model: at each post's peak second the timeline's total
    (every post, the baseline, the abusive share) equals the predicted rate."""
    plan = load_plan(DEFAULT_PLAN)
    for peak in post_peaks(plan):
        # The model's arrivals in the two seconds around the peak, at real time (time scale 1).
        timeline = from_plan(plan, start=peak.peak_at - timedelta(seconds=1), duration_s=2)
        assert sum(timeline.totals) / 2 == pytest.approx(peak.per_second, rel=0.02), peak
    busiest = max(post_peaks(plan), key=lambda p: p.per_second)
    assert busiest.slug == "marco-fit"  # lands on Lena's tail: 11.3/s, above Lena's own 8.2/s
    assert busiest.peak_at - busiest.post_time == timedelta(seconds=45)


def test_the_stack_config_prescales_for_the_busiest_post() -> None:
    plan = load_plan(DEFAULT_PLAN)
    config = stack_config(post_peaks(plan), knee_per_second=3, headroom=0.3, baseline_per_second=1.5)
    # 11.4/s at the busiest peak / (3 x 0.7) -> 6; the baseline 1.5/s -> 1; one spare above the peak.
    assert config == {"peakops:appReplicasMin": 1, "peakops:prescaleReplicas": 6, "peakops:appReplicasMax": 7}
