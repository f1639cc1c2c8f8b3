"""`peakops demo`: a campaign rehearsal on this machine.

Today: bring the local stack up with Ansible (app instances seeded from the demo campaign, HAProxy, the
nginx edge, warmed), replay the campaign's first influencer spike through the edge with Locust (arrivals
from campaigns/demo.yaml, the whole funnel), print the verdict, the edge's cache hit ratio and the
attribution report, and bring the stack down (`--keep` leaves it running). Traffic goes only to
127.0.0.1 and stops by itself. Later issues add faults and alerts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from peakops.cli import stack
from peakops.cli.loadtest import DEFAULT_PLAN, locust_command, print_summary, run_loadtest
from peakops.procs import REPO_ROOT


def print_attribution(attribution: dict[str, Any], console: Console) -> None:
    table = Table(title="Attribution (GET /api/attribution through the edge)")
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
    keep: Annotated[
        bool, typer.Option(help="Leave the stack running afterwards (peakops down stops it).")
    ] = False,
    report_dir: Annotated[Path | None, typer.Option(help="Keep the load test report here.")] = None,
) -> None:
    """Rehearse the demo campaign's spike through the local stack and print the verdict."""
    import httpx

    console = Console()
    with tempfile.TemporaryDirectory(prefix="peakops-demo-") as tmp:
        log = Path(tmp) / "ansible.log"
        console.print(
            "[bold]Bringing the local stack up[/bold] (ansible-playbook ansible/playbooks/site.yml)"
        )
        if stack.run_playbook("site.yml", log=log) != 0:
            console.print(log.read_text()[-4000:], markup=False)
            console.print("[red]the stack did not come up[/red]")
            raise typer.Exit(3)
        code = 3
        try:
            urls = stack.endpoints(stack.inventory_vars())
            admin_token = (
                Path(stack.resolved_var("peakops_stack_dir")) / "secrets" / "admin_token"
            ).read_text()
            console.print(
                f"edge {urls['edge']} -> load balancer {urls['load_balancer']} -> "
                f"{len(urls['app_instances'])} app instances; replaying the first spike for {duration} s"
            )
            directory = report_dir or Path(tmp) / "report"
            command = locust_command(
                urls["edge"], DEFAULT_PLAN, None, duration, directory, peak_arrivals=peak_arrivals
            )
            code, summary = run_loadtest(command, directory, duration, console)
            attribution = httpx.get(
                f"{urls['edge']}/api/attribution",
                headers={"Authorization": f"Bearer {admin_token.split()[0]}"},
                timeout=10,
            ).json()
            if summary:
                print_summary(summary, console)
                ratio = summary.get("cache_hit_ratio")
                console.print(f"edge cache hit ratio (X-Cache): {ratio:.0%}" if ratio is not None else "")
            print_attribution(attribution, console)
            if report_dir is not None:
                console.print(f"report: {report_dir / 'report.html'}")
        finally:
            if keep:
                console.print("the stack keeps running: `peakops status`, `peakops down`")
            else:
                stack.run_playbook("down.yml", log=log)
    console.print(f"plan: {DEFAULT_PLAN.relative_to(REPO_ROOT)}")
    raise typer.Exit(code)
