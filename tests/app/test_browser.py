"""The landing page's front end in real headless Chromium (Debian's build, driven by Playwright):
landing with UTM parameters -> add to cart -> checkout with the influencer's promo code."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import ADMIN_TOKEN, StartApp
from tests.support.procs import AppProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(start_app: StartApp, tmp_path: Path) -> AppProcess:
    return start_app(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")


def test_landing_to_order_in_a_real_browser(browser: Browser, shop: AppProcess, tmp_path: Path) -> None:
    page = browser.new_page()
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{shop.url}/c/lena-glow?utm_source=instagram&utm_medium=story&utm_campaign=drop-42")

    assert page.locator("h1").inner_text() == "Lena Glow's picks"
    page.locator('.product[data-sku="TEE"] [data-stock]').filter(has_text="left").wait_for()
    page.click('button[data-add="TEE"]')
    page.locator("#cart-items li").filter(has_text="1 x TEE").wait_for()
    page.click('button[data-add="MUG"]')
    page.locator("#cart-items li").filter(has_text="1 x MUG").wait_for()
    assert page.locator("#cart-subtotal").inner_text() == "37.50"
    assert page.input_value("#promo") == "LENA15"  # prefilled from the influencer's link

    page.fill("#email", "fan@example.com")
    page.click("#checkout")
    message = page.locator("#message")
    message.filter(has_text="placed").wait_for()
    assert "31.88 EUR" in message.inner_text()  # 37.50 x 0.85, rounded half up
    page.screenshot(path=str(tmp_path / "order-placed.png"))
    assert failed == []
    assert console_errors == []

    order_id = message.inner_text().split()[1]
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        order = client.get(f"/api/orders/{order_id}").json()
        assert order["promo_code"] == "LENA15"
        assert order["influencer"] == "lena-glow"
        report = client.get("/api/attribution", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    lena = next(row for row in report["influencers"] if row["slug"] == "lena-glow")
    assert lena["visits"] == 1  # the page's beacon
    assert lena["carts"] == 1
    assert lena["orders"] == 1
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert "drop-42" in cookies["peakops_attr"]  # UTM kept first-party, not baked into the page
