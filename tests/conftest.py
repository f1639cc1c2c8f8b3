"""Real servers for the tests: a PostgreSQL the suite starts itself, and app instances as subprocesses.

Nothing is assumed to be running; everything started here is stopped here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest

from tests.support.browser import browser  # noqa: F401 - a fixture for every test directory
from tests.support.procs import AppProcess, PostgresServer, run_app, run_postgres

TESTS_DIR = Path(__file__).parent
# tests/e2e starts a Kubernetes control plane built from Go modules: `make e2e` runs it, after `make test`.
collect_ignore = [] if os.environ.get("PEAKOPS_E2E") else ["e2e"]
# So does the whole demo (stack, three scenarios, the capacity step load: 7 min), keeping `make test`
# shorter; `make test` keeps the two-scenario rehearsal (tests/cli/test_rehearse.py).
collect_ignore += [] if os.environ.get("PEAKOPS_E2E") else ["cli/test_demo.py"]
# tests/fleet starts a fleet of systemd containers and converges it over SSH: `make fleet` runs it.
collect_ignore += [] if os.environ.get("PEAKOPS_FLEET") else ["fleet"]
TEST_CATALOG = TESTS_DIR / "app" / "catalog.yaml"
ADMIN_TOKEN = "test-admin-token-0123456789"
WEBHOOK_SECRETS = {"instagram": "ig-secret-for-tests", "agency": "agency-secret-for-tests"}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session; each test that needs one gets a fresh database in it."""
    with run_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on the chosen backend."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url(server.create_database())


def app_env(database_url: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    import json

    env = {
        "PEAKOPS_DATABASE_URL": database_url,
        "PEAKOPS_DATA_DIR": str(data_dir),
        "PEAKOPS_CATALOG": str(TEST_CATALOG),
        "PEAKOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "PEAKOPS_WEBHOOK_SECRETS": json.dumps(WEBHOOK_SECRETS),
        # Tests read stock right after checkouts; production serves the list from a 1 s snapshot.
        "PEAKOPS_CATALOG_CACHE_SECONDS": "0",
        "PEAKOPS_CATALOG_STALE_SECONDS": "0",
    }
    env.update(overrides)
    return env


StartApp = Callable[..., AppProcess]


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    """Start an app instance (a real `peakops app serve` process); stopped at the end of the test."""
    with ExitStack() as stack:
        counter = iter(range(1000))

        def start(database_url: str, **overrides: str) -> AppProcess:
            index = next(counter)
            env = app_env(database_url, tmp_path / f"data{index}", **overrides)
            manager: AbstractContextManager[AppProcess] = run_app(env, tmp_path / f"app{index}.log")
            return stack.enter_context(manager)

        yield start


@pytest.fixture
def app(start_app: StartApp, database_url: str) -> AppProcess:
    """One app instance on a fresh database of the parametrised backend."""
    return start_app(database_url)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
