"""A real `pulumi up` of the dev stack against the suite's apiserver: the Pulumi CLI and the Kubernetes
provider built from their Go modules (scripts/e2e-env.sh), a local `file://` backend, the project's own
program (infra/program.py) run inline through the Automation API, as `pulumi up` runs it from the
repository root. Then a deploy inside a campaign window: the pre-scale job raises the HPA minimum and the
next `pulumi up` keeps it.

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

from infra.manifests.prescale import FIELD_MANAGER
from infra.render import stack_config
from peakops.paths import REPO_ROOT
from peakops.services import APP
from tests.e2e.cluster import Cluster
from tests.e2e.prescale import campaign_year, min_replicas_owners, prescaler_kubeconfig, run_job_command
from tests.support.gotools import BIN_DIR, go_tool

STACK = "dev"
NAMESPACE = "peakops-pulumi"  # beside the Ansible deploy of the same stack (peakops-dev)
CONFIG = stack_config(STACK)


def program() -> None:
    from infra.program import run

    run()


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
def stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    go_tool("pulumi"), go_tool("pulumi-resource-kubernetes")  # built, or fail naming the build command
    folder = tmp_path_factory.mktemp("pulumi")
    work = folder / "work"
    (work / "infra").mkdir(
        parents=True
    )  # Pulumi.yaml's `main: infra/` must exist, even for an inline program
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
        created = auto.create_or_select_stack(
            stack_name=STACK,
            project_name="peakops",
            program=program,
            opts=auto.LocalWorkspaceOptions(work_dir=str(work), env_vars=env),
        )
        created.set_config("peakops:namespace", auto.ConfigValue(NAMESPACE))
        created.set_config("peakops:adminToken", auto.ConfigValue("e2e-admin-token-0123456789", secret=True))
        publisher = threading.Thread(target=publish_ingress_addresses, args=(cluster, stop), daemon=True)
        publisher.start()
        try:
            yield created
        finally:
            try:
                created.destroy(color="never", on_output=print)
                created.workspace.remove_stack(STACK)
            finally:
                stop.set()
                publisher.join(timeout=10)


@pytest.fixture(scope="module")
def first_up(stack: auto.Stack) -> auto.UpResult:
    return stack.up(color="never", on_output=print)


def test_pulumi_up_creates_the_stack_and_a_second_up_changes_nothing(
    cluster: Cluster, stack: auto.Stack, first_up: auto.UpResult
) -> None:
    assert first_up.summary.result == "succeeded"
    changes = {str(op): count for op, count in (first_up.summary.resource_changes or {}).items()}
    assert changes.get("create", 0) >= 30, changes
    hpa = cluster.get("hpa", APP.name, "-n", NAMESPACE)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == CONFIG.app_replicas
    again = stack.up(color="never", on_output=print)
    assert again.summary.result == "succeeded"
    assert {str(op) for op in again.summary.resource_changes or {}} == {"same"}, (
        again.summary.resource_changes
    )


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
