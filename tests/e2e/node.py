"""A real Kubernetes node on this machine for the e2e suite: containerd + runc, a kubelet, a CNI bridge,
kube-proxy and CoreDNS, from the programs `make e2e-env` builds and Debian packages (`make images`
installs them), running the images `make images` built.

    pk-node0   a bridge holding NODE_IP/32: the node's address (a kubelet may not use loopback, and
               this kernel has no dummy links)
    pk-pods0   the CNI bridge (plugins from Debian's containernetworking-plugins), POD_CIDR, a veth per pod
    containerd its root, state and socket in the run's folder; runc under cgroup v1 (cgroupfs);
               images moved from podman's storage (`make images`) with `podman save` + `ctr import`
    kubelet    registered with the suite's apiserver as NODE_NAME; serves on NODE_IP:10250 with a
               certificate from the run's CA, so metrics-server and `kubectl logs/exec` verify it
    kube-proxy iptables mode: Services' ClusterIPs route; NodePorts only on NODE_IP
    CoreDNS    a host process on NODE_IP:53 (its kubernetes plugin): pods resolve
               <service>.<namespace>.svc.cluster.local

What the node changes on the host is put back when it stops: the sysctls in HOST_SETTINGS (the kubelet
sets three at start: vm.overcommit_memory, kernel.panic, kernel.panic_on_oops; forwarding and the
bridge's netfilter switch are needed for Service traffic between pods) are read before and written back
as soon as the kubelet has set them, and again at the end; the iptables chains (KUBE-*, CNI-*), the
bridges, the pods' network namespaces, mounts and cgroups are removed.

Source of the setup: ../shared/recipes/containers (checked on these machines).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from infra.images import PAUSE_IMAGE
from tests.support.gotools import BIN_DIR
from tests.support.podman import PodmanError, podman_env
from tests.support.procs import free_port, run_service

NODE_NAME = "peakops-node-1"
NODE_BRIDGE = "pk-node0"
NODE_IP = "10.244.255.1"
POD_BRIDGE = "pk-pods0"
POD_CIDR = "10.244.0.0/24"
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250
ZONE = "zone-real"
CNI_PLUGINS = Path("/usr/lib/cni")
# Read before the node starts, written back after (and as soon as the kubelet has changed its three).
HOST_SETTINGS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/ipv4/conf/all/route_localnet",
)
KUBELET_SETTINGS = HOST_SETTINGS[:3]
# What the kubelet writes there (pkg/kubelet/cm: setupKernelTunables).
KUBELET_WRITES = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
CHAIN_PREFIXES = ("KUBE-", "CNI-")


class NodeError(RuntimeError):
    """The node could not start: the message names what is missing or what failed, and its log."""


def read_settings(names: tuple[str, ...] = HOST_SETTINGS) -> dict[str, str]:
    found = {}
    for name in names:
        path = Path("/proc/sys") / name
        if path.exists():
            found[name] = path.read_text().strip()
    return found


def write_settings(values: dict[str, str]) -> None:
    for name, value in values.items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / name).write_text(value)


def run(*command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise NodeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def missing_prerequisites() -> list[str]:
    """What the node needs and this machine lacks, each with the command that provides it."""
    missing = [
        f"{program} (make images installs it)"
        for program in ("containerd", "runc", "iptables", "podman")
        if not any((Path(d) / program).exists() for d in os.environ["PATH"].split(":"))
    ]
    if not (CNI_PLUGINS / "bridge").exists():
        missing.append("containernetworking-plugins (make images installs it)")
    missing += [
        f"{BIN_DIR / p} (make e2e-env builds it)"
        for p in ("kubelet", "kube-proxy", "coredns")
        if not (BIN_DIR / p).exists()
    ]
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        missing.append("the br_netfilter kernel module (modprobe br_netfilter)")
    return missing


# --- certificates --------------------------------------------------------------------------------------


def issue_node_certificates(pki_dir: Path) -> dict[str, Path]:
    """The kubelet's client certificate (system:node:<name> in system:nodes, as the Node authorizer
    expects) and its serving certificate for NODE_IP, signed by the run's CA (tests/e2e/cluster.py)."""
    from tests.e2e.cluster import _issue, _name, _write_key, new_key

    ca = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    files = {}
    issued = {
        "kubelet-client": (
            _name(f"system:node:{NODE_NAME}", "system:nodes"), [ExtendedKeyUsageOID.CLIENT_AUTH], None
        ),
        "kubelet-serving": (
            _name(NODE_NAME),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            [x509.DNSName(NODE_NAME), x509.IPAddress(ipaddress.IPv4Address(NODE_IP))],
        ),
    }  # fmt: skip
    for name, (subject, usage, sans) in issued.items():
        key = new_key()
        cert = _issue(subject, key, (ca, ca_key), usage, sans)  # type: ignore[arg-type]
        files[f"{name}.crt"] = pki_dir / f"{name}.crt"
        files[f"{name}.key"] = pki_dir / f"{name}.key"
        files[f"{name}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(files[f"{name}.key"], key)
    return files


def node_kubeconfig(admin: Path, cert: Path, key: Path, path: Path) -> Path:
    """The admin kubeconfig's cluster, with the node's own client certificate."""
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": "admin", "user": {"client-certificate": str(cert), "client-key": str(key)}}]
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


# --- configuration ---------------------------------------------------------------------------------------


def containerd_config(folder: Path) -> str:
    return f"""version = 2
root = "{folder}/root"
state = "{folder}/state"
[grpc]
  address = "{folder}/containerd.sock"
[ttrpc]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE here: clamp a container's oom_score_adj to containerd's own instead of failing.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_PLUGINS}"
    conf_dir = "{folder}/cni"
"""


def cni_config(folder: Path) -> str:
    import json

    gateway = str(next(ipaddress.IPv4Network(POD_CIDR).hosts()))
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "peakops-pods",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": POD_BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,  # a pod reaching itself through its Service
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(folder / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "loopback"},
            ],
        },
        indent=2,
    )


def kubelet_config(folder: Path, pki: dict[str, Path], ca: Path, runtime: Path, healthz_port: int) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{runtime}",
        "imageServiceEndpoint": f"unix://{runtime}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # cgroup v1 is what this machine mounts (maintenance mode, still supported)
        "failSwapOn": False,
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": str(pki["kubelet-serving.crt"]),
        "tlsPrivateKeyFile": str(pki["kubelet-serving.key"]),
        # Clients with a certificate from the run's CA only (the apiserver, metrics-server).
        "authentication": {
            "anonymous": {"enabled": False}, "webhook": {"enabled": False}, "x509": {"clientCAFile": str(ca)}
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(folder / "resolv.conf"),
        "oomScoreAdj": 0,  # no CAP_SYS_RESOURCE: the kubelet may not lower its own
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "serializeImagePulls": False,
        "nodeStatusReportFrequency": "10s",
        "nodeStatusUpdateFrequency": "5s",
    }  # fmt: skip
    return yaml.safe_dump(config)


def corefile(kubeconfig: Path, health_port: int, ready_port: int) -> str:
    return f""".:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{health_port}
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""


# --- start and stop ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    containerd_socket: Path
    saved_settings: dict[str, str]
    log_dir: Path

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(
            "ctr",
            f"--address={self.containerd_socket}",
            "--namespace=k8s.io",
            *args,
            check=check,
            timeout=timeout,
        )


def import_images(ctr_socket: Path, images: list[str], folder: Path) -> None:
    """podman's images (make images) into containerd's k8s.io namespace, under the same names."""
    try:
        env = podman_env()
    except PodmanError as exc:
        raise NodeError(str(exc)) from None
    archive = folder / "images.tar"
    saved = subprocess.run(
        ["podman", "save", "--multi-image-archive", "--format=docker-archive", f"--output={archive}",
         *images],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if saved.returncode != 0:
        raise NodeError(f"podman save {' '.join(images)}: {saved.stderr[-2000:]} (run `make images`)")
    try:
        run(
            "ctr",
            f"--address={ctr_socket}",
            "--namespace=k8s.io",
            "images",
            "import",
            str(archive),
            timeout=600,
        )
    finally:
        archive.unlink(missing_ok=True)


def _netns() -> set[str]:
    folder = Path("/run/netns")
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _remove_chains() -> None:
    """The KUBE-* and CNI-* chains (kube-proxy's, the kubelet's, the portmap and bridge plugins'), with
    the jumps into them from the built-in chains."""
    for tool in ("iptables", "ip6tables"):
        for table in ("nat", "filter", "mangle"):
            listed = run(tool, "-w", "-t", table, "-S", check=False).stdout.splitlines()
            for rule in listed:
                parts = shlex.split(rule)  # comments are quoted
                if parts[:1] == ["-A"] and "-j" in parts and parts[1].split("-")[0] not in ("KUBE", "CNI"):
                    target = parts[parts.index("-j") + 1]
                    if target.startswith(CHAIN_PREFIXES):
                        run(tool, "-w", "-t", table, "-D", *parts[1:], check=False)
            chains = [
                r.split()[1]
                for r in listed
                if r.startswith("-N ") and r.split()[1].startswith(CHAIN_PREFIXES)
            ]
            for flag in ("-F", "-X"):
                for chain in chains:
                    run(tool, "-w", "-t", table, flag, chain, check=False)


def _stop_pods(socket: Path) -> None:
    """Every container the kubelet left in containerd: killed and deleted (the shims exit with them)."""
    ctr = ("ctr", f"--address={socket}", "--namespace=k8s.io")
    if not socket.exists():
        return
    tasks = run(*ctr, "tasks", "ls", "-q", check=False, timeout=60).stdout.split()
    for task in tasks:
        run(*ctr, "tasks", "kill", "--signal=SIGKILL", task, check=False, timeout=60)
    deadline = time.monotonic() + 30
    for task in tasks:
        while run(*ctr, "tasks", "delete", task, check=False, timeout=60).returncode != 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    for container in run(*ctr, "containers", "ls", "-q", check=False, timeout=60).stdout.split():
        run(*ctr, "containers", "rm", container, check=False, timeout=60)


def _kill_leftovers(folder: Path) -> None:
    """Shims and pod processes whose command line names the node's folder (containerd-shim -address)."""
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(str(folder) in part for part in process.info["cmdline"] or []):
                process.send_signal(signal.SIGKILL)


def _remove_cgroups() -> None:
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for top in ("kubepods", "kubepods.slice"):
            root = hierarchy / top
            if root.is_dir():
                for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if path.is_dir():
                        with contextlib.suppress(OSError):
                            path.rmdir()
                with contextlib.suppress(OSError):
                    root.rmdir()


def _unmount_under(folder: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(folder))), key=len, reverse=True):
        run("umount", "-l", mount, check=False)


# Where the kubelet and the CNI plugins write outside the node's folder, whatever --root-dir says.
HOST_FOLDERS = (Path("/var/log/pods"), Path("/var/log/containers"), Path("/var/lib/cni/results"))


def _entries() -> set[Path]:
    return {entry for folder in HOST_FOLDERS if folder.is_dir() for entry in folder.iterdir()}


def teardown(folder: Path, saved: dict[str, str], netns_before: set[str], entries_before: set[Path]) -> None:
    """Undo everything `real_node` did, whatever state it reached."""
    _stop_pods(folder / "containerd" / "containerd.sock")
    _kill_leftovers(folder)
    for name in _netns() - netns_before:
        run("ip", "netns", "delete", name, check=False)
    _unmount_under(folder)
    for link in (POD_BRIDGE, NODE_BRIDGE):
        run("ip", "link", "delete", link, check=False)
    if (BIN_DIR / "kube-proxy").exists():
        run(str(BIN_DIR / "kube-proxy"), "--cleanup", check=False)
    _remove_chains()
    _remove_cgroups()
    for entry in _entries() - entries_before:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    write_settings(saved)


@contextlib.contextmanager
def real_node(folder: Path, kubeconfig: Path, pki_dir: Path, images: list[str]) -> Iterator[Node]:
    """Start a node in `folder` for the apiserver of `kubeconfig`; yield once the kubelet has started
    (the caller waits for Ready); tear everything down after, also when the start fails."""
    missing = missing_prerequisites()
    if missing:
        raise NodeError("a real node needs: " + "; ".join(missing))
    if run("ip", "link", "show", NODE_BRIDGE, check=False).returncode == 0:
        raise NodeError(
            f"{NODE_BRIDGE} exists: another e2e node runs on this machine"
            f" (or a run crashed: ip link del {NODE_BRIDGE})"
        )
    saved = read_settings()
    netns_before, entries_before = _netns(), _entries()
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            # The node's address: a bridge with no ports holding a /32 (no dummy links here).
            run("ip", "link", "add", NODE_BRIDGE, "type", "bridge")
            run("ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_BRIDGE)
            run("ip", "link", "set", NODE_BRIDGE, "up")
            # Service traffic between pods on one bridge: routed to the ClusterIP (forwarding), the
            # reply bridged back through conntrack (bridge-nf-call-iptables), as kube-proxy expects.
            write_settings({"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"})

            containerd_dir = folder / "containerd"
            (containerd_dir / "cni").mkdir(parents=True)
            (containerd_dir / "config.toml").write_text(containerd_config(containerd_dir))
            (containerd_dir / "cni" / "10-peakops.conflist").write_text(cni_config(containerd_dir))
            socket = containerd_dir / "containerd.sock"
            log = (logs / "containerd.log").open("wb")
            stack.callback(log.close)
            containerd = subprocess.Popen(
                ["containerd", f"--config={containerd_dir / 'config.toml'}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, containerd)
            # Runs once the kubelet has stopped (the stack unwinds in reverse), before containerd stops.
            stack.callback(_stop_pods, socket)
            deadline = time.monotonic() + 30
            while run("ctr", f"--address={socket}", "version", check=False, timeout=10).returncode != 0:
                if containerd.poll() is not None or time.monotonic() > deadline:
                    raise NodeError(
                        f"containerd did not start:\n{(logs / 'containerd.log').read_text()[-3000:]}"
                    )
                time.sleep(0.3)
            started = time.monotonic()
            import_images(socket, [PAUSE_IMAGE, *images], folder)
            (logs / "import-seconds").write_text(f"{time.monotonic() - started:.1f}\n")

            pki = issue_node_certificates(pki_dir)
            kubelet_dir = folder / "kubelet"
            kubelet_dir.mkdir()
            node_config = node_kubeconfig(
                kubeconfig, pki["kubelet-client.crt"], pki["kubelet-client.key"], kubelet_dir / "kubeconfig"
            )
            (folder / "resolv.conf").write_text(
                "nameserver 127.0.0.1\n"
            )  # pods use the cluster DNS; no upstream here
            healthz = free_port()
            (kubelet_dir / "config.yaml").write_text(
                kubelet_config(folder, pki, pki_dir / "ca.crt", socket, healthz)
            )
            stack.enter_context(
                run_service(
                    [
                        str(BIN_DIR / "kubelet"),
                        f"--config={kubelet_dir / 'config.yaml'}",
                        f"--kubeconfig={node_config}",
                        f"--root-dir={kubelet_dir / 'root'}",
                        f"--cert-dir={kubelet_dir / 'pki'}",
                        f"--hostname-override={NODE_NAME}",
                        f"--node-ip={NODE_IP}",
                        f"--node-labels=topology.kubernetes.io/zone={ZONE}",
                        "--v=1",
                    ],
                    logs / "kubelet.log",
                    f"http://127.0.0.1:{healthz}/healthz",
                    ready_timeout_s=90,
                    cwd=folder,
                )
            )
            # The kubelet writes its three once its container manager starts (protectKernelDefaults:
            # false), a moment after its health endpoint answers: wait for them, then put the host's back.
            deadline = time.monotonic() + 60
            while read_settings(KUBELET_SETTINGS) != KUBELET_WRITES and time.monotonic() < deadline:
                time.sleep(0.2)
            write_settings({k: v for k, v in saved.items() if k in KUBELET_SETTINGS})

            proxy_metrics, proxy_health = free_port(), free_port()
            stack.enter_context(
                run_service(
                    [
                        str(BIN_DIR / "kube-proxy"),
                        f"--kubeconfig={kubeconfig}",
                        f"--hostname-override={NODE_NAME}",
                        "--proxy-mode=iptables",
                        f"--cluster-cidr={POD_CIDR}",
                        f"--nodeport-addresses={NODE_IP}/32",
                        "--iptables-localhost-nodeports=false",  # or it sets route_localnet
                        "--conntrack-max-per-core=0",  # 0: leave the host's conntrack settings alone
                        "--conntrack-tcp-timeout-established=0",
                        "--conntrack-tcp-timeout-close-wait=0",
                        f"--metrics-bind-address=127.0.0.1:{proxy_metrics}",
                        f"--healthz-bind-address=127.0.0.1:{proxy_health}",
                    ],
                    logs / "kube-proxy.log",
                    f"http://127.0.0.1:{proxy_metrics}/metrics",
                    ready_timeout_s=60,
                    cwd=folder,
                )
            )
            dns_health, dns_ready = free_port(), free_port()
            (folder / "Corefile").write_text(corefile(kubeconfig, dns_health, dns_ready))
            stack.enter_context(
                run_service(
                    [str(BIN_DIR / "coredns"), f"-conf={folder / 'Corefile'}"],
                    logs / "coredns.log",
                    f"http://127.0.0.1:{dns_ready}/ready",
                    ready_timeout_s=60,
                    cwd=folder,
                )
            )
            yield Node(NODE_NAME, NODE_IP, socket, saved, logs)
    finally:
        teardown(folder, saved, netns_before, entries_before)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
