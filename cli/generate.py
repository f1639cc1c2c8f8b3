"""`peakops generate`: rewrite every generated file in the repository from its source of truth.

    campaigns/<plan>.yaml -> app/seed/demo-catalog.yaml, ansible/inventories/*/group_vars/all/campaign.yml
    peakops/edgelog.py    -> ansible/roles/edge_cache/vars/main.yml (the access log's fields)
    monitors/slos/*.yaml  -> monitors/generated/ (rules, PrometheusRule, promtool fixtures, Alertmanager)
    infra/manifests/, Pulumi.<stack>.yaml -> k8s/ (a kustomize base and an overlay per stack)

tests/cli/test_generated.py renders the same from the default plan and fails on any difference.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.campaign import PlanOption, SpecsOption, campaign
from cli.plan import render_ansible_vars, render_catalog
from peakops import edgelog
from peakops.context import CampaignContext
from peakops.generated import generated_yaml, header, write_atomically, write_tree
from peakops.paths import ANSIBLE_DIR, GENERATED_DIR, K8S_DIR, REPO_ROOT

EDGE_LOG_VARS = ANSIBLE_DIR / "roles" / "edge_cache" / "vars" / "main.yml"
INVENTORIES = ("local", "example")


def stack_config_reference() -> str:
    """docs/stack-config.md: every key of the Pulumi stack config, from its declaration in infra/config.py."""
    from infra.config import reference

    rows = "".join(f"| `{r['key']}` | {r['default']} | {r['description']} |\n" for r in reference())
    return (
        header(["infra/config.py"], "peakops generate", comment="<!--").replace("\n", " -->\n")
        + "# Stack config (`Pulumi.<stack>.yaml`)\n\n"
        + "Set with `pulumi config set peakops:<key> <value>` (secrets with `--secret`); checked at the\n"
        + "program's start, and by `peakops k8s render` for the rendered `k8s/` overlays.\n\n"
        + "| key | default | meaning |\n| --- | --- | --- |\n"
        + rows
    )


def declared_query_parameters() -> dict[str, list[str]]:
    """Route template -> the query parameters the app reads on GET there, from its own API document."""
    from app.main import create_app
    from app.settings import Settings

    document = create_app(Settings(catalog=None)).openapi()
    return {
        template: [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"]
        for template, operations in document["paths"].items()
        if "get" in operations
    }


def single_files(context: CampaignContext) -> dict[Path, str]:
    files = {
        REPO_ROOT / "docs" / "stack-config.md": stack_config_reference(),
        REPO_ROOT / "app" / "seed" / "demo-catalog.yaml": render_catalog(context.plan, context.plan_path),
        EDGE_LOG_VARS: generated_yaml(
            edgelog.ansible_vars(declared_query_parameters()),
            ["peakops/edgelog.py", "app/ (its API document)"],
            "peakops generate",
        ),
    }
    for inventory in INVENTORIES:
        path = ANSIBLE_DIR / "inventories" / inventory / "group_vars" / "all" / "campaign.yml"
        files[path] = render_ansible_vars(context.plan, context.plan_path)
    return files


def monitors_tree(context: CampaignContext) -> dict[str, str]:
    from monitors import generate as monitors_generate

    return monitors_generate.render(context, monitors_generate.Settings())


def _write_tree(out: Path, files: dict[str, str]) -> None:
    changed = write_tree(files, out)
    typer.echo(f"{'wrote' if changed else 'unchanged:'} {len(files)} files in {out.relative_to(REPO_ROOT)}")


def generate(plan: PlanOption = None, specs: SpecsOption = None) -> None:
    """Rewrite every generated file (catalog seed, Ansible vars, monitors/generated, k8s/) from its source."""
    context = campaign(plan, specs)
    for path, text in single_files(context).items():
        write_atomically(path, text)
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")
    _write_tree(GENERATED_DIR, monitors_tree(context))
    # After monitors/generated: the k8s/ ConfigMaps carry its rules and Alertmanager config.
    from infra import render

    _write_tree(K8S_DIR, render.render())
