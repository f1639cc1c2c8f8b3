"""Payments: a provider interface, a sandbox provider, and the resilience around any provider.

A failing provider must degrade checkout cleanly: every call has a timeout, transient failures are
retried a bounded number of times with exponential backoff and jitter, and after repeated failures a
circuit breaker fails checkouts fast (503 with Retry-After) instead of piling requests onto a provider
that is down, which would hold connections and workers the rest of the shop needs.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.metrics import AppMetrics
from peakops.metrics import AuthorizationResult, PaymentError

SANDBOX_REMEMBERED_KEYS = 100_000


class PaymentDeclined(Exception):
    """The provider answered and said no: the customer's problem, never retried."""


class PaymentUnavailable(Exception):
    """The provider could not be reached in time, or the circuit is open: retry later."""

    def __init__(
        self, message: str, retry_after: float, result: AuthorizationResult = AuthorizationResult.FAILED
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.result = result


class ProviderError(Exception):
    """A transient provider failure (5xx, reset): worth a retry."""


@dataclass(frozen=True)
class Authorization:
    payment_id: str
    amount_cents: int
    currency: str


class PaymentProvider(Protocol):
    async def authorize(
        self, amount_cents: int, currency: str, email: str, idempotency_key: str
    ) -> Authorization: ...

    async def void(self, payment_id: str) -> None: ...


class SandboxProvider:
    """An in-process stand-in for a card processor, with the failure modes a rehearsal needs.

    Emails at the ``decline.test`` domain are declined, as sandbox cards are at real processors.
    `should_fail` is wired to the fault registry's payment failure ratio.
    """

    def __init__(self, latency_s: float = 0.0, should_fail: Callable[[], bool] = lambda: False) -> None:
        self.latency_s = latency_s
        self.should_fail = should_fail
        # Bounded: a long soak must not grow the sandbox's memory without limit.
        self._by_key: OrderedDict[str, Authorization] = OrderedDict()

    async def authorize(
        self, amount_cents: int, currency: str, email: str, idempotency_key: str
    ) -> Authorization:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.should_fail():
            raise ProviderError("sandbox: injected provider failure")
        if email.lower().endswith("@decline.test"):
            raise PaymentDeclined("card declined")
        # Like real processors, the same idempotency key authorises once.
        known = self._by_key.get(idempotency_key)
        if known is not None:
            return known
        auth = Authorization(f"pay_{uuid.uuid4().hex[:20]}", amount_cents, currency)
        self._by_key[idempotency_key] = auth
        if len(self._by_key) > SANDBOX_REMEMBERED_KEYS:
            self._by_key.popitem(last=False)
        return auth

    async def void(self, payment_id: str) -> None:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)


class CircuitBreaker:
    """Closed -> open after `threshold` consecutive failures -> half-open after `reset_s`, where one
    trial call decides between closed and open again."""

    def __init__(self, threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.reset_s = reset_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and self.clock() - self.opened_at < self.reset_s

    def retry_after(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_s - (self.clock() - self.opened_at))

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.is_open or self._trial_in_flight:
            return False
        self._trial_in_flight = True  # half-open: exactly one trial
        return True

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self.failures += 1
        self._trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()


class ResilientPayments:
    def __init__(
        self,
        provider: PaymentProvider,
        metrics: AppMetrics,
        *,
        timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        breaker: CircuitBreaker,
    ) -> None:
        self.provider = provider
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.breaker = breaker

    async def authorize(
        self, amount_cents: int, currency: str, email: str, idempotency_key: str
    ) -> Authorization:
        try:
            auth = await self._authorize(amount_cents, currency, email, idempotency_key)
        except PaymentDeclined:
            self.metrics.payment_authorizations.labels(AuthorizationResult.DECLINED).inc()
            raise
        except PaymentUnavailable as exc:
            self.metrics.payment_authorizations.labels(exc.result).inc()
            raise
        self.metrics.payment_authorizations.labels(AuthorizationResult.APPROVED).inc()
        return auth

    async def _authorize(
        self, amount_cents: int, currency: str, email: str, idempotency_key: str
    ) -> Authorization:
        for attempt in range(1, self.max_attempts + 1):
            if not self.breaker.allow():
                self.metrics.payment_errors.labels(PaymentError.CIRCUIT_OPEN).inc()
                self.metrics.payment_circuit_open.set(1)
                raise PaymentUnavailable(
                    "payment provider unavailable",
                    self.breaker.retry_after() or 1.0,
                    AuthorizationResult.CIRCUIT_OPEN,
                )
            self.metrics.payment_requests.inc()
            try:
                async with asyncio.timeout(self.timeout_s):
                    auth = await self.provider.authorize(amount_cents, currency, email, idempotency_key)
            except PaymentDeclined:
                self.metrics.payment_errors.labels(PaymentError.DECLINED).inc()
                self.breaker.record_success()  # the provider is healthy; the card is not
                raise
            except (TimeoutError, ProviderError) as exc:
                kind = PaymentError.TIMEOUT if isinstance(exc, TimeoutError) else PaymentError.PROVIDER_ERROR
                self.metrics.payment_errors.labels(kind).inc()
                self.breaker.record_failure()
                self.metrics.payment_circuit_open.set(1 if self.breaker.is_open else 0)
                if attempt < self.max_attempts and not self.breaker.is_open:
                    # Full jitter keeps a thousand retrying checkouts from arriving in lockstep.
                    await asyncio.sleep(random.uniform(0, self.backoff_s * 2 ** (attempt - 1)))
                    continue
                raise PaymentUnavailable(
                    f"payment provider failed: {kind}", self.breaker.retry_after() or 1.0
                ) from exc
            self.breaker.record_success()
            self.metrics.payment_circuit_open.set(0)
            return auth
        raise AssertionError("unreachable: the loop returns or raises")

    async def void(self, payment_id: str) -> None:
        # Best effort: an unvoided authorisation expires at the processor; never fail a 409 on it.
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.provider.void(payment_id)
        except (TimeoutError, ProviderError):
            self.metrics.payment_errors.labels(PaymentError.PROVIDER_ERROR).inc()
