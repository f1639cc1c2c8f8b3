"""The edge_cache role's nginx config, run by Debian's nginx in front of a recording origin: the cache key
of each cached route is what the route reads, and path rules see the normalised path.

The stack tests (test_local_stack.py) cover the rest of the edge through a full converge.
"""

from __future__ import annotations

import http.client
import random
import string
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.origin import Origin, recording_origin
from tests.support.procs import free_port, wait_http_ok
from tests.support.roles import render

NGINX = "/usr/sbin/nginx"
LANDINGS = ("/", "/c/lena-glow", "/c/marco-fit", "/c/sofia-style")


@dataclass
class Edge:
    url: str
    origin: Origin


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    directory = tmp_path_factory.mktemp("edge")
    for sub in ("logs", "cache", "tmp"):
        (directory / sub).mkdir()
    port = free_port()
    with recording_origin() as origin:
        config = directory / "nginx.conf"
        config.write_text(
            render(
                "edge_cache",
                "nginx.conf.j2",
                edge_cache_service_manager="supervisor",  # daemon off: a child of this test
                edge_cache_bind_address="127.0.0.1",
                edge_cache_port=port,
                edge_cache_dir=str(directory),
                edge_cache_origin=origin.url,
                edge_cache_user="root",
                edge_cache_worker_processes=1,
            )
        )
        nginx = subprocess.Popen(
            [NGINX, "-c", str(config), "-p", str(directory)], stderr=subprocess.PIPE, text=True
        )
        try:
            wait_http_ok(f"http://127.0.0.1:{port}/edge/healthz", 10, nginx)
            yield Edge(f"http://127.0.0.1:{port}", origin)
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def x_cache(edge: Edge, target: str) -> str:
    """X-Cache of a GET sent exactly as written (http.client keeps dot segments, which httpx resolves)."""
    connection = http.client.HTTPConnection(edge.url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return str(response.getheader("X-Cache"))
    finally:
        connection.close()


def visitor_link(rng: random.Random, path: str) -> str:
    """A link as campaigns and apps produce them: random parameter names (tracking ones and made-up ones),
    values, order, case, percent-encoding of names and values, repeats and empty values."""
    names = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "fbclid", "gclid", "igshid", "ref"]
    names += ["".join(rng.choices(string.ascii_letters + string.digits + "_-.", k=rng.randint(1, 12)))]
    params = []
    for _ in range(rng.randint(1, 7)):
        name = rng.choice(names)
        name = name.upper() if rng.random() < 0.2 else name
        value = "".join(rng.choices(string.ascii_letters + string.digits + " &=/?%+é", k=rng.randint(0, 16)))
        encoded_name = "".join(f"%{ord(c):02X}" for c in name) if rng.random() < 0.2 else name
        params.append(f"{encoded_name}={urllib.parse.quote(value, safe='')}")
    rng.shuffle(params)
    return f"{path}?{'&'.join(params)}"


def test_any_query_string_hits_once_warm_and_the_origin_gets_the_full_url(edge: Edge) -> None:
    with httpx.Client(base_url=edge.url, timeout=10) as client:
        for path in LANDINGS:  # warm-up, as the role does after each converge
            client.get(path)
        rng = random.Random(20261130)
        links = [visitor_link(rng, rng.choice(LANDINGS)) for _ in range(500)]
        statuses = [client.get(link).headers["X-Cache"] for link in links]
    hits = statuses.count("HIT") / len(statuses)
    assert hits >= 0.99, {status: statuses.count(status) for status in set(statuses)}
    # The visitors' links reached the origin only while it was cold, and then whole, query and all.
    first = visitor_link(random.Random(1), "/c/unwarmed")
    assert httpx.get(f"{edge.url}{first}", timeout=10).headers["X-Cache"] == "MISS"
    assert edge.origin.targets()[-1] == first


# (as sent, the canonical page it resembles): a fresh slug each, so no other test warmed its page.
NON_CANONICAL = [
    ("/c//slug-a", "/c/slug-a"),
    ("/c/./slug-b", "/c/slug-b"),
    ("/c/x/../slug-c", "/c/slug-c"),
    ("/c/%73lug-d", "/c/slug-d"),
    ("/c/slug%2De", "/c/slug-e"),
]


@pytest.mark.parametrize(("variant", "page"), NON_CANONICAL)
def test_a_non_canonical_path_never_reads_or_fills_the_canonical_copy(
    edge: Edge, variant: str, page: str
) -> None:
    """The origin answers for the path it is sent (the app 404s /c//slug-a; /c/%73lug-d is a request of its
    own): that answer is never stored under, or served from, the canonical page's key."""
    first = x_cache(edge, variant)
    assert edge.origin.targets()[-1] == variant  # forwarded as sent
    assert first in ("BYPASS", "MISS")  # MISS: a path of its own (// is kept, as the app keeps it)
    assert x_cache(edge, page) == "MISS"  # not the variant's copy
    assert x_cache(edge, page) == "HIT"
    if first == "BYPASS":  # an encoded or dotted form is never served from the cache
        assert x_cache(edge, variant) == "BYPASS"


@pytest.mark.parametrize(
    "variant",
    [
        "/api/checkout", "/api//checkout", "/api/./checkout", "/api/x/../checkout", "/api/%63heckout",
        "/api%2Fcheckout", "//api/checkout", "/api/carts/abc", "/api/carts//abc", "/api/%63arts/abc",
        "/api/./carts/abc", "/static/../api/carts/abc",
    ],
)  # fmt: skip
def test_never_cached_routes_stay_uncached_however_their_path_is_written(edge: Edge, variant: str) -> None:
    assert [x_cache(edge, variant) for _ in range(3)] == ["PASS"] * 3
