"""Running the pre-scale CronJobs' own command here, as their pod would (kwok's pods run nothing): the
container's command and env, with a kubeconfig for the prescaler's ServiceAccount, so its least-privilege
Role is what allows the patch."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.cluster import Cluster
from tests.support.gotools import BIN_DIR


def prescaler_kubeconfig(cluster: Cluster, namespace: str, folder: Path) -> Path:
    """The cluster's kubeconfig, impersonating the prescaler's ServiceAccount in `namespace`."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"]["as"] = f"system:serviceaccount:{namespace}:prescaler"
    config["contexts"][0]["context"]["namespace"] = namespace
    path = folder / f"prescaler-{namespace}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def campaign_year(job: dict[str, Any]) -> int:
    """This year in the job's time zone: the year its command acts in."""
    zone = job["spec"]["timeZone"]
    return int(subprocess.run(["date", "+%Y"], env={"TZ": zone}, capture_output=True, text=True).stdout)


def run_job_command(job: dict[str, Any], kubeconfig: Path, year: int) -> subprocess.CompletedProcess[str]:
    """A CronJob's own container command, run with the real kubectl in an environment like its pod's:
    the container's env, a kubeconfig for its ServiceAccount, a home."""
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(
        CAMPAIGN_YEAR=str(year),
        KUBECONFIG=str(kubeconfig),
        PATH=f"{BIN_DIR}:/usr/bin:/bin",
        HOME=str(kubeconfig.parent),  # kubectl's discovery cache goes there, not into the working folder
    )
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=60)


def min_replicas_owners(cluster: Cluster, namespace: str, name: str) -> set[str]:
    """The field managers the API server records for the HPA's spec.minReplicas."""
    live = cluster.get("hpa", name, "-n", namespace, "--show-managed-fields")
    return {
        entry["manager"]
        for entry in live["metadata"].get("managedFields", [])
        if "f:minReplicas" in entry.get("fieldsV1", {}).get("f:spec", {})
    }
