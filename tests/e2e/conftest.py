"""The e2e suite's cluster: one control plane for the session (tests/e2e/cluster.py), or the user's own
cluster when PEAKOPS_E2E_KUBECONFIG names one. Run with `make e2e`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.images import builds, every_workload
from tests.e2e.cluster import E2E_CACHE, Cluster, cluster_for_tests, control_plane, wait_for
from tests.e2e.node import read_settings

OPERATOR_CRDS = E2E_CACHE / "crds" / "prometheus-operator"

# The HPA's real windows (a 300 s scale-down stabilisation, then a step a minute) outlast the suite's
# default per-test timeout; every e2e loop is bounded by its own deadline.
E2E_TIMEOUT_S = 1200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_S))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster_for_tests(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A control plane with one real node (tests/e2e/node.py) running the images `make images` built;
    the user's own cluster when PEAKOPS_E2E_KUBECONFIG names one (its nodes are real)."""
    own = os.environ.get("PEAKOPS_E2E_KUBECONFIG")
    if own:
        yield Cluster(Path(own), simulated=False)
        return
    images = [reference for reference, _ in builds(every_workload(("dev",)))]
    with control_plane(tmp_path_factory.mktemp("real"), real_node_images=images) as running:
        yield running
    # Once the node has stopped, the host is as it was (an error at teardown otherwise).
    assert read_settings() == running.host_settings


@pytest.fixture
def simulated(cluster: Cluster) -> Cluster:
    """A cluster whose pods' CPU usage a test can set (kwok); the user's own cluster has real pods."""
    if not cluster.simulated:
        pytest.skip("needs kwok's simulated usage; run against the suite's own control plane")
    return cluster


@pytest.fixture(scope="session")
def operator_crds(cluster: Cluster) -> None:
    """The Prometheus Operator's CRDs, PrometheusRule and ServiceMonitor, as its release publishes them
    (`make e2e-env` fetches them), unless the cluster serves them already (a user's may run an operator)."""
    if "prometheusrules" not in cluster.kubectl("api-resources", "--api-group=monitoring.coreos.com"):
        cluster.kubectl("apply", "--server-side", "-f", str(OPERATOR_CRDS.resolve()))
    for crd in ("prometheusrules", "servicemonitors"):
        cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/{crd}.monitoring.coreos.com", "--timeout=60s"
        )
    wait_for("the operator's kinds served", lambda: "prometheusrules" in cluster.kubectl("api-resources"), 30)
