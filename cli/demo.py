"""`peakops demo` (`make demo`): `peakops rehearse` on the demo campaign (campaigns/demo.yaml), whose
`rehearsal:` section plays the first spike healthy, then with a payment outage that must page on-call
and resolve after the clear. It exits with the rehearsal's verdict (0 go).

The helpers below (a paced checkout stream, the pages the inbox got) serve the alert-detection benchmark.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.rehearse import rehearse
from peakops.context import CampaignContext


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


def demo(
    keep: Annotated[
        bool, typer.Option(help="Leave the stack running afterwards (peakops down stops it).")
    ] = False,
    report: Annotated[Path | None, typer.Option(help="Write the rehearsal's report here.")] = None,
) -> None:
    """Rehearse the demo campaign on the local stack (`peakops rehearse` on campaigns/demo.yaml)."""
    rehearse(plan=None, scenario=None, time_scale=60, report=report, keep=keep)
