"""`peakops up` before anything starts: every port the stack needs that another process holds is named,
with the process and the variable that moves it; exit 3; nothing started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from peakops.paths import REPO_ROOT
from tests.support.procs import free_port


@pytest.mark.parametrize(
    ("variable", "extra"),
    [
        ("monitoring_prometheus_port", ()),
        ("database_port", ("-e", "peakops_database=postgresql")),  # only when the stack runs PostgreSQL
    ],
)
def test_a_taken_port_is_named_with_its_holder_and_its_variable_and_nothing_starts(
    tmp_path: Path, variable: str, extra: tuple[str, ...]
) -> None:
    port = free_port()
    with socket.socket() as holder:  # someone's own Prometheus, say
        holder.bind(("127.0.0.1", port))
        holder.listen()
        before = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        result = subprocess.run(
            [str(Path(sys.executable).parent / "peakops"), "up", "-e", f"{variable}={port}", *extra],
            env={**os.environ, "PEAKOPS_STACK_DIR": str(tmp_path / "stack")},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        after = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert result.returncode == 3, result.stdout + result.stderr
    name = psutil.Process().name()
    assert (
        f"port {port} ({variable}) is in use by {name} (pid {os.getpid()}); move it with -e {variable}=..."
    ) in result.stderr
    assert "nothing was started" in result.stderr
    assert not (tmp_path / "stack" / "supervisor" / "supervisord.pid").exists()
    assert after == before
