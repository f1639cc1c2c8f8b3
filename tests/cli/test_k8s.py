"""`peakops k8s ...`: the image list and the Automation API entry point's errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from infra.images import builds, every_workload


def test_images_lists_every_build_with_its_dockerfile() -> None:
    result = CliRunner().invoke(app, ["k8s", "images"])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert [row[0] for row in rows] == [reference for reference, _ in builds(every_workload())]
    assert all(len(row) == 4 for row in rows)


def test_up_without_a_pulumi_cli_says_so_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(app, ["k8s", "up", "--stack", "dev"])
    assert result.exit_code == 1
    assert "error: cannot open stack 'dev'" in result.output
    assert "Traceback" not in result.output
