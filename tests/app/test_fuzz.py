"""The API does what its /openapi.json says: schemathesis, with every check, against a real app process on
SQLite and on PostgreSQL. Statuses, content types, headers (Allow on 405) and bodies must conform to the
document, schema-violating input must be refused and valid input accepted, auth must be enforced, and
no input may produce a 5xx. Configuration: schemathesis.toml at the repository root.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peakops.paths import REPO_ROOT
from tests.conftest import ADMIN_TOKEN, app_env
from tests.support.procs import AppProcess, PostgresServer, run_app

EXAMPLES = 30
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# The only operation that can make the app fail on purpose (fault injection for rehearsals): fuzzing it
# with the admin token would fill every other answer with injected 500s. tests/app/test_faults.py covers it.
FAULT_INJECTION = "add_fault_api_admin_faults_post"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'shop.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(server.create_database())
    with run_app(app_env(url, tmp), tmp / "app.log") as app:
        yield app


def schemathesis(app: AppProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{app.url}/openapi.json", "--checks", "all",
            "--max-examples", str(EXAMPLES), "--no-color", *args,
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.timeout(330)
def test_every_check_passes_for_an_anonymous_client(fuzz_app: AppProcess) -> None:
    result = schemathesis(fuzz_app)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Tested: 20" in result.stdout  # every operation of the document, the admin ones as 401s


@pytest.mark.timeout(330)
def test_every_check_passes_for_the_admin(fuzz_app: AppProcess) -> None:
    result = schemathesis(
        fuzz_app, "-H", f"Authorization: Bearer {ADMIN_TOKEN}", "--exclude-operation-id", FAULT_INJECTION
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Tested: 19" in result.stdout
    assert fuzz_app.process.poll() is None, fuzz_app.log()[-3000:]
