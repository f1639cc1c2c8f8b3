"""The app's metric families, registered under the names peakops/metrics.py gives them.

Label values are bounded: routes are templates (``/api/carts/{cart_id}``, never an id), reasons and
outcomes come from the enums of peakops/metrics.py, SKUs and influencer slugs from the seeded catalog.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.catalog import CatalogSeed
from peakops import metrics as names
from peakops.metrics import (
    LATENCY_BUCKETS,
    AuthorizationResult,
    CheckoutOutcome,
    PaymentError,
    PromoCheck,
    WebhookResult,
)


class AppMetrics:
    """The app's metric families, registered on the given registry (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http_requests = Counter(
            names.family(names.HTTP_REQUESTS),
            "HTTP requests handled, by route template and status code.",
            ["method", "route", "code"],
            registry=registry,
        )
        self.http_request_duration = Histogram(
            names.family(names.HTTP_REQUEST_DURATION),
            "Time from request start to the end of the response body, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.http_requests_in_flight = Gauge(
            names.family(names.HTTP_REQUESTS_IN_FLIGHT),
            "Requests being handled now.",
            registry=registry,
        )
        self.checkouts = Counter(
            names.family(names.CHECKOUTS),
            "Checkout attempts by outcome. Valid events for the checkout SLI exclude customer mistakes.",
            ["outcome"],
            registry=registry,
        )
        self.orders = Counter(
            names.family(names.ORDERS),
            "Orders created (synthetic orders excluded).",
            ["currency"],
            registry=registry,
        )
        self.order_revenue = Counter(
            names.family(names.ORDER_REVENUE),
            "Revenue of created orders in the currency's major unit (synthetic orders excluded).",
            ["currency"],
            registry=registry,
        )
        self.payment_requests = Counter(
            names.family(names.PAYMENT_REQUESTS),
            "Payment provider calls, each attempt counted.",
            registry=registry,
        )
        self.payment_errors = Counter(
            names.family(names.PAYMENT_ERRORS),
            "Payment provider failures by kind.",
            ["kind"],
            registry=registry,
        )
        self.payment_authorizations = Counter(
            names.family(names.PAYMENT_AUTHORIZATIONS),
            "Customers' payment authorisations by final result, after retries.",
            ["result"],
            registry=registry,
        )
        self.promo_checks = Counter(
            names.family(names.PROMO_CHECKS),
            "Promo codes checked at checkout, by result.",
            ["result"],
            registry=registry,
        )
        self.payment_circuit_open = Gauge(
            names.family(names.PAYMENT_CIRCUIT_OPEN),
            "1 while the payment circuit breaker is open (checkout fails fast).",
            registry=registry,
        )
        self.stockouts = Counter(
            names.family(names.STOCKOUTS),
            "Checkouts refused because a product had too little stock.",
            ["sku"],
            registry=registry,
        )
        self.promo_redemptions = Counter(
            names.family(names.PROMO_REDEMPTIONS),
            "Orders placed with an influencer's promo code.",
            ["influencer"],
            registry=registry,
        )
        self.load_shed = Counter(
            names.family(names.LOAD_SHED),
            "Non-critical requests refused to protect checkout under overload.",
            ["route"],
            registry=registry,
        )
        self.faults_active = Gauge(
            names.family(names.FAULTS_ACTIVE),
            "Fault-injection rules in force (rehearsals only).",
            registry=registry,
        )
        self.webhook_events = Counter(
            names.family(names.WEBHOOK_EVENTS),
            "Webhook deliveries by source and result.",
            ["source", "result"],
            registry=registry,
        )

    def start_at_zero(self, seed: CatalogSeed | None, webhook_sources: Sequence[str] = ()) -> None:
        """Create, at 0, every labelled series whose label values are known at start: outcomes, results
        and kinds from the enums of peakops/metrics.py, SKUs, currencies and influencers from the seed,
        the configured webhook sources. Prometheus' own advice ("Avoid missing metrics",
        prometheus.io/docs/practices/instrumentation): a series that appears only with its first event
        is absent until then, and its first increment is lost to rate()."""
        for outcome in CheckoutOutcome:
            self.checkouts.labels(outcome)
        for kind in PaymentError:
            self.payment_errors.labels(kind)
        for result in AuthorizationResult:
            self.payment_authorizations.labels(result)
        for check in PromoCheck:
            self.promo_checks.labels(check)
        for source in webhook_sources:
            for webhook in WebhookResult:
                self.webhook_events.labels(source, webhook)
        if seed is None:
            return
        for product in seed.products:
            self.stockouts.labels(product.sku)
            if not product.synthetic:
                self.orders.labels(product.currency)
                self.order_revenue.labels(product.currency)
        for influencer in seed.influencers:
            self.promo_redemptions.labels(influencer.slug)

    def collectors(self) -> list[Counter | Gauge | Histogram]:
        return [v for v in vars(self).values() if isinstance(v, Counter | Gauge | Histogram)]


def metric_names() -> list[str]:
    """The exported sample-family names, as PromQL sees them (counters with their _total suffix)."""
    found: list[str] = []
    for collector in AppMetrics(CollectorRegistry()).collectors():
        for family in collector.describe():
            suffix = "_total" if family.type == "counter" else ""
            found.append(family.name + suffix)
    return sorted(found)
