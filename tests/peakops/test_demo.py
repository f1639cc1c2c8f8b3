"""`peakops demo`, as `make demo` runs it, on a short rehearsal."""

from __future__ import annotations

import subprocess
import sys

from peakops.procs import REPO_ROOT


def test_demo_rehearses_the_spike_and_prints_the_verdict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peakops", "demo", "--duration", "10", "--peak-arrivals", "20"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Verdict: PASS" in out
    assert "Journeys over the peak window" in out
    assert "influencer" in out
    assert "Attribution" in out
    assert "lena-glow" in out
