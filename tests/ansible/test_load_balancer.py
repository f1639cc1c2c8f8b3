"""The load_balancer role's HAProxy config, run by Debian's HAProxy in front of a recording origin: who a
client is (X-Forwarded-For only from the edge), and the checkout limit whatever the path's encoding.

Clients come from distinct loopback addresses (127.0.0.x): 127.0.0.1 plays the edge, the trusted proxy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest

from tests.support.origin import Origin, recording_origin
from tests.support.procs import free_port, wait_http_ok
from tests.support.roles import render

HAPROXY = "/usr/sbin/haproxy"
EDGE_ADDRESS = "127.0.0.1"
CHECKOUT_LIMIT = 20  # the role's default, per client per 10 s


@dataclass
class Balancer:
    url: str
    origin: Origin


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balancer]:
    directory = tmp_path_factory.mktemp("haproxy")
    port, stats = free_port(), free_port()
    with recording_origin() as origin:
        settings = {
            "load_balancer_service_manager": "supervisor",
            "load_balancer_bind_address": "127.0.0.1",
            "load_balancer_port": port,
            "load_balancer_stats_port": stats,
            "load_balancer_dir": str(directory),
            "load_balancer_servers": [origin.url],
            "load_balancer_trusted_proxies": [EDGE_ADDRESS],
            "load_balancer_maxconn": 2000,  # the role's 20,000 needs more file descriptors than root has here
        }
        for name in ("haproxy.cfg", "429.http", "503.http"):
            (directory / name).write_text(render("load_balancer", f"{name}.j2", **settings))
        checked = subprocess.run([HAPROXY, "-c", "-f", str(directory / "haproxy.cfg")], capture_output=True)
        assert checked.returncode == 0, checked.stderr.decode()
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(directory / "haproxy.cfg")])
        try:
            wait_http_ok(f"http://127.0.0.1:{stats}/metrics", 10, process)
            yield Balancer(f"http://127.0.0.1:{port}", origin)
        finally:
            process.terminate()
            process.wait(timeout=10)


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def checkouts(balancer: Balancer, address: str, path: str, forwarded_for: Sequence[str | None]) -> list[int]:
    with client_from(address) as client:
        return [
            client.post(
                f"{balancer.url}{path}",
                json={},
                headers={"X-Forwarded-For": xff} if xff else {},
            ).status_code
            for xff in forwarded_for
        ]


def test_forwarded_for_from_anyone_but_the_edge_is_ignored(balancer: Balancer) -> None:
    """The reported case: 25 requests straight to HAProxy, each with a different X-Forwarded-For, were
    never rate limited. Now the client is the source address: the limit bites."""
    spoofed = [f"198.51.100.{i}" for i in range(25)]
    codes = checkouts(balancer, "127.0.0.2", "/api/checkout", spoofed)
    assert codes[:CHECKOUT_LIMIT] == [422] * CHECKOUT_LIMIT  # the origin's answer to an empty checkout
    assert set(codes[CHECKOUT_LIMIT:]) == {429}


def test_the_edge_names_the_client(balancer: Balancer) -> None:
    """From the edge, the last X-Forwarded-For address is the client: 25 visitors, none limited."""
    visitors = [f"203.0.113.{i}" for i in range(25)]
    assert set(checkouts(balancer, EDGE_ADDRESS, "/api/checkout", visitors)) == {422}
    # One visitor behind the edge, 25 checkouts: limited as that visitor, not as the edge.
    one = ["203.0.113.200"] * 25
    assert set(checkouts(balancer, EDGE_ADDRESS, "/api/checkout", one)[CHECKOUT_LIMIT:]) == {429}


# Each is the app's /api/checkout once uvicorn decodes it: each must meet the checkout limit, and so the
# queue priority, which the same ACL sets. (/api//checkout, /api/./checkout are 404s at the app.)
CHECKOUT_VARIANTS = [
    "/api/checkout",
    "/api/%63heckout",
    "/api/%63%68eckout",
    "/api%2Fcheckout",
    "/api/checkou%74",
]


@pytest.mark.parametrize("path", CHECKOUT_VARIANTS)
def test_every_encoding_of_checkout_meets_the_checkout_limit(balancer: Balancer, path: str) -> None:
    address = f"127.0.1.{CHECKOUT_VARIANTS.index(path) + 10}"  # a client of its own per variant
    codes = checkouts(balancer, address, path, [None] * 25)
    assert set(codes[CHECKOUT_LIMIT:]) == {429}, (path, codes)
    # Forwarded as sent: the app decodes it itself. (HAProxy's health checks of /readyz interleave.)
    assert [t for t in balancer.origin.targets() if t != "/readyz"][-1] == path
