"""The shop API on a real app process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.app.helpers import checkout, metric_value, new_cart, payment_violations, query, stock
from tests.conftest import StartApp
from tests.support.procs import AppProcess


@pytest.fixture
def client(app: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=10) as c:
        yield c


def test_products_list_hides_synthetic_and_includes_stock(client: httpx.Client) -> None:
    products = client.get("/api/products").json()["products"]
    skus = {p["sku"] for p in products}
    assert {"TEE", "MUG", "LIMITED-50"} <= skus
    assert "SYNTHETIC-PROBE" not in skus
    tee = next(p for p in products if p["sku"] == "TEE")
    assert tee == {
        "sku": "TEE",
        "name": "Campaign tee",
        "price": "25.00",
        "currency": "EUR",
        "stock": 100000,
        "in_stock": True,
    }
    assert client.get("/api/products/LIMITED-50").json()["stock"] == 50
    assert client.get("/api/products/NOPE").status_code == 404


def test_cart_lifecycle(client: httpx.Client) -> None:
    cart_id = new_cart(client, {"TEE": 2}, influencer="lena-glow", utm={"source": "instagram"})
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "TEE", "quantity": 1})
    cart = client.get(f"/api/carts/{cart_id}").json()
    assert cart["items"] == [{"sku": "TEE", "quantity": 3, "unit_price": "25.00", "currency": "EUR"}]
    assert cart["subtotal"] == "75.00"
    assert cart["influencer"] == "lena-glow"
    assert (
        client.post(f"/api/carts/{cart_id}/items", json={"sku": "bad sku!", "quantity": 1}).status_code == 422
    )
    unknown = client.post(f"/api/carts/{cart_id}/items", json={"sku": "NOPE", "quantity": 1})
    assert unknown.status_code == 422  # the body names no product; the cart (the target) exists
    assert unknown.json()["problems"] == [{"field": "body.sku", "problem": "no such product"}]
    assert client.post(f"/api/carts/{cart_id}/items", json={"sku": "TEE", "quantity": 0}).status_code == 422
    assert client.get(f"/api/carts/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/carts/not-a-uuid").status_code == 422


def test_cart_attribution_falls_back_to_the_landing_cookie(client: httpx.Client) -> None:
    cookie = '{"influencer": "marco-fit", "utm": {"source": "tiktok", "campaign": "c-1"}}'
    client.cookies.set("peakops_attr", urllib.parse.quote(cookie))
    cart_id = client.post("/api/carts").json()["cart_id"]
    assert client.get(f"/api/carts/{cart_id}").json()["influencer"] == "marco-fit"
    client.cookies.set("peakops_attr", "%7Bnot json")
    broken = client.post("/api/carts")
    assert broken.status_code == 201  # a malformed cookie never blocks a purchase
    assert client.get(f"/api/carts/{broken.json()['cart_id']}").json()["influencer"] is None


def test_checkout_creates_order_with_promo_discount(client: httpx.Client) -> None:
    cart_id = new_cart(client, {"TEE": 2, "MUG": 1})
    before = stock(client, "TEE")
    response = checkout(client, cart_id, promo_code="lena15")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["currency"] == "EUR"
    assert body["total"] == "53.13"  # (2 x 25.00 + 12.50) x 0.85 = 53.125, rounded half up
    assert stock(client, "TEE") == before - 2
    order = client.get(f"/api/orders/{body['order_id']}").json()
    assert order["influencer"] == "lena-glow"
    assert order["promo_code"] == "LENA15"
    assert [i["sku"] for i in order["items"]] == ["MUG", "TEE"]
    # The cart is closed: a second checkout of it with a new key is refused, not a second order.
    assert checkout(client, cart_id).status_code == 409


def test_same_idempotency_key_returns_the_same_order(client: httpx.Client) -> None:
    cart_id = new_cart(client, {"TEE": 1})
    first = checkout(client, cart_id, key="retry-key-0001")
    again = checkout(client, cart_id, key="retry-key-0001")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other_cart = new_cart(client, {"TEE": 1})
    reused = checkout(client, other_cart, key="retry-key-0001")
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["error"]


def test_a_key_stays_bound_to_its_request_after_a_failed_attempt(
    client: httpx.Client, database_url: str
) -> None:
    """The reported case: key K on cart A fails (409, stock too low, authorisation voided); K on cart B
    (another amount) must not become an order carrying A's voided authorisation."""
    cart_a = new_cart(client, {"LAST-ONE": 2})
    first = checkout(client, cart_a, key="key-k-0001")
    assert first.status_code == 409
    cart_b = new_cart(client, {"TEE": 1})
    second = checkout(client, cart_b, key="key-k-0001")
    assert second.status_code == 422
    assert "Idempotency-Key" in second.json()["error"]
    assert query(database_url, "SELECT state FROM payments") == [("voided",)]
    # The same request again is a new attempt with its own authorisation, never the voided one.
    assert checkout(client, cart_a, key="key-k-0001").status_code == 409
    assert query(database_url, "SELECT count(DISTINCT payment_id), min(state), max(state) FROM payments") == [
        ("2", "voided", "voided")
    ]
    assert checkout(client, cart_b, key="key-k-0002").status_code == 201
    assert payment_violations(database_url) == []


def test_out_of_stock_is_409_with_no_order_and_no_stock_change(client: httpx.Client) -> None:
    cart_id = new_cart(client, {"LAST-ONE": 1, "TEE": 1})
    greedy = new_cart(client, {"LAST-ONE": 2, "TEE": 1})
    tee_before = stock(client, "TEE")
    refused = checkout(client, greedy)
    assert refused.status_code == 409
    assert refused.json()["sku"] == "LAST-ONE"
    assert stock(client, "LAST-ONE") == 1
    assert stock(client, "TEE") == tee_before  # the in-stock line was rolled back too
    assert client.get(f"/api/carts/{greedy}").json()["checked_out"] is False
    assert checkout(client, cart_id).status_code == 201
    assert stock(client, "LAST-ONE") == 0
    assert client.get("/api/products/LAST-ONE").json()["in_stock"] is False
    assert metric_value(client, "peakops_stockouts_total", sku="LAST-ONE") == 1


def test_unknown_promo_is_422_customer_mistake(client: httpx.Client) -> None:
    cart_id = new_cart(client, {"TEE": 1})
    tee_before = stock(client, "TEE")
    response = checkout(client, cart_id, promo_code="NOSUCHCODE")
    assert response.status_code == 422
    assert "NOSUCHCODE" in response.json()["error"]
    assert stock(client, "TEE") == tee_before
    assert metric_value(client, "peakops_checkouts_total", outcome="invalid_promo") == 1
    assert checkout(client, cart_id, promo_code="MARCO10").status_code == 201


def test_checkout_refusals(client: httpx.Client) -> None:
    empty = new_cart(client, {})
    assert checkout(client, empty).status_code == 422
    mixed = new_cart(client, {"TEE": 1, "USD-CAP": 1})
    assert "currencies" in checkout(client, mixed).json()["error"]
    cart_id = new_cart(client, {"TEE": 1})
    no_key = client.post("/api/checkout", json={"cart_id": cart_id, "email": "a@example.com"})
    assert no_key.status_code == 422
    assert any(p["field"] == "header.Idempotency-Key" for p in no_key.json()["problems"])
    bad_email = checkout(client, cart_id, email="not-an-email")
    assert bad_email.status_code == 422
    assert checkout(client, str(uuid.uuid4())).status_code == 404
    declined = checkout(client, cart_id, email="someone@decline.test")
    assert declined.status_code == 402
    assert stock(client, "TEE") == 100000  # nothing was taken by the refusals


def test_landing_pages_are_cacheable_and_carry_no_visitor_data(client: httpx.Client) -> None:
    page = client.get("/c/lena-glow?utm_source=ig&utm_campaign=unique-123&promo=LENA15")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    cache_control = page.headers["cache-control"]
    assert cache_control.startswith("public, max-age=")
    assert "stale-while-revalidate=" in cache_control
    assert "set-cookie" not in page.headers
    assert "Lena Glow" in page.text
    assert "LENA15" in page.text
    assert "unique-123" not in page.text
    other = client.get("/c/lena-glow?utm_source=tiktok&utm_campaign=other-456")
    assert other.content == page.content  # one cached copy serves every visitor of the link
    assert client.get("/").status_code == 200
    missing = client.get("/c/nobody")
    assert missing.status_code == 404
    assert "does not exist" in missing.text


def test_static_assets_have_hashed_names_and_are_immutable(client: httpx.Client) -> None:
    page = client.get("/c/lena-glow").text
    scripts = re.findall(r'src="(/static/app\.[0-9a-f]{12}\.js)"', page)
    assert len(scripts) == 1
    asset = client.get(scripts[0])
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["content-type"]
    assert client.get(scripts[0], headers={"If-None-Match": asset.headers["etag"]}).status_code == 304
    assert client.get("/static/app.js").status_code == 404


def test_visits_and_attribution_per_influencer(client: httpx.Client, admin_headers: dict[str, str]) -> None:
    for campaign in ("a", "b", "c"):
        beacon = client.post("/api/visits", json={"influencer": "lena-glow", "utm": {"campaign": campaign}})
        assert beacon.status_code == 202
    client.post("/api/visits", json={"influencer": "marco-fit"})
    lena_cart = new_cart(client, {"TEE": 1}, influencer="lena-glow")
    assert checkout(client, lena_cart, promo_code="LENA15").status_code == 201
    synthetic = new_cart(client, {"SYNTHETIC-PROBE": 1}, influencer="lena-glow")
    assert checkout(client, synthetic).status_code == 201

    assert client.get("/api/attribution").status_code == 401
    assert client.get("/api/attribution", headers={"Authorization": "Bearer wrong"}).status_code == 401
    report = client.get("/api/attribution", headers=admin_headers).json()
    lena = next(row for row in report["influencers"] if row["slug"] == "lena-glow")
    marco = next(row for row in report["influencers"] if row["slug"] == "marco-fit")
    assert (lena["visits"], lena["carts"], lena["orders"]) == (3, 2, 1)  # synthetic order excluded
    assert lena["revenue"] == {"EUR": "21.25"}
    assert marco["visits"] == 1


def test_probes_metrics_and_openapi(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"status": "ready", "database": "reachable"}
    spec = client.get("/openapi.json").json()
    assert "/api/checkout" in spec["paths"]
    client.get(f"/api/carts/{uuid.uuid4()}")
    client.get("/no/such/route/12345")
    text = client.get("/metrics").text
    assert 'route="/api/carts/{cart_id}"' in text
    assert 'route="<unmatched>"' in text
    assert "/no/such/route" not in text  # raw paths never become label values
    assert metric_value(client, "peakops_http_requests_total", route="/healthz", code="200") >= 1


def test_admin_api_is_off_without_a_token(start_app: StartApp, database_url: str) -> None:
    app = start_app(database_url, PEAKOPS_ADMIN_TOKEN="", PEAKOPS_WEBHOOK_SECRETS="{}")
    with httpx.Client(base_url=app.url, timeout=10) as c:
        assert c.get("/api/attribution", headers={"Authorization": "Bearer x"}).status_code == 404
        assert c.post("/api/admin/faults", json={}).status_code == 404
        assert c.post("/api/webhooks/instagram", content=b"{}").status_code == 404


def test_forged_beacons_never_break_attribution(client: httpx.Client, admin_headers: dict[str, str]) -> None:
    """Found by schemathesis on PostgreSQL: a beacon naming a 100-character influencer was buffered,
    then refused by the 64-character column at the next flush, which attribution ran: a 500."""
    for body in (
        {"influencer": "x" * 100},
        {"influencer": "lena-glow", "promo_code": "ß" * 40},  # upper-cased to 80 characters, cut to 32
        {"utm": {"source": "s" * 200, "campaign": "c" * 200}},
    ):
        assert client.post("/api/visits", json=body).status_code == 202
    report = client.get("/api/attribution", headers=admin_headers)
    assert report.status_code == 200, report.text
    rows = {row["slug"]: row for row in report.json()["influencers"]}
    assert rows["lena-glow"]["visits"] == 1
    assert report.json()["unattributed"]["visits"] == 2  # the made-up slug is not a row of its own


@pytest.mark.postgres
def test_a_database_restart_answers_503_with_retry_after_and_the_app_recovers(
    start_app: StartApp,
) -> None:
    """The rehearsal's database_restart, on one instance: while PostgreSQL is down every route that
    needs it says 503 "database unavailable" with Retry-After (a retryable answer, never a 500); the
    instance stays ready (the database is shared: failing readiness would empty the balancer) and says
    the database is unreachable; once it is back, the pool's dead connections are replaced and the
    retried checkout (same Idempotency-Key) completes once."""
    from tests.support.procs import run_postgres

    with run_postgres(max_connections=50) as server:
        database = server.create_database()
        app = start_app(server.url(database))
        with httpx.Client(base_url=app.url, timeout=10) as client:
            cart_id = new_cart(client, {"TEE": 1})
            # Warm the pool: its connections are the ones the restart kills.
            assert all(client.get("/api/products").status_code == 200 for _ in range(5))
            server.stop()
            key = str(uuid.uuid4())
            answers = [
                client.get("/api/products"),
                client.get(f"/api/carts/{cart_id}"),
                checkout(client, cart_id, key=key),
            ]
            for answer in answers:
                assert answer.status_code == 503, (answer.request.url, answer.text)
                assert answer.json()["error"] == "database unavailable"
                assert answer.headers["Retry-After"] == "1"
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "unreachable"})

            server.start()
            assert client.get("/readyz").json()["database"] == "reachable"
            assert client.get("/api/products").status_code == 200
            placed = checkout(client, cart_id, key=key)
            assert placed.status_code == 201, placed.text
            again = checkout(client, cart_id, key=key)
            assert again.json()["order_id"] == placed.json()["order_id"]
            assert int(server.psql("SELECT count(*) FROM orders", database=database)) == 1
            assert payment_violations(server.url(database)) == []
        assert "Traceback" not in app.log()
