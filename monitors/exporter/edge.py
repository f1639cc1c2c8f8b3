"""Edge access-log lines -> per-journey request counters and latency histograms, with bounded labels.

`EdgeStats.ingest` is the hot path (the benchmark holds it to >= 150k lines/s on one core): one orjson
parse per line, dict lookups, a bisect for the bucket, and plain integer counts. The collector turns the
counts into metric families at scrape time, so a scrape never waits on parsing per line.

Labels: journey (from peakops/edgelog.py, "other" for the rest), code_class (2xx...5xx) and cache (the
edge's cache status, PASS when not cached). Everything else in a line is dropped, so no client-supplied
value can create a series.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator

import orjson
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from monitors import facts
from monitors.exporter.logtail import LogTail
from peakops import edgelog, metrics

BOUNDS = tuple(float(b) for b in facts.EDGE_BUCKETS)
_CACHE = {status: status for status in facts.CACHE_STATUSES}
_JOURNEY_INDEX = {journey: i for i, journey in enumerate(edgelog.JOURNEYS)}
_ROUTE_JOURNEY = {
    key: _JOURNEY_INDEX[journey] for journey, keys in edgelog.JOURNEY_ROUTES.items() for key in keys
}
_ROUTE_JOURNEY.update({("HEAD", r): j for (m, r), j in list(_ROUTE_JOURNEY.items()) if m == "GET"})
_OTHER = _JOURNEY_INDEX["other"]


class EdgeStats:
    """Counts since the exporter started; `snapshot()` copies them for a scrape under the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[int, int, str], int] = {}
        journeys = len(edgelog.JOURNEYS)
        self.buckets = [[0] * (len(BOUNDS) + 1) for _ in range(journeys)]
        self.sums = [0.0] * journeys
        self.parsed = 0
        self.malformed = 0

    def ingest(self, lines: Iterable[bytes]) -> None:
        requests, buckets, sums = self.requests, self.buckets, self.sums
        loads, route_journey, cache_of, bounds = orjson.loads, _ROUTE_JOURNEY, _CACHE, BOUNDS
        parsed = malformed = 0
        with self.lock:
            for line in lines:
                if not line:
                    continue
                try:
                    entry = loads(line)
                    status = entry["status"]
                    seconds = entry["request_time"]
                    journey = route_journey.get((entry["method"], entry["route"]), _OTHER)
                    if type(status) is not int or not 100 <= status <= 599 or seconds < 0:
                        raise ValueError(status)
                    key = (journey, status // 100, cache_of.get(entry.get("cache"), "PASS"))
                    buckets[journey][bisect_left(bounds, seconds)] += 1
                except (ValueError, KeyError, TypeError):  # orjson.JSONDecodeError is a ValueError
                    malformed += 1
                    continue
                requests[key] = requests.get(key, 0) + 1
                sums[journey] += seconds
                parsed += 1
            self.parsed += parsed
            self.malformed += malformed

    def snapshot(self) -> tuple[dict[tuple[int, int, str], int], list[list[int]], list[float], int, int]:
        with self.lock:
            return (
                dict(self.requests),
                [list(b) for b in self.buckets],
                list(self.sums),
                self.parsed,
                self.malformed,
            )


class EdgeCollector(Collector):
    """Builds fresh families from `EdgeStats` on every scrape; keeps no state of its own."""

    def __init__(self, stats: EdgeStats, tail: LogTail | None = None) -> None:
        self.stats = stats
        self.tail = tail

    def collect(self) -> Iterator[Metric]:
        requests, buckets, sums, parsed, malformed = self.stats.snapshot()
        family = CounterMetricFamily(
            metrics.family(metrics.EDGE_REQUESTS),
            "Requests the edge served, by journey, status class and cache status (from its access log).",
            labels=["journey", "code_class", "cache"],
        )
        for (journey, status_class, cache), count in sorted(requests.items()):
            family.add_metric([edgelog.JOURNEYS[journey], f"{status_class}xx", cache], count)
        yield family

        histogram = HistogramMetricFamily(
            metrics.EDGE_REQUEST_DURATION,
            "Edge request time (first byte read to last byte sent), by journey.",
            labels=["journey"],
        )
        for index, name in enumerate(edgelog.JOURNEYS):
            counts = buckets[index]
            total = sum(counts)
            if not total:
                continue
            cumulative: list[tuple[str, float]] = []
            running = 0
            for bound, count in zip((*[facts.le_label(b) for b in BOUNDS], "+Inf"), counts, strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric([name], cumulative, sums[index])
        yield histogram

        lines = CounterMetricFamily(
            metrics.family(metrics.EDGE_LOG_LINES), "Access-log lines read, by result.", labels=["result"]
        )
        lines.add_metric(["parsed"], parsed)
        lines.add_metric(["malformed"], malformed)
        yield lines
        reopened = CounterMetricFamily(
            metrics.family(metrics.EDGE_LOG_REOPENS),
            "Times the log was reopened, by reason.",
            labels=["reason"],
        )
        reopened.add_metric(["rotated"], self.tail.rotations if self.tail else 0)
        reopened.add_metric(["truncated"], self.tail.truncations if self.tail else 0)
        yield reopened
