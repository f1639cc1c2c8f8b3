"""What the SLIs can be built from: every metric the app and the exporter export, with its label values.

The structured SLIs in the specs (``sli.outcomes``, ``sli.latency``) are checked against these facts, so
a spec cannot name a metric that does not exist, forget an outcome the app can report, or put a latency
threshold between two histogram buckets (where the error count would silently round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from prometheus_client.utils import floatToGoString

from app.metrics import (
    LATENCY_BUCKETS,
    AuthorizationResult,
    CheckoutOutcome,
    PromoCheck,
    metric_names,
)
from peakops import edgelog

# The exporter's families (monitors/exporter/collector.py builds them from these names).
EDGE_REQUESTS = "peakops_edge_requests_total"
EDGE_DURATION = "peakops_edge_request_duration_seconds"
EDGE_BUCKETS = LATENCY_BUCKETS
CACHE_STATUSES = ("HIT", "MISS", "EXPIRED", "STALE", "UPDATING", "REVALIDATED", "BYPASS", "PASS")


@dataclass(frozen=True)
class OutcomeCounter:
    label: str
    values: tuple[str, ...]
    selectors: dict[str, tuple[str, ...]]  # other labels and their possible values


@dataclass(frozen=True)
class HistogramFacts:
    buckets: tuple[float, ...]
    selectors: dict[str, tuple[str, ...] | None]  # None: values not enumerable (route templates)


OUTCOME_COUNTERS: dict[str, OutcomeCounter] = {
    "peakops_checkouts_total": OutcomeCounter("outcome", tuple(v.value for v in CheckoutOutcome), {}),
    "peakops_payment_authorizations_total": OutcomeCounter(
        "result", tuple(v.value for v in AuthorizationResult), {}
    ),
    "peakops_promo_checks_total": OutcomeCounter("result", tuple(v.value for v in PromoCheck), {}),
    EDGE_REQUESTS: OutcomeCounter(
        "code_class", edgelog.CODE_CLASSES, {"journey": edgelog.JOURNEYS, "cache": CACHE_STATUSES}
    ),
}

HISTOGRAMS: dict[str, HistogramFacts] = {
    EDGE_DURATION: HistogramFacts(EDGE_BUCKETS, {"journey": edgelog.JOURNEYS}),
    "peakops_http_request_duration_seconds": HistogramFacts(LATENCY_BUCKETS, {"method": None, "route": None}),
}

EXPORTER_METRICS = (
    EDGE_REQUESTS,
    *(f"{EDGE_DURATION}_{suffix}" for suffix in ("bucket", "count", "sum")),
    "peakops_edge_log_lines_total",
    "peakops_edge_log_reopens_total",
    "peakops_synthetic_journeys_total",
    "peakops_synthetic_journey_duration_seconds",
    "peakops_synthetic_last_success_timestamp_seconds",
    "peakops_exporter_scrape_duration_seconds",
    "peakops_exporter_errors_total",
    "peakops_exporter_last_success_timestamp_seconds",
    "peakops_campaign_start_timestamp_seconds",
    "peakops_campaign_end_timestamp_seconds",
)


def known_metrics() -> frozenset[str]:
    """Every sample name PromQL may use: the app's (histograms with their suffixes) and the exporter's."""
    names = set(EXPORTER_METRICS)
    for name in metric_names():
        names.add(name)
        if name.endswith("_seconds"):
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return frozenset(names)


def le_label(bound: float) -> str:
    """A bucket bound as the client library writes it in `le` ("1.0", "0.3"), so selectors match."""
    return cast(Callable[[float], str], floatToGoString)(bound)
