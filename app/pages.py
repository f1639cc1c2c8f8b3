"""What the spike reads most, rendered once per catalog snapshot: the landing pages and the product list.

A landing page carries nothing visitor-specific: UTM parameters and the visitor's promo code are read by
the page's script and sent to /api/visits, so one copy, cached by the edge, serves every visitor of a link.
"""

from __future__ import annotations

import pathlib

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.assets import AssetManifest
from app.settings import Settings
from app.shop import CatalogSnapshot, Influencer

TEMPLATES_DIR = pathlib.Path(__file__).parent / "templates"
HTML = b"text/html; charset=utf-8"
JSON = b"application/json"

Headers = list[tuple[bytes, bytes]]


def _headers(content_type: bytes, body: bytes, cache_control: str) -> Headers:
    return [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache_control.encode()),
    ]


class CatalogViews:
    def __init__(self, settings: Settings, assets: AssetManifest) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]), auto_reload=False
        )
        self.env.globals["asset"] = assets.url
        self.landing_cache_control = (
            f"public, max-age={settings.landing_max_age}, "
            f"stale-while-revalidate={settings.landing_stale_while_revalidate}, "
            f"stale-if-error={settings.landing_stale_if_error}"
        )
        # Stock changes by the second during a drop: an edge may hold the list for one second at most.
        self.products_cache_control = "public, max-age=1, stale-while-revalidate=5"
        self._landing: dict[str | None, tuple[CatalogSnapshot, bytes, Headers]] = {}
        self._products: tuple[CatalogSnapshot | None, bytes, Headers] = (None, b"", [])
        not_found = self.env.get_template("404.html").render().encode()
        self.not_found = (not_found, _headers(HTML, not_found, "public, max-age=10"))

    def landing(self, snap: CatalogSnapshot, influencer: Influencer | None) -> tuple[bytes, Headers]:
        key = influencer.slug if influencer else None
        cached = self._landing.get(key)
        if cached is None or cached[0] is not snap:
            template = self.env.get_template("landing.html")
            body = template.render(influencer=influencer, products=snap.listed()).encode()
            cached = (snap, body, _headers(HTML, body, self.landing_cache_control))
            self._landing[key] = cached
        return cached[1], cached[2]

    def products(self, snap: CatalogSnapshot) -> tuple[bytes, Headers]:
        if self._products[0] is not snap:
            body = orjson.dumps({"products": [p.public() for p in snap.listed()]})
            self._products = (snap, body, _headers(JSON, body, self.products_cache_control))
        return self._products[1], self._products[2]
