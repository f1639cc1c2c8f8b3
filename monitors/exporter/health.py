"""The exporter's own health, and the campaign window it exports for the rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from peakops import metrics
from peakops.plan import CampaignPlan


@dataclass
class Health:
    """Errors and last successes per component ("log", "synthetic"), updated by the worker threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: dict[str, int] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)

    def error(self, component: str) -> None:
        with self.lock:
            self.errors[component] = self.errors.get(component, 0) + 1

    def success(self, component: str) -> None:
        with self.lock:
            self.last_success[component] = time.time()


class HealthCollector(Collector):
    """Times the other collectors' scrape, so a slow exporter shows up in its own metrics."""

    def __init__(self, health: Health, timed: list[Collector], components: tuple[str, ...]) -> None:
        self.health = health
        self.timed = timed
        self.components = components

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        for collector in self.timed:
            yield from collector.collect()
        with self.health.lock:
            errors = dict(self.health.errors)
            last = dict(self.health.last_success)
        yield GaugeMetricFamily(
            metrics.EXPORTER_SCRAPE_DURATION,
            "Time to build this scrape's SLI metrics.",
            value=time.perf_counter() - started,
        )
        failures = CounterMetricFamily(
            metrics.family(metrics.EXPORTER_ERRORS), "Errors by component.", labels=["component"]
        )
        for component in self.components:
            failures.add_metric([component], errors.get(component, 0))
        yield failures
        successes = GaugeMetricFamily(
            metrics.EXPORTER_LAST_SUCCESS,
            "When each component last worked (log read, synthetic journey).",
            labels=["component"],
        )
        for component in self.components:
            if component in last:
                successes.add_metric([component], last[component])
        yield successes


class CampaignCollector(Collector):
    """The campaign window from the plan, so `peakops:campaign_live` needs no clock in the rules."""

    def __init__(self, plan: CampaignPlan) -> None:
        self.plan = plan

    def collect(self) -> Iterator[Metric]:
        for name, moment, help_text in (
            (metrics.CAMPAIGN_START, self.plan.window.start, "When the campaign window opens."),
            (metrics.CAMPAIGN_END, self.plan.window.end, "When the campaign window closes."),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["campaign"])
            family.add_metric([self.plan.name], moment.timestamp())
            yield family
