"""Static checks of the Ansible tree: ansible-lint (production profile), syntax of every playbook with
every inventory, and the example fleet's inventory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from peakops.paths import REPO_ROOT

ANSIBLE = REPO_ROOT / "ansible"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
PLAYBOOKS = sorted((ANSIBLE / "playbooks").glob("*.yml"))
INVENTORIES = ["local", "example", "fleet"]


def run(*command: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, check=False)


def test_ansible_lint_production_profile() -> None:
    result = run(
        str(BIN / "ansible-lint"), "--profile", "production", "--nocolor", "playbooks", "roles", cwd=ANSIBLE
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check(inventory: str, playbook: Path) -> None:
    result = run(
        str(BIN / "ansible-playbook"),
        "--syntax-check",
        "-i",
        f"ansible/inventories/{inventory}",
        str(playbook),
    )
    assert result.returncode == 0, result.stderr


def test_example_fleet_inventory() -> None:
    result = run(str(BIN / "ansible-inventory"), "-i", "ansible/inventories/example", "--list")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["edge"]["children"]) == {"edge_eu", "edge_us"}
    assert len(data["load_balancer"]["hosts"]) == 2
    assert "mon-1" in data["monitoring"]["hosts"]
    hosts = data["_meta"]["hostvars"]
    assert hosts["edge-eu-1"]["edge_cache_service_manager"] == "systemd"


def test_the_fleet_scrapes_a_node_exporter_on_every_host() -> None:
    """The saturation alerts need every host's node exporter; the monitoring host's targets derive from
    the inventory, so a host added to it is scraped without another edit."""
    result = run(
        str(BIN / "ansible"),
        "-i",
        "ansible/inventories/example",
        "mon-1",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "var=monitoring_scrape_targets",
        "-e",
        "vault_slack_api_url=x vault_pagerduty_routing_key=x",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    targets = yaml.safe_load(result.stdout.split("=>", 1)[1])[
        "monitoring_scrape_targets"
    ]  # the YAML callback
    listed = run(str(BIN / "ansible-inventory"), "-i", "ansible/inventories/example", "--list")
    inventory = json.loads(listed.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    # Host name -> its address: the alerts on a host's series name the host (label `host`).
    assert targets["node"] == {name: f"{v['ansible_host']}:9100" for name, v in hostvars.items()}
    apps = inventory["app"]["hosts"]
    assert targets["app"] == {name: f"{hostvars[name]['ansible_host']}:8000" for name in apps}
    assert set(targets) >= {"app", "haproxy", "exporter", "node", "prometheus", "alertmanager"}


def test_the_test_fleet_has_the_examples_groups_and_settings() -> None:
    """The container fleet (tests/fleet) converges the example's configuration: each of the example's
    group_vars entries is linked, not copied, and only group `fleet` (every host) adds its own."""
    example, fleet = ANSIBLE / "inventories" / "example", ANSIBLE / "inventories" / "fleet"
    for entry in (example / "group_vars").iterdir():
        link = fleet / "group_vars" / entry.name
        assert link.is_symlink(), link
        assert link.resolve() == entry.resolve(), link
    assert {p.name for p in (fleet / "group_vars").iterdir()} - {
        p.name for p in (example / "group_vars").iterdir()
    } == {"fleet"}
    groups = {}
    for name in ("example", "fleet"):
        listed = run(str(BIN / "ansible-inventory"), "-i", f"ansible/inventories/{name}", "--list")
        assert listed.returncode == 0, listed.stderr
        data = json.loads(listed.stdout)
        groups[name] = {g for g in data if g not in ("_meta", "ungrouped", "fleet")}
    assert groups["fleet"] == groups["example"]


@pytest.mark.parametrize(
    ("scale", "expected"), [("1", "1000ms"), ("5", "1000ms"), ("60", "250ms"), ("100000", "10ms")]
)
def test_the_local_stack_evaluates_productions_interval_compressed_by_the_time_scale(
    scale: str, expected: str
) -> None:
    """`--time-scale` compresses the evaluation interval with the windows: production's (role monitoring's
    default, which the example inventory keeps) divided by the scale, and at most 1 s on the local stack.
    The local inventory divides 15 s: this fails if the role's default moves without it."""
    defaults = yaml.safe_load((ANSIBLE / "roles" / "monitoring" / "defaults" / "main.yml").read_text())
    assert defaults["monitoring_evaluation_interval"] == "15s"
    example = ANSIBLE / "inventories" / "example"
    assert not [p for p in example.rglob("*.yml") if "monitoring_evaluation_interval" in p.read_text()]
    shown = subprocess.run(
        [str(BIN / "ansible"), "-i", "ansible/inventories/local", "localhost", "-m", "debug",
         "-a", "var=monitoring_evaluation_interval"],
        cwd=REPO_ROOT, env={**ENV, "PEAKOPS_SLO_TIME_SCALE": scale},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"monitoring_evaluation_interval: {expected}\n" in shown.stdout, shown.stdout
