"""What each route answers, for /openapi.json: the body of every status code it can return.

The handlers build their JSON themselves (orjson, pre-encoded pages) and return it directly, so these
models document rather than serialise; schemathesis checks, in `make test`, that every answer the app
gives conforms to them (tests/app/test_fuzz.py). Amounts are decimal strings ("29.90"), never floats.

    documented({200: ProductOut, 404: ERROR})  ->  a route decorator's status_code, response_model and
                                                  responses= (every status the route can return)
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.faults import FaultRule

Money = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="a decimal amount in the currency's major unit")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Out):
    field: str
    problem: str


class ErrorOut(_Out):
    """Every refusal: a message for the client, plus the fields a client can act on."""

    error: str
    problems: list[Problem] | None = Field(default=None, description="422: each invalid field")
    sku: str | None = Field(default=None, description="409 out of stock: the product that ran out")


class HealthOut(_Out):
    status: Literal["ok"]
    uptime_seconds: float


class ReadyOut(_Out):
    status: Literal["ready"]
    database: Literal["reachable", "unreachable"]


class ProductOut(_Out):
    sku: str
    name: str
    price: str = Money
    currency: str
    stock: int
    in_stock: bool


class ProductsOut(_Out):
    products: list[ProductOut]


class VisitOut(_Out):
    status: Literal["recorded"]


class CartCreatedOut(_Out):
    cart_id: uuid.UUID


class CartLineOut(_Out):
    sku: str
    quantity: int
    unit_price: str = Money
    currency: str


class CartOut(_Out):
    cart_id: uuid.UUID
    checked_out: bool
    influencer: str | None
    items: list[CartLineOut]
    subtotal: str = Money
    currency: str | None = Field(description="null while the cart is empty or mixes currencies")


class OrderCreatedOut(_Out):
    order_id: uuid.UUID
    total: str = Money
    currency: str


class OrderLineOut(_Out):
    sku: str
    quantity: int
    unit_price: str = Money


class OrderOut(_Out):
    order_id: uuid.UUID
    total: str = Money
    currency: str
    promo_code: str | None
    influencer: str | None
    items: list[OrderLineOut]
    created_at: str = Field(description="ISO 8601, UTC")


class AttributionRow(_Out):
    slug: str | None
    name: str | None
    visits: int
    carts: int
    orders: int
    revenue: dict[str, str] = Field(description="currency -> decimal amount")


class AttributionOut(_Out):
    influencers: list[AttributionRow]
    unattributed: AttributionRow


class FaultsOut(_Out):
    faults: list[FaultRule]


class ClearedOut(_Out):
    cleared: int


class WebhookOut(_Out):
    status: Literal["accepted", "duplicate"]
    id: str


# Why each refusal happens, route by route, in the documents' words.
ERROR = ErrorOut
HTML = "text/html"
REASONS = {
    304: "Not modified: the client's ETag is current",
    400: "The body is not parseable (not JSON, or not the declared content type)",
    401: "Missing or wrong credentials",
    402: "The card was declined: the customer's, never retried",
    404: "Not found",
    409: "Conflicts with the current state (out of stock, cart closed, a concurrent retry)",
    422: "Invalid input; `problems` names each field",
    503: "Unavailable for now; retry after `Retry-After` seconds",
}


def documented(codes: dict[int, type[BaseModel] | str | None], page: bool = False) -> dict[str, Any]:
    """Keyword arguments for a route decorator: the lowest 2xx is the success and its model the
    response_model; every other status goes to responses=. A model documents a JSON body, HTML an HTML
    page, None no body (304). On a `page` (an HTML route) JSON bodies are spelled out as JSON: FastAPI
    would file a model under the route's own media type."""
    success = min(code for code in codes if code < 300)
    responses: dict[int | str, dict[str, Any]] = {}
    for code, body in codes.items():
        if code == success:
            continue
        entry: dict[str, Any] = {"description": REASONS.get(code, "")}
        if body is HTML:
            entry["content"] = {HTML: {"schema": {"type": "string"}}}
        elif isinstance(body, type) and page:
            # The schema is in components already: every JSON route documents the same models.
            ref = {"$ref": f"#/components/schemas/{body.__name__}"}
            entry["content"] = {"application/json": {"schema": ref}}
        elif isinstance(body, type):
            entry["model"] = body
        responses[code] = entry
    answer = codes[success]
    kwargs: dict[str, Any] = {"status_code": success, "responses": responses}
    if isinstance(answer, type):
        kwargs["response_model"] = answer
    return kwargs
