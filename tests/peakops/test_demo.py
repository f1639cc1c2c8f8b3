"""`peakops demo`, as `make demo` runs it, on a small burst."""

from __future__ import annotations

import subprocess
import sys

from peakops.procs import REPO_ROOT


def test_demo_runs_a_burst_and_prints_a_summary() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peakops", "demo", "--visitors", "120", "--concurrency", "16"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Burst through the funnel" in out
    assert "orders:" in out
    assert "server errors: 0" in out
    for step in ("landing", "browse", "cart", "checkout"):
        assert step in out
    assert "lena-glow" in out  # the attribution table
