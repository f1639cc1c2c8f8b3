"""`peakops demo`: a campaign rehearsal on this machine.

Today: bring the local stack up with Ansible (app instances seeded from the demo campaign, HAProxy, the
nginx edge, warmed), replay the campaign's first influencer spike through the edge with Locust (arrivals
from campaigns/demo.yaml, the whole funnel), print the verdict, the edge's cache hit ratio and the
attribution report; then rehearse a payment outage: every payment fails until on-call is paged (the
page reaches the local inbox through Prometheus and Alertmanager), the fault is cleared, the page
resolves, and the inbox is relative. The stack comes down at the end (`--keep` leaves it running). The SLO
windows are compressed 60x for the rehearsal (PEAKOPS_SLO_TIME_SCALE). Traffic goes only to 127.0.0.1
and stops by itself.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli import stack
from cli.campaign import campaign
from cli.loadtest import locust_command, print_summary, run_loadtest
from peakops.context import CampaignContext
from peakops.paths import relative


def print_attribution(attribution: dict[str, Any], console: Console) -> None:
    table = Table(title="Attribution (GET /api/attribution through the edge)")
    for column in ("influencer", "visits", "carts", "orders", "revenue"):
        table.add_column(column)
    for row in attribution["influencers"]:
        revenue = ", ".join(f"{v} {k}" for k, v in row["revenue"].items()) or "-"
        table.add_row(row["slug"], str(row["visits"]), str(row["carts"]), str(row["orders"]), revenue)
    console.print(table)


def checkout_stream(
    edge: str, sku: str, stop: threading.Event, per_second: float = 8, deadline_s: float = 180
) -> list[int]:
    """Customers checking out through the edge, paced by the clock, until stopped or the deadline."""
    import httpx

    codes: list[int] = []
    started = time.monotonic()
    with httpx.Client(base_url=edge, timeout=10) as client:
        for n in range(int(per_second * deadline_s)):
            if stop.is_set():
                break
            delay = started + n / per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                cart = client.post("/api/carts").json()["cart_id"]
                client.post(f"/api/carts/{cart}/items", json={"sku": sku, "quantity": 1})
                answer = client.post(
                    "/api/checkout",
                    json={"cart_id": cart, "email": f"rehearsal{n}@example.com"},
                    headers={"Idempotency-Key": f"rehearsal-{started:.0f}-{n}"},
                )
                codes.append(answer.status_code)
            except (httpx.HTTPError, KeyError, ValueError):
                codes.append(-1)
    return codes


def pages(inbox_url: str, alertname: str, status: str, since: float) -> list[dict[str, Any]]:
    """Notifications the pager receiver got for `alertname` (severity page) with `status`."""
    import httpx

    found = []
    for record in httpx.get(f"{inbox_url}/notifications", timeout=5).json():
        body = record["body"]
        if record["path"] != "/alerts/pager" or record["received_at"] < since or not isinstance(body, dict):
            continue
        if body.get("status") == status and any(
            a["labels"].get("alertname") == alertname and a["labels"].get("sloth_severity") == "page"
            for a in body.get("alerts", [])
        ):
            found.append(record)
    return found


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@dataclass(frozen=True)
class Rehearsal:
    """What the outage rehearsal buys and which page it waits for, from the plan and the SLO specs."""

    sku: str  # a regular product of the plan: not synthetic, not a limited drop
    alert: str  # the alert of the SLO on checkout outcomes

    @classmethod
    def of(cls, context: CampaignContext) -> Rehearsal:
        objective = context.checkout_objective()
        products = context.plan.regular_products()
        alert = objective.alert_name if objective else None
        if alert is None or not products:
            missing = (
                "a paging SLO on checkout outcomes" if alert is None else "a regular product in the plan"
            )
            typer.echo(f"error: the outage rehearsal needs {missing}", err=True)
            raise typer.Exit(2)
        return cls(products[0].sku, alert)


def rehearse_payment_outage(
    urls: dict[str, Any], admin_token: str, rehearsal: Rehearsal, console: Console
) -> bool:
    """Every payment fails until the checkout page reaches the inbox; then clear it and see it resolve."""
    import httpx

    instances = urls["app_instances"] + urls["app_backup_instances"]
    headers = {"Authorization": f"Bearer {admin_token}"}
    stop = threading.Event()
    result: list[int] = []
    stream = threading.Thread(
        target=lambda: result.extend(checkout_stream(urls["edge"], rehearsal.sku, stop)), daemon=True
    )
    stream.start()
    try:
        time.sleep(8)  # healthy checkouts first: the short windows fill
        console.print("[bold]Rehearsal: the payment provider goes down[/bold] (fault on every instance)")
        fault_at = time.time()
        fault = {"payment_failure_ratio": 1.0, "ttl_seconds": 120}
        for url in instances:
            httpx.post(f"{url}/api/admin/faults", headers=headers, json=fault, timeout=5).raise_for_status()
        alert = rehearsal.alert
        if not wait_for(lambda: bool(pages(urls["inbox"], alert, "firing", fault_at)), 60):
            console.print("[red]no page reached the inbox within 60 s[/red]")
            return False
        paged = pages(urls["inbox"], alert, "firing", fault_at)[0]
        impact = paged["body"].get("commonAnnotations", {}).get("impact", "")
        console.print(f"paged after {paged['received_at'] - fault_at:.1f} s: {alert}; impact {impact}")
        cleared_at = time.time()
        for url in instances:
            httpx.delete(f"{url}/api/admin/faults", headers=headers, timeout=5).raise_for_status()
        console.print("fault cleared; waiting for the page to resolve (the payment circuit resets first)")
        if not wait_for(lambda: bool(pages(urls["inbox"], alert, "resolved", cleared_at)), 90):
            console.print("[red]the page did not resolve within 90 s[/red]")
            return False
        resolved = pages(urls["inbox"], alert, "resolved", cleared_at)[0]
        console.print(f"resolved {resolved['received_at'] - cleared_at:.1f} s after the fault was cleared")
        return True
    finally:
        stop.set()
        stream.join(timeout=30)


def print_inbox(inbox_url: str, since: float, console: Console) -> None:
    import httpx

    from monitors.inbox import summarize

    table = Table(title="On-call inbox (what Alertmanager delivered: webhook, Slack, PagerDuty)")
    for column in ("t+s", "receiver", "status", "alerts"):
        table.add_column(column)
    for record in httpx.get(f"{inbox_url}/notifications", timeout=5).json():
        if record["received_at"] < since or record["path"] in ("/slack", "/pagerduty"):
            continue
        s = summarize(record)
        table.add_row(f"{s.received_at - since:.0f}", s.receiver, s.status, s.alerts)
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

    context = campaign()  # the demo plan, the one the local inventory seeds the stack from
    rehearsal = Rehearsal.of(context)
    console = Console()
    # The rehearsal compresses the SLO windows like it compresses the campaign: an hour in a minute.
    os.environ.setdefault("PEAKOPS_SLO_TIME_SCALE", "60")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="peakops-demo-") as tmp:
        log = Path(tmp) / "ansible.log"
        console.print(
            "[bold]Bringing the local stack up[/bold] (ansible-playbook ansible/playbooks/site.yml)"
        )
        if not stack.preflight([]):
            raise typer.Exit(3)
        if stack.run_playbook("site.yml", log=log) != 0:
            console.print(log.read_text()[-4000:], markup=False)
            console.print("[red]the stack did not come up[/red]")
            raise typer.Exit(3)
        code = 3
        try:
            urls = stack.endpoints(stack.inventory_vars())
            # A component the playbook left down would otherwise surface mid-rehearsal as a bare
            # connection error; name it now.
            if not wait_for(lambda: all(stack.probes(urls).values()), 30):
                silent = [name for name, ok in stack.probes(urls).items() if not ok]
                console.print(f"[red]the stack came up, but these do not answer: {', '.join(silent)}[/red]")
                raise typer.Exit(3)
            admin_token = (
                Path(stack.resolved_var("peakops_stack_dir")) / "secrets" / "admin_token"
            ).read_text()
            console.print(
                f"edge {urls['edge']} -> load balancer {urls['load_balancer']} -> "
                f"{len(urls['app_instances'])} app instances; replaying the first spike for {duration} s"
            )
            directory = report_dir or Path(tmp) / "report"
            command = locust_command(
                urls["edge"], context, None, duration, directory, peak_arrivals=peak_arrivals
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
            if not rehearse_payment_outage(urls, admin_token.split()[0], rehearsal, console):
                code = code or 1
            print_inbox(urls["inbox"], started, console)
        finally:
            if keep:
                console.print("the stack keeps running: `peakops status`, `peakops down`")
            else:
                stack.run_playbook("down.yml", log=log)
    console.print(f"plan: {relative(context.plan_path)}")
    raise typer.Exit(code)
