"""Fault injection and load shedding on a real app process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from app.faults import FaultRegistry, FaultSpec
from tests.app.helpers import checkout, metric_value, new_cart, payment_violations, query
from tests.conftest import StartApp
from tests.support.procs import AppProcess


@pytest.fixture
def client(start_app: StartApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('faults') / 'shop.db'}"
    app: AppProcess = start_app(url, PEAKOPS_SHED_INFLIGHT_THRESHOLD="8")
    with httpx.Client(base_url=app.url, timeout=10) as c:
        yield c


def test_fault_api_needs_the_admin_token(client: httpx.Client) -> None:
    assert client.post("/api/admin/faults", json={"error_ratio": 1}).status_code == 401
    assert client.get("/api/admin/faults").status_code == 401


def test_error_fault_on_one_route_spares_the_rest_and_the_probes(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    rule = client.post(
        "/api/admin/faults",
        headers=admin_headers,
        json={"route": "/api/products", "error_ratio": 1.0, "ttl_seconds": 60},
    )
    assert rule.status_code == 201
    assert client.get("/api/products").status_code == 500
    assert client.get("/api/products/TEE").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert metric_value(client, "peakops_faults_active") == 1
    assert client.delete("/api/admin/faults", headers=admin_headers).json() == {"cleared": 1}
    assert client.get("/api/products").status_code == 200


def test_global_latency_fault_and_its_expiry(client: httpx.Client, admin_headers: dict[str, str]) -> None:
    client.post("/api/admin/faults", headers=admin_headers, json={"latency_ms": 300, "ttl_seconds": 1.5})
    start = time.perf_counter()
    assert client.get("/api/products").status_code == 200
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    client.get("/healthz")
    assert time.perf_counter() - start < 0.3  # probes are never slowed
    time.sleep(1.6)
    assert client.get("/api/admin/faults", headers=admin_headers).json() == {"faults": []}
    start = time.perf_counter()
    client.get("/api/products")
    assert time.perf_counter() - start < 0.3


def test_invalid_fault_spec_is_422(client: httpx.Client, admin_headers: dict[str, str]) -> None:
    bad = client.post("/api/admin/faults", headers=admin_headers, json={"error_ratio": 1.5})
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "body.error_ratio"


def test_overload_sheds_recommendations_before_checkout(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    # Hold 20 slow requests in flight (threshold 8), then ask for a recommendation and a checkout.
    client.post(
        "/api/admin/faults",
        headers=admin_headers,
        json={"route": "/api/products/{sku}", "latency_ms": 1500, "ttl_seconds": 30},
    )
    cart_id = new_cart(client, {"TEE": 1})
    base_url = str(client.base_url)

    async def scenario() -> tuple[int, int, int]:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=10, limits=httpx.Limits(max_connections=64)
        ) as ac:
            slow = [asyncio.create_task(ac.get("/api/products/TEE")) for _ in range(20)]
            await asyncio.sleep(0.5)
            shed = await ac.get("/api/recommendations")
            visit = await ac.post("/api/visits", json={"influencer": "lena-glow"})
            order = await ac.post(
                "/api/checkout",
                json={"cart_id": cart_id, "email": "a@example.com"},
                headers={"Idempotency-Key": "shed-test-0001"},
            )
            await asyncio.gather(*slow)
            return shed.status_code, visit.status_code, order.status_code

    shed, visit, order = asyncio.run(scenario())
    assert (shed, visit, order) == (503, 503, 201)
    assert metric_value(client, "peakops_load_shed_total", route="/api/recommendations") == 1
    # Load gone: recommendations are served again.
    assert client.get("/api/recommendations").status_code == 200
    assert checkout(client, new_cart(client, {"TEE": 1})).status_code == 201


def test_registry_unit_behaviour() -> None:
    faults = FaultRegistry()
    assert faults.effect_for("/api/checkout") is None
    faults.add(FaultSpec(route="/api/checkout", latency_ms=100, error_ratio=1.0))
    effect = faults.effect_for("/api/checkout")
    assert effect is not None
    assert effect.error
    assert effect.latency_s == pytest.approx(0.1)
    other = faults.effect_for("/api/products")
    assert other is not None
    assert not other.error
    assert faults.effect_for("/readyz") is None


def test_business_outcomes_separate_customer_mistakes_from_shop_failures(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """The SLIs' raw material: unknown codes and declined cards are the customer's, the rest the shop's."""
    promo = "LENA15"  # from tests/app/catalog.yaml
    assert checkout(client, new_cart(client, {"TEE": 1}), promo_code=promo).status_code == 201
    assert checkout(client, new_cart(client, {"TEE": 1}), promo_code="NOSUCHCODE").status_code == 422
    client.post(
        "/api/admin/faults", headers=admin_headers, json={"promo_failure_ratio": 1.0, "ttl_seconds": 60}
    )
    refused = checkout(client, new_cart(client, {"TEE": 1}), promo_code=promo)
    assert refused.status_code == 503, refused.text
    assert checkout(client, new_cart(client, {"TEE": 1})).status_code == 201  # no code: not affected
    client.delete("/api/admin/faults", headers=admin_headers)
    assert metric_value(client, "peakops_promo_checks_total", result="accepted") == 1
    assert metric_value(client, "peakops_promo_checks_total", result="unknown") == 1
    assert metric_value(client, "peakops_promo_checks_total", result="error") == 1
    assert metric_value(client, "peakops_checkouts_total", outcome="error") == 1

    client.post(
        "/api/admin/faults", headers=admin_headers, json={"payment_failure_ratio": 1.0, "ttl_seconds": 60}
    )
    assert checkout(client, new_cart(client, {"TEE": 1})).status_code == 503
    client.delete("/api/admin/faults", headers=admin_headers)
    assert metric_value(client, "peakops_payment_authorizations_total", result="approved") == 2
    failed = metric_value(client, "peakops_payment_authorizations_total", result="failed")
    fast = metric_value(client, "peakops_payment_authorizations_total", result="circuit_open")
    assert failed + fast == 1


@pytest.mark.timeout(180)
def test_payment_faults_under_a_drop_never_leave_an_order_on_a_wrong_authorisation(
    start_app: StartApp, database_url: str, admin_headers: dict[str, str]
) -> None:
    """Shoppers race for a 50-unit drop while a third of provider calls fail; each retries its checkout
    with the same key, some after changing their cart (so the key is reused for another request).
    Whatever happens: no oversell, and every order holds an open authorisation of exactly its total."""
    app = start_app(database_url, PEAKOPS_PAYMENT_BACKOFF_SECONDS="0.001", PEAKOPS_PAYMENT_MAX_ATTEMPTS="1")
    with httpx.Client(base_url=app.url, timeout=30) as client:
        fault = {"payment_failure_ratio": 0.33, "ttl_seconds": 120}
        assert client.post("/api/admin/faults", json=fault, headers=admin_headers).status_code == 201
        carts = [new_cart(client, {"LIMITED-50": 1}) for _ in range(120)]
        others = [new_cart(client, {"TEE": 1}) for _ in range(20)]

    async def shopper(http: httpx.AsyncClient, index: int, cart: str) -> list[int]:
        key = f"drop-{index}"
        codes = []
        for attempt in range(4):
            # Every sixth shopper, after a first failure, sends the key again with another cart.
            target = others[index % 20] if index % 6 == 0 and attempt == 1 else cart
            answer = await http.post(
                "/api/checkout",
                json={"cart_id": target, "email": f"fan{index}@example.com"},
                headers={"Idempotency-Key": key},
            )
            codes.append(answer.status_code)
            if answer.status_code in (201, 409):
                break
        return codes

    async def race() -> list[list[int]]:
        limits = httpx.Limits(max_connections=120)
        async with httpx.AsyncClient(base_url=app.url, timeout=60, limits=limits) as http:
            return await asyncio.gather(*(shopper(http, i, c) for i, c in enumerate(carts)))

    results = asyncio.run(race())
    codes = [code for result in results for code in result]
    assert set(codes) <= {201, 409, 422, 503}, sorted(set(codes))
    assert 422 in codes  # the reused keys were refused, not turned into orders
    orders = query(database_url, "SELECT count(*) FROM order_items WHERE sku = 'LIMITED-50'")[0][0]
    assert int(orders) <= 50
    assert payment_violations(database_url) == []
