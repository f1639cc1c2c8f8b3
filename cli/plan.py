"""`peakops plan ...`: check a campaign plan and derive what other areas read from it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from peakops.generated import generated_yaml, write_atomically
from peakops.paths import relative
from peakops.plan import CampaignPlan, PlanError, load_plan

plan_commands = typer.Typer(no_args_is_help=True, help="Campaign plans (campaigns/*.yaml).")


def _load(path: Path) -> CampaignPlan:
    try:
        return load_plan(path)
    except PlanError as exc:
        typer.echo(f"error: invalid campaign plan\n{exc}", err=True)
        raise typer.Exit(2) from None


def render_catalog(plan: CampaignPlan, source: Path) -> str:
    """The app's catalog seed, derived from the plan's products and influencers."""
    return generated_yaml(plan.catalog_seed(), [source], f"peakops plan catalog {relative(source)}")


def render_ansible_vars(plan: CampaignPlan, source: Path) -> str:
    """Inventory vars derived from the plan: which plan the hosts read (repository-relative: the exporter's
    campaign window, the monitoring's rules) and the landing pages the edge warms after each converge."""
    paths = ["/", *(f"/c/{i.slug}" for i in plan.influencers)]
    command = f"peakops plan ansible-vars {relative(source)}"
    variables = {"peakops_campaign_plan": relative(source), "edge_cache_warm_paths": paths}
    return generated_yaml(variables, [source], command)


@plan_commands.command("check")
def check(path: Annotated[Path, typer.Argument(help="Campaign plan YAML.")]) -> None:
    """Validate a plan, and its rehearsal against the generated rules and the plan's bars, as `peakops
    rehearse` would; errors name the file and the field."""
    plan = _load(path)
    if plan.rehearsal is not None:
        from cli.campaign import campaign
        from cli.rehearse import unknown_alerts, unknown_bars

        context = campaign(path)
        problems = unknown_alerts(context, plan.rehearsal.scenarios)
        problems += unknown_bars(context, plan.rehearsal.scenarios)
        if problems:
            typer.echo("error: invalid campaign plan", err=True)
            for problem in problems:
                typer.echo(f"{path}: {problem}", err=True)
            raise typer.Exit(2)
    visitors = sum(i.expected_visitors for i in plan.influencers)
    typer.echo(f"{path}: {len(plan.influencers)} influencers, {visitors:,.0f} expected visitors: ok")


@plan_commands.command("catalog")
def catalog(
    path: Annotated[Path, typer.Argument(help="Campaign plan YAML.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Print (or write) the app's catalog seed derived from the plan."""
    _write(render_catalog(_load(path), path), out)


@plan_commands.command("ansible-vars")
def ansible_vars(
    path: Annotated[Path, typer.Argument(help="Campaign plan YAML.")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Print (or write) the Ansible inventory vars derived from the plan (edge warm-up paths)."""
    _write(render_ansible_vars(_load(path), path), out)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    write_atomically(out, text)
