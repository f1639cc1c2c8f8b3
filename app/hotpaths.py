"""The spike's hottest requests, answered before the framework's routing.

`GET /`, `GET /c/{slug}` and `GET /api/products` take no input but the path, and their answers are
bytes rendered once per catalog snapshot. Routing and validating them through FastAPI costs several
times the work of the answer itself, so this middleware serves them directly. The FastAPI routes of the
same templates stay: they document the API, and they answer whenever this path steps aside (a fault rule
is active, an unknown slug, any other method), so behaviour is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from app.pages import CatalogViews, Headers
from app.runtime import Runtime

LANDING_PREFIX = "/c/"


@dataclass(frozen=True)
class MatchedTemplate:
    path: str


class HotPaths:
    def __init__(self, app: ASGIApp, runtime: Runtime, views: CatalogViews) -> None:
        self.app = app
        self.runtime = runtime
        self.views = views
        # What the router would have put in scope["route"]: the metrics middleware reads its `path`,
        # so these requests are labelled exactly as if the router had matched them.
        self.route_home = MatchedTemplate("/")
        self.route_landing = MatchedTemplate("/c/{slug}")
        self.route_products = MatchedTemplate("/api/products")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.runtime.faults.rules:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        answer: tuple[bytes, Headers] | None = None
        shop = self.runtime.shop
        if path.startswith(LANDING_PREFIX):
            snap = shop.fresh_snapshot() or await shop.snapshot()
            influencer = snap.influencers.get(path[len(LANDING_PREFIX) :])
            if influencer is not None:
                answer = self.views.landing(snap, influencer)
                scope["route"] = self.route_landing
        elif path == "/api/products":
            answer = self.views.products(shop.fresh_snapshot() or await shop.snapshot())
            scope["route"] = self.route_products
        elif path == "/":
            answer = self.views.landing(shop.fresh_snapshot() or await shop.snapshot(), None)
            scope["route"] = self.route_home
        if answer is None:
            await self.app(scope, receive, send)
            return
        body, headers = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
