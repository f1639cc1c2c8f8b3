"""ansible/playbooks/k8s.yml against a real apiserver: the dev stack's rendered overlay applied server-side
by kubernetes.core, every rollout complete, a second run with changed=0. Then the app's HPA, as built,
scales the Deployment up under CPU load (kwok's simulated usage, read through metrics-server) and, once
its stabilisation window has passed, back down step by step."""

from __future__ import annotations

import base64
import itertools
import math
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from infra.manifests.platform import in_cluster_database_url
from infra.manifests.prescale import FIELD_MANAGER
from infra.render import all_manifests, stack_config
from peakops.paths import REPO_ROOT
from peakops.services import APP
from tests.e2e.cluster import CPU_ANNOTATION, IDLE_CPU, Cluster, wait_for
from tests.e2e.prescale import campaign_year, min_replicas_owners, prescaler_kubeconfig, run_job_command
from tests.support.gotools import BIN_DIR

STACK = "dev"
CONFIG = stack_config(STACK)
NAMESPACE = CONFIG.namespace
ADMIN_TOKEN = secrets.token_hex(16)  # this run only
DATABASE_URL = in_cluster_database_url(CONFIG)
BUILT = [m for m in all_manifests(STACK) if m["kind"] != "Namespace"]
RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def built(kind: str, name: str) -> dict[str, Any]:
    return next(m for m in BUILT if m["kind"] == kind and m["metadata"]["name"] == name)


def owned_by_a_job(pod: dict[str, Any]) -> bool:
    return any(owner["kind"] == "Job" for owner in pod["metadata"].get("ownerReferences", []))


def playbook(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    env = {
        **cluster.env(),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible" / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PEAKOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "PEAKOPS_DATABASE_URL": DATABASE_URL,
    }
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "ansible/playbooks/k8s.yml",
        "-e",
        f"campaign_k8s_stack={STACK}",
        "-e",
        f"campaign_k8s_kubectl={BIN_DIR / 'kubectl'}",
    ]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = RECAP.search(run.stdout)
    assert match, run.stdout[-3000:] + run.stderr[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


@pytest.fixture(scope="module")
def runs(cluster: Cluster) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    first = playbook(cluster)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-3000:]
    second = playbook(cluster)
    return first, second


def test_the_playbook_applies_every_object_and_waits_for_the_rollouts(
    cluster: Cluster, runs: tuple[subprocess.CompletedProcess[str], ...]
) -> None:
    assert recap(runs[0])["changed"] > 0
    for manifest in BUILT:
        name = manifest["metadata"]["name"]
        live = cluster.get(manifest["kind"].lower(), name, "-n", NAMESPACE)
        assert live["metadata"]["name"] == name
    # The playbook returned only once each rollout was complete: nothing left to wait for here.
    workloads = [m for m in BUILT if m["kind"] in ("Deployment", "StatefulSet")]
    assert {m["metadata"]["name"] for m in workloads} >= {APP.name, "edge", "postgres"}
    for manifest in workloads:
        status = cluster.get(manifest["kind"].lower(), manifest["metadata"]["name"], "-n", NAMESPACE)[
            "status"
        ]
        assert status["replicas"] >= 1
        assert status.get("readyReplicas") == status.get("updatedReplicas") == status["replicas"], manifest
    pods = [p for p in cluster.get("pods", "-n", NAMESPACE)["items"] if not owned_by_a_job(p)]
    assert pods
    for pod in pods:
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", pod["metadata"]["name"]
        assert pod["spec"]["nodeName"].startswith("kwok-")


def test_a_second_run_changes_nothing(runs: tuple[subprocess.CompletedProcess[str], ...]) -> None:
    second = runs[1]
    assert second.returncode == 0, second.stdout[-3000:]
    assert recap(second) == {**recap(second), "changed": 0, "failed": 0}


def test_the_secret_comes_from_the_variables_and_is_never_shown_or_left_on_disk(
    cluster: Cluster, runs: tuple[subprocess.CompletedProcess[str], ...]
) -> None:
    data = cluster.get("secret", "campaign-app-secrets", "-n", NAMESPACE)["data"]
    assert base64.b64decode(data["PEAKOPS_ADMIN_TOKEN"]).decode() == ADMIN_TOKEN
    assert base64.b64decode(data["PEAKOPS_DATABASE_URL"]).decode() == DATABASE_URL
    for run in runs:
        assert ADMIN_TOKEN not in run.stdout + run.stderr
    assert not list(Path(tempfile.gettempdir()).glob("ansible.*-peakops-k8s"))  # the scratch folders


def test_the_hpa_is_the_one_the_builders_made(cluster: Cluster, runs: object) -> None:
    live = cluster.get("hpa", APP.name, "-n", NAMESPACE)["spec"]
    intended = built("HorizontalPodAutoscaler", APP.name)["spec"]
    assert live == {**live, **intended}
    assert (live["minReplicas"], live["maxReplicas"]) == CONFIG.app_replicas
    assert live["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert live["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert [m["type"] for m in live["metrics"]] == ["Resource"]  # no custom metrics adapter in dev


def test_the_prescale_cronjobs_follow_the_plan(cluster: Cluster, runs: object) -> None:
    live = {
        job["metadata"]["name"]: (job["spec"]["schedule"], job["spec"]["timeZone"])
        for job in cluster.get("cronjobs", "-n", NAMESPACE)["items"]
    }
    intended = {
        job["metadata"]["name"]: (job["spec"]["schedule"], job["spec"]["timeZone"])
        for job in BUILT
        if job["kind"] == "CronJob"
    }
    assert intended
    assert live == intended


def app_replicas(cluster: Cluster) -> int:
    return int(cluster.get("deployment", APP.name, "-n", NAMESPACE)["spec"]["replicas"])


def set_app_cpu(cluster: Cluster, usage: str) -> None:
    cluster.kubectl(
        "annotate",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        f"app.kubernetes.io/name={APP.name}",
        f"{CPU_ANNOTATION}={usage}",
        "--overwrite",
    )


def test_the_hpa_scales_up_under_load_and_back_down_after_its_window(
    simulated: Cluster, runs: object
) -> None:
    low, high = CONFIG.app_replicas
    wait_for("the app at its minimum", lambda: app_replicas(simulated) == low, 120)
    # Twice the CPU request per pod: far above the target, so the HPA wants its maximum at once.
    request_millicores = int(APP.resources.cpu_request.removesuffix("m"))
    load = f"{2 * request_millicores}m"
    assert math.ceil(low * 200 / CONFIG.app_cpu_target) >= high
    started = time.monotonic()

    def loaded_and_scaled() -> bool:
        set_app_cpu(simulated, load)  # new pods get the same load, as behind a load balancer
        return app_replicas(simulated) == high

    wait_for(f"scale-up to {high}", loaded_and_scaled, 180, interval_s=2)
    scaled_up_after = time.monotonic() - started
    wait_for(
        "every new pod ready",
        lambda: simulated.get("deployment", APP.name, "-n", NAMESPACE)["status"].get("readyReplicas") == high,
        120,
    )

    # The spike is over. The behaviour holds capacity for its 300 s window, then sheds 10% a minute
    # (at least one pod a step), so the app comes back down in steps, never in one drop.
    set_app_cpu(simulated, IDLE_CPU)
    dropped = time.monotonic()
    changes: list[tuple[float, int]] = []
    deadline = dropped + 300 + 60 * (high - low) + 120
    while time.monotonic() < deadline:
        replicas = app_replicas(simulated)
        if replicas != (changes[-1][1] if changes else high):
            changes.append((time.monotonic() - dropped, replicas))
        if replicas == low:
            break
        time.sleep(2)
    print(
        f"scale-up to {high} after {scaled_up_after:.0f} s; "
        f"scale-down steps (s after the load drop, replicas): {changes}"
    )
    assert changes, f"never scaled down within {deadline - dropped:.0f} s"
    assert changes[-1][1] == low, f"never back to {low}: {changes}"
    assert changes[0][0] >= 290, f"scaled down inside the 300 s stabilisation window: {changes}"
    for (before, replicas_before), (after, replicas_after) in itertools.pairwise(changes):
        assert after - before >= 50, f"two steps within a minute: {changes}"
        assert replicas_before > replicas_after, changes
    assert [replicas for _, replicas in changes] == sorted({r for _, r in changes}, reverse=True)


def test_the_prescale_jobs_raise_and_lower_the_hpa_minimum_as_the_prescaler(
    simulated: Cluster, runs: object, tmp_path: Path
) -> None:
    # As the prescaler's ServiceAccount, in its namespace: what the job's pod gets from its token, so the
    # least-privilege Role is what allows (or refuses) the patch.
    kubeconfig = prescaler_kubeconfig(simulated, NAMESPACE, tmp_path)
    jobs = {job["metadata"]["name"]: job for job in simulated.get("cronjobs", "-n", NAMESPACE)["items"]}
    low = CONFIG.app_replicas[0]

    def hpa_minimum() -> int:
        return int(simulated.get("hpa", APP.name, "-n", NAMESPACE)["spec"]["minReplicas"])

    assert hpa_minimum() == low
    this_year = campaign_year(jobs["prescale-up-1"])
    idle = run_job_command(jobs["prescale-up-1"], kubeconfig, this_year + 1)
    assert idle.returncode == 0, idle.stderr
    assert hpa_minimum() == low  # not the campaign's year: nothing patched

    raised = run_job_command(jobs["prescale-up-1"], kubeconfig, this_year)
    assert raised.returncode == 0, raised.stderr
    assert hpa_minimum() == CONFIG.prescale_replicas
    assert min_replicas_owners(simulated, NAMESPACE, APP.name) == {FIELD_MANAGER}
    # The HPA controller honours the new minimum at once: the pods are there before the spike.
    wait_for(
        f"the app pre-scaled to {CONFIG.prescale_replicas}",
        lambda: app_replicas(simulated) >= CONFIG.prescale_replicas,
        60,
    )
    # A deploy inside the campaign window: no conflict, and the raised minimum stays.
    inside = playbook(simulated)
    assert inside.returncode == 0, inside.stdout[-5000:] + inside.stderr[-3000:]
    assert hpa_minimum() == CONFIG.prescale_replicas
    lowered = run_job_command(jobs["prescale-down-1"], kubeconfig, this_year)
    assert lowered.returncode == 0, lowered.stderr
    assert hpa_minimum() == low
    after = playbook(simulated)
    assert after.returncode == 0, after.stdout[-5000:] + after.stderr[-3000:]
    assert hpa_minimum() == low
    # The Role is for that one HPA: the same identity may not touch the edge's.
    refused = simulated.kubectl(
        f"--as=system:serviceaccount:{NAMESPACE}:prescaler",
        "patch",
        "hpa",
        "edge",
        "-n",
        NAMESPACE,
        "--type=merge",
        "-p",
        '{"spec":{"minReplicas":2}}',
        check=False,
    )
    assert "forbidden" in refused, refused
