"""The monitoring role's prometheus.yml, rendered as the role renders it and checked by promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.roles import render


def test_targets_given_by_host_carry_the_host_label(tmp_path: Path) -> None:
    """The fleet names each target's host, so an alert on a stopped host says which host it is."""
    text = render(
        "monitoring",
        "prometheus.yml.j2",
        monitoring_dir=str(tmp_path),
        monitoring_scrape_targets={
            "node": {"mon-1": "10.0.0.41:9100", "app-1": "10.0.0.31:9100"},
            "prometheus": ["127.0.0.1:9090"],
        },
    )
    (tmp_path / "prometheus.yml").write_text(text)
    checked = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {job["job_name"]: job["static_configs"] for job in yaml.safe_load(text)["scrape_configs"]}
    assert jobs["node"] == [
        {"targets": ["10.0.0.31:9100"], "labels": {"host": "app-1"}},
        {"targets": ["10.0.0.41:9100"], "labels": {"host": "mon-1"}},
    ]
    assert jobs["prometheus"] == [{"targets": ["127.0.0.1:9090"]}]
