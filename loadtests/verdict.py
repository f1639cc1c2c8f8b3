"""The verdict of a run: pass (0), fail (1) or invalid (2), with the reasons.

Invalid wins over fail: when the generator could not send what the plan asked, the measurements describe
the generator, not the shop. A run is invalid when, in any 10-second bucket of the peak window, the
journeys started fall below 95% of those planned, or when a generator process's CPU saturated.
Otherwise it fails when any journey's p95, p99 or error ratio, the checkout success ratio or the order
rate misses its threshold over the peak window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from loadtests.collector import Collector, latency_histogram, percentile
from loadtests.model import Timeline
from peakops.context import CampaignContext
from peakops.plan import Thresholds

BUCKET_SECONDS = 10
MIN_ACHIEVED_RATIO = 0.95
CPU_SATURATED_PERCENT = 90.0


class Outcome(IntEnum):
    PASS = 0
    FAIL = 1
    INVALID = 2


@dataclass
class JourneyResult:
    requests: int
    failures: int
    error_ratio: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class Verdict:
    outcome: Outcome
    reasons: list[str]
    peak_window: tuple[int, int]
    journeys: dict[str, JourneyResult] = field(default_factory=dict)
    checkout_success_ratio: float | None = None
    orders_per_second: float = 0.0
    arrival_buckets: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.name.lower()
        data["exit_code"] = int(self.outcome)
        return data


def journey_results(collector: Collector, first: int, last: int) -> dict[str, JourneyResult]:
    merged: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "failures": 0, "rt": latency_histogram()}
    )
    for (journey, second), bucket in collector.journeys.items():
        if first <= second <= last:
            target = merged[journey]
            target["requests"] += bucket["requests"]
            target["failures"] += bucket["failures"]
            target["rt"].add(bucket["rt"])
    return {
        journey: JourneyResult(
            requests=data["requests"],
            failures=data["failures"],
            error_ratio=data["failures"] / data["requests"] if data["requests"] else 0.0,
            p50_ms=percentile(data["rt"], 0.50),
            p95_ms=percentile(data["rt"], 0.95),
            p99_ms=percentile(data["rt"], 0.99),
        )
        for journey, data in sorted(merged.items())
    }


def arrival_buckets(
    timeline: Timeline, collector: Collector, first: int, last: int
) -> list[dict[str, float]]:
    """Planned vs started journeys per 10-second bucket of the peak window (a shorter window: one)."""
    buckets: list[dict[str, float]] = []
    start = first
    while start <= last:
        end = min(start + BUCKET_SECONDS - 1, last)
        if end - start + 1 < BUCKET_SECONDS and buckets:
            break  # a ragged tail is too short to judge on its own
        planned = sum(timeline.totals[s] for s in range(start, end + 1))
        achieved = sum(collector.started.get(s, 0) for s in range(start, end + 1))
        buckets.append(
            {
                "first": start,
                "last": end,
                "planned": planned,
                "achieved": achieved,
                "ratio": achieved / planned if planned else 1.0,
            }
        )
        start = end + 1
    return buckets


@dataclass(frozen=True)
class CheckoutBar:
    """The checkout success bar: the objective of the SLO on checkout outcomes (peakops/context.py).

    The verdict counts checkouts as that SLI does (orders over orders and failures; stock-outs and a
    customer's refusals are neither), so the SLO's objective is the bar, stated once, in the SLO spec."""

    ratio: float
    source: str  # "SLO shop/checkout-success (99.9%)"


def checkout_bar(campaign: CampaignContext) -> CheckoutBar | None:
    """The bar from the campaign's SLO specs, or None when no SLO classes checkout outcomes."""
    objective = campaign.checkout_objective()
    return CheckoutBar(objective.ratio, str(objective)) if objective else None


def evaluate(
    timeline: Timeline,
    collector: Collector,
    thresholds: Thresholds,
    checkout_bar: CheckoutBar | None,
    elapsed_s: float,
) -> Verdict:
    first, last = timeline.peak_window()
    last = min(last, max(first, int(elapsed_s) - 1))
    reasons: list[str] = []
    invalid = False

    buckets = arrival_buckets(timeline, collector, first, last)
    for bucket in buckets:
        if bucket["planned"] >= 1 and bucket["ratio"] < MIN_ACHIEVED_RATIO:
            invalid = True
            reasons.append(
                f"invalid: seconds {bucket['first']}-{bucket['last']} started {bucket['achieved']:.0f} "
                f"of {bucket['planned']:.0f} planned arrivals ({bucket['ratio']:.0%} < "
                f"{MIN_ACHIEVED_RATIO:.0%}): the generator could not keep up"
            )
    peak_cpu = [usage for second, usage in collector.cpu.items() if first <= second <= last]
    if peak_cpu and max(peak_cpu) >= CPU_SATURATED_PERCENT:
        invalid = True
        reasons.append(
            f"invalid: generator CPU reached {max(peak_cpu):.0f}% during the peak (limit "
            f"{CPU_SATURATED_PERCENT:.0f}%): add --processes or workers"
        )

    journeys = journey_results(collector, first, last)
    failed = False
    for name, limits in thresholds.journeys.items():
        result = journeys.get(name)
        if result is None or result.requests == 0:
            continue
        for label, value, limit in (
            ("p95", result.p95_ms, limits.p95_ms),
            ("p99", result.p99_ms, limits.p99_ms),
        ):
            if value > limit:
                failed = True
                reasons.append(f"fail: {name} {label} {value:.0f} ms > {limit:.0f} ms")
        if result.error_ratio > limits.max_error_ratio:
            failed = True
            reasons.append(
                f"fail: {name} error ratio {result.error_ratio:.2%} > {limits.max_error_ratio:.2%}"
            )

    attempts = collector.checkout.get("order", 0) + collector.checkout.get("failed", 0)
    success = collector.checkout.get("order", 0) / attempts if attempts else None
    if checkout_bar is None:
        reasons.append("checkout success not judged: no SLO in the specs classes checkout outcomes")
    elif success is not None and success < checkout_bar.ratio:
        failed = True
        reasons.append(
            f"fail: checkout success {success:.2%} < {checkout_bar.ratio:.2%} ({checkout_bar.source})"
        )
    peak_seconds = last - first + 1
    orders = sum(n for second, n in collector.orders_by_second.items() if first <= second <= last)
    orders_per_second = orders / peak_seconds if peak_seconds > 0 else 0.0
    if orders_per_second < thresholds.min_orders_per_second:
        failed = True
        reasons.append(f"fail: {orders_per_second:.2f} orders/s < {thresholds.min_orders_per_second:.2f}")

    outcome = Outcome.INVALID if invalid else Outcome.FAIL if failed else Outcome.PASS
    if outcome is Outcome.PASS:
        reasons.append("pass: every journey within its thresholds over the peak window")
    return Verdict(outcome, reasons, (first, last), journeys, success, orders_per_second, buckets)
