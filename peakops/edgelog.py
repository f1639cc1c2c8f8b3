"""The edge's JSON access-log schema: one definition for the nginx template and the exporter's parser.

The edge role's ``log_format`` is rendered from `FIELDS` (through the generated
``ansible/roles/edge_cache/vars/main.yml``) and the exporter reads lines by the same names, so a field
renamed here changes both. `journey_of` maps the route templates the edge logs to the journeys the SLOs
are written against. A line looks like::

    {"time":"2026-12-03T19:00:01+01:00","remote_addr":"127.0.0.1","method":"GET","route":"/c/{slug}",
     "status":200,"request_time":0.002,"upstream_time":"0.002","cache":"HIT","bytes":5120}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Field:
    name: str
    nginx: str  # the nginx variable that fills it
    kind: Literal["string", "number"]  # numbers are written unquoted


FIELDS = (
    Field("time", "$time_iso8601", "string"),
    Field("remote_addr", "$remote_addr", "string"),
    Field("method", "$request_method", "string"),
    Field("route", "$edge_route", "string"),  # a route template, never a raw path: bounded labels
    Field("status", "$status", "number"),
    Field("request_time", "$request_time", "number"),
    Field("upstream_time", "$upstream_response_time", "string"),  # "-" or "0.002, 0.004" on retries
    Field("cache", "$upstream_cache_status", "string"),
    Field("bytes", "$body_bytes_sent", "number"),
)

# The fields the exporter needs; a line without them is malformed.
ROUTE, METHOD, STATUS, REQUEST_TIME = "route", "method", "status", "request_time"

# (method, route template) -> journey. Anything else is "other", so the label stays bounded.
JOURNEY_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "landing": (("GET", "/"), ("GET", "/c/{slug}")),
    "catalog": (("GET", "/api/products"), ("GET", "/api/products/{sku}")),
    "cart": (("POST", "/api/carts"), ("POST", "/api/carts/{cart_id}/items"), ("GET", "/api/carts/{cart_id}")),
    "checkout": (("POST", "/api/checkout"),),
    "static": (("GET", "/static/{name}"),),
}
JOURNEYS = (*JOURNEY_ROUTES, "other")
_JOURNEY_OF = {key: journey for journey, keys in JOURNEY_ROUTES.items() for key in keys}
# HEAD is answered like GET by the edge and the app.
_JOURNEY_OF.update(
    {("HEAD", route): j for (method, route), j in _JOURNEY_OF.copy().items() if method == "GET"}
)

CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

# What the edge caches: the routes a spike reads. Each one's cache key is what the route reads: the path,
# plus the query parameters the app declares for it (none, today: UTM parameters and promo codes are
# read by the page's script, never by the server), so a link's tracking parameters, in any order or
# encoding, never split the cache. The declared parameters come from the app's own API document
# (`peakops generate`); the origin still receives the full URL.
CACHED_ROUTES = ("/", "/c/{slug}", "/static/{name}", "/api/products")


def cache_location(template: str, declared: Sequence[str]) -> dict[str, str]:
    """nginx's location and cache key for a cached route template: "/c/{slug}" -> "^~ /c/", and a key of
    the scheme, host and (normalised, decoded) path, then each declared parameter by name, in order."""
    if "{" in template:
        prefix = template.split("{", 1)[0]
        match = f"^~ {prefix}"
    else:
        match = f"= {template}"
    args = "&".join(f"{name}=$arg_{name}" for name in sorted(declared))
    return {"route": template, "match": match, "key": f"$scheme$host$uri?{args}"}


def journey_of(method: str, route: str) -> str:
    return _JOURNEY_OF.get((method, route), "other")


def code_class(status: int) -> str | None:
    """'5xx' for 503; None for a status outside 100-599 (a malformed line)."""
    return f"{status // 100}xx" if 100 <= status <= 599 else None


def ansible_vars(declared: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """What the edge role's template reads: the ``log_format`` fields and, from `declared` (route
    template -> the query parameters the app reads there), each cached route's location and key."""
    return {
        "edge_cache_log_fields": [
            {"name": f.name, "value": f.nginx, "quoted": f.kind == "string"} for f in FIELDS
        ],
        "edge_cache_locations": [cache_location(route, declared.get(route, ())) for route in CACHED_ROUTES],
    }
