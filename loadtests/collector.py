"""Per-second measurements of a run, mergeable across Locust workers.

Each process records into a `Collector`; workers ship `drain()` deltas to the master with every report,
and the master `merge()`s them. Response times go into HdrHistograms (per journey and second, in
microseconds, 1 us to 60 s, two significant digits): a percentile read from one is the highest value
equivalent to the recorded one, so it is at most `LATENCY_RELATIVE_ERROR` above the true value and never
below it. A run whose every request took 504 ms reports a p95 of 504-509 ms, not 500 (Locust's own
rounding to two digits reported 500, and passed a 500 ms bar).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from peakops.edgelog import CACHED_ROUTES

CHECKOUT_ROUTE = "/api/checkout"
HIGHEST_US = 60_000_000  # longer responses are recorded as 60 s
SIGNIFICANT_DIGITS = 2
LATENCY_RELATIVE_ERROR = 10.0**-SIGNIFICANT_DIGITS  # a reported percentile is within +1% of the truth


def latency_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_US, SIGNIFICANT_DIGITS)


def merged(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    total = latency_histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


def percentile(histogram: HdrHistogram, q: float) -> float:
    """The q-quantile in milliseconds (0 for an empty histogram)."""
    if histogram.get_total_count() == 0:
        return 0.0
    return float(histogram.get_value_at_percentile(q * 100)) / 1000


def _bucket() -> dict[str, Any]:
    return {"requests": 0, "failures": 0, "rt": latency_histogram()}


@dataclass
class Collector:
    # second -> count
    scheduled: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    started: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    dropped: int = 0
    # (journey, second) -> {"requests", "failures", "rt": {ms: count}}
    journeys: dict[tuple[str, int], dict[str, Any]] = field(default_factory=lambda: defaultdict(_bucket))
    # second -> {"HIT": n, "MISS": n, ...}: the X-Cache of responses to the routes the edge caches only
    # (peakops.edgelog.CACHED_ROUTES); the others are always PASS and would dilute the hit ratio.
    cache: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    # checkout outcomes: "order", "sold_out", "refused", "failed"
    checkout: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    orders_by_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # funnel step -> visitors who reached it
    funnel: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cpu: dict[int, float] = field(default_factory=dict)

    def request(
        self, journey: str, second: int, ms: float, failed: bool, x_cache: str | None, route: str = ""
    ) -> None:
        """One response: its journey, second of the run, time (ms), failure, X-Cache and route template."""
        bucket = self.journeys[(journey, second)]
        bucket["requests"] += 1
        bucket["failures"] += int(failed)
        bucket["rt"].record_value(min(max(1, round(ms * 1000)), HIGHEST_US))
        if x_cache and route in CACHED_ROUTES:
            self.cache[second][x_cache.upper()] += 1

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as plain data, and reset."""
        data = {
            "scheduled": dict(self.scheduled),
            "started": dict(self.started),
            "dropped": self.dropped,
            "journeys": [
                [j, s, b["requests"], b["failures"], b["rt"].encode().decode("ascii")]
                for (j, s), b in self.journeys.items()
            ],
            "cache": {s: dict(c) for s, c in self.cache.items()},
            "checkout": dict(self.checkout),
            "orders_by_second": dict(self.orders_by_second),
            "funnel": dict(self.funnel),
            "cpu": dict(self.cpu),
        }
        fresh = Collector()
        self.__dict__.update(fresh.__dict__)
        return data

    def merge(self, data: dict[str, Any]) -> None:
        for second, n in data["scheduled"].items():
            self.scheduled[int(second)] += n
        for second, n in data["started"].items():
            self.started[int(second)] += n
        self.dropped += data["dropped"]
        for journey, second, requests, failures, rt in data["journeys"]:
            bucket = self.journeys[(journey, int(second))]
            bucket["requests"] += requests
            bucket["failures"] += failures
            bucket["rt"].decode_and_add(rt)
        for second, counts in data["cache"].items():
            for status, n in counts.items():
                self.cache[int(second)][status] += n
        for outcome, n in data["checkout"].items():
            self.checkout[outcome] += n
        for second, n in data["orders_by_second"].items():
            self.orders_by_second[int(second)] += n
        for step, n in data["funnel"].items():
            self.funnel[step] += n
        for second, usage in data["cpu"].items():
            # Workers run side by side: the busiest one is what limits the generator.
            self.cpu[int(second)] = max(self.cpu.get(int(second), 0.0), usage)
