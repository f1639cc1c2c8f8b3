"""The e2e control plane itself: the pinned release, kwok's nodes, and metrics through the aggregator."""

from __future__ import annotations

import json
import re

from tests.e2e.cluster import NODES, Cluster


def pinned_kubernetes() -> str:
    from peakops.paths import REPO_ROOT

    go_mod = (REPO_ROOT / "tests" / "e2e" / "build" / "kubernetes" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v[\d.]+)", go_mod, re.MULTILINE)
    assert match, "tests/e2e/build/kubernetes/go.mod pins no k8s.io/kubernetes release"
    return match.group(1)


def test_the_server_and_kubectl_are_the_pinned_release(simulated: Cluster) -> None:
    # Built outside Kubernetes' own build, they would say v0.0.0-master and fail kubectl's skew check.
    versions = json.loads(simulated.kubectl("version", "-o", "json"))
    assert versions["serverVersion"]["gitVersion"] == pinned_kubernetes()
    assert versions["clientVersion"]["gitVersion"] == pinned_kubernetes()


def test_kwok_nodes_are_ready_one_per_zone(simulated: Cluster) -> None:
    nodes = simulated.get("nodes")["items"]
    zones = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}
    assert zones == dict(NODES)
    for item in nodes:
        ready = next(c for c in item["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", item["metadata"]["name"]


def test_the_metrics_api_is_served_through_the_aggregation_layer(simulated: Cluster) -> None:
    groups = json.loads(simulated.kubectl("get", "--raw", "/apis"))["groups"]
    assert "metrics.k8s.io" in {group["name"] for group in groups}
    answer = json.loads(simulated.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"))
    assert answer["kind"] == "NodeMetricsList"
