"""Where things live in the repository: every path another module reads by default, named once.

The default campaign plan is named here and nowhere else; the CLI, the Locust entry point, the Pulumi
program and the generators take it from `DEFAULT_PLAN` unless told otherwise (`--plan`, the stack's
``peakops:campaignPlan``). Paths are absolute; `relative` shows one the way a user types it.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_PLAN = REPO_ROOT / "campaigns" / "demo.yaml"
SPECS_DIR = REPO_ROOT / "monitors" / "slos"
GENERATED_DIR = REPO_ROOT / "monitors" / "generated"
K8S_DIR = REPO_ROOT / "k8s"
ANSIBLE_DIR = REPO_ROOT / "ansible"
LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"


def relative(path: Path) -> str:
    """`path` relative to the repository root when it lies inside it (as written in generated headers)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
