"""Generated files match what their source renders today (drift test)."""

from __future__ import annotations

from pathlib import Path

from peakops.cli.plan import render_ansible_vars, render_catalog
from peakops.plan import load_plan
from peakops.procs import REPO_ROOT

DEMO_PLAN = REPO_ROOT / "campaigns" / "demo.yaml"


def rendered() -> dict[Path, tuple[str, str]]:
    """Each generated file -> (what its source renders today, the command that regenerates it)."""
    return {
        REPO_ROOT / "app" / "seed" / "demo-catalog.yaml": (
            render_catalog(load_plan(DEMO_PLAN), DEMO_PLAN),
            "peakops plan catalog campaigns/demo.yaml --out app/seed/demo-catalog.yaml",
        ),
        REPO_ROOT / "ansible" / "inventories" / "local" / "group_vars" / "all" / "campaign.yml": (
            render_ansible_vars(load_plan(DEMO_PLAN), DEMO_PLAN),
            "peakops plan ansible-vars campaigns/demo.yaml "
            "--out ansible/inventories/local/group_vars/all/campaign.yml",
        ),
    }


def test_generated_files_have_not_drifted() -> None:
    for path, (expected, command) in rendered().items():
        assert path.read_text() == expected, f"{path.relative_to(REPO_ROOT)} is stale: run `{command}`"
        assert path.read_text().startswith("# Generated from")
