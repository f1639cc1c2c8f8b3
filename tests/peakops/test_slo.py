"""SLO spec validation: Sloth's checks and peakops' own, each error naming the file, the SLO and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from monitors.generate import contexts
from peakops.context import resolve
from peakops.paths import SPECS_DIR
from peakops.slo import SpecError, load_specs, parse_spec

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
    assert spec.slos[0].error_budget == Decimal("0.001")  # exact, not 1 - 0.999 in floats


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["slos"][4]["alerting"]["annotations"].update(runbook_url="not a link"),
            "slos[4] (name 'checkout-success'): alerting.annotations: runbook_url 'not a link' is "
            "neither a URL nor a path",
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
            lambda d: d["slos"][0].update(
                sli={"raw": {"error_ratio_query": "1 - avg_over_time(up[{{.window}}])"}}
            ),
            "slos[0] (name 'landing-availability'): peakops.impact: a raw SLI is a ratio",
        ),
        (
            lambda d: d["slos"][0]["alerting"].update(labels={"sloth_severity": "critical"}),
            "slos[0] (name 'landing-availability'): alerting.labels: ['sloth_severity'] are set by the "
            "generator",
        ),
        (
            lambda d: d["slos"][0]["alerting"].pop("name"),
            "slos[0] (name 'landing-availability'): alerting: name: required while the page or the ticket "
            "alert is enabled",
        ),
        (
            lambda d: d["slos"][0]["sli"].update(plugin={"id": "x"}),
            "slos[0] (name 'landing-availability'): sli: plugin: Sloth SLI plugins are Go code peakops "
            "cannot run",
        ),
        (
            lambda d: d.update(version="prometheus/v2"),
            "version: Input should be 'prometheus/v1'",
        ),
        (
            lambda d: d["slos"].append(dict(d["slos"][0])),
            "slos[8].name: duplicate 'landing-availability' (first at slos[0])",
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
            lambda d: d["slos"][2].update(objective=50),
            "slos[2] (name 'checkout-availability'): objective: 50.0% leaves a budget of 0.5; the page burns "
            "of 14.4x over 1h and 6x over 6h would all need more than 100% errors",
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
    data["slos"][4]["objective"] = 100
    specs = write_spec(tmp_path, data)
    out = tmp_path / "generated"
    out.mkdir()
    (out / "rules").mkdir()
    (out / "rules" / "shop.yml").write_text("previous rules\n")
    result = CliRunner().invoke(app, ["slo", "generate", "--specs", str(specs), "--out", str(out)])
    assert result.exit_code == 2
    assert "objective: Input should be less than 100" in result.output
    assert "checkout-success" in result.output
    assert [str(p.relative_to(out)) for p in out.rglob("*")] == ["rules", "rules/shop.yml"]
    assert (out / "rules" / "shop.yml").read_text() == "previous rules\n"


def test_generate_replaces_the_tree_whole(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    (out / "rules").mkdir(parents=True)
    (out / "rules" / "shop-deleted-slo.yml").write_text("from an SLO that was deleted\n")
    result = CliRunner().invoke(app, ["slo", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "rules" / "shop-deleted-slo.yml").exists()
    text = (out / "rules" / "shop-checkout-success.yml").read_text()
    assert text.startswith("# Generated from monitors/slos/shop.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]  # no staging dir left behind


# --- Sloth's forms, accepted as they are (Sloth's own examples: tests/monitors/test_sloth.py) ---

PLAIN = """
version: prometheus/v1
service: {service}
labels: {{owner: myteam, tier: 2, generated: true}}
slos:
  - name: requests-availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{{code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total[{{{{.window}}}}]))
    alerting:
      name: HighErrorRate
      page_alert:
        labels: {{severity: critical, routing_key: myteam}}
      ticket_alert:
        labels: {{severity: warning}}
"""


def generated(specs: Path) -> dict[str, str]:
    from monitors.generate import Settings, render

    return render(resolve(specs=specs), Settings())


def alerts_of(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r]


def test_multi_document_files_and_scalar_labels(tmp_path: Path) -> None:
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "two.yml").write_text(PLAIN.format(service="api") + "---\n" + PLAIN.format(service="web"))
    files = generated(specs)
    assert {"rules/api-requests-availability.yml", "rules/web-requests-availability.yml"} <= set(files)
    info = next(
        r
        for g in yaml.safe_load(files["rules/web-requests-availability.yml"])["groups"]
        for r in g["rules"]
        if r.get("record") == "sloth_slo_info"
    )
    # YAML scalars become label values as Go's decoder writes them.
    assert (info["labels"]["tier"], info["labels"]["generated"]) == ("2", "true")


def test_a_service_defined_twice_is_named_with_both_documents(tmp_path: Path) -> None:
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "two.yml").write_text(PLAIN.format(service="api") + "---\n" + PLAIN.format(service="api"))
    with pytest.raises(
        SpecError,
        match=r"two.yml \(document 2\): service: 'api' is also defined in .*two.yml "
        r"\(document 1\)",
    ):
        generated(specs)


def test_the_users_severity_is_kept_and_sloth_severity_routes(tmp_path: Path) -> None:
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "api.yml").write_text(PLAIN.format(service="api"))
    page, ticket, missing = alerts_of(generated(specs)["rules/api-requests-availability.yml"])
    assert page["labels"] == {"severity": "critical", "routing_key": "myteam", "sloth_severity": "page"}
    assert ticket["labels"] == {"severity": "warning", "sloth_severity": "ticket"}
    assert missing["alert"] == "SLIMissing"


def test_the_kubernetes_form_generates_the_same_rules(tmp_path: Path) -> None:
    plain = yaml.safe_load(PLAIN.format(service="api"))
    k8s = {
        "apiVersion": "sloth.slok.dev/v1",
        "kind": "PrometheusServiceLevel",
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {
            "service": "api",
            "labels": plain["labels"],
            "slos": [
                {
                    "name": "requests-availability",
                    "objective": 99.9,
                    "sli": {
                        "events": {
                            "errorQuery": plain["slos"][0]["sli"]["events"]["error_query"],
                            "totalQuery": plain["slos"][0]["sli"]["events"]["total_query"],
                        }
                    },
                    "alerting": {
                        "name": "HighErrorRate",
                        "pageAlert": {"labels": {"severity": "critical", "routing_key": "myteam"}},
                        "ticketAlert": {"labels": {"severity": "warning"}},
                    },
                }
            ],
        },
    }
    for name, data in (("plain", plain), ("k8s", k8s)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "api.yml").write_text(yaml.safe_dump(data))
    plain_rules = generated(tmp_path / "plain")["rules/api-requests-availability.yml"]
    k8s_rules = generated(tmp_path / "k8s")["rules/api-requests-availability.yml"]
    # Only the info metric says which form the spec was written in, as Sloth's does.
    assert k8s_rules.replace("sloth.slok.dev/v1", "prometheus/v1").replace("cli-gen-k8s", "cli-gen-prom") == (
        plain_rules.replace(str(tmp_path / "plain"), str(tmp_path / "k8s"))
    )
    assert "sloth_spec: sloth.slok.dev/v1" in k8s_rules


def test_alerting_without_annotations_or_runbook_warns_and_links_the_default(tmp_path: Path) -> None:
    data = shop_data()
    del data["slos"][4]["alerting"]["annotations"]
    specs = write_spec(tmp_path, data)
    result = CliRunner().invoke(
        app, ["slo", "generate", "--specs", str(specs), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output
    assert (
        "slos[4] (name 'checkout-success'): alerting.annotations.runbook_url: not set; the alerts link "
        "docs/runbooks/slo-burn.md" in result.output
    )
    rules = (tmp_path / "out" / "rules" / "shop-checkout-success.yml").read_text()
    assert all(a["annotations"]["runbook_url"] == "docs/runbooks/slo-burn.md" for a in alerts_of(rules))


def test_alerting_without_name_when_both_alerts_are_disabled(tmp_path: Path) -> None:
    data = yaml.safe_load(PLAIN.format(service="api"))
    data["slos"][0]["alerting"] = {"page_alert": {"disable": True}, "ticket_alert": {"disable": True}}
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "api.yml").write_text(yaml.safe_dump(data))
    (missing,) = alerts_of(generated(specs)["rules/api-requests-availability.yml"])
    assert missing["alert"] == "SLIMissing"


def test_objective_90_with_the_page_disabled_is_accepted(tmp_path: Path) -> None:
    """The enabled ticket tiers (3x and 1x of a 10% budget) can fire; the disabled page is not checked."""
    data = shop_data()
    data["slos"][2]["objective"] = 90
    data["slos"][2]["alerting"]["page_alert"] = {"disable": True}
    files = generated(write_spec(tmp_path, data))
    (ticket, _) = alerts_of(files["rules/shop-checkout-availability.yml"])[:2]
    assert ticket["labels"]["sloth_severity"] == "ticket"
    assert "(3 * 0.1)" in ticket["expr"]
    assert "(1 * 0.1)" in ticket["expr"]


def test_a_budget_too_small_for_floats_is_written_exactly(tmp_path: Path) -> None:
    data = shop_data()
    data["slos"][2]["objective"] = 99.99999999999999
    text = generated(write_spec(tmp_path, data))["rules/shop-checkout-availability.yml"]
    assert "/ 0\n" not in text
    assert "* 0)" not in text
    # 100 - 99.99999999999999 in decimal arithmetic: 1E-14 of a percent.
    assert "vector(1E-16)" in text
    assert "(14.4 * 1E-16)" in text


def test_raw_sli_as_sloth_generates_it(tmp_path: Path) -> None:
    data = yaml.safe_load(PLAIN.format(service="api"))
    data["slos"][0]["sli"] = {"raw": {"error_ratio_query": "1 - avg_over_time(up[{{.window}}])"}}
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "api.yml").write_text(yaml.safe_dump(data))
    rules = yaml.safe_load(generated(specs)["rules/api-requests-availability.yml"])
    records = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    assert records["slo:sli_error:ratio_rate1h"] == "(1 - avg_over_time(up[1h]))"
    # The period is the average of the 5m ratios, as Sloth computes it (a ratio has no counts to sum).
    assert records["slo:sli_error:ratio_rate30d"].startswith("sum_over_time(slo:sli_error:ratio_rate5m{")
    assert "slo:sli_total:rate5m" not in records


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        ({"chain": [{"id": "sloth.dev/contrib/remove_labels/v1"}]}, "not a plugin peakops implements"),
        (
            {"overridePrevious": True, "chain": [{"id": "sloth.dev/core/sli_rules/v1"}]},
            "overridePrevious: the chain drops",
        ),
        (
            {
                "chain": [
                    {"id": "sloth.dev/contrib/rule_intervals/v1", "config": {"interval": {"default": "5x"}}}
                ]
            },
            "config.interval.default: '5x' is not a Prometheus duration",
        ),
    ],
)
def test_unsupported_plugins_are_refused_by_id(chain: dict, expected: str) -> None:  # type: ignore[type-arg]
    data = yaml.safe_load(PLAIN.format(service="api"))
    data["slo_plugins"] = chain
    with pytest.raises(SpecError) as caught:
        parse_spec(yaml.safe_dump(data), "api.yml")
    assert expected in str(caught.value)
    assert "api.yml: slo_plugins" in str(caught.value)


def test_info_labels_and_rule_intervals_plugins(tmp_path: Path) -> None:
    data = yaml.safe_load(PLAIN.format(service="api"))
    data["slo_plugins"] = {"chain": [{"id": "sloth.dev/core/debug/v1", "config": {"msg": "hi"}}]}
    data["slos"][0]["plugins"] = {
        "chain": [
            {"id": "sloth.dev/contrib/info_labels/v1", "config": {"labels": {"tier_name": "gold"}}},
            {
                "id": "sloth.dev/contrib/rule_intervals/v1",
                "config": {"interval": {"default": "1m", "alert": "30s"}},
            },
        ]
    }
    specs = tmp_path / "slos"
    specs.mkdir()
    (specs / "api.yml").write_text(yaml.safe_dump(data))
    groups = yaml.safe_load(generated(specs)["rules/api-requests-availability.yml"])["groups"]
    assert [g.get("interval") for g in groups] == ["1m", "1m", "30s"]
    info = next(r for r in groups[1]["rules"] if r["record"] == "sloth_slo_info")
    assert info["labels"]["tier_name"] == "gold"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: openslo/v1alpha\nkind: SLO\n", "OpenSLO specs are not supported"),
        (
            "apiVersion: sloth.slok.dev/v2\nkind: PrometheusServiceLevel\nspec: {}\n",
            "apiVersion/kind: expected",
        ),
        ("[1, 2]\n", "expected a mapping"),
        ("version: prometheus/v1\nservice: a\nslos: [}\n", "not valid YAML"),
        ("", "empty: expected a spec"),
        # Found by hostile input: a key given twice was silently the last; deep nesting a traceback.
        ("version: prometheus/v1\nservice: a\nservice: b\n", "found duplicate key 'service'"),
        ("slos: " + "[" * 3000 + "]" * 3000 + "\n", "not valid YAML: nested too deeply"),
        (
            "version: prometheus/v1\nservice: a\nslos: [{name: x, objective: .nan, sli: {raw: "
            "{error_ratio_query: 'x[{{.window}}]'}}, alerting: {page_alert: {disable: true}, "
            "ticket_alert: {disable: true}}}]\n",
            "objective: Input should be a finite number",
        ),
    ],
)
def test_unreadable_documents_name_the_problem(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "x.yml")
    assert str(caught.value).startswith("x.yml: ")
    assert expected in str(caught.value)


def test_an_undecodable_spec_file_is_named_with_the_others_errors(tmp_path: Path) -> None:
    specs = write_spec(tmp_path, shop_data())
    (specs / "latin1.yaml").write_bytes(b"service: caf\xe9\n")
    with pytest.raises(SpecError, match=r"latin1\.yaml: not UTF-8 text: byte 0xe9 at offset 12$"):
        load_specs(specs)
