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

from peakops import edgelog, metrics
from peakops.metrics import LATENCY_BUCKETS, AuthorizationResult, CheckoutOutcome, PromoCheck

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
    metrics.CHECKOUTS: OutcomeCounter("outcome", tuple(v.value for v in CheckoutOutcome), {}),
    metrics.PAYMENT_AUTHORIZATIONS: OutcomeCounter("result", tuple(v.value for v in AuthorizationResult), {}),
    metrics.PROMO_CHECKS: OutcomeCounter("result", tuple(v.value for v in PromoCheck), {}),
    metrics.EDGE_REQUESTS: OutcomeCounter(
        "code_class", edgelog.CODE_CLASSES, {"journey": edgelog.JOURNEYS, "cache": CACHE_STATUSES}
    ),
}

HISTOGRAMS: dict[str, HistogramFacts] = {
    metrics.EDGE_REQUEST_DURATION: HistogramFacts(EDGE_BUCKETS, {"journey": edgelog.JOURNEYS}),
    metrics.HTTP_REQUEST_DURATION: HistogramFacts(LATENCY_BUCKETS, {"method": None, "route": None}),
}


def known_metrics() -> frozenset[str]:
    """Every sample name PromQL may use: the app's and the exporter's, histograms with their series."""
    return metrics.series_names((*metrics.APP, *metrics.EXPORTER))


def le_label(bound: float) -> str:
    """A bucket bound as the client library writes it in `le` ("1.0", "0.3"), so selectors match."""
    return cast(Callable[[float], str], floatToGoString)(bound)
