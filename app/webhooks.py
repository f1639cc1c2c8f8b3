"""Signed webhooks from influencer platforms and agencies.

The sender signs ``f"{timestamp}.{body}"`` with HMAC-SHA256 under the source's shared secret and sends

    X-Peakops-Timestamp: 1763853600
    X-Peakops-Signature: sha256=<hex digest>

The timestamp is inside the signature, so a captured request cannot be re-sent later with a fresh one,
and the tolerance bounds how long a capture is worth anything; within it, the event id makes a replay a
no-op.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "sha256="


class SignatureError(ValueError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return SCHEME + digest


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    tolerance_s: int,
) -> int:
    """Return the signed timestamp, or raise SignatureError saying what is wrong."""
    if not timestamp_header or not signature_header:
        raise SignatureError("missing signature headers")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise SignatureError("timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance window")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature_header.strip()):
        raise SignatureError("signature mismatch")
    return timestamp
