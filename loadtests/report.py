"""The run's outputs: a JSON summary, a per-second CSV, and an HTML report with plots (matplotlib)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Template

from loadtests.collector import LATENCY_RELATIVE_ERROR, Collector, merged, percentile
from loadtests.model import Timeline
from loadtests.verdict import Verdict
from peakops.edgelog import CACHED_ROUTES


def _hits(counts: dict[str, int]) -> int:
    return counts.get("HIT", 0) + counts.get("STALE", 0) + counts.get("UPDATING", 0)


def hit_ratio(seconds: Iterable[dict[str, int]]) -> float | None:
    """Hits (HIT, STALE, UPDATING) over responses of the cached routes, across the given seconds' X-Cache
    counts; None without any."""
    counts = list(seconds)
    total = sum(sum(c.values()) for c in counts)
    return sum(_hits(c) for c in counts) / total if total else None


def per_second(timeline: Timeline, collector: Collector, seconds: int) -> list[dict[str, Any]]:
    rows = []
    for second in range(seconds):
        requests = failures = 0
        buckets = [b for (_journey, s), b in collector.journeys.items() if s == second]
        for bucket in buckets:
            requests += bucket["requests"]
            failures += bucket["failures"]
        rt = merged(bucket["rt"] for bucket in buckets)
        ratio = hit_ratio([collector.cache.get(second, {})])
        rows.append(
            {
                "second": second,
                "planned_arrivals": round(timeline.totals[second], 3) if second < timeline.seconds else 0.0,
                "scheduled_arrivals": collector.scheduled.get(second, 0),
                "started_arrivals": collector.started.get(second, 0),
                "requests": requests,
                "failures": failures,
                "p50_ms": percentile(rt, 0.5),
                "p95_ms": percentile(rt, 0.95),
                "p99_ms": percentile(rt, 0.99),
                "orders": collector.orders_by_second.get(second, 0),
                "cache_hit_ratio": round(ratio, 4) if ratio is not None else None,
                "generator_cpu_percent": collector.cpu.get(second),
            }
        )
    return rows


def summary(
    timeline: Timeline,
    collector: Collector,
    verdict: Verdict,
    elapsed_s: float,
    rows: list[dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    landings = collector.funnel.get("landing", 0)
    browse = collector.funnel.get("browse", 0)
    cart = collector.funnel.get("cart", 0)
    checkout = collector.funnel.get("checkout", 0)
    returning = collector.funnel.get("returning", 0)
    returning_checkout = collector.funnel.get("returning_checkout", 0)
    cache_total = sum(sum(c.values()) for c in collector.cache.values())
    cache_hits = sum(_hits(c) for c in collector.cache.values())
    return {
        "verdict": verdict.to_dict(),
        # Percentiles come from HdrHistograms: each at most this much above the recorded value, never below.
        "latency_relative_error": LATENCY_RELATIVE_ERROR,
        "source": timeline.source,
        "elapsed_seconds": round(elapsed_s, 1),
        "time_scale": timeline.time_scale,
        "traffic_scale": timeline.traffic_scale,
        "arrivals": {
            "planned": round(timeline.total_arrivals, 1),
            "scheduled": sum(collector.scheduled.values()),
            "started": sum(collector.started.values()),
            "dropped": collector.dropped,
        },
        # One funnel: new visitors step by step, returning visitors apart (they skip the landing page),
        # and every checkout attempt of either counted once in `checkout_attempts`, which is the sum of
        # the outcomes in "checkout" (orders included).
        "funnel": {
            "landing": landings,
            "browse": browse,
            "cart": cart,
            "checkout": checkout,
            "returning": returning,
            "returning_checkout": returning_checkout,
            "checkout_attempts": checkout + returning_checkout,
            "browse_ratio": browse / landings if landings else None,
            "cart_ratio": cart / browse if browse else None,
            "checkout_ratio": checkout / cart if cart else None,
        },
        "checkout": dict(collector.checkout),
        "cache": {"responses": cache_total, "hits": cache_hits},
        "cache_hit_ratio": cache_hits / cache_total if cache_total else None,
        "seconds": rows,
        # What each figure above counts, for a reader of the JSON alone.
        "definitions": {
            "funnel": "new visitors who reached each step (landing, browse, cart, checkout); returning "
            "visitors and their checkouts apart; checkout_attempts = checkout + returning_checkout",
            "checkout": "attempts by outcome (order, sold_out, failed), summing to checkout_attempts",
            "cache": "responses of the routes the edge caches (" + ", ".join(CACHED_ROUTES) + ") by X-Cache; "
            "hits are HIT, STALE and UPDATING",
            "cache_hit_ratio": "cache.hits / cache.responses",
        },
        **extra,
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["second"])
        writer.writeheader()
        writer.writerows(rows)


def svg(draw: Any, xlabel: str = "test second") -> str:
    """An inline SVG of one plot: `draw(axes)` plots, this adds the grid, the x label and the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 2.8))
    draw(axes)
    axes.grid(alpha=0.3)
    axes.set_xlabel(xlabel)
    axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


REPORT = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>peakops load test: {{ s.verdict.outcome }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}
.pass{color:#067d17}.fail{color:#b00020}.invalid{color:#b06000}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}</style></head><body>
<h1>Verdict: <span class="{{ s.verdict.outcome }}">{{ s.verdict.outcome | upper }}</span></h1>
<ul>{% for r in s.verdict.reasons %}<li>{{ r }}</li>{% endfor %}</ul>
<p>{{ s.source }}, {{ s.elapsed_seconds }} s; time scale {{ s.time_scale }}, traffic scale
{{ '%.4g' % s.traffic_scale }}; peak window: seconds
{{ s.verdict.peak_window[0] }}-{{ s.verdict.peak_window[1] }}.
Arrivals planned {{ s.arrivals.planned }}, started {{ s.arrivals.started }},
dropped {{ s.arrivals.dropped }}.</p>
<h2>Journeys over the peak window</h2>
<p>Percentiles from HdrHistograms: each at most {{ '%g' % (100 * s.latency_relative_error) }}% above the
recorded response time, never below it.</p>
<table><tr><th>journey</th><th>requests</th><th>errors</th>
<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>
{% for name, j in s.verdict.journeys.items() %}<tr><td>{{ name }}</td><td>{{ j.requests }}</td>
<td>{{ '%.2f%%' % (100 * j.error_ratio) }}</td><td>{{ j.p50_ms }}</td>
<td>{{ j.p95_ms }}</td><td>{{ j.p99_ms }}</td></tr>
{% endfor %}</table>
<h2>Funnel</h2><p>landing {{ s.funnel.landing }} &rarr; browse {{ s.funnel.browse }}
&rarr; cart {{ s.funnel.cart }}
&rarr; checkout {{ s.funnel.checkout }}; returning {{ s.funnel.returning }} &rarr; checkout
{{ s.funnel.returning_checkout }}; checkout attempts {{ s.funnel.checkout_attempts }} by outcome:
{{ s.checkout }}</p>
{% for title, svg in plots %}<h2>{{ title }}</h2>{{ svg | safe }}{% endfor %}
</body></html>""")


def write_html(path: Path, data: dict[str, Any]) -> None:
    rows = data["seconds"]
    x = [r["second"] for r in rows]

    def arrivals(ax: Any) -> None:
        ax.plot(x, [r["planned_arrivals"] for r in rows], label="planned")
        ax.plot(x, [r["started_arrivals"] for r in rows], label="achieved (journeys started)")
        ax.set_ylabel("arrivals / s")

    def throughput(ax: Any) -> None:
        ax.plot(x, [r["requests"] for r in rows], label="requests / s")
        ax.plot(x, [r["orders"] for r in rows], label="orders / s")

    def latency(ax: Any) -> None:
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            ax.plot(x, [r[key] for r in rows], label=key.replace("_ms", ""))
        ax.set_ylabel("ms")

    def errors(ax: Any) -> None:
        ax.plot(x, [r["failures"] for r in rows], label="failed requests / s", color="#b00020")

    def cache(ax: Any) -> None:
        values = [r["cache_hit_ratio"] for r in rows]
        ax.plot(x, [v if v is not None else float("nan") for v in values], label="X-Cache hit ratio")
        ax.set_ylim(0, 1.05)

    plots = [
        ("Planned vs achieved arrivals", svg(arrivals)),
        ("Requests and orders per second", svg(throughput)),
        ("Latency percentiles", svg(latency)),
        ("Errors", svg(errors)),
        ("Edge cache hit ratio of the cached routes (X-Cache; empty without an edge)", svg(cache)),
    ]
    path.write_text(REPORT.render(s=data, plots=plots))


def write_all(directory: Path, data: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    write_csv(directory / "seconds.csv", data["seconds"])
    write_html(directory / "report.html", data)
