"""Schema and engine. SQLAlchemy Core (not the ORM): the hot paths are a handful of statements and Core
keeps them explicit, which is what the never-oversell guarantee is argued from."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

metadata = MetaData()

# SQLSTATEs of a server that cannot serve now: class 08 connection exception, 57P operator intervention
# (shutting down, starting up: "the database system is starting up"), 53300 too many connections.
# PostgreSQL's documentation, appendix A.
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53300")
# SQLite's own words for a file it cannot use now (sqlite3.OperationalError), not a statement it refused.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk I/O error")


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now (stopped, restarting, a connection it closed)
    rather than that it refused a statement: a condition a retry a moment later fixes.

    True for: a connection SQLAlchemy invalidated and its InterfaceError ("connection is closed");
    what asyncpg raises on connect before SQLAlchemy wraps anything (ConnectionError: refused, reset);
    a PostgreSQL error of SQLSTATE class 08 or 57P, or too many connections; SQLite's "database is
    locked" and "unable to open database file". False for everything else, a statement the database
    refused included ("no such table" is a bug, not an outage)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True
        return _unavailable_cause(exc.orig)
    return _unavailable_cause(exc)


def _unavailable_cause(error: BaseException | None) -> bool:
    if isinstance(error, ConnectionError | socket.gaierror):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    return isinstance(error, sqlite3.OperationalError) and str(error).startswith(_SQLITE_UNAVAILABLE)


products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # The database, not the app, is the last line against overselling.
    Column("stock", Integer, CheckConstraint("stock >= 0", name="stock_not_negative"), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
)

influencers = Table(
    "influencers",
    metadata,
    Column("slug", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("promo_code", String(32), nullable=False, unique=True),
    Column("discount_percent", Integer, nullable=False),
)

carts = Table(
    "carts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("influencer_slug", String(64), nullable=True),
    Column("utm", JSON, nullable=True),
    Column("checked_out", Boolean, nullable=False, default=False),
)

cart_items = Table(
    "cart_items",
    metadata,
    Column("cart_id", String(36), ForeignKey("carts.id"), primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), primary_key=True),
    Column("quantity", Integer, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    # The unique key is what makes a retried checkout return the first order instead of a second one.
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("cart_id", String(36), ForeignKey("carts.id"), nullable=False, unique=True),
    Column("email", String(320), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("promo_code", String(32), nullable=True),
    Column("influencer_slug", String(64), nullable=True),
    Column("payment_id", String(64), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every Idempotency-Key that reached the payment step, bound to its request's fingerprint for life (a
# failed attempt included: the same key with another cart is refused), with the payment attempt in use.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The shop's own ledger of what the provider authorised. A payment goes authorized -> attached (to one
# order, in the order's transaction) or authorized -> voided, never both: an order is never attached to
# a voided authorisation, and one attached to an order is never voided.
payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("order_id", String(36), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("influencer_slug", String(64), nullable=True),
    Column("promo_code", String(32), nullable=True),
    Column("utm_source", String(200), nullable=True),
    Column("utm_medium", String(200), nullable=True),
    Column("utm_campaign", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("visits_influencer", visits.c.influencer_slug)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class Database:
    """The engine plus the one rule SQLite needs: a single writer at a time.

    SQLite allows one writer; letting concurrent transactions race for the lock only produces
    'database is locked' errors under a spike. Writes in this process queue on an asyncio lock, and
    BEGIN IMMEDIATE with a busy timeout orders them against other processes sharing the file.
    PostgreSQL needs neither: its row locks serialise the stock update per product.
    """

    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            # No pre-ping: it is a round trip per checkout (5% of its CPU). Connections are recycled
            # instead; a dead server shows in /readyz's body and as 503s (app.runtime.DatabaseUnavailable).
            kwargs = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_recycle": 1800}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # Same pool and events; the option tells the SQLite begin hook to take the write lock up front.
        self._write_engine = self.engine.execution_options(peakops_write=True)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction; committed on normal exit, rolled back on any exception."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self._write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def create_schema(self) -> None:
        # Instances of one deployment start together; when two race to create a table, the loser's
        # CREATE fails and a second pass (checkfirst) finds everything in place.
        for attempt in (1, 2):
            try:
                async with self.write() as conn:
                    await conn.run_sync(metadata.create_all)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    # The pysqlite driver's own transaction handling would issue a deferred BEGIN; take control so
    # every transaction is BEGIN IMMEDIATE (documented SQLAlchemy recipe for SQLite isolation).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock at BEGIN so two of them never deadlock upgrading a read lock; readers
        # stay deferred and, with WAL, never wait for a writer.
        immediate = conn.get_execution_options().get("peakops_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
