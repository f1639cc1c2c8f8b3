from __future__ import annotations

from prometheus_client import CollectorRegistry

from app.metrics import AppMetrics, metric_names
from peakops import metrics


def test_metric_names_follow_prometheus_conventions() -> None:
    names = metric_names()
    assert "peakops_http_requests_total" in names
    assert "peakops_http_request_duration_seconds" in names
    assert "peakops_checkouts_total" in names
    for name in names:
        assert name.startswith("peakops_")
    counters = [n for n in names if n.endswith("_total")]
    assert len(counters) >= 8


def test_the_app_exports_exactly_the_names_of_the_vocabulary() -> None:
    """peakops/metrics.py names every family; the app registers exactly those, no more, no fewer."""
    assert sorted(metric_names()) == sorted(metrics.APP)


def test_fresh_registry_per_instance() -> None:
    first, second = AppMetrics(CollectorRegistry()), AppMetrics(CollectorRegistry())
    first.checkouts.labels("success").inc()
    assert first.registry.get_sample_value("peakops_checkouts_total", {"outcome": "success"}) == 1
    assert second.registry.get_sample_value("peakops_checkouts_total", {"outcome": "success"}) is None
