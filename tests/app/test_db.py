"""app.db.unavailable: which errors mean "the database cannot be reached now" (503, retry) and which are
a statement it refused (a bug: a 500 with its traceback)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

from app.db import unavailable


class PostgresError(Exception):
    """Shaped like asyncpg's errors and SQLAlchemy's adaptation of them: a `sqlstate`."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),  # asyncpg's connect, server stopped
        (ConnectionResetError(104, "reset"), True),
        (PostgresError("57P03"), True),  # cannot connect now: starting up
        (PostgresError("57P01"), True),  # admin shutdown: a fast shutdown ends the session
        (PostgresError("08006"), True),  # connection failure
        (InterfaceError("SELECT 1", {}, Exception("connection is closed")), True),
        (DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True), True),
        (OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")), True),
        (OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: orders")), False),
        (ProgrammingError("SELECT", {}, PostgresError("42P01")), False),  # undefined table
        (OperationalError("SELECT", {}, PostgresError("53300")), True),  # too many connections, for now
        (TimeoutError(), False),
        (ValueError("bad"), False),
    ],
)
def test_only_an_unreachable_database_counts_as_unavailable(error: BaseException, expected: bool) -> None:
    assert unavailable(error) is expected
