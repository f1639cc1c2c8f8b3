"""`peakops up | down | status`: the local stack, through Ansible.

They wrap `ansible-playbook -i ansible/inventories/local ansible/playbooks/{site,down}.yml`, which work
on their own too. Ports and addresses come from the local inventory (its group_vars are the one place
they are set); `status --json` reads them back with `ansible-inventory`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from peakops.paths import ANSIBLE_DIR, REPO_ROOT

LOCAL_INVENTORY = ANSIBLE_DIR / "inventories" / "local"
BIN = Path(sys.executable).parent


def _ansible_env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}


def _interrupted(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_playbook(playbook: str, *extra: str, log: Path | None = None) -> int:
    """ansible-playbook on the local inventory; its output goes to the terminal, or to `log`.

    SIGTERM to `peakops` stops the playbook too (subprocess.run kills its child on any exception):
    a converge left running on its own would go on starting the stack after the caller gave up."""
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(LOCAL_INVENTORY),
        str(ANSIBLE_DIR / "playbooks" / playbook),
        *extra,
    ]
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        if log is None:
            return subprocess.run(command, env=_ansible_env(), cwd=REPO_ROOT, check=False).returncode
        with log.open("w") as handle:
            done = subprocess.run(
                command, env=_ansible_env(), cwd=REPO_ROOT, check=False,
                stdout=handle, stderr=subprocess.STDOUT,
            )  # fmt: skip
            return done.returncode
    finally:
        signal.signal(signal.SIGTERM, previous)


def inventory_vars() -> dict[str, Any]:
    result = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(LOCAL_INVENTORY), "--host", "localhost"],
        env=_ansible_env(),
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def resolved_var(name: str) -> Any:
    """One inventory variable with its templates rendered (ansible-inventory shows them raw)."""
    result = subprocess.run(
        [str(BIN / "ansible"), "-i", str(LOCAL_INVENTORY), "localhost", "-m", "ansible.builtin.debug",
         "-a", f"var={name}"],
        env=_ansible_env(), cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    # Output: "localhost | SUCCESS => <the result, as YAML (ansible.cfg: callback_result_format)>"
    return yaml.safe_load(result.stdout.split("=>", 1)[1])[name]


# The inventory variables that set the stack's listening ports (single ports and lists of them).
PORT_VARIABLES = (
    "edge_cache_port",
    "load_balancer_port",
    "load_balancer_stats_port",
    "campaign_app_ports",
    "campaign_app_backup_ports",
    "sli_exporter_port",
    "monitoring_prometheus_port",
    "monitoring_alertmanager_port",
    "monitoring_inbox_port",
    "node_exporter_port",
)


@dataclass(frozen=True)
class PortTaken:
    variable: str
    port: int
    holder: str  # "prometheus (pid 1234)"

    def __str__(self) -> str:
        return (
            f"port {self.port} ({self.variable}) is in use by {self.holder}; "
            f"move it with -e {self.variable}=..."
        )


def stack_ports(variables: dict[str, Any]) -> list[tuple[str, int]]:
    found = []
    for name in PORT_VARIABLES:
        value = variables.get(name)
        for port in value if isinstance(value, list) else [value] if value else []:
            found.append((name, int(port)))
    if variables.get("peakops_database") == "postgresql":  # the stack's own PostgreSQL, when asked for
        found.append(("database_port", int(variables["database_port"])))
    return found


def ports_taken(variables: dict[str, Any], stack_dir: Path) -> list[PortTaken]:
    """The stack's ports something else listens on. A program of this stack's own supervisord (a converge
    of a running stack) is not in the way; anything else is, and is named with its process."""
    import psutil

    ours: set[int] = set()
    pidfile = stack_dir / "supervisor" / "supervisord.pid"
    try:
        supervisor = psutil.Process(int(pidfile.read_text().split()[0]))
        ours = {supervisor.pid, *(child.pid for child in supervisor.children(recursive=True))}
    except (OSError, ValueError, psutil.Error):
        pass
    listening: dict[int, int | None] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr:
            listening.setdefault(connection.laddr.port, connection.pid)
    taken = []
    for variable, port in stack_ports(variables):
        if port not in listening:
            continue
        pid = listening[port]
        if pid in ours:
            continue
        try:
            holder = f"{psutil.Process(pid).name()} (pid {pid})" if pid else "another user's process"
        except psutil.Error:
            holder = f"pid {pid}"
        taken.append(PortTaken(variable, port, holder))
    return taken


def endpoints(variables: dict[str, Any]) -> dict[str, Any]:
    host = variables["peakops_bind_address"]
    return {
        "edge": f"http://{host}:{variables['edge_cache_port']}",
        "load_balancer": f"http://{host}:{variables['load_balancer_port']}",
        "load_balancer_metrics": f"http://{host}:{variables['load_balancer_stats_port']}/metrics",
        "app_instances": [f"http://{host}:{port}" for port in variables["campaign_app_ports"]],
        "app_backup_instances": [
            f"http://{host}:{port}" for port in variables.get("campaign_app_backup_ports", [])
        ],
        "exporter": f"http://{host}:{variables['sli_exporter_port']}/metrics",
        "node_exporter": f"http://{host}:{variables['node_exporter_port']}/metrics",
        "prometheus": f"http://{host}:{variables['monitoring_prometheus_port']}",
        "alertmanager": f"http://{host}:{variables['monitoring_alertmanager_port']}",
        "inbox": f"http://{host}:{variables['monitoring_inbox_port']}",
    }


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL from the inventory
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def probes(urls: dict[str, Any]) -> dict[str, bool]:
    checks = {
        "edge": f"{urls['edge']}/edge/healthz",
        "load_balancer": f"{urls['load_balancer']}/healthz",
        "load_balancer_metrics": urls["load_balancer_metrics"],
        "exporter": urls["exporter"],
        "node_exporter": urls["node_exporter"],
        "prometheus": f"{urls['prometheus']}/-/ready",
        "alertmanager": f"{urls['alertmanager']}/-/ready",
        "inbox": f"{urls['inbox']}/healthz",
    }
    for url in urls["app_instances"] + urls["app_backup_instances"]:
        checks[url] = f"{url}/readyz"
    return {name: _up(url) for name, url in checks.items()}


def up(
    extra_vars: Annotated[
        list[str] | None,
        typer.Option("--extra-vars", "-e", help="Passed to ansible-playbook, e.g. -e key=value."),
    ] = None,
) -> None:
    """Bring the local stack up (idempotent): app instances, HAProxy, the nginx edge, monitoring.

    Before anything starts, every port the stack needs that another process holds is named, with that
    process and the variable that moves it; then the exit status is 3 and nothing is started."""
    extra = [arg for value in extra_vars or [] for arg in ("-e", value)]
    if not preflight(extra):
        raise typer.Exit(3)
    raise typer.Exit(run_playbook("site.yml", *extra))


def preflight(extra: list[str]) -> bool:
    """True when every port of the stack is free (or already the stack's own); else print why."""
    variables = {**inventory_vars(), **_extra_vars(extra)}
    taken = ports_taken(variables, Path(resolved_var("peakops_stack_dir")))
    for problem in taken:
        typer.echo(f"error: {problem}", err=True)
    if taken:
        typer.echo("error: nothing was started", err=True)
    return not taken


def _extra_vars(extra: list[str]) -> dict[str, Any]:
    """`-e key=value` pairs as ansible-playbook reads them (values as YAML: -e campaign_app_ports=[9101])."""
    values: dict[str, Any] = {}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag == "-e" and "=" in value and not value.startswith(("@", "{")):
            key, _, raw = value.partition("=")
            values[key] = yaml.safe_load(raw)
    return values


def down() -> None:
    """Stop the local stack: every program drains and supervisord exits."""
    raise typer.Exit(run_playbook("down.yml"))


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print URLs and health as JSON.")] = False,
) -> None:
    """URLs of every component of the local stack, and whether each answers."""
    urls = endpoints(inventory_vars())
    health = probes(urls)
    if as_json:
        typer.echo(json.dumps({**urls, "healthy": health}, indent=2))
        raise typer.Exit(0 if all(health.values()) else 1)
    table = Table(title="peakops local stack")
    table.add_column("component")
    table.add_column("url")
    table.add_column("up")
    for name in (
        "edge",
        "load_balancer",
        "load_balancer_metrics",
        "exporter",
        "prometheus",
        "alertmanager",
        "inbox",
    ):
        table.add_row(name, urls[name], "yes" if health[name] else "no")
    for url in urls["app_instances"] + urls["app_backup_instances"]:
        table.add_row("app", url, "yes" if health[url] else "no")
    Console().print(table)
    raise typer.Exit(0 if all(health.values()) else 1)
