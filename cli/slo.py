"""`peakops slo ...`: check SLO specs and generate what Prometheus and Alertmanager read from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.campaign import PlanOption, SpecsOption, campaign
from peakops.paths import GENERATED_DIR
from peakops.plan import MAX_TIME_SCALE
from peakops.slo import SpecError

slo_commands = typer.Typer(
    no_args_is_help=True, help="SLO specs (monitors/slos/*.yaml) and what they generate."
)


def _warn(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


def _fail(exc: SpecError) -> typer.Exit:
    typer.echo(f"error: invalid SLO spec\n{exc}", err=True)
    return typer.Exit(2)


@slo_commands.command("check")
def check(plan: PlanOption = None, specs: SpecsOption = None) -> None:
    """Validate the specs (Sloth's checks, peakops' extensions, metrics and runbooks); show each SLO."""
    from monitors.generate import contexts, warnings
    from monitors.rules import humanize_factor

    context = campaign(plan, specs)
    try:
        ctxs = contexts(context)
    except SpecError as exc:
        raise _fail(exc) from None
    _warn(warnings(ctxs))
    table = Table(title=f"SLOs in {context.specs_dir}")
    for column in ("service", "slo", "objective", "period", "page at", "ticket at", "campaign"):
        table.add_column(column)
    for ctx in ctxs:
        tiers = {
            severity: ", ".join(f"{humanize_factor(f)}x/{t.long}" for t, f in ctx.tiers(severity)) or "-"
            for severity in ("page", "ticket")
        }
        table.add_row(
            ctx.spec.service,
            ctx.slo.name,
            f"{ctx.slo.objective:g}%",
            ctx.slo.peakops.period,
            tiers["page"],
            tiers["ticket"],
            ctx.plan.name if ctx.slo.peakops.campaign and ctx.plan else "-",
        )
    Console().print(table)


@slo_commands.command("generate")
def generate(
    out: Annotated[
        Path, typer.Option(help="Directory to (re)write; replaced whole, or not at all.")
    ] = GENERATED_DIR,
    plan: PlanOption = None,
    specs: SpecsOption = None,
    time_scale: Annotated[
        float,
        typer.Option(
            min=1,
            max=MAX_TIME_SCALE,
            help="Divide windows and `for:` by this (rehearsals only; fixtures need 1).",
        ),
    ] = 1.0,
    webhook_url: Annotated[
        str | None, typer.Option(help="Base URL of the webhook receivers [default: the local inbox].")
    ] = None,
    pagerduty_url: Annotated[
        str | None, typer.Option(help="PagerDuty Events API URL [default: PagerDuty's public one].")
    ] = None,
    slack_channel: Annotated[
        str | None, typer.Option(help="Slack channel for tickets [default: monitors.alertmanager.Receivers].")
    ] = None,
    group_wait: Annotated[
        str | None, typer.Option(help="Alertmanager group_wait [default: monitors.alertmanager.Receivers].")
    ] = None,
    group_interval: Annotated[
        str | None,
        typer.Option(help="Alertmanager group_interval [default: monitors.alertmanager.Receivers]."),
    ] = None,
) -> None:
    """Write rules, PrometheusRule, promtool fixtures and the Alertmanager config from the specs."""
    from monitors.alertmanager import Receivers
    from monitors.generate import Settings, contexts, render, warnings
    from monitors.rules import Options
    from peakops.generated import write_tree

    given = {
        "webhook_url": webhook_url,
        "pagerduty_url": pagerduty_url,
        "slack_channel": slack_channel,
        "group_wait": group_wait,
        "group_interval": group_interval,
    }
    settings = Settings(
        options=Options(time_scale=time_scale),
        receivers=Receivers(**{name: value for name, value in given.items() if value is not None}),
    )
    context = campaign(plan, specs)
    try:
        files = render(context, settings)
        _warn(warnings(contexts(context)))
    except SpecError as exc:
        raise _fail(exc) from None
    if write_tree(files, out):
        typer.echo(f"wrote {len(files)} files to {out}")
    else:
        typer.echo(f"{out}: unchanged")
