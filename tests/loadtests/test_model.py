"""The traffic model: totals, superposition, time zones, scaling, canned shapes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from loadtests import model
from peakops.paths import DEFAULT_PLAN
from peakops.plan import CampaignPlan, parse_plan

DEMO_TEXT = DEFAULT_PLAN.read_text()


def plan_with(**changes: Any) -> CampaignPlan:
    data = yaml.safe_load(DEMO_TEXT)
    data.update(changes)
    return parse_plan(yaml.safe_dump(data), "test")


def test_each_post_delivers_followers_x_reach_x_click_through() -> None:
    for influencer in plan_with().influencers:
        expected = influencer.followers * influencer.reach * influencer.click_through
        horizon = 10**7  # the power law's tail is long
        assert model.cumulative_visitors(influencer, horizon) == pytest.approx(expected, rel=0.01)
        assert model.cumulative_visitors(influencer, 0) == 0


def test_rate_is_the_derivative_of_the_cumulative_curve() -> None:
    for influencer in plan_with().influencers:
        for t in (10.0, 59.0, 61.0, 300.0, 3000.0):
            numeric = (
                model.cumulative_visitors(influencer, t + 0.01) - model.cumulative_visitors(influencer, t)
            ) / 0.01
            assert numeric == pytest.approx(model.rate_at(influencer, t + 0.005), rel=1e-3)


def test_timeline_totals_match_the_plan_within_tolerance() -> None:
    plan = plan_with(baseline={"visitors_per_second": 0, "returning_share": 0.2}, mix={"abusive_share": 0})
    start = plan.window.start
    timeline = model.from_plan(plan, start=start, duration_s=300, time_scale=60)  # the whole 5-hour window
    expected = sum(i.expected_visitors for i in plan.influencers)
    # The power-law post keeps a little tail beyond the window's end.
    assert timeline.total_arrivals == pytest.approx(expected, rel=0.03)


def test_staggered_posts_superpose() -> None:
    base = yaml.safe_load(DEMO_TEXT)
    base["baseline"]["visitors_per_second"] = 0
    base["mix"]["abusive_share"] = 0
    both = parse_plan(yaml.safe_dump(base), "both")
    singles = []
    for index in range(2):
        one = dict(base, influencers=[base["influencers"][index]])
        singles.append(parse_plan(yaml.safe_dump(one), f"single{index}"))
    start = both.influencers[0].post_time - timedelta(seconds=60)
    pair = both.model_copy(update={"influencers": both.influencers[:2]})
    combined = model.from_plan(pair, start=start, duration_s=120, time_scale=30)
    separate = [model.from_plan(p, start=start, duration_s=120, time_scale=30) for p in singles]
    for second in range(120):
        assert combined.totals[second] == pytest.approx(
            separate[0].totals[second] + separate[1].totals[second]
        )
    # Marco posts 20 minutes after Lena: from test second 42 (21 plan minutes in) both contribute.
    assert separate[0].totals[45] > 0
    assert separate[1].totals[45] > 0
    assert separate[1].totals[40] == 0


def test_time_zones_are_honoured() -> None:
    plan = plan_with()  # Lena posts at 19:00 local time in Europe/Berlin, i.e. 18:00 UTC
    same_moment_in_utc = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    at_post = model.from_plan(plan, start=same_moment_in_utc, duration_s=5)
    assert at_post.arrivals["influencer:lena-glow"][0] > 0
    # A start without an offset is read in the plan's zone: 18:00 Berlin is an hour before the post.
    naive_local = model.from_plan(plan, start=datetime(2026, 12, 3, 18, 0), duration_s=5)
    assert naive_local.arrivals["influencer:lena-glow"] == [0.0] * 5
    assert naive_local.plan_start == datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("abusive_share", [0.0, 0.01, 0.2, 0.5])
def test_peak_arrivals_is_the_busiest_second_exactly(abusive_share: float) -> None:
    """--peak-arrivals 40 gave 40.4 with the demo plan and 50.0 with abusive_share 0.2: the scale was
    computed before the abusive clients were added. Exactly 40, whatever the share."""
    plan = plan_with(mix={**yaml.safe_load(DEMO_TEXT)["mix"], "abusive_share": abusive_share})
    timeline = model.from_plan(plan, duration_s=60, time_scale=60, peak_arrivals=40)
    assert max(timeline.totals) == pytest.approx(40, rel=1e-12)
    abusive = timeline.arrivals.get(model.ABUSIVE, [0.0] * 60)
    busiest = timeline.totals.index(max(timeline.totals))
    assert abusive[busiest] == pytest.approx(40 * abusive_share, rel=1e-9)


def test_peak_arrivals_sets_the_scale() -> None:
    timeline = model.from_plan(plan_with(), duration_s=60, time_scale=60, peak_arrivals=40)
    first, last = timeline.peak_window()
    assert timeline.totals[first] >= 0.5 * max(timeline.totals)
    assert first <= timeline.totals.index(max(timeline.totals)) <= last


@pytest.mark.parametrize("name", list(model.SHAPES))
def test_canned_shapes(name: str) -> None:
    timeline = model.SHAPES[name](60, 2.0)
    assert timeline.seconds == 60
    assert all(value >= 0 for value in timeline.totals)
    assert not any(math.isnan(value) for value in timeline.totals)
    if name == "spike":
        assert max(timeline.totals) == pytest.approx(20 / 0.99, rel=0.05)  # 10 x baseline, plus abuse
        assert timeline.totals[0] == pytest.approx(2 / 0.99, rel=0.01)
    if name == "soak":
        assert max(timeline.totals) == pytest.approx(min(timeline.totals))


@pytest.mark.parametrize("name", list(model.SHAPES))
def test_peak_arrivals_scales_a_canned_shape_like_a_plan(name: str) -> None:
    # `--shape spike --peak-arrivals 80` once ran the unscaled spike (10 x the baseline) and ignored 80.
    timeline = model.rescaled(model.SHAPES[name](60, 2.0), None, 80)
    assert max(timeline.totals) == pytest.approx(80)
    unscaled = model.SHAPES[name](60, 2.0)
    ratios = {round(a / b, 9) for a, b in zip(timeline.totals, unscaled.totals, strict=True) if b}
    assert len(ratios) == 1  # the shape kept, only its height changed
    assert timeline.traffic_scale == pytest.approx(80 / max(unscaled.totals))
    assert max(model.rescaled(unscaled, 0.5, None).totals) == pytest.approx(max(unscaled.totals) / 2)
