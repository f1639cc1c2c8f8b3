"""Never oversell, never order twice: real concurrent HTTP checkouts against one app process."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence

import httpx
import pytest

from tests.app.helpers import new_cart, payment_violations, query
from tests.support.procs import AppProcess

SHOPPERS = 500
LIMITED_STOCK = 50


async def _fire(
    app: AppProcess, requests: Sequence[tuple[Mapping[str, object], str]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=app.url, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(body: Mapping[str, object], key: str) -> httpx.Response:
            await start.wait()  # release every request at once
            return await client.post("/api/checkout", json=body, headers={"Idempotency-Key": key})

        tasks = [asyncio.create_task(one(body, key)) for body, key in requests]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


@pytest.mark.timeout(180)
def test_limited_drop_sells_exactly_its_stock(app: AppProcess, database_url: str) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        carts = [new_cart(client, {"LIMITED-50": 1}) for _ in range(SHOPPERS)]
    requests = [
        ({"cart_id": c, "email": f"fan{i}@example.com"}, str(uuid.uuid4())) for i, c in enumerate(carts)
    ]
    responses = asyncio.run(_fire(app, requests))

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: LIMITED_STOCK, 409: SHOPPERS - LIMITED_STOCK}, codes
    order_ids = {r.json()["order_id"] for r in responses if r.status_code == 201}
    assert len(order_ids) == LIMITED_STOCK
    with httpx.Client(base_url=app.url, timeout=30) as client:
        assert client.get("/api/products/LIMITED-50").json()["stock"] == 0
        for order_id in order_ids:
            assert client.get(f"/api/orders/{order_id}").status_code == 200
    # Each order holds an open authorisation of its amount; each refused shopper's was voided.
    assert payment_violations(database_url) == []
    states = query(database_url, "SELECT state, count(*) FROM payments GROUP BY state ORDER BY state")
    assert states == [("attached", str(LIMITED_STOCK)), ("voided", str(SHOPPERS - LIMITED_STOCK))]


@pytest.mark.timeout(120)
def test_concurrent_retries_with_one_key_make_one_order(app: AppProcess, database_url: str) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        cart_id = new_cart(client, {"TEE": 1})
        stock_before = client.get("/api/products/TEE").json()["stock"]
    key = f"retry-{uuid.uuid4()}"
    responses = asyncio.run(_fire(app, [({"cart_id": cart_id, "email": "fan@example.com"}, key)] * 20))

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    with httpx.Client(base_url=app.url, timeout=30) as client:
        assert client.get("/api/products/TEE").json()["stock"] == stock_before - 1
    assert payment_violations(database_url) == []
    assert query(database_url, "SELECT count(*) FROM payments") == [("1",)]  # authorised once
