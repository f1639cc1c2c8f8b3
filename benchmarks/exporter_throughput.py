"""The SLI exporter's costs, measured side by side in one run, on one core (CPU 0).

1. Log throughput: lines/s through LogTail.poll + EdgeStats.ingest on a 1,000,000-line access log in
   the edge's format, against the floor of any Python tailer (read the file, split lines, orjson each
   line and nothing else). Target >= 150,000 lines/s.
2. Scrape time at 10,000 series: building the exposition from EdgeStats (counts -> metric families ->
   text) against prometheus_client's own labelled Counter holding the same 10,000 series.

    .venv/bin/python benchmarks/exporter_throughput.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, Counter, generate_latest

from monitors.exporter.edge import EdgeCollector, EdgeStats
from monitors.exporter.logtail import LogTail
from peakops import edgelog

ROUTES = [
    ("GET", "/c/{slug}", 0.55),
    ("GET", "/", 0.1),
    ("GET", "/static/{name}", 0.15),
    ("GET", "/api/products", 0.1),
    ("POST", "/api/carts", 0.04),
    ("POST", "/api/carts/{cart_id}/items", 0.03),
    ("POST", "/api/checkout", 0.02),
    ("GET", "/made/up/path", 0.01),
]


def write_log(path: Path, lines: int) -> int:
    rng = random.Random(7)
    methods_routes = [(m, r) for m, r, _ in ROUTES]
    weights = [w for _, _, w in ROUTES]
    size = 0
    with path.open("wb") as handle:
        batch = []
        for i in range(lines):
            method, route = rng.choices(methods_routes, weights)[0]
            entry = {
                "time": "2026-12-03T19:00:01+01:00",
                "remote_addr": f"10.0.{i % 250}.{i % 200}",
                "method": method,
                "route": route,
                "status": rng.choice((200, 200, 200, 200, 304, 404, 409, 503)),
                "request_time": round(rng.expovariate(40), 3),
                "upstream_time": "-",
                "cache": rng.choice(("HIT", "HIT", "HIT", "MISS", "")),
                "bytes": rng.randint(200, 60000),
            }
            assert list(entry) == [f.name for f in edgelog.FIELDS]
            batch.append(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
            if len(batch) == 10000:
                data = b"".join(batch)
                handle.write(data)
                size += len(data)
                batch = []
        data = b"".join(batch)
        handle.write(data)
        size += len(data)
    return size


def floor_parse(path: Path) -> int:
    """Read the whole file, split it, orjson each line: what any Python tailer pays at least."""
    count = 0
    loads = orjson.loads
    for line in path.read_bytes().split(b"\n"):
        if line:
            loads(line)
            count += 1
    return count


def exporter_parse(path: Path) -> int:
    stats = EdgeStats()
    tail = LogTail(path, from_start=True)
    stats.ingest(tail.poll())
    tail.close()
    return stats.parsed + stats.malformed


def timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def scrape_times(rounds: int) -> tuple[float, float, int]:
    stats = EdgeStats()
    # 10,000 series: the real label space is ~300; the exposition path is the same at any size.
    for i in range(10_000):
        stats.requests[(i % len(edgelog.JOURNEYS), 2, f"S{i}")] = i
    ours = CollectorRegistry()
    ours.register(EdgeCollector(stats))
    theirs = CollectorRegistry()
    counter = Counter("peakops_edge_requests", "x", ["journey", "code_class", "cache"], registry=theirs)
    for (journey, status_class, cache), count in stats.requests.items():
        counter.labels(edgelog.JOURNEYS[journey], f"{status_class}xx", cache).inc(count)
    series = sum(
        1 for line in generate_latest(ours).splitlines() if line.startswith(b"peakops_edge_requests_total")
    )
    ours_s, theirs_s = [], []
    for _ in range(rounds):
        ours_s.append(timed(generate_latest, ours)[1])
        theirs_s.append(timed(generate_latest, theirs)[1])
    return statistics.median(ours_s), statistics.median(theirs_s), series


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "access.json"
        size = write_log(log, args.lines)
        print(f"access log: {args.lines:,} lines, {size / 1e6:.0f} MB, process pinned to CPU 0")
        floors, ours = [], []
        for _ in range(args.rounds):  # alternate, so neither side gets the warmer cache
            count, seconds = timed(floor_parse, log)
            floors.append(count / seconds)
            count, seconds = timed(exporter_parse, log)
            assert count == args.lines, count
            ours.append(count / seconds)
    floor, rate = statistics.median(floors), statistics.median(ours)
    print(f"{'read + orjson only (floor)':<32} {floor:>12,.0f} lines/s   1.00x")
    print(
        f"{'exporter (tail + parse + count)':<32} {rate:>12,.0f} lines/s   {rate / floor:.2f}x of the floor"
    )
    print(f"target 150,000 lines/s: {'met' if rate >= 150_000 else 'MISSED'} ({rate / 150_000:.1f}x)")
    ours_s, theirs_s, series = scrape_times(21)
    print(
        f"scrape at {series:,} series: exporter {ours_s * 1000:.1f} ms, prometheus_client Counter "
        f"{theirs_s * 1000:.1f} ms ({ours_s / theirs_s:.2f}x)"
    )


if __name__ == "__main__":
    main()
