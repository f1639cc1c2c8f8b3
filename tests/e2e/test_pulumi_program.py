"""The Pulumi program against the real apiserver.

A fast check beside the real `pulumi up` (test_pulumi_up.py): `pulumi.runtime.Mocks` stands in for the
engine and for nothing else: the program runs with the dev stack's own config, its
`auto` settings ask this cluster through KUBECONFIG, and every object it registers (what `pulumi up` would
hand the provider) is judged by the apiserver in a server-side dry-run, and compared with the rendered
k8s/ overlay that `kubectl apply -k` and the Ansible playbook deploy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from infra.manifests.app import SECRET
from peakops.paths import REPO_ROOT
from peakops.services import APP
from tests.e2e.cluster import Cluster
from tests.infra.pulumi_mocks import deploy

STACK = "dev"
Objects = dict[tuple[str, str], dict[str, Any]]  # (kind, name) -> the object
OPERATOR_KINDS = {"PrometheusRule", "ServiceMonitor"}


def stack_values(stack: str) -> dict[str, str]:
    """`Pulumi.<stack>.yaml`'s peakops:* values as the engine hands them to the program (strings), and the
    secrets a user would have set with `pulumi config set --secret`."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    values = {
        key: json.dumps(value) if isinstance(value, bool) else str(value)
        for key, value in data["config"].items()
        if key.startswith("peakops:")
    }
    return {**values, "peakops:adminToken": "e2e-admin-token"}


def plain(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers removed: what the provider would send to the apiserver."""
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def key(manifest: dict[str, Any]) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


@pytest.fixture(scope="module")
def registered(cluster: Cluster, operator_crds: None) -> Objects:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(cluster.kubeconfig))  # the program's auto settings ask this cluster
        resources = deploy(stack_values(STACK), stack=STACK)
    objects = [plain(dict(r.inputs)) for r in resources if r.typ.startswith("kubernetes:")]
    return {key(o): o for o in objects}


def test_auto_settings_were_decided_by_this_cluster(registered: Objects) -> None:
    # The cluster serves the operator's CRDs (installed by the suite) and no custom metrics adapter.
    kinds = {kind for kind, _ in registered}
    assert kinds >= OPERATOR_KINDS
    assert ("ConfigMap", "peakops-prometheus-rules") not in registered
    hpa = registered["HorizontalPodAutoscaler", APP.name]
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource"]


def test_the_apiserver_accepts_every_object_the_program_registers(
    cluster: Cluster, registered: Objects
) -> None:
    namespaces = [o for o in registered.values() if o["kind"] == "Namespace"]
    cluster.apply(namespaces)  # for real: a dry-run namespace would not exist for the objects in it
    others = [o for o in registered.values() if o["kind"] != "Namespace"]
    output = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(others))
    accepted = [line for line in output.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(others), output
    assert "Warning" not in output, output


def test_the_program_and_k8s_deploy_the_same_objects(
    cluster: Cluster, registered: Objects, tmp_path: Path
) -> None:
    manifests = tmp_path / "k8s"
    shutil.copytree(REPO_ROOT / "k8s", manifests)
    shutil.copy(manifests / "base" / "secrets.env.example", manifests / "base" / "secrets.env")
    rendered = {key(o): o for o in yaml.safe_load_all(cluster.kubectl("kustomize", str(manifests))) if o}
    # k8s/ is rendered for any cluster (auto: the portable ConfigMap of rules); this one has the operator.
    assert {k for k in set(rendered) - set(registered)} == {("ConfigMap", "peakops-prometheus-rules")}
    assert {kind for kind, _ in set(registered) - set(rendered)} == OPERATOR_KINDS
    common = set(rendered) & set(registered)
    assert len(common) >= 25
    for object_key in common:
        if object_key == ("Secret", SECRET):
            # Values differ by design (kustomize reads secrets.env); the keys the app reads may not.
            assert set(rendered[object_key]["data"]) == set(registered[object_key]["stringData"])
            continue
        assert rendered[object_key] == registered[object_key], object_key
