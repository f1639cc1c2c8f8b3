"""Per-second measurements of a run, mergeable across Locust workers.

Each process records into a `Collector`; workers ship `drain()` deltas to the master with every report,
and the master `merge()`s them. Response times are kept as Locust keeps them (rounded to two significant
digits, counted), so percentiles stay exact enough while the payload stays small.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

CHECKOUT_ROUTE = "/api/checkout"


def round_ms(ms: float) -> int:
    """Locust's rounding: exact below 100 ms, two significant digits above."""
    if ms < 100:
        return round(ms)
    magnitude = 10 ** (len(str(int(ms))) - 2)
    return int(round(ms / magnitude) * magnitude)


def percentile(histogram: dict[int, int], q: float) -> float:
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def _bucket() -> dict[str, Any]:
    return {"requests": 0, "failures": 0, "rt": defaultdict(int)}


@dataclass
class Collector:
    # second -> count
    scheduled: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    started: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    dropped: int = 0
    # (journey, second) -> {"requests", "failures", "rt": {ms: count}}
    journeys: dict[tuple[str, int], dict[str, Any]] = field(default_factory=lambda: defaultdict(_bucket))
    # second -> {"HIT": n, "MISS": n, ...}
    cache: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    # checkout outcomes: "order", "sold_out", "refused", "failed"
    checkout: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    orders_by_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # funnel step -> visitors who reached it
    funnel: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cpu: dict[int, float] = field(default_factory=dict)

    def request(self, journey: str, second: int, ms: float, failed: bool, x_cache: str | None) -> None:
        bucket = self.journeys[(journey, second)]
        bucket["requests"] += 1
        bucket["failures"] += int(failed)
        bucket["rt"][round_ms(ms)] += 1
        if x_cache:
            self.cache[second][x_cache.upper()] += 1

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as plain data, and reset."""
        data = {
            "scheduled": dict(self.scheduled),
            "started": dict(self.started),
            "dropped": self.dropped,
            "journeys": [
                [j, s, b["requests"], b["failures"], dict(b["rt"])] for (j, s), b in self.journeys.items()
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
            for ms, n in rt.items():
                bucket["rt"][int(ms)] += n
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
