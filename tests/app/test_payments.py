"""Payment resilience: timeouts, bounded retries, the circuit breaker; and how checkout degrades."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from app.metrics import AppMetrics
from app.payments import (
    Authorization,
    CircuitBreaker,
    PaymentDeclined,
    PaymentUnavailable,
    ProviderError,
    ResilientPayments,
)
from tests.app.helpers import checkout, metric_value, new_cart, stock
from tests.conftest import StartApp
from tests.support.procs import AppProcess


class ScriptedProvider:
    """Plays back a script of outcomes: 'ok', 'fail', 'hang', 'decline'."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.calls = 0

    async def authorize(
        self, amount_cents: int, currency: str, email: str, idempotency_key: str
    ) -> Authorization:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step == "hang":
            await asyncio.sleep(10)
        if step == "fail":
            raise ProviderError("boom")
        if step == "decline":
            raise PaymentDeclined("no")
        return Authorization(f"pay-{self.calls}", amount_cents, currency)

    async def void(self, payment_id: str) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resilient(
    provider: ScriptedProvider,
    registry: CollectorRegistry,
    clock: FakeClock | None = None,
    threshold: int = 3,
) -> ResilientPayments:
    breaker = CircuitBreaker(threshold, reset_s=10, clock=clock or FakeClock())
    return ResilientPayments(
        provider, AppMetrics(registry), timeout_s=0.05, max_attempts=3, backoff_s=0.001, breaker=breaker
    )


def test_transient_failures_are_retried_then_succeed() -> None:
    registry = CollectorRegistry()
    provider = ScriptedProvider(["fail", "hang", "ok"])
    auth = asyncio.run(resilient(provider, registry, threshold=5).authorize(100, "EUR", "a@b.co", "k"))
    assert auth.payment_id == "pay-3"
    assert provider.calls == 3
    assert registry.get_sample_value("peakops_payment_errors_total", {"kind": "timeout"}) == 1
    assert registry.get_sample_value("peakops_payment_errors_total", {"kind": "provider_error"}) == 1


def test_retries_are_bounded() -> None:
    provider = ScriptedProvider(["fail"])
    with pytest.raises(PaymentUnavailable):
        asyncio.run(
            resilient(provider, CollectorRegistry(), threshold=100).authorize(1, "EUR", "a@b.co", "k")
        )
    assert provider.calls == 3


def test_declines_are_not_retried_and_do_not_trip_the_breaker() -> None:
    provider = ScriptedProvider(["decline"])
    payments = resilient(provider, CollectorRegistry(), threshold=1)
    for _ in range(3):
        with pytest.raises(PaymentDeclined):
            asyncio.run(payments.authorize(1, "EUR", "a@b.co", "k"))
    assert provider.calls == 3
    assert not payments.breaker.is_open


def test_circuit_opens_fails_fast_and_recovers_through_half_open() -> None:
    clock = FakeClock()
    registry = CollectorRegistry()
    provider = ScriptedProvider(["fail", "fail", "fail", "ok"])
    payments = resilient(provider, registry, clock, threshold=3)
    with pytest.raises(PaymentUnavailable):
        asyncio.run(payments.authorize(1, "EUR", "a@b.co", "k"))
    assert payments.breaker.is_open
    calls = provider.calls
    with pytest.raises(PaymentUnavailable) as refused:
        asyncio.run(payments.authorize(1, "EUR", "a@b.co", "k2"))
    assert provider.calls == calls  # failed fast: the provider was not called
    assert 0 < refused.value.retry_after <= 10
    assert registry.get_sample_value("peakops_payment_circuit_open") == 1
    clock.now += 10.5  # half-open: one trial call, which succeeds and closes the circuit
    assert asyncio.run(payments.authorize(1, "EUR", "a@b.co", "k3")).payment_id == "pay-4"
    assert not payments.breaker.is_open
    assert registry.get_sample_value("peakops_payment_circuit_open") == 0


@pytest.fixture
def client(start_app: StartApp, database_url: str) -> Iterator[httpx.Client]:
    app: AppProcess = start_app(
        database_url, PEAKOPS_PAYMENT_CIRCUIT_FAILURE_THRESHOLD="3", PEAKOPS_PAYMENT_BACKOFF_SECONDS="0.001"
    )
    with httpx.Client(base_url=app.url, timeout=10) as c:
        yield c


def test_failing_provider_degrades_checkout_to_a_fast_503(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    fault = client.post(
        "/api/admin/faults", json={"payment_failure_ratio": 1.0, "ttl_seconds": 60}, headers=admin_headers
    )
    assert fault.status_code == 201
    tee_before = stock(client, "TEE")
    first = checkout(client, new_cart(client, {"TEE": 1}))
    assert first.status_code == 503
    assert int(first.headers["Retry-After"]) >= 1
    assert metric_value(client, "peakops_payment_circuit_open") == 1
    requests_before = metric_value(client, "peakops_payment_requests_total")
    second = checkout(client, new_cart(client, {"TEE": 1}))
    assert second.status_code == 503
    assert metric_value(client, "peakops_payment_requests_total") == requests_before  # failed fast
    assert stock(client, "TEE") == tee_before  # no stock taken without a payment
    assert metric_value(client, "peakops_checkouts_total", outcome="payment_unavailable") == 2
    # Probes stay green: a payment outage is not a reason to restart or unroute the instance.
    assert client.get("/readyz").status_code == 200
