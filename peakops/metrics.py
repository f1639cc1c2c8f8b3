"""Every metric name the shop exports, and the label values its SLIs select on: one vocabulary.

    app/metrics.py            registers the app's families under the APP names
    monitors/exporter/        builds the SLI exporter's families under the EXPORTER names
    monitors/facts.py         checks the SLO specs' metrics, outcomes and buckets against both
    peakops/context.py        finds the SLO the load test's checkout bar comes from by `CHECKOUTS`

Names are written as PromQL sees them: counters with their ``_total`` suffix, histograms by their base
name (their ``_bucket``, ``_count`` and ``_sum`` series follow). Label values are bounded: routes are
templates (``/api/carts/{cart_id}``, never an id), outcomes and results come from the enums below.
tests/app/test_metrics.py and tests/monitors/test_exporter.py check that the app and the exporter expose
exactly these names.
"""

from __future__ import annotations

from enum import StrEnum

NAMESPACE = "peakops"

# Latency buckets around the SLO thresholds (landing 300 ms, checkout 1 s) with room on both sides; the
# edge histogram uses the same bounds, so a threshold is a bucket bound of both.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "<unmatched>"


class CheckoutOutcome(StrEnum):
    SUCCESS = "success"
    REPLAYED = "replayed"  # same Idempotency-Key: the first order returned again
    OUT_OF_STOCK = "out_of_stock"
    INVALID_PROMO = "invalid_promo"  # customer mistake: must not burn the error budget
    INVALID_CART = "invalid_cart"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_UNAVAILABLE = "payment_unavailable"
    ERROR = "error"


class PaymentError(StrEnum):
    TIMEOUT = "timeout"
    PROVIDER_ERROR = "provider_error"
    DECLINED = "declined"
    CIRCUIT_OPEN = "circuit_open"


class AuthorizationResult(StrEnum):
    """The end of one customer's authorisation, after retries: what the payment SLI counts."""

    APPROVED = "approved"
    DECLINED = "declined"  # the customer's card: must not burn the error budget
    FAILED = "failed"  # timeouts or provider errors through every retry
    CIRCUIT_OPEN = "circuit_open"  # refused fast while the provider is known to be down


class PromoCheck(StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"  # the customer typed a code that does not exist: not the shop's fault
    ERROR = "error"  # the shop could not check the code: burns the promo SLO's budget


class WebhookResult(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same event id again: acknowledged, stored once
    REJECTED = "rejected"  # signature or timestamp refused
    INVALID = "invalid"  # signed, but not a JSON event


# --- the app (app/metrics.py) ---
HTTP_REQUESTS = "peakops_http_requests_total"
HTTP_REQUEST_DURATION = "peakops_http_request_duration_seconds"  # histogram
HTTP_REQUESTS_IN_FLIGHT = "peakops_http_requests_in_flight"
CHECKOUTS = "peakops_checkouts_total"
ORDERS = "peakops_orders_total"
ORDER_REVENUE = "peakops_order_revenue_total"
PAYMENT_REQUESTS = "peakops_payment_requests_total"
PAYMENT_ERRORS = "peakops_payment_errors_total"
PAYMENT_AUTHORIZATIONS = "peakops_payment_authorizations_total"
PROMO_CHECKS = "peakops_promo_checks_total"
PAYMENT_CIRCUIT_OPEN = "peakops_payment_circuit_open"
STOCKOUTS = "peakops_stockouts_total"
PROMO_REDEMPTIONS = "peakops_promo_redemptions_total"
LOAD_SHED = "peakops_load_shed_total"
FAULTS_ACTIVE = "peakops_faults_active"
WEBHOOK_EVENTS = "peakops_webhook_events_total"

APP = (
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS_IN_FLIGHT,
    CHECKOUTS,
    ORDERS,
    ORDER_REVENUE,
    PAYMENT_REQUESTS,
    PAYMENT_ERRORS,
    PAYMENT_AUTHORIZATIONS,
    PROMO_CHECKS,
    PAYMENT_CIRCUIT_OPEN,
    STOCKOUTS,
    PROMO_REDEMPTIONS,
    LOAD_SHED,
    FAULTS_ACTIVE,
    WEBHOOK_EVENTS,
)

# --- the SLI exporter (monitors/exporter/) ---
EDGE_REQUESTS = "peakops_edge_requests_total"
EDGE_REQUEST_DURATION = "peakops_edge_request_duration_seconds"  # histogram
EDGE_LOG_LINES = "peakops_edge_log_lines_total"
EDGE_LOG_REOPENS = "peakops_edge_log_reopens_total"
SYNTHETIC_JOURNEYS = "peakops_synthetic_journeys_total"
SYNTHETIC_JOURNEY_DURATION = "peakops_synthetic_journey_duration_seconds"  # gauge: the last run's steps
SYNTHETIC_LAST_SUCCESS = "peakops_synthetic_last_success_timestamp_seconds"
EXPORTER_SCRAPE_DURATION = "peakops_exporter_scrape_duration_seconds"  # gauge
EXPORTER_ERRORS = "peakops_exporter_errors_total"
EXPORTER_LAST_SUCCESS = "peakops_exporter_last_success_timestamp_seconds"
CAMPAIGN_START = "peakops_campaign_start_timestamp_seconds"
CAMPAIGN_END = "peakops_campaign_end_timestamp_seconds"

EXPORTER = (
    EDGE_REQUESTS,
    EDGE_REQUEST_DURATION,
    EDGE_LOG_LINES,
    EDGE_LOG_REOPENS,
    SYNTHETIC_JOURNEYS,
    SYNTHETIC_JOURNEY_DURATION,
    SYNTHETIC_LAST_SUCCESS,
    EXPORTER_SCRAPE_DURATION,
    EXPORTER_ERRORS,
    EXPORTER_LAST_SUCCESS,
    CAMPAIGN_START,
    CAMPAIGN_END,
)

HISTOGRAMS = frozenset({HTTP_REQUEST_DURATION, EDGE_REQUEST_DURATION})


def family(name: str) -> str:
    """The name prometheus_client's constructors take: a counter's without its ``_total``."""
    return name.removesuffix("_total")


def series_names(names: tuple[str, ...]) -> frozenset[str]:
    """Every sample name these families expose (a histogram as its _bucket, _count and _sum series)."""
    found: set[str] = set()
    for name in names:
        if name in HISTOGRAMS:
            found.update(f"{name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        else:
            found.add(name)
    return frozenset(found)
