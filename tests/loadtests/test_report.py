"""The run's summary: one funnel whose figures add up, and a cache hit ratio of the cached routes only."""

from __future__ import annotations

from typing import Any

from loadtests import report
from loadtests.collector import Collector
from loadtests.model import Timeline
from loadtests.verdict import evaluate
from peakops.plan import JourneyThresholds, Thresholds

THRESHOLDS = Thresholds(
    journeys={"influencer": JourneyThresholds(p95_ms=500, p99_ms=1000, max_error_ratio=0.01)},
)


def summarise(collector: Collector, seconds: int = 4) -> dict[str, Any]:
    timeline = Timeline({"influencer:x": [1.0] * seconds}, seconds)
    verdict = evaluate(timeline, collector, THRESHOLDS, None, seconds)
    rows = report.per_second(timeline, collector, seconds)
    return report.summary(timeline, collector, verdict, seconds, rows, {})


def test_the_hit_ratio_counts_only_the_routes_the_edge_caches() -> None:
    """The demo once printed 44%: checkouts and cart calls (always PASS) diluted the landing pages' hits."""
    collector = Collector()
    for second in range(4):
        collector.request("influencer", second, 20, False, "HIT", "/c/{slug}")
        collector.request("influencer", second, 20, False, "MISS", "/static/{name}")
        for route in ("/api/checkout", "/api/carts/{cart_id}/items", "/api/visits"):
            collector.request("influencer", second, 20, False, "PASS", route)
    summary = summarise(collector)
    assert summary["cache"] == {"responses": 8, "hits": 4}
    assert summary["cache_hit_ratio"] == 0.5
    assert all(row["cache_hit_ratio"] == 0.5 for row in summary["seconds"])


def test_every_checkout_attempt_is_in_the_funnel_once() -> None:
    """The demo once printed "checkout 81" next to "orders 112": returning visitors' checkouts were orders
    but not in the funnel."""
    collector = Collector()
    collector.funnel.update(landing=100, browse=60, cart=20, checkout=10, returning=30, returning_checkout=8)
    collector.checkout.update(order=15, sold_out=2, failed=1)
    funnel = summarise(collector)["funnel"]
    assert funnel["checkout_attempts"] == 18
    assert funnel["returning_checkout"] == 8
