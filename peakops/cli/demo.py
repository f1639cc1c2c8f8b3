"""`peakops demo`: a campaign rehearsal on this machine.

Today: start the app seeded from the demo campaign (campaigns/demo.yaml), replay the campaign's first
influencer spike through it with Locust (arrivals from the plan, the full funnel), print the verdict and
the attribution report. Traffic goes only to the app it started on 127.0.0.1 and stops by itself.
Later issues add the edge, the load balancer, faults and alerts.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from peakops.cli.loadtest import DEFAULT_PLAN, locust_command, print_summary, run_loadtest
from peakops.procs import REPO_ROOT, run_app

DEMO_CATALOG = REPO_ROOT / "app" / "seed" / "demo-catalog.yaml"


def print_attribution(attribution: dict[str, Any], console: Console) -> None:
    table = Table(title="Attribution (GET /api/attribution)")
    for column in ("influencer", "visits", "carts", "orders", "revenue"):
        table.add_column(column)
    for row in attribution["influencers"]:
        revenue = ", ".join(f"{v} {k}" for k, v in row["revenue"].items()) or "-"
        table.add_row(row["slug"], str(row["visits"]), str(row["carts"]), str(row["orders"]), revenue)
    console.print(table)


def demo(
    duration: Annotated[int, typer.Option(help="Seconds of campaign traffic.", min=5, max=600)] = 30,
    peak_arrivals: Annotated[
        float, typer.Option(help="Visitors arriving in the busiest second.", min=1)
    ] = 40,
    database_url: Annotated[str, typer.Option(help="Database URL; a fresh SQLite file by default.")] = "",
    report_dir: Annotated[Path | None, typer.Option(help="Keep the load test report here.")] = None,
) -> None:
    """Rehearse the demo campaign's spike against a local app and print the verdict."""
    import httpx

    console = Console()
    admin_token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="peakops-demo-") as tmp:
        env = {
            "PEAKOPS_DATA_DIR": tmp,
            "PEAKOPS_CATALOG": str(DEMO_CATALOG),
            "PEAKOPS_ADMIN_TOKEN": admin_token,
            "PEAKOPS_DATABASE_URL": database_url,
        }
        console.print(f"[bold]Starting the app[/bold] seeded from {DEFAULT_PLAN.relative_to(REPO_ROOT)}")
        with run_app(env, Path(tmp) / "app.log") as app:
            console.print(f"app ready at {app.url}; replaying the first influencer spike for {duration} s")
            directory = report_dir or Path(tmp) / "report"
            command = locust_command(
                app.url, DEFAULT_PLAN, None, duration, directory, peak_arrivals=peak_arrivals
            )
            code, summary = run_loadtest(command, directory, duration, console)
            attribution = httpx.get(
                f"{app.url}/api/attribution", headers={"Authorization": f"Bearer {admin_token}"}, timeout=10
            ).json()
        if summary:
            print_summary(summary, console)
        print_attribution(attribution, console)
        if report_dir is not None:
            console.print(f"report: {report_dir / 'report.html'}")
    raise typer.Exit(code)
