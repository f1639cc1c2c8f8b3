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
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import db as schema
from app import queries
from app.catalog import CatalogSeed
from app.db import Database
from app.metrics import AppMetrics
from app.payments import Authorization, PaymentDeclined, PaymentUnavailable, ResilientPayments
from peakops.metrics import CheckoutOutcome, PromoCheck

MAX_QUANTITY = 100
log = logging.getLogger("peakops.app")


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


class CheckoutRaced(Conflict):
    """A concurrent attempt with the same key changed the cart or settled its authorisation: retry."""

    outcome = CheckoutOutcome.INVALID_CART


class Declined(ShopError):
    status = 402
    outcome = CheckoutOutcome.PAYMENT_DECLINED


class PaymentDown(ShopError):
    status = 503
    outcome = CheckoutOutcome.PAYMENT_UNAVAILABLE


class PromoUnavailable(ShopError):
    status = 503
    outcome = CheckoutOutcome.ERROR


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


class CartLine(NamedTuple):
    sku: str
    quantity: int
    price_cents: int
    currency: str
    synthetic: bool


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


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for what was stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def discounted(total_cents: int, discount_percent: int) -> int:
    value = Decimal(total_cents) * (100 - discount_percent) / 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def checkout_request_hash(cart_id: str, email: str, promo_code: str | None) -> str:
    return hashlib.sha256(f"{cart_id}\x1f{email.lower()}\x1f{promo_code or ''}".encode()).hexdigest()


def _log_failed_refresh(task: asyncio.Task[CatalogSnapshot]) -> None:
    """One line for a background catalog refresh that failed (the database down, say): the old snapshot
    stays served, and reading the exception here keeps asyncio from logging a traceback for it."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("catalog refresh failed, the previous snapshot stays served: %s", type(exc).__name__)


class Shop:
    def __init__(
        self,
        database: Database,
        payments: ResilientPayments,
        metrics: AppMetrics,
        catalog_cache_seconds: float = 1.0,
        catalog_stale_seconds: float = 5.0,
        promo_should_fail: Callable[[], bool] = lambda: False,
    ) -> None:
        self.promo_should_fail = promo_should_fail
        self.db = database
        self.payments = payments
        self.metrics = metrics
        self.catalog_cache_seconds = catalog_cache_seconds
        self.catalog_stale_seconds = catalog_stale_seconds
        self._background_refresh: asyncio.Task[CatalogSnapshot] | None = None
        self._snapshot: CatalogSnapshot | None = None
        self._refresh_lock = asyncio.Lock()
        self._visit_buffer: list[dict[str, Any]] = []

    # ---- catalog -------------------------------------------------------------------------------

    async def seed_if_empty(self, seed: CatalogSeed) -> bool:
        try:
            return await self._seed_if_empty(seed)
        except IntegrityError:
            return False  # another instance starting at the same moment seeded it first

    async def _seed_if_empty(self, seed: CatalogSeed) -> bool:
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

    def fresh_snapshot(self) -> CatalogSnapshot | None:
        """The snapshot if it is young enough to serve without any await (the hot paths' shortcut)."""
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap.taken_at < self.catalog_cache_seconds:
            return snap
        return None

    async def snapshot(self) -> CatalogSnapshot:
        """The catalog as of at most `catalog_cache_seconds` ago.

        Past that age, and within `catalog_stale_seconds` more, the old snapshot is served while one
        background task re-reads it (stale-while-revalidate): a spike never queues behind a refresh.
        Older than that, or at start, the caller waits for the read; one read at a time either way.
        """
        snap = self._snapshot
        if snap is not None:
            age = time.monotonic() - snap.taken_at
            if age < self.catalog_cache_seconds:
                return snap
            if age < self.catalog_cache_seconds + self.catalog_stale_seconds:
                if self._background_refresh is None or self._background_refresh.done():
                    self._background_refresh = asyncio.create_task(self._refresh(snap))
                    self._background_refresh.add_done_callback(_log_failed_refresh)
                return snap
        return await self._refresh(snap)

    async def _refresh(self, seen: CatalogSnapshot | None) -> CatalogSnapshot:
        async with self._refresh_lock:
            if self._snapshot is not seen and self._snapshot is not None:
                return self._snapshot  # another caller refreshed it while this one waited
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
            # The body names no product: a 422 (the cart, the request's target, exists).
            raise Unprocessable(
                f"unknown product {sku!r}", problems=[{"field": "body.sku", "problem": "no such product"}]
            )
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
        subtotal = sum(line.quantity * line.price_cents for line in lines)
        currencies = {line.currency for line in lines}
        return {
            "cart_id": cart_id,
            "checked_out": bool(cart.checked_out),
            "influencer": cart.influencer_slug,
            "items": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": format_money(line.price_cents),
                    "currency": line.currency,
                }
                for line in lines
            ],
            "subtotal": format_money(subtotal),
            "currency": currencies.pop() if len(currencies) == 1 else None,
        }

    @staticmethod
    async def _cart_lines(conn: Any, cart_id: str) -> list[CartLine]:
        rows = await conn.execute(queries.cart_lines, {"cart_id": cart_id})
        return [CartLine(r.sku, r.quantity, r.price_cents, r.currency, bool(r.synthetic)) for r in rows]

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

    async def _check_promo(self, promo_code: str) -> Influencer:
        try:
            if self.promo_should_fail():
                raise PromoUnavailable("promo codes cannot be checked right now; try again in a moment")
            influencer = (await self.snapshot()).by_promo.get(promo_code)
        except Exception:
            self.metrics.promo_checks.labels(PromoCheck.ERROR).inc()
            raise
        if influencer is None:
            self.metrics.promo_checks.labels(PromoCheck.UNKNOWN).inc()
            raise InvalidPromo(f"unknown promo code {promo_code!r}")
        self.metrics.promo_checks.labels(PromoCheck.ACCEPTED).inc()
        return influencer

    async def _checkout(
        self, cart_id: str, email: str, promo_code: str | None, idempotency_key: str
    ) -> CheckoutResult:
        promo_code = promo_code.strip().upper() if promo_code else None
        request_hash = checkout_request_hash(cart_id, email, promo_code)
        influencer = None
        if promo_code:
            influencer = await self._check_promo(promo_code)

        async with self.db.read() as conn:
            await self._check_binding(conn, idempotency_key, request_hash)
            replay = await self._replay(conn, idempotency_key, request_hash)
            if replay is not None:
                return replay
            cart = (await conn.execute(queries.cart_by_id, {"cart_id": cart_id})).first()
            if cart is None:
                raise NotFound(f"unknown cart {cart_id!r}")
            if cart.checked_out:
                # A retry with the same key may have closed it a moment ago: that is a replay.
                replay = await self._replay(conn, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                raise CartClosed("cart already checked out")
            lines = await self._cart_lines(conn, cart_id)
        if not lines:
            raise InvalidCart("cart is empty")
        currencies = {line.currency for line in lines}
        if len(currencies) != 1:
            raise InvalidCart("cart mixes currencies: " + ", ".join(sorted(currencies)))
        currency = currencies.pop()
        subtotal = sum(line.quantity * line.price_cents for line in lines)
        total = discounted(subtotal, influencer.discount_percent) if influencer else subtotal

        # From here the key is bound to this request for life, failed attempts included. Each attempt
        # that ends in a void moves the key to a fresh provider key: the provider answers a known key
        # with its first authorisation, voided or not, and that must never pay for an order.
        attempt = await self._bind_key(idempotency_key, request_hash)
        # Authorise before the transaction: no row lock is ever held across a call to the provider.
        try:
            auth = await self.payments.authorize(total, currency, email, f"{idempotency_key}#{attempt}")
        except PaymentDeclined as exc:
            raise Declined(str(exc)) from None
        except PaymentUnavailable as exc:
            raise PaymentDown(str(exc), retry_after=exc.retry_after) from None
        await self._record_authorization(auth, idempotency_key)

        order = Order(
            id=str(uuid.uuid4()),
            total_cents=total,
            currency=currency,
            email=email,
            promo_code=promo_code,
            influencer_slug=influencer.slug if influencer else cart.influencer_slug,
            items=tuple((line.sku, line.quantity, line.price_cents) for line in lines),
            created_at=datetime.now(UTC).isoformat(),
        )
        synthetic = any(line.synthetic for line in lines)
        try:
            await self._commit_order(order, cart_id, idempotency_key, request_hash, auth, synthetic)
        except (Conflict, IntegrityError) as exc:
            # A concurrent retry with the same key may have won the race: then this is its replay.
            async with self.db.read() as conn:
                replay = await self._replay(conn, idempotency_key, request_hash)
            if replay is not None:
                return replay
            await self._void(auth, idempotency_key, attempt)
            if isinstance(exc, IntegrityError):
                raise CartClosed("cart already checked out") from None
            raise

        if not synthetic:
            self.metrics.orders.labels(currency).inc()
            self.metrics.order_revenue.labels(currency).inc(total / 100)
            if influencer is not None:
                self.metrics.promo_redemptions.labels(influencer.slug).inc()
        return CheckoutResult(order, replayed=False)

    async def _check_binding(self, conn: Any, idempotency_key: str, request_hash: str) -> None:
        row = (await conn.execute(queries.key_binding, {"key": idempotency_key})).first()
        if row is not None and row.request_hash != request_hash:
            raise IdempotencyMismatch("Idempotency-Key was already used for a different checkout")

    async def _bind_key(self, idempotency_key: str, request_hash: str) -> int:
        """Bind the key to this request (first use) and return the payment attempt it is on."""
        for _ in range(2):
            async with self.db.read() as conn:
                row = (await conn.execute(queries.key_binding, {"key": idempotency_key})).first()
            if row is not None:
                if row.request_hash != request_hash:
                    raise IdempotencyMismatch("Idempotency-Key was already used for a different checkout")
                return int(row.attempt)
            try:
                async with self.db.write() as conn:
                    await conn.execute(
                        queries.insert_key,
                        {"key": idempotency_key, "request_hash": request_hash, "attempt": 1},
                    )
            except IntegrityError:
                continue  # a concurrent retry bound it first: read its binding
            return 1
        raise CheckoutRaced("the checkout is being retried concurrently; retry in a moment")

    async def _record_authorization(self, auth: Authorization, idempotency_key: str) -> None:
        """The ledger row of an authorisation (concurrent retries on one attempt share it)."""
        async with self.db.read() as conn:
            if (await conn.execute(queries.payment_by_id, {"payment_id": auth.payment_id})).first():
                return
        row = {
            "payment_id": auth.payment_id,
            "idempotency_key": idempotency_key,
            "amount_cents": auth.amount_cents,
            "currency": auth.currency,
            "state": "authorized",
        }
        try:
            async with self.db.write() as conn:
                await conn.execute(queries.insert_payment, row)
        except IntegrityError:
            pass  # a concurrent retry on the same attempt recorded it

    async def _void(self, auth: Authorization, idempotency_key: str, attempt: int) -> None:
        """Void an authorisation no order holds, and move the key to its next attempt."""
        async with self.db.write() as conn:
            voided = await conn.execute(queries.void_payment, {"b_payment_id": auth.payment_id})
            await conn.execute(queries.next_attempt, {"b_key": idempotency_key, "b_attempt": attempt})
        if voided.rowcount == 1:
            await self.payments.void(auth.payment_id)

    async def _commit_order(
        self,
        order: Order,
        cart_id: str,
        idempotency_key: str,
        request_hash: str,
        auth: Authorization,
        synthetic: bool,
    ) -> None:
        """One transaction: close the cart, attach the authorisation, insert the order, take the stock.

        The stock rows come last on purpose: in a drop every checkout wants the same row, and its lock
        is held from the UPDATE to the COMMIT, so taking it last keeps that window (and the queue behind
        it) as short as possible. Rows are taken in SKU order so two carts can never deadlock.
        """
        async with self.db.write() as conn:
            closed = await conn.execute(queries.close_cart, {"b_cart_id": cart_id})
            if closed.rowcount != 1:
                raise CartClosed("cart already checked out")
            # Only an authorisation still open, of exactly this order's amount, pays for it.
            attached = await conn.execute(
                queries.attach_payment,
                {
                    "b_payment_id": auth.payment_id,
                    "b_amount_cents": order.total_cents,
                    "b_currency": order.currency,
                    "b_order_id": order.id,
                },
            )
            if attached.rowcount != 1:
                raise CheckoutRaced("the cart or its payment changed during checkout; retry")
            await conn.execute(
                queries.insert_order,
                {
                    "id": order.id,
                    "idempotency_key": idempotency_key,
                    "request_hash": request_hash,
                    "cart_id": cart_id,
                    "email": order.email,
                    "total_cents": order.total_cents,
                    "currency": order.currency,
                    "promo_code": order.promo_code,
                    "influencer_slug": order.influencer_slug,
                    "payment_id": auth.payment_id,
                    "synthetic": synthetic,
                    "created_at": datetime.fromisoformat(order.created_at),
                },
            )
            await conn.execute(
                queries.insert_order_items,
                [
                    {"order_id": order.id, "sku": sku, "quantity": qty, "unit_price_cents": price}
                    for sku, qty, price in order.items
                ],
            )
            for sku, qty, _price in order.items:  # already in SKU order
                taken = await conn.execute(queries.take_stock, {"b_sku": sku, "b_quantity": qty})
                if taken.rowcount != 1:
                    self.metrics.stockouts.labels(sku).inc()
                    raise OutOfStock(f"not enough stock for {sku}", sku=sku)

    async def _replay(self, conn: Any, idempotency_key: str, request_hash: str) -> CheckoutResult | None:
        row = (await conn.execute(queries.order_by_key, {"key": idempotency_key})).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise IdempotencyMismatch("Idempotency-Key was already used for a different checkout")
        return CheckoutResult(await self._order(conn, row.id), replayed=True)

    async def order(self, order_id: str) -> Order:
        async with self.db.read() as conn:
            return await self._order(conn, order_id)

    @staticmethod
    async def _order(conn: Any, order_id: str) -> Order:
        row = (await conn.execute(queries.order_by_id, {"order_id": order_id})).first()
        if row is None:
            raise NotFound(f"unknown order {order_id!r}")
        items = (await conn.execute(queries.order_items_by_order, {"order_id": order_id})).all()
        return Order(
            id=row.id,
            total_cents=row.total_cents,
            currency=row.currency,
            email=row.email,
            promo_code=row.promo_code,
            influencer_slug=row.influencer_slug,
            items=tuple((i.sku, i.quantity, i.unit_price_cents) for i in items),
            created_at=_aware(row.created_at).isoformat(),
        )

    # ---- attribution ---------------------------------------------------------------------------

    def record_visit(self, visit: dict[str, Any]) -> None:
        """Visits are buffered and written in batches: one insert per visitor in a spike would make
        the analytics beacon the most expensive request the shop serves."""
        self._visit_buffer.append(visit)

    async def flush_visits(self) -> int:
        """Write the buffered visits; a batch the database refuses is logged and dropped, never raised:
        attribution is worth less than the pages and orders around it (orders are never buffered)."""
        batch, self._visit_buffer = self._visit_buffer, []
        if not batch:
            return 0
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(schema.visits), batch)
        except Exception:
            log.exception("dropped %d buffered visits the database refused", len(batch))
            return 0
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
