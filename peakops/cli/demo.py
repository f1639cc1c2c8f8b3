"""`peakops demo`: bring the app up with the demo campaign's catalog, send a short influencer burst
through the funnel, and print what happened (orders, latency, errors, attribution).

The burst is bounded in count and time and sends traffic only to the app it started on 127.0.0.1.
Later issues grow this into the full rehearsal (edge, load balancer, Locust, faults, alerts).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from peakops.procs import REPO_ROOT, run_app

DEMO_CATALOG = REPO_ROOT / "app" / "seed" / "demo-catalog.yaml"
SLUGS = ("lena-glow", "marco-fit", "sofia-style")
PROMOS = {"lena-glow": "LENA15", "marco-fit": "MARCO10", "sofia-style": "SOFIA20"}
PRODUCTS = ("GLOW-SERUM", "NIGHT-CREAM", "SPF50-MIST", "DROP-PALETTE")


@dataclass
class BurstStats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    transport_errors: int = 0
    orders: int = 0

    def record(self, step: str, status: int, seconds: float) -> None:
        self.latencies[step].append(seconds)
        self.statuses[step][status] += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _visitor(client: Any, stats: BurstStats, rng: random.Random) -> None:
    import httpx

    slug = rng.choice(SLUGS)

    async def call(step: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            response: httpx.Response = await client.request(method, path, **kwargs)
        except httpx.HTTPError:
            stats.transport_errors += 1
            return None
        stats.record(step, response.status_code, time.perf_counter() - start)
        return response

    utm = {"source": "instagram", "medium": "social", "campaign": f"demo-{uuid.uuid4().hex[:8]}"}
    query = f"?utm_source={utm['source']}&utm_medium={utm['medium']}&utm_campaign={utm['campaign']}"
    if await call("landing", "GET", f"/c/{slug}{query}") is None:
        return
    await call("visit", "POST", "/api/visits", json={"influencer": slug, "utm": utm})
    await call("browse", "GET", "/api/products")
    if rng.random() > 0.6:  # 40% put something in the cart
        return
    cart = await call("cart", "POST", "/api/carts", json={"influencer": slug, "utm": utm})
    if cart is None or cart.status_code != 201:
        return
    cart_id = cart.json()["cart_id"]
    sku = "DROP-PALETTE" if rng.random() < 0.5 else rng.choice(PRODUCTS)
    await call("add_item", "POST", f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": 1})
    if rng.random() > 0.5:  # half of the carts check out
        return
    body = {"cart_id": cart_id, "email": f"fan{rng.randrange(10**6)}@example.com", "promo_code": PROMOS[slug]}
    done = await call(
        "checkout", "POST", "/api/checkout", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    if done is not None and done.status_code == 201:
        stats.orders += 1


async def _burst(
    url: str, visitors: int, concurrency: int, max_seconds: float, progress: Progress
) -> BurstStats:
    import httpx

    stats = BurstStats()
    rng = random.Random(7)
    task = progress.add_task("influencer burst", total=visitors)
    deadline = time.monotonic() + max_seconds
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(visitors):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await _visitor(client, stats, rng)
                progress.advance(task)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


def _summary(stats: BurstStats, elapsed: float, attribution: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Burst through the funnel ({elapsed:.1f} s)")
    for column in ("step", "requests", "p50 ms", "p95 ms", "p99 ms", "2xx", "4xx", "5xx"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for step, values in stats.latencies.items():
        codes = stats.statuses[step]
        table.add_row(
            step,
            str(len(values)),
            f"{percentile(values, 0.50) * 1000:.1f}",
            f"{percentile(values, 0.95) * 1000:.1f}",
            f"{percentile(values, 0.99) * 1000:.1f}",
            str(sum(n for c, n in codes.items() if c < 400)),
            str(sum(n for c, n in codes.items() if 400 <= c < 500)),
            str(sum(n for c, n in codes.items() if c >= 500)),
        )
    console.print(table)
    errors = sum(n for codes in stats.statuses.values() for c, n in codes.items() if c >= 500)
    stockouts = stats.statuses["checkout"].get(409, 0)
    console.print(
        f"orders: [bold]{stats.orders}[/bold]   sold out (409): {stockouts}   "
        f"server errors: {errors}   transport errors: {stats.transport_errors}"
    )
    attr = Table(title="Attribution (GET /api/attribution)")
    for column in ("influencer", "visits", "carts", "orders", "revenue"):
        attr.add_column(column)
    for row in attribution["influencers"]:
        revenue = ", ".join(f"{v} {k}" for k, v in row["revenue"].items()) or "-"
        attr.add_row(row["slug"], str(row["visits"]), str(row["carts"]), str(row["orders"]), revenue)
    console.print(attr)


def demo(
    visitors: Annotated[int, typer.Option(help="Visitors in the burst.", min=1, max=20_000)] = 600,
    concurrency: Annotated[int, typer.Option(help="Visitors in flight at once.", min=1, max=512)] = 32,
    max_seconds: Annotated[float, typer.Option(help="Stop the burst after this long.", min=1, max=300)] = 30,
    database_url: Annotated[str, typer.Option(help="Database URL; a fresh SQLite file by default.")] = "",
) -> None:
    """Start the app with the demo campaign, drive an influencer burst through it, print a summary."""
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
        console.print(f"[bold]Starting the app[/bold] with {DEMO_CATALOG.relative_to(REPO_ROOT)}")
        with run_app(env, Path(tmp) / "app.log") as app:
            console.print(f"app ready at {app.url}")
            start = time.monotonic()
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                stats = asyncio.run(_burst(app.url, visitors, concurrency, max_seconds, progress))
            elapsed = time.monotonic() - start
            attribution = httpx.get(
                f"{app.url}/api/attribution", headers={"Authorization": f"Bearer {admin_token}"}, timeout=10
            ).json()
        _summary(stats, elapsed, attribution, console)
        errors = sum(n for codes in stats.statuses.values() for c, n in codes.items() if c >= 500)
        if errors or stats.transport_errors or stats.orders == 0:
            console.print("[red]demo finished with errors[/red]")
            raise typer.Exit(1)
