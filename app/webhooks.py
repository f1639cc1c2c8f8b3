"""Signed webhooks from influencer platforms and agencies.

The sender signs ``f"{timestamp}.{body}"`` with HMAC-SHA256 under the source's shared secret and sends

    X-Peakops-Timestamp: 1763853600
    X-Peakops-Signature: sha256=<hex digest>

The timestamp is inside the signature, so a captured request cannot be re-sent later with a fresh one,
and the tolerance bounds how long a capture is worth anything; within it, the event id makes a replay a
no-op.

Hostile input ends in a clear refusal, never an exception: the signature is compared as bytes (an
attacker's header may hold any byte), and the body is read once, by one strict parser, as I-JSON
(RFC 7493), the subset every JSON parser reads alike, so what was verified is what is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

SCHEME = "sha256="
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")  # ASCII digits only: int() also reads "١٢" and "1_000"
MAX_DEPTH = 32
# I-JSON: numbers a double holds exactly, so every parser (and PostgreSQL's json) reads the same value.
MAX_SAFE_INTEGER = 2**53 - 1


class SignatureError(ValueError):
    pass


class PayloadError(ValueError):
    """The body is not I-JSON; the message says why (for a 422)."""


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
    if not TIMESTAMP.match(timestamp_header.strip()):
        raise SignatureError("timestamp is not an integer")
    timestamp = int(timestamp_header.strip())
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance window")
    expected = sign(secret, timestamp, body).encode("ascii")
    # HTTP headers arrive decoded as latin-1, so this gives back the bytes that were sent, whatever they are.
    provided = signature_header.strip().encode("latin-1", errors="replace")
    if not hmac.compare_digest(expected, provided):
        raise SignatureError("signature mismatch")
    return timestamp


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise PayloadError(f"duplicate member name {name[:40]!r}")
        found[name] = value
    return found


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise PayloadError("an integer outside +-(2^53 - 1)")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise PayloadError("a number too large for a double")
    return value


def _constant(name: str) -> Any:
    raise PayloadError(f"{name} is not JSON")


def _check(node: Any, depth: int = 1) -> None:
    if depth > MAX_DEPTH:
        raise PayloadError(f"nested deeper than {MAX_DEPTH}")
    strings: list[str] = []
    if isinstance(node, dict):
        strings.extend(node)
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        children = []
        if isinstance(node, str):
            strings.append(node)
    for text in strings:
        if "\x00" in text:
            raise PayloadError("a NUL character in a string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError("a lone surrogate in a string") from None
    for child in children:
        _check(child, depth + 1)


def parse_payload(body: bytes) -> dict[str, Any]:
    """The body as a JSON object under I-JSON's rules (RFC 7493): UTF-8, no duplicate member names, no
    NaN or Infinity, integers within +-(2^53 - 1), finite numbers, strings without NUL or lone
    surrogates, nesting at most MAX_DEPTH. Raises PayloadError naming what is wrong."""
    try:
        text = body.decode("utf-8")
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=_constant,
        )
    except UnicodeDecodeError:
        raise PayloadError("not UTF-8") from None
    except RecursionError:
        raise PayloadError(f"nested deeper than {MAX_DEPTH}") from None
    except PayloadError:
        raise
    except ValueError as exc:  # json.JSONDecodeError, int() of an over-long literal
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("not a JSON object")
    _check(data)
    return data
