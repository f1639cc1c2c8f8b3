"""The campaign context every command resolves once: `--plan` and `--specs`, with their errors.

PlanOption, SpecsOption    the options, the same on every command that reads them
campaign(plan, specs)      peakops.context.resolve, or exit 2 with the file and field named
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from peakops.context import CampaignContext, resolve
from peakops.paths import DEFAULT_PLAN, SPECS_DIR, relative
from peakops.plan import PlanError
from peakops.slo import SpecError

PlanOption = Annotated[
    Path | None,
    typer.Option(
        "--plan", help=f"Campaign plan YAML [default: {relative(DEFAULT_PLAN)}].", show_default=False
    ),
]
SpecsOption = Annotated[
    Path | None,
    typer.Option(
        "--specs", help=f"Directory of SLO specs [default: {relative(SPECS_DIR)}].", show_default=False
    ),
]


def campaign(plan: Path | None = None, specs: Path | None = None) -> CampaignContext:
    try:
        return resolve(plan, specs)
    except PlanError as exc:
        typer.echo(f"error: invalid campaign plan\n{exc}", err=True)
        raise typer.Exit(2) from None
    except SpecError as exc:
        typer.echo(f"error: invalid SLO spec\n{exc}", err=True)
        raise typer.Exit(2) from None
