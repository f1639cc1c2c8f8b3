"""SLO spec validation: Sloth's checks and peakops' own, each error naming the file, the SLO and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from monitors.generate import contexts
from peakops.context import resolve
from peakops.paths import SPECS_DIR
from peakops.slo import SpecError, parse_spec

SHOP = SPECS_DIR / "shop.yaml"


def shop_data() -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(SHOP.read_text())
    assert isinstance(data, dict)
    return data


def write_spec(tmp_path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    specs = tmp_path / "slos"
    specs.mkdir(exist_ok=True)
    (specs / "shop.yaml").write_text(yaml.safe_dump(data))
    return specs


def test_the_shipped_spec_is_valid() -> None:
    names = [ctx.slo.name for ctx in contexts(resolve())]
    assert names[:2] == ["landing-availability", "landing-latency"]
    assert {"checkout-success", "payment-authorisation", "promo-redemption"} <= set(names)


def test_a_plain_sloth_spec_is_accepted() -> None:
    sloth = """
version: prometheus/v1
service: myservice
labels: {owner: myteam}
slos:
  - name: requests-availability
    objective: 99.9
    description: Common SLO based on availability for HTTP request responses.
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      labels: {category: availability}
      annotations:
        summary: High error rate on 'myservice' requests responses
        runbook_url: https://runbooks.example.com/myservice
      page_alert:
        labels: {routing_key: myteam}
      ticket_alert:
        labels: {slack_channel: "#alerts-myteam"}
"""
    spec = parse_spec(sloth, "sloth.yaml")
    assert spec.slos[0].error_budget == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["slos"][4]["alerting"]["annotations"].pop("runbook_url"),
            "slos[4] (name 'checkout-success'): alerting.annotations: runbook_url is required",
        ),
        (
            lambda d: d["slos"][2].update(objective=100),
            "slos[2] (name 'checkout-availability'): objective: Input should be less than 100",
        ),
        (
            lambda d: d["slos"][1].update(name="Landing Latency"),
            "slos[1] (name 'Landing Latency'): name: String should match pattern",
        ),
        (
            lambda d: d["slos"][0]["sli"].update(raw={"error_ratio_query": "x"}),
            "slos[0] (name 'landing-availability'): sli: raw: an error-ratio query cannot be weighted",
        ),
        (
            lambda d: d["slos"][0]["alerting"].update(labels={"severity": "critical"}),
            "slos[0] (name 'landing-availability'): alerting.labels: ['severity'] are set by peakops",
        ),
        (
            lambda d: d.update(version="prometheus/v2"),
            "version: Input should be 'prometheus/v1'",
        ),
        (
            lambda d: d["slos"].append(dict(d["slos"][0])),
            "slos[7].name: duplicate 'landing-availability' (first at slos[0])",
        ),
        (
            lambda d: d["slos"][3]["peakops"].update(period="2h"),
            "slos[3] (name 'checkout-latency'): peakops.period: must be between 1d and 90d",
        ),
        (
            lambda d: d["peakops"]["campaign"].update(traffic_slo="nope"),
            "peakops.campaign.traffic_slo: no SLO named 'nope'",
        ),
    ],
)
def test_model_errors_name_the_slo_and_the_field(mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    data = shop_data()
    mutate(data)
    with pytest.raises(SpecError) as caught:
        parse_spec(yaml.safe_dump(data), "slos/shop.yaml")
    assert f"slos/shop.yaml: {expected}" in str(caught.value)


def test_events_query_needs_the_window_placeholder() -> None:
    data = shop_data()
    data["slos"][0]["sli"] = {
        "events": {"error_query": "sum(rate(x[5m]))", "total_query": "sum(rate(y[5m]))"}
    }
    with pytest.raises(
        SpecError,
        match=r"slos\[0\] \(name 'landing-availability'\): sli.events.error_query: "
        r"must contain \{\{.window\}\}",
    ):
        parse_spec(yaml.safe_dump(data), "shop.yaml")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["slos"][4]["sli"]["outcomes"]["invalid"].remove("invalid_promo"),
            "slos[4] (name 'checkout-success'): sli.outcomes: ['invalid_promo'] must be classed",
        ),
        (
            lambda d: d["slos"][4]["sli"]["outcomes"]["bad"].append("timeout"),
            "slos[4] (name 'checkout-success'): sli.outcomes: ['timeout'] are not values of outcome",
        ),
        (
            lambda d: d["slos"][1]["sli"]["latency"].update(threshold_seconds=0.4),
            "slos[1] (name 'landing-latency'): sli.latency.threshold_seconds: 0.4 is not a bucket bound",
        ),
        (
            lambda d: d["slos"][0]["sli"]["outcomes"]["selector"].update(journey="landnig"),
            "slos[0] (name 'landing-availability'): sli.outcomes.selector.journey: 'landnig' is not one of",
        ),
        (
            lambda d: d["slos"][5]["sli"]["outcomes"].update(metric="peakops_payments_total"),
            "slos[5] (name 'payment-authorisation'): sli.outcomes.metric: 'peakops_payments_total' is not",
        ),
        (
            lambda d: d["slos"][2].update(objective=90),
            "slos[2] (name 'checkout-availability'): objective: 90.0% leaves a budget of 0.1; the page burn "
            "of 14.4x over 1h would need more than 100% errors",
        ),
        (
            lambda d: d["slos"][6]["alerting"]["annotations"].update(runbook_url="docs/runbooks/nope.md"),
            "slos[6] (name 'promo-redemption'): alerting.annotations.runbook_url: 'docs/runbooks/nope.md' "
            "does not exist",
        ),
    ],
)
def test_metric_facts_errors_name_the_slo_and_the_field(mutate, expected: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = shop_data()
    mutate(data)
    specs = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        contexts(resolve(specs=specs))
    assert expected in str(caught.value)


def test_events_query_with_an_unknown_metric(tmp_path: Path) -> None:
    data = shop_data()
    data["slos"][0]["sli"] = {
        "events": {
            "error_query": 'sum(rate(peakops_edge_request_total{code_class="5xx"}[{{.window}}]))',
            "total_query": "sum(rate(peakops_edge_requests_total[{{.window}}]))",
        }
    }
    with pytest.raises(
        SpecError, match=r"sli\.events\.error_query: unknown metric 'peakops_edge_request_total'"
    ):
        contexts(resolve(specs=write_spec(tmp_path, data)))


def test_malformed_spec_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    data = shop_data()
    data["slos"][4]["alerting"]["annotations"].pop("runbook_url")
    specs = write_spec(tmp_path, data)
    out = tmp_path / "generated"
    out.mkdir()
    (out / "rules.yml").write_text("previous rules\n")
    result = CliRunner().invoke(app, ["slo", "generate", "--specs", str(specs), "--out", str(out)])
    assert result.exit_code == 2
    assert "runbook_url is required" in result.output
    assert "checkout-success" in result.output
    assert [p.name for p in out.iterdir()] == ["rules.yml"]
    assert (out / "rules.yml").read_text() == "previous rules\n"


def test_generate_replaces_the_tree_whole(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    out.mkdir()
    (out / "stale.yml").write_text("from an SLO that was deleted\n")
    result = CliRunner().invoke(app, ["slo", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "stale.yml").exists()
    assert (out / "rules.yml").read_text().startswith("# Generated from monitors/slos/shop.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]  # no staging dir left behind
