"""The test fleet for the session (tests/fleet/fleet.py). Run with `make fleet`."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fleet.fleet import Fleet, fleet, netavark_rules, read_settings

SITE = "ansible/playbooks/site.yml"

# A converge of the whole fleet over SSH is minutes on 2 cores; every wait inside has its own deadline.
FLEET_TIMEOUT_S = 1500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.timeout(FLEET_TIMEOUT_S))


@pytest.fixture(scope="session")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    settings, rules = read_settings(), netavark_rules()
    with fleet(tmp_path_factory.mktemp("fleet")) as running:
        yield running
    # The network gone, the host is as it was (an error at teardown otherwise).
    if not os.environ.get("PEAKOPS_FLEET_KEEP"):
        assert (read_settings(), netavark_rules()) == (settings, rules)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines -> {host: {ok, changed, unreachable, failed, ...}}."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match and "ok=" in match.group(2):
            found[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return found


def changed_tasks(output: str) -> list[str]:
    """The tasks that reported `changed`, with their host, from the default callback's output."""
    tasks, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed: "):
            tasks.append(f"{task} {line}")
    return tasks


@pytest.fixture(scope="session")
def converged(hosts: Fleet) -> dict[str, Any]:
    """`site.yml` run once on the fleet: its output, duration (s) and recap."""
    started = time.monotonic()
    first = hosts.ansible_playbook(SITE)
    seconds = time.monotonic() - started
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-8000:]
    return {"output": output, "seconds": seconds, "recap": recap(first.stdout)}
