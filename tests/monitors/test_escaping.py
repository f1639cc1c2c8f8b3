"""Any label value and any text in a spec reaches Prometheus as itself: escaped for PromQL in selectors,
for Go templates in annotations, for YAML everywhere. Property-based: hypothesis writes the values,
promtool checks the rules and runs a fixture that selects them."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitors.fixtures import expand
from monitors.generate import Settings, render
from monitors.sli import promql_string
from peakops.context import resolve
from peakops.generated import dump_yaml
from peakops.metrics import HTTP_REQUEST_DURATION

# Any Unicode but surrogates (not encodable) and NUL (Prometheus' text formats end strings there).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=24)


def spec(route: str, team: str, description: str) -> dict[str, Any]:
    return {
        "version": "prometheus/v1",
        "service": "svc",
        "labels": {"team": team},
        "slos": [
            {
                "name": "api-latency",
                "objective": 99.9,
                "description": description,
                "sli": {
                    "latency": {
                        "metric": HTTP_REQUEST_DURATION,
                        "selector": {"route": route},
                        "threshold_seconds": 0.3,
                    }
                },
                "alerting": {
                    "name": "ApiLatencyBurn",
                    "annotations": {"runbook_url": "https://runbooks.example.com/api"},
                },
            }
        ],
    }


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=TEXT, team=TEXT, description=TEXT)
# The reported cases: a quote and a backslash in a selector value, template code in free text.
@example(route='/api/"quoted"', team="a\\b", description="{{ .Value }} costs {{ $value }}")
@example(route="C:\\new\\table", team='say "hi"', description="}} {{ {{{{ end }}")
@example(route="line\nbreak\t€", team="\u2028", description='`{{ with query "up" }}`')
# Found by this test in CI: characters YAML reads as line breaks (NEL, LS, PS) inside an expression.
@example(route="a\x85b\u2028c\u2029", team="\x85", description="\u2029")
def test_values_and_texts_round_trip_through_the_rules(route: str, team: str, description: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "specs").mkdir()
        (root / "specs" / "svc.yml").write_text(yaml.safe_dump(spec(route, team, description)))
        files = render(resolve(specs=root / "specs"), Settings())
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        rule_files = sorted(str(p.relative_to(root)) for p in (root / "rules").glob("*.yml"))
        checked = promtool("check", "rules", *rule_files, cwd=root)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        # Every request slower than the threshold: the ratio is 1 only if the selector matched the route.
        selector = f"{{route={promql_string(route)}}}"
        slow = f'{{le="0.3", route={promql_string(route)}}}'
        labels = {
            "team": team,
            "sloth_id": "svc-api-latency",
            "sloth_service": "svc",
            "sloth_slo": "api-latency",
        }
        # 100% errors burn every tier: the page and the ticket both fire.
        burns = [
            r
            for g in yaml.safe_load(files["rules/svc-api-latency.yml"])["groups"]
            for r in g["rules"]
            if r.get("alert") == "ApiLatencyBurn"
        ]
        expected = [
            {
                "exp_labels": {**labels, **rule["labels"]},
                "exp_annotations": {
                    name: expand(text, {**labels, **rule["labels"]}, 1.0)
                    for name, text in rule["annotations"].items()
                },
            }
            for rule in burns
        ]
        test = {
            "rule_files": rule_files,
            "evaluation_interval": "15s",
            "tests": [
                {
                    "interval": "15s",
                    "input_series": [
                        {"series": f"{HTTP_REQUEST_DURATION}_count{selector}", "values": "0+150x40"},
                        {"series": f"{HTTP_REQUEST_DURATION}_bucket{slow}", "values": "0+0x40"},
                    ],
                    "promql_expr_test": [
                        {
                            "expr": 'slo:sli_error:ratio_rate5m{sloth_id="svc-api-latency"}',
                            "eval_time": "6m",
                            "exp_samples": [
                                {
                                    "labels": "slo:sli_error:ratio_rate5m{"
                                    + ", ".join(
                                        f"{k}={promql_string(v)}"
                                        for k, v in sorted({**labels, "sloth_window": "5m"}.items())
                                    )
                                    + "}",
                                    "value": 1,
                                }
                            ],
                        }
                    ],
                    "alert_rule_test": [
                        {
                            "eval_time": "6m",
                            "alertname": "ApiLatencyBurn",
                            "exp_alerts": expected,
                        }
                    ],
                }
            ],
        }
        (root / "escaping.test.yml").write_text(dump_yaml(test), encoding="utf-8")
        tested = promtool("test", "rules", "escaping.test.yml", cwd=root)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        # The description reads as written, braces and all.
        assert [a["exp_annotations"]["description"].startswith(description.strip()) for a in expected] == [
            True,
            True,
        ]
