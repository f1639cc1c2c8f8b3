"""Visitor journeys through the shop, as FastHttpUser tasks.

A `Visitor` is a slot: it takes the next arrival ticket and plays that visitor's journey, start to end,
with a fresh cookie jar. Journeys:

- influencer visitor: landing with unique UTM parameters and the promo code -> browse -> cart ->
  checkout with an Idempotency-Key, dropping out at each step per the plan's funnel;
- organic visitor: the home page, then the same funnel without a promo code;
- returning customer: straight to a product, cart, checkout;
- abusive client: cache-busting landings and checkout probes with made-up carts and promo codes, no
  think time; 4xx answers are the shop defending itself, only 5xx count against it.

Every request is named by its route template so the statistics aggregate (``/api/carts/{cart_id}``).
"""

from __future__ import annotations

import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import gevent
import orjson
from locust import task
from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager

from loadtests.arrivals import Arrivals, Ticket
from loadtests.collector import CHECKOUT_ROUTE, Collector
from loadtests.model import ABUSIVE, INFLUENCER_PREFIX, ORGANIC, RETURNING, Timeline
from loadtests.verdict import CheckoutBar
from peakops.plan import CampaignPlan, Influencer

ASSET_RE = re.compile(r'(?:src|href)="(/static/[^"]+)"')


@dataclass
class RunContext:
    """What every visitor slot in this process shares."""

    plan: CampaignPlan
    timeline: Timeline
    arrivals: Arrivals
    collector: Collector
    checkout_bar: CheckoutBar | None = None
    options: Any = None  # the locustfile's RunOptions, which the master sends its workers
    think_scale: float = 1.0
    max_slots: int = 5000
    rng: random.Random = field(default_factory=random.Random)
    assets: list[str] = field(default_factory=list)

    def influencer(self, kind: str) -> Influencer:
        slug = kind.removeprefix(INFLUENCER_PREFIX)
        for influencer in self.plan.influencers:
            if influencer.slug == slug:
                return influencer
        return self.rng.choice(self.plan.influencers)  # canned shapes: any of the plan's influencers

    def live_drops(self) -> list[str]:
        now = self.timeline.plan_time(self.arrivals.elapsed())
        return [d.sku for d in self.plan.drops if now is None or d.at <= now]

    def listed_skus(self) -> list[str]:
        return [p.sku for p in self.plan.products if not p.synthetic]


CONTEXT: RunContext | None = None


def journey_of(kind: str) -> str:
    return "influencer" if kind.startswith(INFLUENCER_PREFIX) else kind


def token(rng: random.Random, bits: int = 96) -> str:
    """A unique-enough id for UTM content and idempotency keys, without a system call per id."""
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def context() -> RunContext:
    if CONTEXT is None:
        raise RuntimeError("loadtests: the run context is set up by the locustfile's init event")
    return CONTEXT


class Visitor(FastHttpUser):
    """One visitor slot: plays one arrival's journey after another (see loadtests.arrivals)."""

    # Slots do not wait between journeys: the arrival schedule sets the pace, not the user.
    wait_time = staticmethod(lambda: 0.0)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        # Passed with every request, so the request listener can attribute it to its journey.
        self.request_context: dict[str, str] = {"journey": ""}
        self.rtt_s = 0.0

    @task
    def next_arrival(self) -> None:
        run = context()
        ticket = run.arrivals.take()
        if ticket is None:
            return
        self.client.cookiejar.clear()
        slow = run.rng.random() < run.plan.mix.slow_mobile_share
        self.rtt_s = run.plan.mix.slow_mobile_rtt_ms / 1000 if slow else 0.0
        self.play(run, ticket)

    # ---- plumbing -------------------------------------------------------------------------------

    def call(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        """One request of the current journey; 2xx/3xx and the listed `ok` codes count as success."""
        ok: tuple[int, ...] = kwargs.pop("ok", ())
        body = kwargs.pop("json", None)
        if body is not None:
            # orjson: the stdlib encoder was a visible share of the generator's CPU per request.
            kwargs["data"] = orjson.dumps(body)
            kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
        if self.rtt_s:
            gevent.sleep(self.rtt_s)  # a slow mobile network: latency emulation, not bandwidth
        if not ok and self.request_context["journey"] != ABUSIVE:
            # Locust already counts >= 400 as a failure; the context manager below costs about a tenth
            # of a request's generator CPU, so it is kept for the calls that accept other codes.
            return self.client.request(method, path, name=name, context=self.request_context, **kwargs)
        with self.client.request(
            method, path, name=name, catch_response=True, context=self.request_context, **kwargs
        ) as response:
            assert isinstance(response, ResponseContextManager)
            status = response.status_code
            if status in ok or (status and status < 400):
                response.success()
            elif self.request_context["journey"] == ABUSIVE and status and 400 <= status < 500:
                response.success()  # refused abuse is the shop working
            else:
                response.failure(f"HTTP {status}")
            return response

    def think(self, run: RunContext) -> None:
        if run.think_scale <= 0:
            return
        think = run.plan.think_time
        gevent.sleep(run.rng.uniform(think.min_seconds, think.max_seconds) * run.think_scale)

    def step(self, run: RunContext, name: str, probability: float) -> bool:
        if run.rng.random() >= probability:
            return False
        run.collector.funnel[name] += 1
        return True

    # ---- journeys -------------------------------------------------------------------------------

    def play(self, run: RunContext, ticket: Ticket) -> None:
        self.request_context = {"journey": journey_of(ticket.kind)}
        if ticket.kind == ABUSIVE:
            self.abusive(run)
        elif ticket.kind == RETURNING:
            self.returning(run)
        else:
            self.visit(run, None if ticket.kind == ORGANIC else run.influencer(ticket.kind))

    def visit(self, run: RunContext, influencer: Influencer | None) -> None:
        funnel = run.plan.funnel
        run.collector.funnel["landing"] += 1
        utm = {
            "source": influencer.platform if influencer else "direct",
            "medium": "social" if influencer else "none",
            "campaign": run.plan.name,
            "content": token(run.rng, 48),
        }
        if influencer is not None:
            query = "&".join(f"utm_{k}={v}" for k, v in utm.items()) + f"&promo={influencer.promo_code}"
            page = self.call("GET", f"/c/{influencer.slug}?{query}", "/c/{slug}")
        else:
            page = self.call("GET", "/", "/")
        self.static_assets(run, page)
        self.call(
            "POST",
            "/api/visits",
            "/api/visits",
            ok=(503,),
            json={
                "influencer": influencer.slug if influencer else None,
                "promo_code": influencer.promo_code if influencer else None,
                "utm": utm,
            },
        )
        self.think(run)
        if not self.step(run, "browse", funnel.browse):
            return
        self.call("GET", "/api/products", "/api/products")
        sku = run.rng.choice(run.listed_skus())
        self.call("GET", f"/api/products/{sku}", "/api/products/{sku}")
        self.think(run)
        if not self.step(run, "cart", funnel.cart):
            return
        cart_id = self.fill_cart(run, influencer, utm)
        if cart_id is None:
            return
        self.think(run)
        if not self.step(run, "checkout", funnel.checkout):
            return
        self.checkout(run, cart_id, influencer.promo_code if influencer else None)

    def returning(self, run: RunContext) -> None:
        run.collector.funnel["returning"] += 1
        self.call("GET", "/api/products", "/api/products")
        self.think(run)
        cart_id = self.fill_cart(run, None, None)
        if cart_id is not None and self.step(run, "returning_checkout", run.plan.funnel.checkout):
            self.think(run)
            self.checkout(run, cart_id, None)

    def abusive(self, run: RunContext) -> None:
        for _ in range(5):
            slug = run.rng.choice(run.plan.influencers).slug
            self.call("GET", f"/c/{slug}?utm_campaign={token(run.rng)}&fbclid={token(run.rng)}", "/c/{slug}")
        for code in ("FREE100", "ADMIN", "' OR 1=1 --"):
            self.call(
                "POST",
                CHECKOUT_ROUTE,
                CHECKOUT_ROUTE,
                headers={"Idempotency-Key": token(run.rng, 128)},
                json={
                    "cart_id": str(uuid.UUID(int=run.rng.getrandbits(128), version=4)),
                    "email": "bot@example.com",
                    "promo_code": code,
                },
            )

    def static_assets(self, run: RunContext, page: Any) -> None:
        if not run.assets and page.status_code == 200 and page.text:
            run.assets = sorted(set(ASSET_RE.findall(page.text)))
        if run.assets and run.rng.random() < run.plan.mix.static_share:
            for asset in run.assets:
                self.call("GET", asset, "/static/{name}")

    def fill_cart(
        self, run: RunContext, influencer: Influencer | None, utm: dict[str, str] | None
    ) -> str | None:
        body = {"influencer": influencer.slug if influencer else None, "utm": utm}
        created = self.call("POST", "/api/carts", "/api/carts", json=body)
        if created.status_code != 201:
            return None
        cart_id = str(created.json()["cart_id"])
        drops = run.live_drops()
        share = run.plan.drops[0].share_of_carts if run.plan.drops else 0.0
        sku = (
            run.rng.choice(drops) if drops and run.rng.random() < share else run.rng.choice(run.listed_skus())
        )
        self.call(
            "POST",
            f"/api/carts/{cart_id}/items",
            "/api/carts/{cart_id}/items",
            json={"sku": sku, "quantity": 1},
        )
        return cart_id

    def checkout(self, run: RunContext, cart_id: str, promo_code: str | None) -> None:
        body: dict[str, Any] = {"cart_id": cart_id, "email": f"fan-{token(run.rng, 32)}@example.com"}
        if promo_code:
            body["promo_code"] = promo_code
        response = self.call(
            "POST",
            CHECKOUT_ROUTE,
            CHECKOUT_ROUTE,
            json=body,
            ok=(409,),
            headers={"Idempotency-Key": token(run.rng, 128)},
        )
        status = response.status_code
        if status == 201:
            run.collector.checkout["order"] += 1
            run.collector.orders_by_second[run.arrivals.second_of(time.time())] += 1
        elif status == 409:
            run.collector.checkout["sold_out"] += 1  # the drop is gone: a business outcome, not an error
        else:
            run.collector.checkout["failed"] += 1  # a valid checkout refused or broken
