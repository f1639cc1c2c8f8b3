"""`peakops generate`: rewrite every generated file in the repository from its source of truth.

    campaigns/demo.yaml   -> app/seed/demo-catalog.yaml, ansible/inventories/local/group_vars/all/campaign.yml
    peakops/edgelog.py    -> ansible/roles/edge_cache/vars/main.yml (the access log's fields)
    monitors/slos/*.yaml  -> monitors/generated/ (rules, PrometheusRule, promtool fixtures, Alertmanager)
    infra/manifests/, Pulumi.<stack>.yaml -> k8s/ (a kustomize base and an overlay per stack)

tests/peakops/test_generated.py renders the same and fails on any difference.
"""

from __future__ import annotations

from pathlib import Path

import typer

from infra import render
from monitors import generate as monitors_generate
from peakops import edgelog
from peakops.cli.plan import render_ansible_vars, render_catalog
from peakops.generated import generated_yaml, write_atomically
from peakops.plan import load_plan
from peakops.procs import REPO_ROOT

DEMO_PLAN = REPO_ROOT / "campaigns" / "demo.yaml"
EDGE_LOG_VARS = REPO_ROOT / "ansible" / "roles" / "edge_cache" / "vars" / "main.yml"


def single_files() -> dict[Path, str]:
    plan = load_plan(DEMO_PLAN)
    return {
        REPO_ROOT / "app" / "seed" / "demo-catalog.yaml": render_catalog(plan, DEMO_PLAN),
        REPO_ROOT / "ansible" / "inventories" / "local" / "group_vars" / "all" / "campaign.yml": (
            render_ansible_vars(plan, DEMO_PLAN)
        ),
        EDGE_LOG_VARS: generated_yaml(edgelog.ansible_vars(), ["peakops/edgelog.py"], "peakops generate"),
    }


def monitors_tree() -> dict[str, str]:
    return monitors_generate.render(monitors_generate.SPECS_DIR, monitors_generate.Settings())


def _write_tree(out: Path, files: dict[str, str]) -> None:
    changed = monitors_generate.write_tree(files, out)
    typer.echo(f"{'wrote' if changed else 'unchanged:'} {len(files)} files in {out.relative_to(REPO_ROOT)}")


def generate() -> None:
    """Rewrite every generated file (catalog seed, Ansible vars, monitors/generated, k8s/) from its source."""
    for path, text in single_files().items():
        write_atomically(path, text)
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")
    _write_tree(monitors_generate.GENERATED_DIR, monitors_tree())
    # After monitors/generated: the k8s/ ConfigMaps carry its rules and Alertmanager config.
    _write_tree(render.K8S_DIR, render.render())
