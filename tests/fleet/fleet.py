"""The test fleet: one container per host of ansible/inventories/fleet (systemd as PID 1, sshd), each at
its inventory address on the podman network `peakops-fleet`, reached by Ansible over SSH with a key made
for the run. Started from the image `make images` builds (images/fleet-host on the shared Debian base).

    with fleet(folder) as running:       # every host up: sshd answers, systemd finished booting
        running.ansible_playbook("ansible/playbooks/site.yml")
        running.ssh("lb-1", "systemctl is-active haproxy")
        running.stop_host("lb-1")           # its systemd stops every unit, then the container exits

What the network changes on the host (netavark turns on forwarding and adds its iptables chains) is put
back when the fleet stops; the fixture asserts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from infra.images import FLEET_HOST_IMAGE
from peakops.paths import REPO_ROOT
from tests.support.gotools import CACHE
from tests.support.podman import image_exists, podman

INVENTORY = REPO_ROOT / "ansible" / "inventories" / "fleet"
FLEET_VARS = INVENTORY / "group_vars" / "fleet" / "main.yml"
NETWORK = "peakops-fleet"
PREFIX = "peakops-fleet-"
# Read before the network exists, written back after it is gone.
HOST_SETTINGS = ("net/ipv4/ip_forward",)
# The settings as they were before a kept fleet (PEAKOPS_FLEET_KEEP) started, for `make fleet-down`.
SAVED_SETTINGS = CACHE / "fleet" / "host-settings.json"


class FleetError(RuntimeError):
    """The fleet could not start: the message names the host and what failed."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    groups: tuple[str, ...]
    backup_only: bool = False  # an app host only the load balancers' backup pool uses

    @property
    def container(self) -> str:
        return PREFIX + self.name


def inventory_hosts() -> list[Host]:
    """Every host of the fleet inventory with its address and groups, as `ansible-inventory` reads them."""
    done = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    data = json.loads(done.stdout)
    groups: dict[str, list[str]] = {}

    def walk(group: str, trail: tuple[str, ...]) -> None:
        entry = data.get(group, {})
        for host in entry.get("hosts", []):
            groups.setdefault(host, []).extend(g for g in (*trail, group) if g != "all")
        for child in entry.get("children", []):
            walk(child, (*trail, group))

    walk("all", ())
    hostvars = data["_meta"]["hostvars"]
    return [
        Host(
            name,
            hostvars[name]["ansible_host"],
            tuple(dict.fromkeys(g)),
            bool(hostvars[name].get("campaign_app_backup_only", False)),
        )
        for name, g in groups.items()
    ]


def fleet_vars() -> dict[str, str]:
    return dict(yaml.safe_load(FLEET_VARS.read_text()))


def read_settings() -> dict[str, str]:
    return {name: (Path("/proc/sys") / name).read_text().strip() for name in HOST_SETTINGS}


def write_settings(values: dict[str, str]) -> None:
    for name, value in values.items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / name).write_text(value)


def netavark_rules() -> list[str]:
    """The host's iptables rules and chains that netavark made (its names start NETAVARK)."""
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    return [line for line in dump.splitlines() if "NETAVARK" in line]


def remove_netavark_chains() -> None:
    """netavark leaves its chains (empty) once the last network is gone: remove them and their jumps."""
    for table in ("nat", "filter"):
        save = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=False)
        lines = save.stdout.splitlines()
        for line in lines:
            rule = shlex.split(line)  # comments are quoted
            if rule[:1] == ["-A"] and "NETAVARK" in line and not rule[1].startswith("NETAVARK"):
                subprocess.run(["iptables", "-t", table, "-D", *rule[1:]], check=False)
        chains = [line[1:].split()[0] for line in lines if line.startswith(":NETAVARK")]
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-F", chain], check=False)
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-X", chain], check=False)


@dataclass
class Fleet:
    folder: Path
    hosts: list[Host]
    host_settings: dict[str, str] = field(default_factory=dict)
    started: list[Host] = field(default_factory=list)

    @property
    def key(self) -> Path:
        return self.folder / "id_ed25519"

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def in_group(self, group: str) -> list[Host]:
        return [h for h in self.hosts if group in h.groups]

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if not image_exists(FLEET_HOST_IMAGE):
            raise FleetError(f"{FLEET_HOST_IMAGE} is missing: run `make images`")
        self.host_settings = read_settings()
        SAVED_SETTINGS.parent.mkdir(parents=True, exist_ok=True)
        if not SAVED_SETTINGS.exists():  # a kept fleet's leftovers already changed them
            SAVED_SETTINGS.write_text(json.dumps(self.host_settings))
        else:
            self.host_settings = json.loads(SAVED_SETTINGS.read_text())
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "peakops-fleet", "-f", str(self.key)],
            check=True, timeout=30,
        )  # fmt: skip
        subnet = fleet_vars()["peakops_fleet_subnet"]
        podman("network", "rm", "--force", NETWORK, check=False)
        podman("network", "create", "--subnet", subnet, NETWORK)
        for host in self.hosts:
            self.run_host(host)
        for host in self.hosts:
            self.wait_booted(host)

    def run_host(self, host: Host) -> None:
        podman("rm", "--force", host.container, check=False)
        podman(
            "run", "--detach", "--name", host.container, "--hostname", host.name,
            "--network", f"{NETWORK}:ip={host.address}",
            "--systemd=always",
            # keepalived moves the VIP (NET_ADMIN) and speaks VRRP (a raw IP protocol: NET_RAW).
            "--cap-add=NET_ADMIN,NET_RAW",
            "--volume", f"{self.key}.pub:/root/.ssh/authorized_keys:ro,Z",
            FLEET_HOST_IMAGE,
        )  # fmt: skip
        self.started.append(host)

    def wait_booted(self, host: Host, timeout_s: float = 120) -> None:
        """sshd answers and systemd has finished starting its units (`is-system-running --wait`)."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            done = self.ssh(host.name, "systemctl is-system-running --wait", check=False, timeout=60)
            state = done.stdout.strip()
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = self.ssh(host.name, "systemctl --failed --no-legend --plain", check=False)
                    raise FleetError(f"{host.name}: systemd degraded, failed units:\n{failed.stdout}")
                return
            last = f"{state} {done.stderr.strip()[-300:]}"
            time.sleep(1)
        logs = podman("logs", "--tail", "40", host.container, check=False)
        raise FleetError(
            f"{host.name} did not boot in {timeout_s:.0f} s ({last}):\n{logs.stdout}{logs.stderr}"
        )

    def stop(self) -> None:
        for host in reversed(self.started):
            podman("rm", "--force", "--time", "10", host.container, check=False, timeout=60)
        self.started.clear()
        podman("network", "rm", "--force", NETWORK, check=False)
        remove_netavark_chains()
        if self.host_settings:
            write_settings(self.host_settings)
        SAVED_SETTINGS.unlink(missing_ok=True)

    def stop_host(self, name: str) -> None:
        """The host goes down (its systemd stops every unit, then the container exits)."""
        podman("stop", "--time", "20", self.host(name).container, timeout=60)

    def kill_host(self, name: str) -> None:
        """The host fails: every process of it SIGKILLed at once (no unit stops, no goodbye on the wire)."""
        podman("kill", "--signal", "KILL", self.host(name).container, timeout=60)
        podman("wait", self.host(name).container, check=False, timeout=60)

    def start_host(self, name: str) -> None:
        podman("start", self.host(name).container)
        self.wait_booted(self.host(name))

    # ---- access ----------------------------------------------------------------------------------

    def ssh_command(self, name: str) -> list[str]:
        common = fleet_vars()["ansible_ssh_common_args"].split()
        return ["ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", *common,
                f"root@{self.host(name).address}"]  # fmt: skip

    def ssh(
        self, name: str, command: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.ssh_command(name), command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise FleetError(f"{name}: `{command}` failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def ansible_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible" / "ansible.cfg"),
            "ANSIBLE_PRIVATE_KEY_FILE": str(self.key),
            "ANSIBLE_HOST_KEY_CHECKING": "false",
            "ANSIBLE_PIPELINING": "true",
        }

    def _ansible(self, tool: str, args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
        command = [
            str(REPO_ROOT / ".venv" / "bin" / tool),
            "-i",
            str(INVENTORY),
            *args,
        ]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=self.ansible_env(),
            check=False, start_new_session=True,
        )  # fmt: skip

    def ansible(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`ansible -i <fleet inventory> ARGS` (an ad-hoc command on the fleet)."""
        return self._ansible("ansible", args, timeout)

    def ansible_playbook(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        """`ansible-playbook -i <fleet inventory> ARGS` from the repository root."""
        return self._ansible("ansible-playbook", args, timeout)


@contextlib.contextmanager
def fleet(folder: Path) -> Iterator[Fleet]:
    """Every host of the fleet inventory up; all of it removed afterwards, a failed start included."""
    missing = [tool for tool in ("podman", "ssh", "ssh-keygen", "iptables-save") if not shutil.which(tool)]
    if missing:
        raise FleetError(f"missing on this machine: {', '.join(missing)} (`make images` installs them)")
    running = Fleet(folder, inventory_hosts())
    try:
        running.start()
        yield running
    finally:
        if os.environ.get("PEAKOPS_FLEET_KEEP"):
            # For a developer looking into a failure: the hosts stay up, reachable with the printed key.
            print(f"fleet kept: ssh -i {running.key} root@<address>; remove with `make fleet-down`")
        else:
            running.stop()


def down() -> None:
    """`make fleet-down`: remove a fleet kept by PEAKOPS_FLEET_KEEP (its containers, network, chains)."""
    names = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    running = Fleet(Path("/nonexistent"), [])
    running.started = [Host(n.removeprefix(PREFIX), "", ()) for n in names if n.startswith(PREFIX)]
    if SAVED_SETTINGS.exists():
        running.host_settings = json.loads(SAVED_SETTINGS.read_text())
    running.stop()


if __name__ == "__main__":
    down()
