"""The images `make images` built, each started as its manifest runs it, with podman: the pod spec of every
workload of the dev stack (and of its load generator) becomes a podman pod with no network of its own:
init containers first, then the containers with their command and args, env, user, read-only root
filesystem, dropped capabilities, emptyDir and ConfigMap volumes. Every readiness and liveness probe of
every container must then pass (HTTP and TCP probes from a helper in the pod's network namespace, exec
probes inside the container).

Secrets stand in with test values; the app's database is SQLite in its emptyDir (no cluster DNS here:
pods on real nodes reach PostgreSQL in tests/e2e's real-node tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.images import builds, every_workload
from infra.manifests.prescale import KUBERNETES_VERSION
from peakops.services import APP
from tests.support.podman import podman_env

CACHE = Path(os.environ.get("PEAKOPS_CACHE", Path.home() / ".cache" / "peakops"))
WORKLOADS = every_workload(("dev",))
BUILT = [reference for reference, _ in builds(WORKLOADS)]
PROBE_IMAGE = next(r for r in BUILT if r.rsplit(":", 1)[0] == APP.image)  # it has Python for the probes
SECRET_VALUES = {
    "PEAKOPS_ADMIN_TOKEN": "smoke-admin-token-0123456789",
    "PEAKOPS_DATABASE_URL": "sqlite+aiosqlite:////var/lib/peakops/shop.db",
}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        pytest.fail(f"podman {' '.join(args)}: {done.stderr[-3000:]}")
    return done


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    return dict(spec.get("jobTemplate", {}).get("spec", spec)["template"]["spec"])


def by_name(kind: str, name: str) -> dict[str, Any]:
    return next(m for m in WORKLOADS if m["kind"] == kind and m["metadata"]["name"] == name)


@dataclass
class Pod:
    """A Kubernetes pod spec run as a podman pod (rootful podman, no network: loopback only)."""

    manifest: dict[str, Any]
    scratch: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"peakops-smoke-{uuid.uuid4().hex[:8]}")
    volumes: dict[str, list[str]] = field(default_factory=dict)  # pod volume -> podman --mount value
    hosts_file: Path = Path("/etc/hosts")  # the pod's own, written by start()

    def __post_init__(self) -> None:
        self.spec = pod_spec(self.manifest)
        self.namespace = self.manifest["metadata"].get("namespace", "default")

    def _prepare_volumes(self) -> None:
        # A StatefulSet's claims: a fresh volume each, as a provisioner would bind.
        for claim in self.manifest["spec"].get("volumeClaimTemplates", []):
            name = claim["metadata"]["name"]
            podman("volume", "create", f"{self.name}-{name}")
            self.volumes[name] = [f"type=volume,source={self.name}-{name}"]
        for volume in self.spec.get("volumes", []):
            name = volume["name"]
            if "emptyDir" in volume:
                podman("volume", "create", f"{self.name}-{name}")
                self.volumes[name] = [f"type=volume,source={self.name}-{name}"]
            elif "configMap" in volume:
                config_map = next(
                    m
                    for m in WORKLOADS
                    if m["kind"] == "ConfigMap" and m["metadata"]["name"] == volume["configMap"]["name"]
                )
                folder = self.scratch / f"{self.name}-{name}"
                folder.mkdir(parents=True)
                folder.chmod(0o755)
                items = volume["configMap"].get("items") or [
                    {"key": k, "path": k} for k in config_map["data"]
                ]
                for item in items:
                    target = folder / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(config_map["data"][item["key"]])
                    target.chmod(0o644)
                self.volumes[name] = [f"type=bind,source={folder}"]
            else:
                pytest.fail(f"{self.manifest['metadata']['name']}: volume kind not run here: {volume}")

    def _env(self, container: dict[str, Any]) -> list[str]:
        values: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "secretRef" in source or "configMapRef" in source:
                values.update(SECRET_VALUES)
        for entry in container.get("env", []):
            if "value" in entry:
                values[entry["name"]] = entry["value"]
            elif "valueFrom" in entry:
                values[entry["name"]] = SECRET_VALUES.get(entry["name"], "from-a-secret")
        values.update(self.env_overrides)
        return [f"--env={k}={v}" for k, v in values.items()]

    def _args(self, container: dict[str, Any]) -> list[str]:
        security = {**self.spec.get("securityContext", {}), **container.get("securityContext", {})}
        flags = [
            f"--pod={self.name}",
            *self._env(container),
            f"--mount=type=bind,source={self.hosts_file},destination=/etc/hosts,ro=true",
        ]
        if "runAsUser" in security:
            flags.append(
                f"--user={security['runAsUser']}:{security.get('runAsGroup', security['runAsUser'])}"
            )
        if "fsGroup" in self.spec.get("securityContext", {}):
            flags.append(f"--group-add={self.spec['securityContext']['fsGroup']}")
        if security.get("readOnlyRootFilesystem"):
            flags += ["--read-only", "--read-only-tmpfs=false"]  # as the kubelet: no tmpfs added
        if "ALL" in security.get("capabilities", {}).get("drop", []):
            flags.append("--cap-drop=ALL")
        if security.get("allowPrivilegeEscalation") is False:
            flags.append("--security-opt=no-new-privileges")
        for mount in container.get("volumeMounts", []):
            readonly = ",ro=true" if mount.get("readOnly") else ""
            flags += [
                f"--mount={m},destination={mount['mountPath']}{readonly}" for m in self.volumes[mount["name"]]
            ]
        # Kubernetes: command replaces the image's ENTRYPOINT, args its CMD.
        if "command" in container:
            flags.append(f"--entrypoint={json.dumps(container['command'])}")
        return [*flags, container["image"], *container.get("args", [])]

    def start(self) -> None:
        podman("pod", "create", f"--name={self.name}", "--network=none")
        # No network: every Service name of the stack resolves to the pod itself (nginx resolves its
        # upstreams at start), so each image starts on its own. An /etc/hosts bind-mounted in each
        # container, as the kubelet does (podman ignores --add-host without a network).
        names = sorted({m["metadata"]["name"] for m in WORKLOADS if m["kind"] == "Service"})
        self.hosts_file = self.scratch / f"{self.name}-hosts"
        self.hosts_file.write_text(f"127.0.0.1\tlocalhost {self.name} {' '.join(names)}\n")
        self.hosts_file.chmod(0o644)
        self._prepare_volumes()
        # The volumes are the fsGroup's, as the kubelet makes them.
        group = self.spec.get("securityContext", {}).get("fsGroup")
        for name, mounts in self.volumes.items():
            if group is not None and mounts[0].startswith("type=volume"):
                path = podman(
                    "volume", "inspect", "--format", "{{.Mountpoint}}", f"{self.name}-{name}"
                ).stdout.strip()
                os.chown(path, int(group), int(group))
                Path(path).chmod(0o2775)
        for container in self.spec.get("initContainers", []):
            done = podman("run", "--rm", *self._args(container), check=False, timeout=120)
            assert done.returncode == 0, f"init container {container['name']}: {done.stderr[-2000:]}"
        for container in self.spec["containers"]:
            podman("run", "--detach", f"--name={self.name}-{container['name']}", *self._args(container))
        podman(
            "run",
            "--detach",
            f"--pod={self.name}",
            f"--name={self.name}-probe",
            "--entrypoint=sleep",
            PROBE_IMAGE,
            "900",
        )

    def probe(self, container: dict[str, Any], probe: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        if "httpGet" in probe:
            port, path = probe["httpGet"]["port"], probe["httpGet"].get("path", "/")
            port = self._port(container, port)
            return self.fetch(f"http://127.0.0.1:{port}{path}", status_only=True)
        if "tcpSocket" in probe:
            port = self._port(container, probe["tcpSocket"]["port"])
            code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3).close()"
            return podman("exec", f"{self.name}-probe", "python3", "-c", code, check=False)
        if "exec" in probe:
            return podman("exec", f"{self.name}-{container['name']}", *probe["exec"]["command"], check=False)
        pytest.fail(f"probe kind not run here: {probe}")

    def fetch(self, url: str, status_only: bool = False) -> subprocess.CompletedProcess[str]:
        """GET from inside the pod's network namespace (the helper container has Python)."""
        shown = "r.status" if status_only else "r.read().decode()"
        code = f"import urllib.request as u; r = u.urlopen({url!r}, timeout=3); print({shown})"
        return podman("exec", f"{self.name}-probe", "python3", "-c", code, check=False)

    @staticmethod
    def _port(container: dict[str, Any], port: int | str) -> int:
        if isinstance(port, int):
            return port
        return int(next(p["containerPort"] for p in container.get("ports", []) if p["name"] == port))

    def wait_ready(self, timeout_s: float = 90) -> dict[str, str]:
        """Every container's readiness and liveness probes pass; name -> the last output."""
        results: dict[str, str] = {}
        for container in self.spec["containers"]:
            for kind in ("readinessProbe", "livenessProbe"):
                if kind not in container:
                    continue
                deadline = time.monotonic() + timeout_s
                while True:
                    done = self.probe(container, container[kind])
                    if done.returncode == 0:
                        results[f"{container['name']} {kind}"] = done.stdout.strip()
                        break
                    if time.monotonic() > deadline:
                        logs = podman("logs", f"{self.name}-{container['name']}", check=False)
                        output = logs.stdout[-2000:] + logs.stderr[-2000:]
                        pytest.fail(f"{container['name']} {kind}: {done.stderr[-1500:]}\n{output}")
                    time.sleep(0.5)
        return results

    def stop(self) -> None:
        podman("pod", "rm", "--force", "--time=5", self.name, check=False)
        for name in self.volumes:
            podman("volume", "rm", "--force", f"{self.name}-{name}", check=False)


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    missing = [r for r in BUILT if podman("image", "exists", r, check=False).returncode != 0]
    if missing:
        pytest.fail(f"not built: {missing}; run `make images`")


@pytest.fixture
def run_pod(tmp_path: Path) -> Iterator[Any]:
    pods: list[Pod] = []

    def start(manifest: dict[str, Any], **overrides: str) -> Pod:
        pod = Pod(manifest, tmp_path, overrides)
        pods.append(pod)
        pod.start()
        return pod

    yield start
    for pod in reversed(pods):
        pod.stop()


def test_every_image_has_a_non_root_user() -> None:
    for reference in BUILT:
        user = podman("image", "inspect", "--format", "{{.Config.User}}", reference).stdout.strip()
        assert user, reference
        assert user.split(":")[0] not in ("0", "root"), (reference, user)


def serves(manifest: dict[str, Any]) -> bool:
    """A long-running pod: a Deployment, a StatefulSet, or a Job whose pod answers probes (the Locust
    master listening for its workers). Workers and the prescale jobs run to completion: tested apart."""
    if manifest["kind"] in ("Deployment", "StatefulSet"):
        return True
    return manifest["kind"] == "Job" and any("readinessProbe" in c for c in pod_spec(manifest)["containers"])


WORKLOAD_NAMES = sorted({(m["kind"], m["metadata"]["name"]) for m in WORKLOADS if serves(m)})


@pytest.mark.parametrize(("kind", "name"), WORKLOAD_NAMES, ids=[f"{k}/{n}" for k, n in WORKLOAD_NAMES])
def test_each_workload_starts_as_its_manifest_runs_it_and_its_probes_pass(
    kind: str, name: str, run_pod: Any
) -> None:
    pod = run_pod(by_name(kind, name))
    results = pod.wait_ready()
    assert results, f"{kind}/{name} has no probe to pass"


def test_the_app_serves_its_seed_catalog(run_pod: Any) -> None:
    pod = run_pod(by_name("Deployment", APP.name))
    pod.wait_ready()
    products = pod.fetch(f"http://127.0.0.1:{APP.port}/api/products")
    assert '"GLOW-SERUM"' in products.stdout


def test_the_prescale_jobs_image_has_the_pinned_kubectl_a_shell_and_date(run_pod: Any) -> None:
    job = by_name("CronJob", "prescale-up-1")
    container = pod_spec(job)["containers"][0]
    version = podman(
        "run",
        "--rm",
        "--network=none",
        "--read-only",
        container["image"],
        "version",
        "--client",
        "-o",
        "json",
    )
    assert json.loads(version.stdout)["clientVersion"]["gitVersion"] == KUBERNETES_VERSION
    # The job's own command, outside the campaign's year: it says so and exits 0 without a cluster.
    done = podman(
        "run", "--rm", "--network=none", "--read-only", "--user=10001:10001",
        "--env=CAMPAIGN_YEAR=1999", "--env=HPA_PATCH={}",
        f"--entrypoint={json.dumps(container['command'])}", container["image"],
    )  # fmt: skip
    assert "nothing to do" in done.stdout
