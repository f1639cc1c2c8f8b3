"""A stack fixture whose converge fails or times out tears down what it started. Its own module: the
converged stack of test_local_stack.py must not be up while this one binds the same ports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
import pytest

from tests.ansible.test_local_stack import converged

STACK_PORTS = {8080, 8081, 8404, 8101, 8102, 8103, 8109, 9090, 9093, 9095, 9108}


@pytest.mark.timeout(240)
def test_a_converge_cut_short_leaves_nothing_running(tmp_path: Path) -> None:
    """On a busy machine the converge passed its timeout and left the whole stack running, so the next
    test's stack could not bind its ports. Here it is cut after 20 s, half-way."""
    with pytest.raises(subprocess.TimeoutExpired) as cut, converged(tmp_path, converge_timeout_s=20):
        pass
    output = cut.value.stdout.decode() if isinstance(cut.value.stdout, bytes) else str(cut.value.stdout)
    assert "Run a supervisord for the stack" in output  # it had started something before the cut
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert not listening & STACK_PORTS
    config = str(tmp_path / "supervisor" / "supervisord.conf")
    assert not [p.pid for p in psutil.process_iter(["cmdline"]) if config in (p.info["cmdline"] or [])]
    # Nor the converge itself: a playbook left behind would go on starting the stack.
    assert not [p.pid for p in psutil.process_iter(["cmdline", "environ"]) if of_this_stack(p, tmp_path)]


def of_this_stack(process: psutil.Process, directory: Path) -> bool:
    environment = process.info.get("environ") or {}
    return environment.get("PEAKOPS_STACK_DIR") == str(directory)
