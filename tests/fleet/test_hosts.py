"""The fleet's hosts themselves: one container per inventory host, systemd as PID 1, reached by Ansible
over SSH at its inventory address."""

from __future__ import annotations

import json

from tests.fleet.fleet import Fleet


def test_ansible_reaches_every_host_over_ssh(hosts: Fleet) -> None:
    done = hosts.ansible("all", "-m", "ansible.builtin.ping", "-o")
    assert done.returncode == 0, done.stdout + done.stderr
    answered = {line.split(" | ")[0] for line in done.stdout.splitlines() if " | SUCCESS" in line}
    assert answered == {h.name for h in hosts.hosts}


def test_each_host_runs_systemd_as_pid_1_under_its_own_name_and_address(hosts: Fleet) -> None:
    for host in hosts.hosts:
        init = hosts.ssh(host.name, "cat /proc/1/comm").stdout.strip()
        name = hosts.ssh(host.name, "hostname").stdout.strip()
        addresses = json.loads(hosts.ssh(host.name, "ip -j -4 addr show scope global").stdout)
        found = {a["local"] for link in addresses for a in link["addr_info"]}
        assert (init, name, host.address in found) == ("systemd", host.name, True), (host, found)
