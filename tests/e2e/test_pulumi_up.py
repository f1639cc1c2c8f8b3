"""A real `pulumi up` of the dev stack into the suite's cluster with a real node (real pods): the
Pulumi CLI and the Kubernetes provider built from their Go modules (scripts/e2e-env.sh), a local
`file://` backend, the project's own program (infra/program.py) run inline through the Automation API,
as `pulumi up` runs it from the repository root. Then a deploy inside a campaign window: the pre-scale
job raises the HPA minimum and the next `pulumi up` keeps it.

No Python language host is built (its module is not served here): the Automation API's inline program
runs its language server in this process and drives the CLI with `--client` (shared/recipes/pulumi).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from infra.automation import select_stack
from infra.manifests.prescale import FIELD_MANAGER
from infra.render import stack_config
from peakops.paths import REPO_ROOT
from peakops.services import APP
from tests.e2e.cluster import Cluster, wait_for
from tests.e2e.prescale import campaign_year, min_replicas_owners, prescaler_kubeconfig, run_job_command
from tests.support.gotools import BIN_DIR, go_tool

STACK = "dev"
NAMESPACE = "peakops-pulumi"  # beside the Ansible deploy of the same stack (peakops-dev)
CONFIG = stack_config(STACK)


def publish_ingress_addresses(cluster: Cluster, stop: threading.Event) -> None:
    """What an ingress controller does, and the provider's Ingress await waits for: an address."""
    while not stop.wait(2):
        for ingress in cluster.get("ingress", "-n", NAMESPACE)["items"]:
            if not ingress.get("status", {}).get("loadBalancer", {}).get("ingress"):
                cluster.kubectl(
                    "patch",
                    "ingress",
                    ingress["metadata"]["name"],
                    "-n",
                    NAMESPACE,
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}',
                    check=False,
                )


@pytest.fixture(scope="module")
def cluster(real_cluster: Cluster) -> Cluster:
    """Real pods on a real node: the provider's await logic waits for real rollouts and probes."""
    return real_cluster


@pytest.fixture(scope="module")
def stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    go_tool("pulumi"), go_tool("pulumi-resource-kubernetes")  # built, or fail naming the build command
    folder = tmp_path_factory.mktemp("pulumi")
    work = folder / "work"
    work.mkdir()
    (folder / "state").mkdir()  # the file:// backend does not create its folder
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml"):  # copies: the CLI rewrites the stack file
        shutil.copy(REPO_ROOT / name, work / name)
    env = {
        "PATH": f"{BIN_DIR}:/usr/bin:/bin",  # the CLI, and the provider as an ambient plugin
        "PULUMI_HOME": str(folder / "home"),
        "PULUMI_BACKEND_URL": f"file://{folder / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "e2e",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",  # never the vendor's download site
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    stop = threading.Event()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)  # the inline program runs here and asks the cluster (auto settings)
        created = select_stack(STACK, work, env)  # what `peakops k8s up` runs, on a copy of the files
        created.set_config("peakops:namespace", auto.ConfigValue(NAMESPACE))
        created.set_config("peakops:adminToken", auto.ConfigValue("e2e-admin-token-0123456789", secret=True))
        publisher = threading.Thread(target=publish_ingress_addresses, args=(cluster, stop), daemon=True)
        publisher.start()
        try:
            yield created
        finally:
            try:
                created.destroy(color="never", on_output=print)  # nothing left when the last test ran
                created.workspace.remove_stack(STACK)
            finally:
                stop.set()
                publisher.join(timeout=10)


def operations(events: list[auto.EngineEvent]) -> dict[str, list[str]]:
    """op -> the resource types it applies to, from a preview's or an update's engine events."""
    found: dict[str, list[str]] = {}
    for event in events:
        if event.resource_pre_event is not None:
            metadata = event.resource_pre_event.metadata
            found.setdefault(str(metadata.op.value), []).append(metadata.type)
    return found


@pytest.fixture(scope="module")
def first_up(stack: auto.Stack) -> auto.UpResult:
    events: list[auto.EngineEvent] = []
    preview = stack.preview(color="never", on_event=events.append)
    planned = operations(events)
    assert set(planned) == {"create"}, planned
    up = stack.up(color="never", on_output=print)
    assert up.summary.result == "succeeded"
    created = {str(op): n for op, n in (up.summary.resource_changes or {}).items()}
    # What the preview planned is what `up` created (the stack itself and the components included).
    assert created == {"create": preview.change_summary[auto.OpType.CREATE]}, (
        created,
        preview.change_summary,
    )
    return up


def test_pulumi_up_creates_every_object_ready_and_a_second_up_changes_nothing(
    cluster: Cluster, stack: auto.Stack, first_up: auto.UpResult
) -> None:
    objects = cluster.get("all", "-n", NAMESPACE)["items"]
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert deployments
    # The provider awaited every rollout: each Deployment is available with all its replicas.
    for deployment in deployments:
        status = deployment.get("status", {})
        assert status.get("availableReplicas") == deployment["spec"]["replicas"], deployment["metadata"][
            "name"
        ]
    hpa = cluster.get("hpa", APP.name, "-n", NAMESPACE)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == CONFIG.app_replicas
    again = stack.up(color="never", on_output=print)
    assert again.summary.result == "succeeded"
    unchanged = {str(op) for op in again.summary.resource_changes or {}}
    assert unchanged == {"same"}, again.summary.resource_changes


def test_one_config_key_gives_exactly_its_diff(stack: auto.Stack, first_up: auto.UpResult) -> None:
    """`appReplicasMax` is one field of one object: the preview updates the app's HPA and nothing else."""
    stack.set_config("peakops:appReplicasMax", auto.ConfigValue(str(CONFIG.app_replicas[1] + 2)))
    try:
        events: list[auto.EngineEvent] = []
        stack.preview(color="never", on_event=events.append, diff=True)
        planned = operations(events)
        assert planned.get("update") == ["kubernetes:autoscaling/v2:HorizontalPodAutoscaler"], planned
        assert set(planned) <= {"update", "same"}, planned
    finally:
        stack.set_config("peakops:appReplicasMax", auto.ConfigValue(str(CONFIG.app_replicas[1])))


def test_a_deploy_inside_a_campaign_window_keeps_the_prescaled_minimum(
    cluster: Cluster, stack: auto.Stack, first_up: auto.UpResult, tmp_path: Path
) -> None:
    assert first_up.summary.result == "succeeded"
    jobs: dict[str, Any] = {
        job["metadata"]["name"]: job for job in cluster.get("cronjobs", "-n", NAMESPACE)["items"]
    }
    kubeconfig = prescaler_kubeconfig(cluster, NAMESPACE, tmp_path)
    year = campaign_year(jobs["prescale-up-1"])

    def minimum() -> int:
        return int(cluster.get("hpa", APP.name, "-n", NAMESPACE)["spec"]["minReplicas"])

    raised = run_job_command(jobs["prescale-up-1"], kubeconfig, year)
    assert raised.returncode == 0, raised.stderr
    assert minimum() == CONFIG.prescale_replicas
    assert FIELD_MANAGER in min_replicas_owners(cluster, NAMESPACE, APP.name)
    # `pulumi up` during the window, with a change to the HPA itself (a higher maximum), so the provider
    # applies it: no conflict, the new maximum, and the minimum the jobs raised stays.
    higher = CONFIG.app_replicas[1] + 1
    stack.set_config("peakops:appReplicasMax", auto.ConfigValue(str(higher)))
    inside = stack.up(color="never", on_output=print)
    assert inside.summary.result == "succeeded"
    hpa = cluster.get("hpa", APP.name, "-n", NAMESPACE)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (CONFIG.prescale_replicas, higher)
    lowered = run_job_command(jobs["prescale-down-1"], kubeconfig, year)
    assert lowered.returncode == 0, lowered.stderr
    assert minimum() == CONFIG.app_replicas[0]
    after = stack.up(color="never", on_output=print)
    assert after.summary.result == "succeeded"
    assert minimum() == CONFIG.app_replicas[0]


def test_destroy_leaves_the_namespace_gone(
    cluster: Cluster, stack: auto.Stack, first_up: auto.UpResult
) -> None:
    destroyed = stack.destroy(color="never", on_output=print)
    assert destroyed.summary.result == "succeeded"
    assert set(str(op) for op in destroyed.summary.resource_changes or {}) == {"delete"}
    wait_for(
        f"namespace {NAMESPACE} gone",
        lambda: NAMESPACE not in cluster.kubectl("get", "namespaces", "-o", "name", check=False),
        120,
    )
