"""The Pulumi program under `pulumi.runtime.Mocks` (no engine, no cluster): what each component
registers, checked for the invariants a cluster would otherwise find the hard way."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra import program
from peakops.services import APP, EDGE, EXPORTER
from tests.infra.pulumi_mocks import deploy

BASE_CONFIG = {
    "peakops:imageTag": "1.4.2",
    "peakops:adminToken": "s3cret-token",
    "peakops:databaseUrl": "postgresql+asyncpg://shop@db/shop",
}


@pytest.fixture(scope="module")
def resources() -> list[pulumi.runtime.MockResourceArgs]:
    # Explicit settings, so nothing asks a cluster: every optional part on.
    return deploy(
        {
            **BASE_CONFIG,
            "peakops:loadGenerator": "true",
            "peakops:cloud": "aws",
            "peakops:appRpsMetric": "true",
        }
    )


def of_kind(resources: list[pulumi.runtime.MockResourceArgs], kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in resources if r.typ.endswith(f":{kind}")]


def pod_specs(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    found = []
    for kind in ("Deployment", "StatefulSet", "Job"):
        for inputs in of_kind(resources, kind):
            template = inputs["spec"]["template"]
            found.append((inputs["metadata"]["name"], template["spec"], template["metadata"]["labels"]))
    for inputs in of_kind(resources, "CronJob"):
        template = inputs["spec"]["jobTemplate"]["spec"]["template"]
        found.append((inputs["metadata"]["name"], template["spec"], template["metadata"]["labels"]))
    return found


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_component_registers_under_its_type_token(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    tokens = {r.typ for r in resources if r.typ.startswith("peakops:")}
    assert tokens >= {
        "peakops:k8s:Namespace",
        "peakops:k8s:CampaignApp",
        "peakops:k8s:EdgeCache",
        "peakops:k8s:Ingress",
        "peakops:k8s:Observability",
        "peakops:k8s:PreScaling",
        "peakops:k8s:NetworkPolicies",
        "peakops:k8s:LoadGenerator",
    }


def test_selectors_match_the_pod_labels(resources: list[pulumi.runtime.MockResourceArgs]) -> None:
    for kind in ("Deployment", "StatefulSet"):
        for inputs in of_kind(resources, kind):
            selector = inputs["spec"]["selector"]["matchLabels"]
            assert matches(selector, inputs["spec"]["template"]["metadata"]["labels"]), inputs["metadata"][
                "name"
            ]
    all_labels = [labels for _, _, labels in pod_specs(resources)]
    for inputs in of_kind(resources, "Service"):
        assert any(matches(inputs["spec"]["selector"], labels) for labels in all_labels), inputs["metadata"][
            "name"
        ]
    for inputs in of_kind(resources, "PodDisruptionBudget"):
        assert any(matches(inputs["spec"]["selector"]["matchLabels"], labels) for labels in all_labels)


def test_every_container_has_requests_limits_probes_and_a_pinned_image(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    checked = 0
    for name, spec, _ in pod_specs(resources):
        is_job = "restartPolicy" in spec
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            where = f"{name}/{container['name']}"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{where}: {image} has no tag"
            assert not image.endswith(":latest"), where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            long_running = container in spec["containers"] and not is_job
            if long_running:
                assert "readinessProbe" in container, where
                assert "livenessProbe" in container, where
            checked += 1
    assert checked >= 8


def test_the_load_generator_plays_the_plan_once_as_jobs_pulumi_does_not_wait_for(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    # A Deployment would restart a finished headless master: the campaign replayed for as long as it runs.
    jobs = {j["metadata"]["name"]: j for j in of_kind(resources, "Job")}
    assert set(jobs) == {"locust-master", "locust-worker"}
    assert not [d for d in of_kind(resources, "Deployment") if "locust" in d["metadata"]["name"]]
    master, worker = jobs["locust-master"], jobs["locust-worker"]
    assert (master["spec"]["completions"], master["spec"]["backoffLimit"]) == (
        1,
        0,
    )  # its exit is the verdict
    assert worker["spec"]["parallelism"] == worker["spec"]["completions"] == 2
    for job in jobs.values():
        assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    command = master["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--expect-workers") + 1] == "2"


def test_load_generator_options_reach_the_masters_command_line() -> None:
    registered = deploy(
        {
            **BASE_CONFIG,
            "peakops:prometheusOperator": "false",
            "peakops:appRpsMetric": "false",
            "peakops:loadGenerator": "true",
            "peakops:loadGeneratorWorkers": "1",
            "peakops:loadGeneratorOptions": '["--test-seconds", "90s", "--peak-arrivals", "30"]',
        }
    )
    master = next(i for i in of_kind(registered, "Job") if i["metadata"]["name"] == "locust-master")
    assert master["spec"]["template"]["spec"]["containers"][0]["command"][-4:] == [
        "--test-seconds", "90s", "--peak-arrivals", "30",
    ]  # fmt: skip


def test_app_pods_run_non_root_read_only_without_a_token(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    app = next(i for i in of_kind(resources, "Deployment") if i["metadata"]["name"] == APP.name)
    pod = app["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert "replicas" not in app["spec"]  # the HPA owns the replica count
    account = next(i for i in of_kind(resources, "ServiceAccount") if i["metadata"]["name"] == APP.name)
    assert account["automountServiceAccountToken"] is False


def test_hpas_scale_fast_up_slowly_down_within_sane_bounds(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    deployments = {i["metadata"]["name"] for i in of_kind(resources, "Deployment")}
    hpas = of_kind(resources, "HorizontalPodAutoscaler")
    assert {h["metadata"]["name"] for h in hpas} == {APP.name, EDGE.name}
    for hpa in hpas:
        spec = hpa["spec"]
        assert 1 <= spec["minReplicas"] < spec["maxReplicas"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    app = next(h for h in hpas if h["metadata"]["name"] == APP.name)
    assert {m["type"] for m in app["spec"]["metrics"]} == {"Resource", "Pods"}  # CPU and requests/s


def test_the_pdb_leaves_room_for_a_rolling_update(resources: list[pulumi.runtime.MockResourceArgs]) -> None:
    (pdb,) = of_kind(resources, "PodDisruptionBudget")
    app_hpa = next(
        h for h in of_kind(resources, "HorizontalPodAutoscaler") if h["metadata"]["name"] == APP.name
    )
    if "maxUnavailable" in pdb["spec"]:
        assert pdb["spec"]["maxUnavailable"] >= 1
    else:
        assert pdb["spec"]["minAvailable"] < app_hpa["spec"]["minReplicas"]


def allows(policies: list[dict[str, Any]], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Does some policy let pods labelled `source` reach pods labelled `target` on `port` (ingress side)?"""
    for policy in policies:
        spec = policy["spec"]
        if not matches(spec["podSelector"].get("matchLabels", {}), target) or "ingress" not in spec:
            continue
        for rule in spec["ingress"]:
            ports = {p["port"] for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if peers is None or any(
                matches(p.get("podSelector", {}).get("matchLabels", {}), source) for p in peers
            ):
                return True
    return False


def test_network_policies_deny_by_default_and_open_what_is_needed(
    resources: list[pulumi.runtime.MockResourceArgs],
) -> None:
    policies = of_kind(resources, "NetworkPolicy")
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    edge, app = {"app.kubernetes.io/name": EDGE.name}, {"app.kubernetes.io/name": APP.name}
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    assert allows(policies, edge, app, APP.port)
    assert allows(policies, prometheus, app, APP.port)
    assert allows(policies, prometheus, edge, EXPORTER.port)
    assert not allows(policies, {"app.kubernetes.io/name": "intruder"}, app, APP.port)
    egress = next(p for p in policies if p["metadata"]["name"] == "edge-egress")["spec"]["egress"][0]
    assert egress["to"][0]["podSelector"]["matchLabels"] == app
    assert egress["ports"] == [{"protocol": "TCP", "port": APP.port}]


def test_the_app_secret_is_a_pulumi_secret(resources: list[pulumi.runtime.MockResourceArgs]) -> None:
    (secret,) = of_kind(resources, "Secret")
    # The engine receives it wrapped as a secret (so the state file stores it encrypted).
    wrapped = secret["stringData"]
    assert wrapped[pulumi.runtime.rpc._special_sig_key] == pulumi.runtime.rpc._special_secret_sig
    assert wrapped["value"]["PEAKOPS_ADMIN_TOKEN"] == "s3cret-token"


def test_the_prescale_schedule_matches_the_plan(resources: list[pulumi.runtime.MockResourceArgs]) -> None:
    jobs = {j["metadata"]["name"]: j["spec"] for j in of_kind(resources, "CronJob")}
    # Demo plan: posts 19:00, 19:20, 20:30 Berlin; 10 min lead and 60 min hold merge into one period.
    assert jobs["prescale-up-1"]["schedule"] == "50 18 3 12 *"
    assert jobs["prescale-down-1"]["schedule"] == "30 21 3 12 *"
    assert {spec["timeZone"] for spec in jobs.values()} == {"Europe/Berlin"}


def test_load_balancer_annotations_for_the_cloud(resources: list[pulumi.runtime.MockResourceArgs]) -> None:
    public = next(s for s in of_kind(resources, "Service") if s["metadata"]["name"] == "edge-public")
    assert public["spec"]["type"] == "LoadBalancer"
    assert (
        public["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    )


def test_observability_ships_servicemonitors_only_with_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = deploy({**BASE_CONFIG, "peakops:prometheusOperator": "false"})
    assert not [r for r in plain if r.typ.endswith("ServiceMonitor")]
    assert any(r.name.endswith("peakops-prometheus-rules") for r in plain)
    operator = deploy({**BASE_CONFIG, "peakops:prometheusOperator": "true"})
    custom = sorted(r.typ for r in operator if "monitoring.coreos.com" in r.typ)
    assert custom == [
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"peakops:appReplicasMin": "8", "peakops:appReplicasMax": "4"},
            "appReplicasMin (8) must be below appReplicasMax (4)",
        ),
        ({"peakops:replicasMin": "2"}, "peakops:replicasMin: unknown key"),
        ({"peakops:adminToken": ""}, "adminToken: missing secret"),
        ({"peakops:imageTag": "latest"}, "peakops:imageTag: 'latest' is not a version"),
    ],
)
def test_bad_stack_config_fails_at_program_start(config: dict[str, str], message: str) -> None:
    with pytest.raises(
        pulumi.RunError, match="stack test: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        deploy({**BASE_CONFIG, **config})


@pytest.mark.parametrize("present", [True, False])
def test_auto_asks_the_cluster_for_the_operator_crds(present: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    served = {"apps", "monitoring.coreos.com"} if present else {"apps"}
    monkeypatch.setattr(program, "served_api_groups", lambda: served)
    registered = deploy(BASE_CONFIG)  # prometheusOperator defaults to auto
    monitors = [r for r in registered if r.typ.endswith(":ServiceMonitor")]
    config_maps = [r for r in registered if r.name.endswith("peakops-prometheus-rules")]
    assert (len(monitors), len(config_maps)) == ((2, 0) if present else (0, 1))


def app_hpa_metrics(registered: list[pulumi.runtime.MockResourceArgs]) -> list[str]:
    hpa = next(
        r.inputs for r in registered if r.typ.endswith(":HorizontalPodAutoscaler") and APP.name in r.name
    )
    return sorted(m["type"] for m in hpa["spec"]["metrics"])


@pytest.mark.parametrize("adapter", [True, False])
def test_auto_scales_on_requests_only_where_a_custom_metrics_adapter_serves_them(
    adapter: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kubernetes never scales down while any of an HPA's metrics is missing: without an adapter, a
    # requests-per-second metric would pin the app at its maximum after the first spike.
    served = {"apps", "custom.metrics.k8s.io"} if adapter else {"apps"}
    monkeypatch.setattr(program, "served_api_groups", lambda: served)
    assert app_hpa_metrics(deploy(BASE_CONFIG)) == (["Pods", "Resource"] if adapter else ["Resource"])


def test_explicit_settings_do_not_ask_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> set[str]:
        raise AssertionError("asked the cluster although nothing was auto")

    monkeypatch.setattr(program, "served_api_groups", unreachable)
    explicit = {**BASE_CONFIG, "peakops:prometheusOperator": "false", "peakops:appRpsMetric": "true"}
    assert app_hpa_metrics(deploy(explicit)) == ["Pods", "Resource"]


def test_no_reachable_cluster_serves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    assert program.served_api_groups() == set()


def api_server(groups: list[str]) -> tuple[ThreadingHTTPServer, str]:
    """The one call `served_api_groups` makes, answered as an apiserver would (`GET /apis`)."""
    body = json.dumps(
        {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}]} for g in groups
            ],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path.split("?")[0].rstrip("/") == "/apis" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_each_call_asks_the_cluster_kubeconfig_names_at_that_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kubernetes client fixes its default kubeconfig path when first imported: a process that
    # switched clusters (a test session, the Automation API) once asked the old cluster and created
    # ServiceMonitors the new one does not serve.
    servers = [api_server(["apps"]), api_server(["apps", "monitoring.coreos.com"])]
    try:
        answers = []
        for index, (_, url) in enumerate(servers):
            kubeconfig = tmp_path / f"kubeconfig-{index}"
            kubeconfig.write_text(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [{"name": "c", "cluster": {"server": url}}],
                        "users": [{"name": "u", "user": {"token": "t"}}],
                        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                        "current-context": "x",
                    }
                )
            )
            monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
            answers.append(program.served_api_groups())
        assert answers == [{"apps"}, {"apps", "monitoring.coreos.com"}]
    finally:
        for server, _ in servers:
            server.shutdown()
