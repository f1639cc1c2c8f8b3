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
from peakops.generated import generated_yaml
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


def generate() -> None:
    """Rewrite every generated file (catalog seed, Ansible vars, monitors/generated) from its source."""
    for path, text in single_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")
    files = monitors_tree()
    monitors_generate.write_tree(files, monitors_generate.GENERATED_DIR)
    typer.echo(f"wrote {len(files)} files to {monitors_generate.GENERATED_DIR.relative_to(REPO_ROOT)}")
    # After monitors/generated: the k8s/ ConfigMaps carry its rules and Alertmanager config.
    k8s = render.render()
    monitors_generate.write_tree(k8s, render.K8S_DIR)
    typer.echo(f"wrote {len(k8s)} files to k8s")
