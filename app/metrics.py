"""Every metric the app exports, named in one place.

SLO specs and dashboards refer to these names; `METRIC_NAMES` is what they may import. Label values are
bounded: routes are templates (``/api/carts/{cart_id}``, never an id), reasons and outcomes come from the
enums below, SKUs and influencer slugs come from the seeded catalog.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "peakops"

# Latency buckets around the SLO thresholds (landing 300 ms, checkout 1 s) with room on both sides.
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


class AppMetrics:
    """The app's metric families, registered on the given registry (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests handled, by route template and status code.",
            ["method", "route", "code"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.http_request_duration = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response body, by route template.",
            ["method", "route"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.http_requests_in_flight = Gauge(
            "http_requests_in_flight",
            "Requests being handled now.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.checkouts = Counter(
            "checkouts",
            "Checkout attempts by outcome. Valid events for the checkout SLI exclude customer mistakes.",
            ["outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.orders = Counter(
            "orders",
            "Orders created (synthetic orders excluded).",
            ["currency"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.order_revenue = Counter(
            "order_revenue",
            "Revenue of created orders in the currency's major unit (synthetic orders excluded).",
            ["currency"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.payment_requests = Counter(
            "payment_requests",
            "Payment provider calls, each attempt counted.",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.payment_errors = Counter(
            "payment_errors",
            "Payment provider failures by kind.",
            ["kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.payment_authorizations = Counter(
            "payment_authorizations",
            "Customers' payment authorisations by final result, after retries.",
            ["result"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.promo_checks = Counter(
            "promo_checks",
            "Promo codes checked at checkout, by result.",
            ["result"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.payment_circuit_open = Gauge(
            "payment_circuit_open",
            "1 while the payment circuit breaker is open (checkout fails fast).",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.stockouts = Counter(
            "stockouts",
            "Checkouts refused because a product had too little stock.",
            ["sku"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.promo_redemptions = Counter(
            "promo_redemptions",
            "Orders placed with an influencer's promo code.",
            ["influencer"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.load_shed = Counter(
            "load_shed",
            "Non-critical requests refused to protect checkout under overload.",
            ["route"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.faults_active = Gauge(
            "faults_active",
            "Fault-injection rules in force (rehearsals only).",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.webhook_events = Counter(
            "webhook_events",
            "Webhook deliveries by source and result.",
            ["source", "result"],
            namespace=NAMESPACE,
            registry=registry,
        )

    def collectors(self) -> list[Counter | Gauge | Histogram]:
        return [v for v in vars(self).values() if isinstance(v, Counter | Gauge | Histogram)]


def metric_names() -> list[str]:
    """The exported sample-family names, as PromQL sees them (counters with their _total suffix)."""
    names: list[str] = []
    for collector in AppMetrics(CollectorRegistry()).collectors():
        for family in collector.describe():
            suffix = "_total" if family.type == "counter" else ""
            names.append(family.name + suffix)
    return sorted(names)
