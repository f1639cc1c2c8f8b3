"""The verdict on synthetic measurements: pass, fail, invalid, and which wins."""

from __future__ import annotations

import json
from pathlib import Path

from loadtests.collector import LATENCY_RELATIVE_ERROR, Collector, percentile
from loadtests.model import Timeline
from loadtests.verdict import CheckoutBar, Outcome, checkout_bar, evaluate
from peakops.context import resolve
from peakops.paths import SPECS_DIR
from peakops.plan import JourneyThresholds, Thresholds

THRESHOLDS = Thresholds(
    journeys={"influencer": JourneyThresholds(p95_ms=500, p99_ms=1000, max_error_ratio=0.01)},
)
THRESHOLDS_500 = Thresholds(
    journeys={"influencer": JourneyThresholds(p95_ms=500, p99_ms=1000, max_error_ratio=0.01)},
)
BAR = CheckoutBar(0.98, "a test's bar")


def flat_timeline(seconds: int = 30, rate: float = 10) -> Timeline:
    return Timeline({"influencer:x": [rate] * seconds}, seconds)


def healthy(seconds: int = 30, rate: int = 10, ms: float = 50) -> Collector:
    c = Collector()
    for s in range(seconds):
        c.scheduled[s] = rate
        c.started[s] = rate
        for _ in range(rate * 3):
            c.request("influencer", s, ms, False, None)
        c.orders_by_second[s] = 1
    c.checkout["order"] = seconds
    return c


def test_healthy_run_passes() -> None:
    verdict = evaluate(flat_timeline(), healthy(), THRESHOLDS, BAR, 30)
    assert verdict.outcome is Outcome.PASS
    assert 50 <= verdict.journeys["influencer"].p95_ms <= 50 * (1 + LATENCY_RELATIVE_ERROR)


def test_slow_journey_fails() -> None:
    verdict = evaluate(flat_timeline(), healthy(ms=700), THRESHOLDS, BAR, 30)
    assert verdict.outcome is Outcome.FAIL
    assert any("influencer p95 700 ms > 500 ms" in r for r in verdict.reasons)


def test_failed_checkouts_fail() -> None:
    c = healthy()
    c.checkout["failed"] = 5
    verdict = evaluate(flat_timeline(), c, THRESHOLDS, BAR, 30)
    assert verdict.outcome is Outcome.FAIL
    assert any("checkout success" in r for r in verdict.reasons)


def test_short_arrivals_make_the_run_invalid_even_when_it_also_fails() -> None:
    c = healthy(ms=700)
    for s in range(10, 20):
        c.started[s] = 9  # 90% of planned in that bucket
    verdict = evaluate(flat_timeline(), c, THRESHOLDS, BAR, 30)
    assert verdict.outcome is Outcome.INVALID
    assert any("seconds 10-19 started 90 of 100" in r for r in verdict.reasons)


def test_saturated_generator_cpu_is_invalid() -> None:
    c = healthy()
    c.cpu[12] = 97.0
    verdict = evaluate(flat_timeline(), c, THRESHOLDS, BAR, 30)
    assert verdict.outcome is Outcome.INVALID
    assert any("CPU reached 97%" in r for r in verdict.reasons)


def test_collector_drain_and_merge_roundtrip() -> None:
    worker_a, worker_b, master = healthy(seconds=5), healthy(seconds=5, ms=80), Collector()
    worker_a.cpu[1] = 40.0
    worker_b.cpu[1] = 70.0
    master.merge(worker_a.drain())
    master.merge(worker_b.drain())
    assert master.started[0] == 20
    assert master.cpu[1] == 70.0
    assert worker_a.drain()["started"] == {}  # drained
    rt = master.journeys[("influencer", 0)]["rt"]
    assert rt.get_total_count() == 60
    assert rt.get_count_at_value(50_000) == 30  # microseconds
    assert rt.get_count_at_value(80_000) == 30


def test_percentiles_have_a_stated_error_and_are_never_below_the_truth() -> None:
    collector = Collector()
    for ms in [10.0] * 90 + [100.0] * 9 + [1000.0]:
        collector.request("influencer", 0, ms, False, None)
    histogram = collector.journeys[("influencer", 0)]["rt"]
    for q, truth in ((0.5, 10.0), (0.95, 100.0), (1.0, 1000.0)):
        assert truth <= percentile(histogram, q) <= truth * (1 + LATENCY_RELATIVE_ERROR)


def test_every_request_at_504_ms_fails_a_500_ms_p95_bar() -> None:
    """Rounded to two digits (Locust's way) 504 ms became 500 and passed; the histogram says 504+."""
    verdict = evaluate(flat_timeline(), healthy(ms=504), THRESHOLDS_500, BAR, 30)
    assert verdict.outcome is Outcome.FAIL
    assert 504 <= verdict.journeys["influencer"].p95_ms <= 504 * (1 + LATENCY_RELATIVE_ERROR)


def test_worker_histograms_merge_on_the_master() -> None:
    worker, master = Collector(), Collector()
    for ms in (5.0, 50.0, 500.0):
        worker.request("organic", 3, ms, False, None)
    master.merge(json.loads(json.dumps(worker.drain())))  # the report travels as JSON-able data
    merged = master.journeys[("organic", 3)]
    assert merged["requests"] == 3
    assert percentile(merged["rt"], 1.0) >= 500


def test_the_checkout_bar_comes_from_the_slo_specs(tmp_path: Path) -> None:
    bar = checkout_bar(resolve())
    assert bar == CheckoutBar(0.999, "SLO shop/checkout-success (99.9%)")  # monitors/slos/shop.yaml
    # 1028 orders of 1030 attempts: fine against a 98% bar, a failure against the SLO's 99.9%.
    collector = healthy()
    collector.checkout["order"] += 998
    collector.checkout["failed"] += 2
    assert evaluate(flat_timeline(), collector, THRESHOLDS, BAR, 30).outcome is Outcome.PASS
    failed = evaluate(flat_timeline(), collector, THRESHOLDS, bar, 30)
    assert failed.outcome is Outcome.FAIL
    assert "fail: checkout success 99.81% < 99.90% (SLO shop/checkout-success (99.9%))" in failed.reasons
    # Without a checkout SLO the checkout success is not judged, and the verdict says so.
    (tmp_path / "other.yaml").write_text(
        (SPECS_DIR / "shop.yaml").read_text().replace("peakops_checkouts_total", "peakops_promo_checks_total")
    )
    assert checkout_bar(resolve(specs=tmp_path)) is None
    unjudged = evaluate(flat_timeline(), collector, THRESHOLDS, None, 30)
    assert unjudged.outcome is Outcome.PASS
    assert any("checkout success not judged" in reason for reason in unjudged.reasons)
