"""Small client-side helpers shared by the app tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def new_cart(client: httpx.Client, items: dict[str, int], **body: Any) -> str:
    created = client.post("/api/carts", json=body or None)
    assert created.status_code == 201, created.text
    cart_id = str(created.json()["cart_id"])
    for sku, quantity in items.items():
        added = client.post(f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity})
        assert added.status_code == 200, added.text
    return cart_id


def checkout(
    client: httpx.Client,
    cart_id: str,
    key: str | None = None,
    promo_code: str | None = None,
    email: str = "fan@example.com",
) -> httpx.Response:
    body: dict[str, Any] = {"cart_id": cart_id, "email": email}
    if promo_code is not None:
        body["promo_code"] = promo_code
    return client.post("/api/checkout", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


def stock(client: httpx.Client, sku: str) -> int:
    response = client.get(f"/api/products/{sku}")
    assert response.status_code == 200, response.text
    return int(response.json()["stock"])


def metric_value(client: httpx.Client, name: str, **labels: str) -> float:
    """Read one sample from the app's /metrics (0 when the series does not exist yet)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def query(database_url: str, sql: str) -> list[tuple[str, ...]]:
    """Rows of `sql` straight from the app's database (SQLite file or PostgreSQL), as text."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.split(":///", 1)[1]) as db:
            return [tuple(str(v) for v in row) for row in db.execute(sql).fetchall()]
    import subprocess

    url = database_url.replace("+asyncpg", "")
    output = subprocess.run(
        ["psql", url, "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [tuple(line.split("\t")) for line in output.splitlines() if line]


def payment_violations(database_url: str) -> list[tuple[str, ...]]:
    """Orders whose authorisation is voided, of another amount or currency, or missing from the ledger:
    the invariant "each order's authorised amount equals its total, and its authorisation is not voided"."""
    return query(
        database_url,
        "SELECT o.id, o.total_cents, p.amount_cents, p.state FROM orders o "
        "LEFT JOIN payments p ON p.payment_id = o.payment_id "
        "WHERE p.payment_id IS NULL OR p.state <> 'attached' OR p.amount_cents <> o.total_cents "
        "OR p.currency <> o.currency OR p.order_id <> o.id",
    )
