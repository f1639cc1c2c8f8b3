"""A Kubernetes control plane on loopback for the e2e tests, from the programs `make e2e-env` builds.

    etcd ── kube-apiserver ─┬─ kube-controller-manager   (Deployments, HPA, CronJobs, volume binding)
                            ├─ kube-scheduler
                            ├─ kwok                      fake nodes: their pods become Running and Ready,
                            │                            and report the CPU usage a test gives them
                            └─ metrics.k8s.io ── metrics-server ── scrapes kwok's kubelet endpoints

The apiserver runs its default admission (Pod Security included), RBAC and the aggregation layer, so a
manifest that a real cluster refuses is refused here. Everything listens on 127.0.0.1 on free ports;
certificates and a kubeconfig are made fresh in the run's folder. `control_plane()` yields a `Cluster`
and stops every process it started.

Pods' CPU: kwok reports, for each container, the usage in the pod annotation `CPU_ANNOTATION` (default
`IDLE_CPU`), and metrics-server turns kwok's counters into the usage the HPA controller reads.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.gotools import BIN_DIR, CACHE
from tests.support.procs import free_port, run_service

E2E_CACHE = CACHE / "e2e"
PROGRAMS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "metrics-server")
SERVICE_CIDR = "10.96.0.0/16"
CPU_ANNOTATION = "e2e.peakops.dev/cpu"
IDLE_CPU = "5m"
NODES = (("kwok-a1", "zone-a"), ("kwok-b1", "zone-b"), ("kwok-c1", "zone-c"))
NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110"}
# The names a kubelet's /metrics/resource endpoint serves and metrics-server reads.
KUBELET_RESOURCE_METRICS = "/metrics/nodes/{nodeName}/metrics/resource"
METRICS_API = "v1beta1.metrics.k8s.io"


class ClusterError(RuntimeError):
    """The control plane could not be built or started; the message says what to run or read."""


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    simulated: bool  # kwok nodes whose CPU a test sets; False for a cluster the user points us at
    # A real node's (tests/e2e/node.py): the host's settings as they were before it started.
    host_settings: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment for kubectl, ansible-playbook and the kubernetes client: this cluster only."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PATH": f"{BIN_DIR}:{os.environ['PATH']}"}

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(BIN_DIR / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout if check else result.stdout + result.stderr

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, objects: list[dict[str, Any]]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, interval_s: float = 1) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` and the last value or error."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last: {last!r}")


# --- certificates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    proxy_cert: Path
    proxy_key: Path
    sa_key: Path
    sa_pub: Path


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    usage: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _name(common: str, organisation: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(parts)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_pki(folder: Path) -> Pki:
    """A CA; one serving certificate for every loopback server (the apiserver, the controllers, kwok's
    kubelet endpoints, metrics-server as the aggregator sees it); the admin and front-proxy clients."""
    folder.mkdir(parents=True, exist_ok=True)

    key = new_key
    ca_key = key()
    ca = _issue(_name("peakops-e2e-ca"), ca_key, None)
    service_ip = next(ipaddress.IPv4Network(SERVICE_CIDR).hosts())
    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        # The aggregator checks an APIService's certificate against <service>.<namespace>.svc.
        "metrics-server.kube-system.svc",
    ]
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    sans += [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.IPAddress(service_ip)]
    files: dict[str, Path] = {}
    issued = {
        "serving": (_name("peakops-e2e-loopback"), [ExtendedKeyUsageOID.SERVER_AUTH], sans),
        "admin": (_name("kubernetes-admin", "system:masters"), [ExtendedKeyUsageOID.CLIENT_AUTH], None),
        "proxy": (_name("front-proxy-client"), [ExtendedKeyUsageOID.CLIENT_AUTH], None),
    }
    for name, (subject, usage, alt_names) in issued.items():
        private = key()
        cert = _issue(subject, private, (ca, ca_key), usage, alt_names)
        files[f"{name}_cert"] = folder / f"{name}.crt"
        files[f"{name}_key"] = folder / f"{name}.key"
        files[f"{name}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(files[f"{name}_key"], private)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / "ca.key", ca_key)  # a real node's certificates are issued later (tests/e2e/node.py)
    sa = key()
    _write_key(folder / "sa.key", sa)
    (folder / "sa.pub").write_bytes(
        sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Pki(ca=folder / "ca.crt", sa_key=folder / "sa.key", sa_pub=folder / "sa.pub", **files)


def write_kubeconfig(path: Path, server: str, pki: Pki) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "peakops-e2e", "cluster": {"server": server, "certificate-authority-data": b64(pki.ca)}}
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": "peakops-e2e", "context": {"cluster": "peakops-e2e", "user": "admin"}}],
        "current-context": "peakops-e2e",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


# --- kwok ---------------------------------------------------------------------------------------------


def kwok_config() -> str:
    """kwok's own configuration: the kubelet's resource metrics, and CPU usage from a pod annotation."""

    def labelled(*names: str) -> list[dict[str, str]]:
        sources = {
            "container": "container.name",
            "namespace": "pod.metadata.namespace",
            "pod": "pod.metadata.name",
        }
        return [{"name": name, "value": sources[name]} for name in names]

    def metric(
        name: str, dimension: str, kind: str, value: str, labels: list[dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "name": name,
            "dimension": dimension,
            "kind": kind,
            "help": name,
            "labels": labels,
            "value": value,
        }

    per_container = labelled("container", "namespace", "pod")
    metrics = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Metric",
        "metadata": {"name": "kubelet-resource-metrics"},
        "spec": {
            "path": KUBELET_RESOURCE_METRICS,
            "metrics": [
                metric("scrape_error", "node", "gauge", "0", []),
                metric("node_cpu_usage_seconds_total", "node", "counter", 'node.CumulativeUsage("cpu")', []),
                metric("node_memory_working_set_bytes", "node", "gauge", 'node.Usage("memory")', []),
                metric(
                    "container_start_time_seconds", "container", "gauge", "pod.SinceSecond()", per_container
                ),
                metric(
                    "container_cpu_usage_seconds_total",
                    "container",
                    "counter",
                    'pod.CumulativeUsage("cpu", container.name)',
                    per_container,
                ),
                metric(
                    "container_memory_working_set_bytes",
                    "container",
                    "gauge",
                    'pod.Usage("memory", container.name)',
                    per_container,
                ),
            ],
        },
    }
    annotation = f'pod.metadata.annotations["{CPU_ANNOTATION}"]'
    usage = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterResourceUsage",
        "metadata": {"name": "cpu-from-annotation"},
        "spec": {
            "usages": [
                {
                    "usage": {
                        "cpu": {
                            "expression": f'"{CPU_ANNOTATION}" in pod.metadata.annotations'
                            f' ? Quantity({annotation}) : Quantity("{IDLE_CPU}")'
                        },
                        "memory": {"expression": 'Quantity("64Mi")'},
                    }
                }
            ]
        },
    }
    return yaml.safe_dump_all([metrics, usage])


def node(name: str, zone: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "node.alpha.kubernetes.io/ttl": "0",
                "metrics.k8s.io/resource-metrics-path": KUBELET_RESOURCE_METRICS.replace("{nodeName}", name),
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": NODE_CAPACITY,
            "capacity": NODE_CAPACITY,
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def storage(folder: Path, volumes: int = 4, size: str = "10Gi") -> list[dict[str, Any]]:
    """A default StorageClass with pre-made volumes, as a cluster has (kind's `standard`, a cloud's
    default): kube-controller-manager's volume binder matches a claim (the dev PostgreSQL's) to one.
    On a real node they are folders any pod user may write (a pod's fsGroup does not reach hostPath)."""
    for index in range(volumes):
        path = folder / "volumes" / str(index)
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Delete",
        },
        *(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"e2e-volume-{index}"},
                "spec": {
                    "storageClassName": "standard",
                    "capacity": {"storage": size},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": str(folder / "volumes" / str(index))},
                },
            }
            for index in range(volumes)
        ),
    ]


def metrics_api(port: int, ca: Path) -> list[dict[str, Any]]:
    """metrics-server, registered with the aggregation layer as metrics.k8s.io (it runs outside the
    cluster here, so its Service names the loopback address)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "127.0.0.1", "ports": [{"port": port}]},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": METRICS_API},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "caBundle": base64.b64encode(ca.read_bytes()).decode(),
                "service": {"name": "metrics-server", "namespace": "kube-system", "port": port},
            },
        },
    ]


# --- the control plane ----------------------------------------------------------------------------------


def missing_programs() -> list[str]:
    return [program for program in (*PROGRAMS, "kubectl") if not (BIN_DIR / program).exists()]


@contextlib.contextmanager
def control_plane(folder: Path, real_node_images: list[str] | None = None) -> Iterator[Cluster]:
    """Start the whole control plane in `folder`; yield when nodes are Ready and node metrics flow.

    With `real_node_images`, one real node (tests/e2e/node.py: containerd, kubelet, kube-proxy, CoreDNS)
    running those images instead of kwok's fake ones; NodeError when it cannot start."""
    missing = missing_programs()
    if missing:
        raise ClusterError(f"e2e programs missing in {BIN_DIR}: {', '.join(missing)}; run `make e2e-env`")
    pki = make_pki(folder / "pki")
    tls = ssl.create_default_context(cafile=str(pki.ca))
    ports = {
        name: free_port() for name in ("etcd", "peer", "apiserver", "kcm", "scheduler", "kwok", "metrics")
    }
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, server, pki)
    serving = [f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}"]
    delegated = [
        f"--{flag}={kubeconfig}"
        for flag in ("kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig")
    ]
    logs = folder / "logs"

    def start(program: str, args: list[str], ready: str, timeout_s: float = 60) -> None:
        stack.enter_context(
            run_service(
                [str(BIN_DIR / program), *args],
                logs / f"{program}.log",
                ready,
                ready_timeout_s=timeout_s,
                cwd=folder,
                ssl_context=tls if ready.startswith("https") else None,
            )
        )

    etcd_url, peer_url = f"http://127.0.0.1:{ports['etcd']}", f"http://127.0.0.1:{ports['peer']}"
    with contextlib.ExitStack() as stack:
        start(
            "etcd",
            [
                "--name=e2e",
                f"--data-dir={folder / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=e2e={peer_url}",
                "--unsafe-no-fsync",  # a throwaway store: durability would only slow the tests
                "--log-level=warn",
            ],
            f"{etcd_url}/health",
        )
        start(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                *serving,
                f"--client-ca-file={pki.ca}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                # The aggregation layer, as a cluster has it: metrics.k8s.io goes through it.
                f"--proxy-client-cert-file={pki.proxy_cert}",
                f"--proxy-client-key-file={pki.proxy_key}",
                f"--requestheader-client-ca-file={pki.ca}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                # To the kubelets (logs, exec, port-forward): by node address, each certificate verified.
                f"--kubelet-client-certificate={pki.admin_cert}",
                f"--kubelet-client-key={pki.admin_key}",
                f"--kubelet-certificate-authority={pki.ca}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--cert-dir={folder / 'apiserver'}",
            ],
            f"{server}/readyz",
            timeout_s=120,
        )
        start(
            "kube-controller-manager",
            [
                *delegated,
                *serving,
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['kcm']}",
                "--leader-elect=false",
                f"--root-ca-file={pki.ca}",
                f"--service-account-private-key-file={pki.sa_key}",
                "--use-service-account-credentials=true",
                # The HPA's loop every 5 s, not 15 s: the tests wait less, the algorithm is the same.
                "--horizontal-pod-autoscaler-sync-period=5s",
            ],
            f"https://127.0.0.1:{ports['kcm']}/healthz",
        )
        start(
            "kube-scheduler",
            [
                *delegated,
                *serving,
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['scheduler']}",
                "--leader-elect=false",
            ],
            f"https://127.0.0.1:{ports['scheduler']}/healthz",
        )
        config = folder / "kwok.yaml"
        config.write_text(kwok_config())
        host_settings: dict[str, str] = {}
        if real_node_images is not None:
            from tests.e2e.node import real_node

            node_started = stack.enter_context(
                real_node(folder / "node", kubeconfig, folder / "pki", real_node_images)
            )
            host_settings = node_started.saved_settings
        else:
            start(
                "kwok",
                [
                    f"--kubeconfig={kubeconfig}",
                    f"--config={config}",
                    "--manage-all-nodes=true",
                    *serving,
                    "--node-ip=127.0.0.1",
                    f"--node-port={ports['kwok']}",
                    f"--server-address=127.0.0.1:{ports['kwok']}",
                    "--node-lease-duration-seconds=40",
                ],
                f"https://127.0.0.1:{ports['kwok']}/healthz",
            )
        start(
            "metrics-server",
            [
                *delegated,
                *serving,
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['metrics']}",
                "--kubelet-preferred-address-types=InternalIP",
                "--kubelet-use-node-status-port",
                f"--kubelet-certificate-authority={pki.ca}",
                "--kubelet-request-timeout=5s",
                f"--kubelet-client-certificate={pki.admin_cert}",
                f"--kubelet-client-key={pki.admin_key}",
                "--metric-resolution=10s",
            ],
            f"https://127.0.0.1:{ports['metrics']}/livez",
        )
        real = real_node_images is not None
        cluster = Cluster(kubeconfig, not real, host_settings)
        fake_nodes = [] if real else [node(name, zone) for name, zone in NODES]
        cluster.apply(fake_nodes + storage(folder) + metrics_api(ports["metrics"], pki.ca))
        wait_for("nodes Ready", lambda: nodes_ready(cluster) == (1 if real else len(NODES)), 120)
        # Available: the aggregator reaches metrics-server and trusts it. (Usage itself appears once pods
        # run: kwok reports a node's usage as the sum of its pods'.)
        wait_for("metrics.k8s.io Available", lambda: api_service_available(cluster, METRICS_API), 60)
        yield cluster


def api_service_available(cluster: Cluster, name: str) -> bool:
    conditions = cluster.get("apiservice", name)["status"].get("conditions", [])
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def nodes_ready(cluster: Cluster) -> int:
    ready = 0
    for item in cluster.get("nodes")["items"]:
        conditions = {c["type"]: c["status"] for c in item["status"].get("conditions", [])}
        ready += conditions.get("Ready") == "True"
    return ready


@contextlib.contextmanager
def cluster_for_tests(folder: Path) -> Iterator[Cluster]:
    """The user's own cluster when PEAKOPS_E2E_KUBECONFIG names one (kind, k3d, a cloud), ours otherwise."""
    own = os.environ.get("PEAKOPS_E2E_KUBECONFIG")
    if own:
        yield Cluster(Path(own), simulated=False)
        return
    with control_plane(folder) as cluster:
        yield cluster
