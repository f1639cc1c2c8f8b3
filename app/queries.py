"""The checkout path's statements, built once.

Building a SQLAlchemy statement and its cache key on every call cost about a sixth of a checkout's CPU
under load (profiled with py-spy); these are built at import with bound parameters and reused.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

from app.db import cart_items, carts, idempotency_keys, order_items, orders, payments, products

order_by_key = select(orders.c.id, orders.c.request_hash).where(orders.c.idempotency_key == bindparam("key"))

cart_by_id = select(carts).where(carts.c.id == bindparam("cart_id"))

cart_lines = (
    select(
        cart_items.c.sku,
        cart_items.c.quantity,
        products.c.price_cents,
        products.c.currency,
        products.c.synthetic,
    )
    .join(products, products.c.sku == cart_items.c.sku)
    .where(cart_items.c.cart_id == bindparam("cart_id"))
    .order_by(cart_items.c.sku)
)

# Bind names differ from column names: in an UPDATE, a bind named like a column means "SET it".
close_cart = (
    update(carts)
    .where(carts.c.id == bindparam("b_cart_id"), carts.c.checked_out.is_(False))
    .values(checked_out=True)
)

insert_order = insert(orders)
insert_order_items = insert(order_items)

# The never-oversell guard: the condition is evaluated under the row lock.
take_stock = (
    update(products)
    .where(products.c.sku == bindparam("b_sku"), products.c.stock >= bindparam("b_quantity"))
    .values(stock=products.c.stock - bindparam("b_quantity"))
)

key_binding = select(idempotency_keys.c.request_hash, idempotency_keys.c.attempt).where(
    idempotency_keys.c.key == bindparam("key")
)
insert_key = insert(idempotency_keys)
# After a failed attempt (its authorisation voided) the key's next retry authorises afresh.
next_attempt = (
    update(idempotency_keys)
    .where(idempotency_keys.c.key == bindparam("b_key"), idempotency_keys.c.attempt == bindparam("b_attempt"))
    .values(attempt=bindparam("b_attempt") + 1)
)

payment_by_id = select(payments.c.state).where(payments.c.payment_id == bindparam("payment_id"))
insert_payment = insert(payments)
attach_payment = (
    update(payments)
    .where(
        payments.c.payment_id == bindparam("b_payment_id"),
        payments.c.state == "authorized",
        payments.c.amount_cents == bindparam("b_amount_cents"),
        payments.c.currency == bindparam("b_currency"),
    )
    .values(state="attached", order_id=bindparam("b_order_id"))
)
void_payment = (
    update(payments)
    .where(payments.c.payment_id == bindparam("b_payment_id"), payments.c.state == "authorized")
    .values(state="voided")
)

order_by_id = select(orders).where(orders.c.id == bindparam("order_id"))
order_items_by_order = (
    select(order_items).where(order_items.c.order_id == bindparam("order_id")).order_by(order_items.c.sku)
)
