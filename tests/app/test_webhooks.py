"""Signed webhooks against a real app: valid, bad signature, replayed, stale timestamp, duplicate id."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import webhooks
from tests.app.helpers import metric_value
from tests.conftest import WEBHOOK_SECRETS, app_env
from tests.support.procs import AppProcess, run_app

SECRET = WEBHOOK_SECRETS["instagram"]


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Peakops-Timestamp": str(ts),
        "X-Peakops-Signature": webhooks.sign(secret, ts, body),
        "Content-Type": "application/json",
    }


def event(event_id: str) -> bytes:
    return json.dumps(
        {"id": event_id, "type": "post.published", "data": {"influencer": "lena-glow", "followers": 250000}}
    ).encode()


@pytest.fixture
def client(app: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=10) as c:
        yield c


def stored(client: httpx.Client, result: str) -> float:
    return metric_value(client, "peakops_webhook_events_total", source="instagram", result=result)


def test_valid_event_is_accepted_once(client: httpx.Client) -> None:
    body = event("evt-1")
    first = client.post("/api/webhooks/instagram", content=body, headers=signed(body))
    assert first.status_code == 202
    assert first.json() == {"status": "accepted", "id": "evt-1"}
    # The sender retries (same event id, fresh signature): acknowledged, not stored again.
    again = client.post("/api/webhooks/instagram", content=body, headers=signed(body))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert stored(client, "accepted") == 1
    assert stored(client, "duplicate") == 1


def test_replayed_request_within_tolerance_is_a_no_op(client: httpx.Client) -> None:
    body = event("evt-replay")
    headers = signed(body)
    assert client.post("/api/webhooks/instagram", content=body, headers=headers).status_code == 202
    replay = client.post("/api/webhooks/instagram", content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    assert stored(client, "accepted") == 1


def test_bad_signature_is_401_and_nothing_stored(client: httpx.Client) -> None:
    body = event("evt-forged")
    forged = client.post("/api/webhooks/instagram", content=body, headers=signed(body, secret="guess"))
    assert forged.status_code == 401
    # Another source's secret does not sign for this one.
    other = client.post(
        "/api/webhooks/instagram", content=body, headers=signed(body, secret=WEBHOOK_SECRETS["agency"])
    )
    assert other.status_code == 401
    tampered_headers = signed(body)
    tampered = client.post("/api/webhooks/instagram", content=event("evt-other"), headers=tampered_headers)
    assert tampered.status_code == 401
    assert client.post("/api/webhooks/instagram", content=body).status_code == 401
    assert stored(client, "accepted") == 0
    assert stored(client, "rejected") == 4
    # Nothing was stored: the genuine event with this id is still accepted as new.
    assert client.post("/api/webhooks/instagram", content=body, headers=signed(body)).status_code == 202


def test_stale_or_future_timestamp_is_401(client: httpx.Client) -> None:
    body = event("evt-stale")
    stale = client.post("/api/webhooks/instagram", content=body, headers=signed(body, int(time.time()) - 301))
    assert stale.status_code == 401
    assert "tolerance" in stale.json()["error"]
    future = client.post(
        "/api/webhooks/instagram", content=body, headers=signed(body, int(time.time()) + 301)
    )
    assert future.status_code == 401
    assert client.post("/api/webhooks/instagram", content=body, headers=signed(body)).status_code == 202


def test_unknown_source_and_malformed_body(client: httpx.Client) -> None:
    body = event("evt-x")
    assert client.post("/api/webhooks/tiktok", content=body, headers=signed(body)).status_code == 404
    garbage = b'{"type": "post.published"}'
    response = client.post("/api/webhooks/instagram", content=garbage, headers=signed(garbage))
    assert response.status_code == 422


def test_sign_and_verify_roundtrip() -> None:
    body = b'{"id": "e"}'
    now = 1_763_853_600
    header = webhooks.sign("s3cret", now, body)
    assert webhooks.verify("s3cret", str(now), header, body, now + 10, 300) == now
    with pytest.raises(webhooks.SignatureError, match="mismatch"):
        webhooks.verify("s3cret", str(now), header, body + b" ", now, 300)
    with pytest.raises(webhooks.SignatureError, match="integer"):
        webhooks.verify("s3cret", "yesterday", header, body, now, 300)


# ---- hostile input: any header bytes, any body, signed or not (issue: 500 on a non-ASCII signature) ----

# What can travel in an HTTP header value: visible ASCII, space and tab inside, and any byte >= 0x80.
HEADER_BYTE = st.sampled_from([*range(0x21, 0x7F), *range(0x80, 0x100)])
HEADER_VALUE = st.builds(
    lambda head, middle, tail: bytes([head, *middle, tail]),
    HEADER_BYTE,
    st.lists(st.one_of(HEADER_BYTE, st.sampled_from([0x20, 0x09])), max_size=70),
    HEADER_BYTE,
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies JSON parsers disagree about (RFC 7493's reasons), each as a well-formed event otherwise.
DISPUTED = [
    b'{"id": "e1", "type": "t", "id": "e2"}',  # duplicate names: first or last wins, by parser
    b'{"id": "e1", "type": "t", "data": {"n": NaN}}',  # not JSON, read by some
    b'{"id": "e1", "type": "t", "data": {"n": Infinity}}',
    b'{"id": "e1", "type": "t", "data": {"n": 1e400}}',  # a double overflows to infinity
    b'{"id": "e1", "type": "t", "data": {"n": 123456789012345678901234567890}}',  # past int64 and doubles
    b'{"id": "e1", "type": "t", "data": {"n": 9007199254740993}}',  # 2^53 + 1: a double rounds it
    b'{"id": "e1", "type": "t", "data": {"s": "\\u0000"}}',  # NUL: PostgreSQL jsonb refuses it
    b'{"id": "e1", "type": "t", "data": {"s": "\\ud800"}}',  # a lone surrogate
    b'{"id": "e1", "type": "t", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # deep nesting
    b'{"id": "e1", "type": "t", "data": {"s": "\xe9"}}',  # latin-1, not UTF-8
    b'{"id": "e1", "type": "t"} trailing',
    b"\xef\xbb\xbf" + b'{"id": "e1", "type": "t"}',  # a BOM
]
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.builds(
        lambda i, t, d: json.dumps({"id": i, "type": t, "data": d}, allow_nan=True).encode(),
        st.text(max_size=12),
        st.text(max_size=12),
        JSON_VALUES,
    ),
    st.sampled_from(DISPUTED),
)


def count_events(database_url: str) -> int:
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM webhook_events").fetchone()[0])


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, str]]:
    """One app for every generated example (starting one per example would take minutes)."""
    base = tmp_path_factory.mktemp("hostile")
    url = f"sqlite+aiosqlite:///{base / 'shop.db'}"
    with run_app(app_env(url, base / "data"), base / "app.log") as app:
        yield app, url


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, signed_ok=st.booleans(), timestamp=HEADER_VALUE, signature=HEADER_VALUE)
def test_hostile_headers_and_bodies_end_in_401_or_422_and_store_nothing(
    hostile_app: tuple[AppProcess, str], body: bytes, signed_ok: bool, timestamp: bytes, signature: bytes
) -> None:
    app, database_url = hostile_app
    if signed_ok:
        headers = {k.encode(): v.encode() for k, v in signed(body).items()}
    else:  # attacker-chosen bytes, often with the scheme the server expects in front
        headers = {b"X-Peakops-Timestamp": timestamp, b"X-Peakops-Signature": b"sha256=" + signature}
    before = count_events(database_url)
    answer = httpx.post(f"{app.url}/api/webhooks/instagram", content=body, headers=headers, timeout=10)
    assert answer.status_code in (200, 202, 401, 422), (answer.status_code, answer.text)
    stored_now = count_events(database_url) - before
    assert stored_now == (1 if answer.status_code == 202 else 0)
    if answer.status_code == 202:  # what was stored is what the sender signed, read back the same
        assert signed_ok


def test_the_reported_case_a_non_ascii_signature_byte_is_401(client: httpx.Client) -> None:
    body = event("evt-e9")
    headers = {b"X-Peakops-Timestamp": str(int(time.time())).encode(), b"X-Peakops-Signature": b"sha256=\xe9"}
    answer = client.post("/api/webhooks/instagram", content=body, headers=headers)
    assert answer.status_code == 401
    assert stored(client, "accepted") == 0


def test_bodies_parsers_disagree_about_are_422_even_when_signed(client: httpx.Client) -> None:
    answers = {
        body[:60]: client.post("/api/webhooks/instagram", content=body, headers=signed(body))
        for body in DISPUTED
    }
    assert {body: a.status_code for body, a in answers.items() if a.status_code != 422} == {}
    assert stored(client, "accepted") == 0
    assert stored(client, "invalid") == len(DISPUTED)
