"""Synthetic user journeys through the public entry: landing -> cart -> checkout of the synthetic product.

The product is flagged synthetic in the catalog, so its orders stay out of the shop's business figures
(orders, revenue, attribution), while the requests still cross the edge, the load balancer and the app
like a customer's: the SLIs see them, and a quiet night still has a heartbeat.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from peakops import metrics

STEPS = ("landing", "cart", "checkout")
SYNTHETIC_EMAIL = "synthetic-probe@peakops.invalid"


class JourneyFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


@dataclass
class SyntheticStats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (result, failed step or "") -> count
    step_seconds: dict[str, float] = field(default_factory=dict)  # last run
    last_success: float | None = None
    last_error: str = ""


class SyntheticJourney:
    def __init__(
        self, base_url: str, landing_path: str, sku: str, timeout: float, stats: SyntheticStats
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.landing_path = landing_path
        self.sku = sku
        self.timeout = timeout
        self.stats = stats
        self._current = STEPS[0]  # the step in progress, for a failure nothing anticipated

    def _step(
        self, client: httpx.Client, step: str, method: str, path: str, **kwargs: object
    ) -> httpx.Response:
        self._current = step
        started = time.perf_counter()
        try:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise JourneyFailed(step, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.stats.step_seconds[step] = time.perf_counter() - started
        if response.status_code >= 400:
            raise JourneyFailed(step, f"{method} {path} -> {response.status_code}")
        return response

    @staticmethod
    def _field(response: httpx.Response, step: str, key: str) -> str:
        """A string field of a JSON object body; anything else (not JSON, `[]`, a number) fails the step."""
        try:
            body = response.json()
        except ValueError as exc:
            raise JourneyFailed(step, f"unexpected answer: not JSON ({exc})") from exc
        value = body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise JourneyFailed(step, f"unexpected answer: no {key!r} in {response.text[:80]!r}")
        return value

    def run_once(self) -> bool:
        """One journey; False when a step failed (recorded with the step). Never raises: an edge that
        answers nonsense is a failed journey to count, not a reason for the prober to stop."""
        try:
            return self._run()
        except Exception as exc:
            self._record("failure", self._current, f"prober error: {type(exc).__name__}: {exc}")
            return False

    def _run(self) -> bool:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            try:
                self._step(client, "landing", "GET", self.landing_path)
                cart = self._field(self._step(client, "cart", "POST", "/api/carts"), "cart", "cart_id")
                self._step(
                    client, "cart", "POST", f"/api/carts/{cart}/items", json={"sku": self.sku, "quantity": 1}
                )
                self._step(
                    client,
                    "checkout",
                    "POST",
                    "/api/checkout",
                    json={"cart_id": cart, "email": SYNTHETIC_EMAIL},
                    headers={"Idempotency-Key": f"synthetic-{uuid.uuid4()}"},
                )
            except JourneyFailed as exc:
                self._record("failure", exc.step, str(exc))
                return False
        self._record("success", "", "")
        return True

    def _record(self, result: str, step: str, error: str) -> None:
        with self.stats.lock:
            key = (result, step)
            self.stats.runs[key] = self.stats.runs.get(key, 0) + 1
            if result == "success":
                self.stats.last_success = time.time()
            else:
                self.stats.last_error = error


class SyntheticCollector(Collector):
    def __init__(self, stats: SyntheticStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        with self.stats.lock:
            runs = dict(self.stats.runs)
            seconds = dict(self.stats.step_seconds)
            last_success = self.stats.last_success
        journeys = CounterMetricFamily(
            metrics.family(metrics.SYNTHETIC_JOURNEYS),
            "Synthetic journeys (landing, cart, checkout) by result and the step that failed.",
            labels=["result", "failed_step"],
        )
        for result in ("success", "failure"):
            steps = [""] if result == "success" else list(STEPS)
            for step in steps:
                journeys.add_metric([result, step], runs.get((result, step), 0))
        yield journeys
        duration = GaugeMetricFamily(
            metrics.SYNTHETIC_JOURNEY_DURATION,
            "Duration of each step in the last synthetic journey.",
            labels=["step"],
        )
        for step in STEPS:
            if step in seconds:
                duration.add_metric([step], seconds[step])
        yield duration
        if last_success is not None:
            yield GaugeMetricFamily(
                metrics.SYNTHETIC_LAST_SUCCESS,
                "When a synthetic journey last succeeded.",
                value=last_success,
            )
