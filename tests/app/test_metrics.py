from __future__ import annotations

import subprocess
from pathlib import Path

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


def fresh_exposition() -> list[tuple[str, dict[str, str], float]]:
    """What a just-started app exports for its counters, before any request: (name, labels, value)."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from app.main import create_app
    from app.settings import Settings
    from peakops.paths import REPO_ROOT

    registry = CollectorRegistry()
    settings = Settings(
        catalog=REPO_ROOT / "app" / "seed" / "demo-catalog.yaml", webhook_secrets={"tiktok": "s"}
    )
    create_app(settings, registry)
    text = generate_latest(registry).decode()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        if family.type == "counter"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]


def test_every_known_label_value_starts_at_zero() -> None:
    samples = {(name, tuple(sorted(labels.items()))): value for name, labels, value in fresh_exposition()}
    assert all(value == 0 for value in samples.values())
    outcomes = {dict(labels)["outcome"] for name, labels in samples if name == metrics.CHECKOUTS}
    assert outcomes == {o.value for o in metrics.CheckoutOutcome}
    results = {dict(labels)["result"] for name, labels in samples if name == metrics.PROMO_CHECKS}
    assert results == {r.value for r in metrics.PromoCheck}
    webhooks = {dict(labels)["result"] for name, labels in samples if name == metrics.WEBHOOK_EVENTS}
    assert webhooks == {r.value for r in metrics.WebhookResult}
    redemptions = {
        dict(labels)["influencer"] for name, labels in samples if name == metrics.PROMO_REDEMPTIONS
    }
    assert redemptions == {"lena-glow", "marco-fit", "sofia-style"}


def test_a_restart_raises_no_absence_alert(tmp_path: Path) -> None:
    """Under promtool time: 30 min of traffic that produces only the happy outcomes, a restart (every
    counter back to what a fresh app exports), then a quiet 20 min. SLIMissing waits 10 min; it must
    not fire for the app's SLOs. The control case, counters created on first use (nothing exported
    after the restart), does fire: the fixture can fail."""
    from monitors.generate import contexts
    from peakops.context import resolve
    from peakops.generated import dump_yaml
    from peakops.paths import GENERATED_DIR

    app_series = metrics.series_names(metrics.APP)
    app_slos = sorted(
        ctx.slo.name
        for ctx in contexts(resolve())
        if ctx.slo.sli.outcomes is not None and ctx.slo.sli.outcomes.metric in app_series
    )
    assert app_slos == ["checkout-success", "payment-authorisation", "promo-redemption"]
    happy = {"success", "approved", "accepted"}

    def series(restart: str) -> list[dict[str, str]]:
        found = []
        for name, labels, _ in fresh_exposition():
            selector = name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
            before = "0+5x119" if set(labels.values()) & happy else "0x119"
            found.append({"series": selector, "values": f"{before} {restart}"})
        return found

    missing = f'ALERTS{{alertname="SLIMissing", alertstate="firing", sloth_slo=~"{"|".join(app_slos)}"}}'
    at_zero = {
        "interval": "15s",
        "input_series": series("0x80"),
        "promql_expr_test": [{"expr": missing, "eval_time": "50m", "exp_samples": []}],
    }
    on_first_use = {
        "interval": "15s",
        "input_series": series("stale"),
        "promql_expr_test": [
            {"expr": f"count({missing})", "eval_time": "50m", "exp_samples": [{"value": 3}]}
        ],
    }
    rule_files = sorted(str(p) for p in (GENERATED_DIR / "rules").glob("*.yml"))
    for name, case in (("at-zero", at_zero), ("on-first-use", on_first_use)):
        path = tmp_path / f"{name}.test.yml"
        path.write_text(dump_yaml({"rule_files": rule_files, "evaluation_interval": "15s", "tests": [case]}))
        result = subprocess.run(
            ["promtool", "test", "rules", path.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{name}: {result.stdout[-3000:]}"
