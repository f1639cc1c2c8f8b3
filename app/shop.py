"""The shop's behaviour, independent of HTTP: catalog snapshot, carts, checkout, orders, visits,
attribution and webhook events.

The checkout guarantee, argued once here: stock only changes inside the transaction that inserts the
order, through ``UPDATE products SET stock = stock - q WHERE sku = ? AND stock >= q``. The database
evaluates that condition under the row lock (PostgreSQL) or the single writer lock (SQLite), so two
checkouts can never both take the last unit, and the CHECK constraint would refuse it if they tried.
Any refusal rolls the whole transaction back: no order, no stock change.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import db as schema
from app.catalog import CatalogSeed
from app.db import Database
from app.metrics import AppMetrics, CheckoutOutcome
from app.payments import PaymentDeclined, PaymentUnavailable, ResilientPayments

MAX_QUANTITY = 100


class ShopError(Exception):
    """A refusal with an HTTP status and a message meant for the client."""

    status = 400
    outcome: CheckoutOutcome | None = None

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(ShopError):
    status = 404


class Conflict(ShopError):
    status = 409


class OutOfStock(Conflict):
    outcome = CheckoutOutcome.OUT_OF_STOCK


class CartClosed(Conflict):
    outcome = CheckoutOutcome.INVALID_CART


class Unprocessable(ShopError):
    status = 422


class InvalidPromo(Unprocessable):
    outcome = CheckoutOutcome.INVALID_PROMO


class InvalidCart(Unprocessable):
    outcome = CheckoutOutcome.INVALID_CART


class IdempotencyMismatch(Unprocessable):
    outcome = CheckoutOutcome.INVALID_CART


class Declined(ShopError):
    status = 402
    outcome = CheckoutOutcome.PAYMENT_DECLINED


class PaymentDown(ShopError):
    status = 503
    outcome = CheckoutOutcome.PAYMENT_UNAVAILABLE


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int
    currency: str
    stock: int
    synthetic: bool

    def public(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "price": format_money(self.price_cents),
            "currency": self.currency,
            "stock": self.stock,
            "in_stock": self.stock > 0,
        }


@dataclass(frozen=True)
class Influencer:
    slug: str
    name: str
    promo_code: str
    discount_percent: int


@dataclass(frozen=True)
class CatalogSnapshot:
    """The catalog as read at `taken_at`; the landing pages and product list are served from it."""

    products: dict[str, Product]
    influencers: dict[str, Influencer]
    taken_at: float
    by_promo: dict[str, Influencer] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_promo", {i.promo_code: i for i in self.influencers.values()})

    def listed(self) -> list[Product]:
        return [p for p in self.products.values() if not p.synthetic]


@dataclass(frozen=True)
class Order:
    id: str
    total_cents: int
    currency: str
    email: str
    promo_code: str | None
    influencer_slug: str | None
    items: tuple[tuple[str, int, int], ...]
    created_at: str

    def public(self) -> dict[str, Any]:
        return {
            "order_id": self.id,
            "total": format_money(self.total_cents),
            "currency": self.currency,
            "promo_code": self.promo_code,
            "influencer": self.influencer_slug,
            "items": [
                {"sku": sku, "quantity": qty, "unit_price": format_money(price)}
                for sku, qty, price in self.items
            ],
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    replayed: bool


def format_money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def discounted(total_cents: int, discount_percent: int) -> int:
    value = Decimal(total_cents) * (100 - discount_percent) / 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def checkout_request_hash(cart_id: str, email: str, promo_code: str | None) -> str:
    return hashlib.sha256(f"{cart_id}\x1f{email.lower()}\x1f{promo_code or ''}".encode()).hexdigest()


class Shop:
    def __init__(
        self,
        database: Database,
        payments: ResilientPayments,
        metrics: AppMetrics,
        catalog_cache_seconds: float = 1.0,
    ) -> None:
        self.db = database
        self.payments = payments
        self.metrics = metrics
        self.catalog_cache_seconds = catalog_cache_seconds
        self._snapshot: CatalogSnapshot | None = None
        self._refresh_lock = asyncio.Lock()
        self._visit_buffer: list[dict[str, Any]] = []

    # ---- catalog -------------------------------------------------------------------------------

    async def seed_if_empty(self, seed: CatalogSeed) -> bool:
        async with self.db.write() as conn:
            count = (await conn.execute(select(func.count()).select_from(schema.products))).scalar_one()
            if count:
                return False
            await conn.execute(
                insert(schema.products),
                [
                    {
                        "sku": p.sku,
                        "name": p.name,
                        "price_cents": p.price_cents,
                        "currency": p.currency,
                        "stock": p.stock,
                        "synthetic": p.synthetic,
                    }
                    for p in seed.products
                ],
            )
            if seed.influencers:
                await conn.execute(insert(schema.influencers), [i.model_dump() for i in seed.influencers])
        return True

    async def snapshot(self) -> CatalogSnapshot:
        """The current catalog, re-read at most every `catalog_cache_seconds`; one refresh at a time,
        so a spike on a cold cache costs one query, not one per request."""
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap.taken_at < self.catalog_cache_seconds:
            return snap
        async with self._refresh_lock:
            snap = self._snapshot
            if snap is not None and time.monotonic() - snap.taken_at < self.catalog_cache_seconds:
                return snap
            async with self.db.read() as conn:
                product_rows = (
                    await conn.execute(select(schema.products).order_by(schema.products.c.sku))
                ).all()
                influencer_rows = (await conn.execute(select(schema.influencers))).all()
            snap = CatalogSnapshot(
                products={r.sku: Product(**r._mapping) for r in product_rows},
                influencers={r.slug: Influencer(**r._mapping) for r in influencer_rows},
                taken_at=time.monotonic(),
            )
            self._snapshot = snap
            return snap

    async def product(self, sku: str) -> Product:
        product = (await self.snapshot()).products.get(sku)
        if product is None:
            raise NotFound(f"unknown product {sku!r}")
        return product

    # ---- carts ---------------------------------------------------------------------------------

    async def create_cart(self, influencer_slug: str | None, utm: dict[str, str] | None) -> str:
        snap = await self.snapshot()
        if influencer_slug is not None and influencer_slug not in snap.influencers:
            influencer_slug = None  # a stale link must not stop a purchase; it just goes unattributed
        cart_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            await conn.execute(
                insert(schema.carts).values(
                    id=cart_id, influencer_slug=influencer_slug, utm=utm or None, checked_out=False
                )
            )
        return cart_id

    async def add_item(self, cart_id: str, sku: str, quantity: int) -> dict[str, Any]:
        if sku not in (await self.snapshot()).products:
            raise NotFound(f"unknown product {sku!r}")
        async with self.db.write() as conn:
            cart = (
                await conn.execute(select(schema.carts.c.checked_out).where(schema.carts.c.id == cart_id))
            ).first()
            if cart is None:
                raise NotFound(f"unknown cart {cart_id!r}")
            if cart.checked_out:
                raise CartClosed("cart already checked out")
            items = schema.cart_items.c
            current = (
                await conn.execute(select(items.quantity).where(items.cart_id == cart_id, items.sku == sku))
            ).scalar_one_or_none()
            new_quantity = (current or 0) + quantity
            if new_quantity > MAX_QUANTITY:
                raise Unprocessable(f"at most {MAX_QUANTITY} of one product per cart")
            if current is None:
                await conn.execute(
                    insert(schema.cart_items).values(cart_id=cart_id, sku=sku, quantity=quantity)
                )
            else:
                await conn.execute(
                    update(schema.cart_items)
                    .where(items.cart_id == cart_id, items.sku == sku)
                    .values(quantity=new_quantity)
                )
        return await self.cart(cart_id)

    async def cart(self, cart_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            cart = (await conn.execute(select(schema.carts).where(schema.carts.c.id == cart_id))).first()
            if cart is None:
                raise NotFound(f"unknown cart {cart_id!r}")
            lines = await self._cart_lines(conn, cart_id)
        subtotal = sum(qty * price for _sku, qty, price, _cur in lines)
        currencies = {cur for *_, cur in lines}
        return {
            "cart_id": cart_id,
            "checked_out": bool(cart.checked_out),
            "influencer": cart.influencer_slug,
            "items": [
                {"sku": sku, "quantity": qty, "unit_price": format_money(price), "currency": cur}
                for sku, qty, price, cur in lines
            ],
            "subtotal": format_money(subtotal),
            "currency": currencies.pop() if len(currencies) == 1 else None,
        }

    @staticmethod
    async def _cart_lines(conn: Any, cart_id: str) -> list[tuple[str, int, int, str]]:
        items, products = schema.cart_items.c, schema.products.c
        rows = await conn.execute(
            select(items.sku, items.quantity, products.price_cents, products.currency)
            .join(schema.products, products.sku == items.sku)
            .where(items.cart_id == cart_id)
            .order_by(items.sku)
        )
        return [(r.sku, r.quantity, r.price_cents, r.currency) for r in rows]

    # ---- checkout ------------------------------------------------------------------------------

    async def checkout(
        self, cart_id: str, email: str, promo_code: str | None, idempotency_key: str
    ) -> CheckoutResult:
        try:
            result = await self._checkout(cart_id, email, promo_code, idempotency_key)
        except ShopError as exc:
            if exc.outcome is not None:
                self.metrics.checkouts.labels(exc.outcome).inc()
            raise
        except Exception:
            self.metrics.checkouts.labels(CheckoutOutcome.ERROR).inc()
            raise
        outcome = CheckoutOutcome.REPLAYED if result.replayed else CheckoutOutcome.SUCCESS
        self.metrics.checkouts.labels(outcome).inc()
        return result

    async def _checkout(
        self, cart_id: str, email: str, promo_code: str | None, idempotency_key: str
    ) -> CheckoutResult:
        promo_code = promo_code.strip().upper() if promo_code else None
        request_hash = checkout_request_hash(cart_id, email, promo_code)
        replay = await self._replay(idempotency_key, request_hash)
        if replay is not None:
            return replay
        try:
            return await self._place_order(cart_id, email, promo_code, idempotency_key, request_hash)
        except CartClosed:
            # A concurrent retry with the same key may have closed the cart first: then this is a
            # replay of its order, not a conflict.
            replay = await self._replay(idempotency_key, request_hash)
            if replay is not None:
                return replay
            raise

    async def _place_order(
        self, cart_id: str, email: str, promo_code: str | None, idempotency_key: str, request_hash: str
    ) -> CheckoutResult:
        influencer = None
        if promo_code:
            influencer = (await self.snapshot()).by_promo.get(promo_code)
            if influencer is None:
                raise InvalidPromo(f"unknown promo code {promo_code!r}")

        async with self.db.read() as conn:
            cart = (await conn.execute(select(schema.carts).where(schema.carts.c.id == cart_id))).first()
            if cart is None:
                raise NotFound(f"unknown cart {cart_id!r}")
            if cart.checked_out:
                raise CartClosed("cart already checked out")
            lines = await self._cart_lines(conn, cart_id)
            synthetic = await self._any_synthetic(conn, [sku for sku, *_ in lines])
        if not lines:
            raise InvalidCart("cart is empty")
        currencies = {cur for *_, cur in lines}
        if len(currencies) != 1:
            raise InvalidCart("cart mixes currencies: " + ", ".join(sorted(currencies)))
        currency = currencies.pop()
        subtotal = sum(qty * price for _sku, qty, price, _cur in lines)
        total = discounted(subtotal, influencer.discount_percent) if influencer else subtotal

        try:
            auth = await self.payments.authorize(total, currency, email, idempotency_key)
        except PaymentDeclined as exc:
            raise Declined(str(exc)) from None
        except PaymentUnavailable as exc:
            raise PaymentDown(str(exc), retry_after=exc.retry_after) from None

        order_id = str(uuid.uuid4())
        try:
            async with self.db.write() as conn:
                # Sorted by SKU so two multi-item checkouts lock rows in one order and cannot deadlock.
                for sku, qty, _price, _cur in lines:
                    taken = await conn.execute(
                        update(schema.products)
                        .where(schema.products.c.sku == sku, schema.products.c.stock >= qty)
                        .values(stock=schema.products.c.stock - qty)
                    )
                    if taken.rowcount != 1:
                        self.metrics.stockouts.labels(sku).inc()
                        raise OutOfStock(f"not enough stock for {sku}", sku=sku)
                closed = await conn.execute(
                    update(schema.carts)
                    .where(schema.carts.c.id == cart_id, schema.carts.c.checked_out.is_(False))
                    .values(checked_out=True)
                )
                if closed.rowcount != 1:
                    raise CartClosed("cart already checked out")
                await conn.execute(
                    insert(schema.orders).values(
                        id=order_id,
                        idempotency_key=idempotency_key,
                        request_hash=request_hash,
                        cart_id=cart_id,
                        email=email,
                        total_cents=total,
                        currency=currency,
                        promo_code=promo_code,
                        influencer_slug=influencer.slug if influencer else cart.influencer_slug,
                        payment_id=auth.payment_id,
                        synthetic=synthetic,
                    )
                )
                await conn.execute(
                    insert(schema.order_items),
                    [
                        {"order_id": order_id, "sku": sku, "quantity": qty, "unit_price_cents": price}
                        for sku, qty, price, _cur in lines
                    ],
                )
        except (Conflict, IntegrityError) as exc:
            # A concurrent retry with the same key may have won the race: then this is a replay.
            replay = await self._replay(idempotency_key, request_hash)
            if replay is not None:
                return replay
            await self.payments.void(auth.payment_id)
            if isinstance(exc, IntegrityError):
                raise CartClosed("cart already checked out") from None
            raise

        if not synthetic:
            self.metrics.orders.labels(currency).inc()
            self.metrics.order_revenue.labels(currency).inc(total / 100)
            if influencer is not None:
                self.metrics.promo_redemptions.labels(influencer.slug).inc()
        order = await self.order(order_id)
        return CheckoutResult(order, replayed=False)

    @staticmethod
    async def _any_synthetic(conn: Any, skus: Sequence[str]) -> bool:
        if not skus:
            return False
        rows = await conn.execute(select(schema.products.c.synthetic).where(schema.products.c.sku.in_(skus)))
        return any(r.synthetic for r in rows)

    async def _replay(self, idempotency_key: str, request_hash: str) -> CheckoutResult | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(schema.orders.c.id, schema.orders.c.request_hash).where(
                        schema.orders.c.idempotency_key == idempotency_key
                    )
                )
            ).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise IdempotencyMismatch("Idempotency-Key was already used for a different checkout")
        return CheckoutResult(await self.order(row.id), replayed=True)

    async def order(self, order_id: str) -> Order:
        async with self.db.read() as conn:
            row = (await conn.execute(select(schema.orders).where(schema.orders.c.id == order_id))).first()
            if row is None:
                raise NotFound(f"unknown order {order_id!r}")
            items = (
                await conn.execute(
                    select(schema.order_items)
                    .where(schema.order_items.c.order_id == order_id)
                    .order_by(schema.order_items.c.sku)
                )
            ).all()
        return Order(
            id=row.id,
            total_cents=row.total_cents,
            currency=row.currency,
            email=row.email,
            promo_code=row.promo_code,
            influencer_slug=row.influencer_slug,
            items=tuple((i.sku, i.quantity, i.unit_price_cents) for i in items),
            created_at=row.created_at.isoformat() if row.created_at else "",
        )

    # ---- attribution ---------------------------------------------------------------------------

    def record_visit(self, visit: dict[str, Any]) -> None:
        """Visits are buffered and written in batches: one insert per visitor in a spike would make
        the analytics beacon the most expensive request the shop serves."""
        self._visit_buffer.append(visit)

    async def flush_visits(self) -> int:
        batch, self._visit_buffer = self._visit_buffer, []
        if batch:
            async with self.db.write() as conn:
                await conn.execute(insert(schema.visits), batch)
        return len(batch)

    async def attribution(self) -> dict[str, Any]:
        await self.flush_visits()
        snap = await self.snapshot()
        v, c, o = schema.visits.c, schema.carts.c, schema.orders.c
        async with self.db.read() as conn:
            visits: dict[str | None, int] = dict(
                (
                    await conn.execute(select(v.influencer_slug, func.count()).group_by(v.influencer_slug))
                ).all()
            )
            carts: dict[str | None, int] = dict(
                (
                    await conn.execute(select(c.influencer_slug, func.count()).group_by(c.influencer_slug))
                ).all()
            )
            order_rows = (
                await conn.execute(
                    select(o.influencer_slug, o.currency, func.count(), func.sum(o.total_cents))
                    .where(o.synthetic.is_(False))
                    .group_by(o.influencer_slug, o.currency)
                )
            ).all()
        orders: dict[str | None, int] = {}
        revenue: dict[str | None, dict[str, str]] = {}
        for slug, currency, count, cents in order_rows:
            orders[slug] = orders.get(slug, 0) + count
            revenue.setdefault(slug, {})[currency] = format_money(int(cents or 0))

        def row(slug: str | None, name: str | None) -> dict[str, Any]:
            return {
                "slug": slug,
                "name": name,
                "visits": visits.get(slug, 0),
                "carts": carts.get(slug, 0),
                "orders": orders.get(slug, 0),
                "revenue": revenue.get(slug, {}),
            }

        return {
            "influencers": [
                row(i.slug, i.name) for i in sorted(snap.influencers.values(), key=lambda i: i.slug)
            ],
            "unattributed": row(None, None),
        }

    # ---- webhooks ------------------------------------------------------------------------------

    async def store_event(self, source: str, event_id: str, event_type: str, payload: dict[str, Any]) -> bool:
        """True when stored, False when this event id was seen before (a retry by the sender)."""
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    insert(schema.webhook_events).values(
                        source=source, event_id=event_id, type=event_type, payload=payload
                    )
                )
        except IntegrityError:
            return False
        return True
