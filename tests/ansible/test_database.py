"""Role `database` on the local stack (`peakops up -e peakops_database=postgresql`): a PostgreSQL cluster of
the stack's own under its supervisord (never as root), the app instances on it, a second converge that
changes nothing; the fleet's systemd mode of the same role is converged by tests/fleet."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from tests.ansible.test_local_stack import EDGE, converged, peakops, recap
from tests.app.helpers import checkout, new_cart
from tests.support.procs import PG_BIN

POSTGRESQL = ("-e", "peakops_database=postgresql")


@pytest.mark.timeout(600)
def test_the_local_stack_on_postgresql_converges_twice_and_keeps_its_orders_there(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("pg")
    try:
        with converged(directory, *POSTGRESQL) as stack:
            again = peakops(stack.env, "up", *POSTGRESQL)
            assert again.returncode == 0, again.stdout[-3000:]
            assert recap(again.stdout)[1] == 0, again.stdout[-3000:]  # changed=0

            status = subprocess.run(
                ["/usr/bin/supervisorctl", "-c", str(directory / "supervisor" / "supervisord.conf"),
                 "status", "database"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            found = re.search(r"RUNNING\s+pid (\d+)", status.stdout)
            assert found, status.stdout
            server = psutil.Process(int(found.group(1)))
            assert server.name() == "postgres"
            assert server.username() != "root"  # PostgreSQL refuses root: the role runs it as postgres

            # An order through the edge lands in that cluster, and the instances say it is reachable.
            with httpx.Client(base_url=EDGE, timeout=10) as client:
                cart_id = new_cart(client, {"GLOW-SERUM": 1})
                placed = checkout(client, cart_id, key=str(uuid.uuid4()))
                assert placed.status_code == 201, placed.text
            for port in (8101, 8102, 8103, 8109):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
                assert ready == {"status": "ready", "database": "reachable"}, (port, ready)
            env = (directory / "app" / "app.env").read_text()
            url = re.search(r"^PEAKOPS_DATABASE_URL=(postgresql://\S+)$", env, re.M)
            assert url, "the instances are not configured for PostgreSQL"
            order_id = placed.json()["order_id"]
            counted = subprocess.run(
                [str(PG_BIN / "psql"), url.group(1), "-XAtc",
                 f"SELECT count(*) FROM orders WHERE id = '{uuid.UUID(order_id)}'"],  # noqa: S608 - a UUID
                capture_output=True, text=True, check=False, env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
            )  # fmt: skip
            assert counted.stdout.strip() == "1", counted.stdout + counted.stderr
        assert not (directory / "supervisor" / "supervisord.pid").exists()
    finally:
        conf = directory / "supervisor" / "conf.d" / "database.conf"
        cluster = re.search(r" -D (\S+)", conf.read_text()) if conf.exists() else None
        if cluster:  # outside the stack directory when run as root (ansible/inventories/local)
            shutil.rmtree(Path(cluster.group(1)), ignore_errors=True)
