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

from cli.plan import render_ansible_vars, render_catalog
from peakops import edgelog
from peakops.generated import generated_yaml, write_atomically, write_tree
from peakops.paths import ANSIBLE_DIR, DEFAULT_PLAN, GENERATED_DIR, K8S_DIR, REPO_ROOT, SPECS_DIR
from peakops.plan import load_plan

EDGE_LOG_VARS = ANSIBLE_DIR / "roles" / "edge_cache" / "vars" / "main.yml"


def single_files() -> dict[Path, str]:
    plan = load_plan(DEFAULT_PLAN)
    return {
        REPO_ROOT / "app" / "seed" / "demo-catalog.yaml": render_catalog(plan, DEFAULT_PLAN),
        ANSIBLE_DIR / "inventories" / "local" / "group_vars" / "all" / "campaign.yml": (
            render_ansible_vars(plan, DEFAULT_PLAN)
        ),
        EDGE_LOG_VARS: generated_yaml(edgelog.ansible_vars(), ["peakops/edgelog.py"], "peakops generate"),
    }


def monitors_tree() -> dict[str, str]:
    from monitors import generate as monitors_generate

    return monitors_generate.render(SPECS_DIR, monitors_generate.Settings())


def _write_tree(out: Path, files: dict[str, str]) -> None:
    changed = write_tree(files, out)
    typer.echo(f"{'wrote' if changed else 'unchanged:'} {len(files)} files in {out.relative_to(REPO_ROOT)}")


def generate() -> None:
    """Rewrite every generated file (catalog seed, Ansible vars, monitors/generated, k8s/) from its source."""
    for path, text in single_files().items():
        write_atomically(path, text)
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")
    _write_tree(GENERATED_DIR, monitors_tree())
    # After monitors/generated: the k8s/ ConfigMaps carry its rules and Alertmanager config.
    from infra import render

    _write_tree(K8S_DIR, render.render())
