"""Safe retries of writes: an answer kept under its `Idempotency-Key` for 24 hours.

Read and written in the write's own transaction, after the lock on its key: a retry that races
its original waits for it and then replays its answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg

KEPT_FOR = "24 hours"


@dataclass(frozen=True, slots=True)
class Kept:
    """A write's answer as it was sent, and the request it answered."""

    fingerprint: bytes
    status: int
    etag: str
    location: str
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests the same request: method, path and the body's JSON value, so
    that a client which serialises the same body again (other spacing, members in another
    order) replays its first answer."""
    try:
        body = _canonical(msgspec.json.decode(body))
    except (msgspec.DecodeError, RecursionError):
        pass  # not JSON, or none a write takes: its bytes, as sent
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).digest()


_canonical = msgspec.json.Encoder(order="sorted").encode


def kept(conn: psycopg.Connection[Any], key_name: str, key: str) -> Kept | None:
    row = conn.execute(
        "SELECT fingerprint, status, etag, location, body FROM idempotent_requests "
        f"WHERE key_name = %s AND idempotency_key = %s AND made_at > now() - interval '{KEPT_FOR}'",
        [key_name, key],
    ).fetchone()
    return None if row is None else Kept(bytes(row[0]), row[1], row[2], row[3], bytes(row[4]))


def keep(conn: psycopg.Connection[Any], key_name: str, key: str, answer: Kept) -> None:
    """Keep an answer (replacing an expired one of the same key) and forget expired ones."""
    conn.execute(f"DELETE FROM idempotent_requests WHERE made_at < now() - interval '{KEPT_FOR}'")
    conn.execute(
        "INSERT INTO idempotent_requests "
        "(key_name, idempotency_key, fingerprint, status, etag, location, body) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            key_name,
            key,
            answer.fingerprint,
            answer.status,
            answer.etag,
            answer.location,
            answer.body,
        ],
    )
