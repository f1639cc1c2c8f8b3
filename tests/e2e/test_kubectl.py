"""`kubectl apply --dry-run=server -k` on the rendered k8s/: the apiserver's own schemas, defaulting and
admission (Pod Security's restricted profile included) judge every object of every stack."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.render import STACKS
from peakops.paths import REPO_ROOT
from tests.e2e.cluster import Cluster

TARGETS = ["", *(f"overlays/{stack}" for stack in STACKS)]  # "": `kubectl apply -k k8s/`


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """k8s/ as a user has it before `kubectl apply -k`: a secrets.env beside the base (the example's)."""
    copy = tmp_path_factory.mktemp("manifests") / "k8s"
    shutil.copytree(REPO_ROOT / "k8s", copy)
    shutil.copy(copy / "base" / "secrets.env.example", copy / "base" / "secrets.env")
    return copy


def rendered(cluster: Cluster, folder: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(cluster.kubectl("kustomize", str(folder))) if doc]


@pytest.fixture(scope="module")
def prepared(cluster: Cluster, manifests: Path, operator_crds: None) -> None:
    """Each stack's namespace for real (prod's objects also need the operator's CRDs): a server dry-run of
    a namespaced object needs its namespace to exist, and a dry-run namespace never does."""
    for stack in STACKS:
        cluster.apply(
            [o for o in rendered(cluster, manifests / "overlays" / stack) if o["kind"] == "Namespace"]
        )


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t or "k8s/")
def test_the_server_accepts_every_rendered_object(
    cluster: Cluster, manifests: Path, prepared: None, target: str
) -> None:
    objects = rendered(cluster, manifests / target)
    output = cluster.kubectl("apply", "--dry-run=server", "-k", str(manifests / target))
    accepted = [line for line in output.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(objects), output
    # Pod Security only warns about a workload whose pods it would refuse: a warning is a failure here.
    assert "Warning" not in output, output
    kinds = {o["kind"] for o in objects}
    assert {
        "Deployment",
        "HorizontalPodAutoscaler",
        "CronJob",
        "NetworkPolicy",
        "PodDisruptionBudget",
    } <= kinds
    if target.endswith("prod"):
        assert {"PrometheusRule", "ServiceMonitor"} <= kinds  # validated against the operator's CRDs


def test_the_server_refuses_what_a_cluster_refuses(cluster: Cluster, manifests: Path, prepared: None) -> None:
    # The check can fail: the app's pod allowed to run as root is refused by Pod Security admission in the
    # restricted namespace, as a real cluster refuses it (for a Deployment it only warns, above).
    deployment = next(
        o for o in rendered(cluster, manifests / "overlays" / "dev") if o["kind"] == "Deployment"
    )
    template = deployment["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **template["metadata"],
            "name": "as-root",
            "namespace": deployment["metadata"]["namespace"],
        },
        "spec": template["spec"],
    }
    # Its only fault is root: the default ServiceAccount, so no other admission check refuses it first.
    pod["spec"].pop("serviceAccountName")
    pod["spec"]["securityContext"]["runAsNonRoot"] = False
    for container in pod["spec"]["containers"]:
        container["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    answer = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(pod), check=False)
    assert 'violates PodSecurity "restricted:' in answer, answer
    assert "as-root created" not in answer
