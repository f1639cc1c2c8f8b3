"""Signed webhooks against a real app: valid, bad signature, replayed, stale timestamp, duplicate id."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from app import webhooks
from tests.app.helpers import metric_value
from tests.conftest import WEBHOOK_SECRETS
from tests.support.procs import AppProcess

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
