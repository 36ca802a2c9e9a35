"""API keys: made by `crisis-facts keys`, checked on every write; only hashes are stored.

A token reads `cfk_<prefix>_<secret>`. The prefix is public and finds the key; the whole
token's SHA-256 is compared with the stored one in constant time. Tokens carry 256 bits
of randomness, so a fast hash is as good as a slow one here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from service.vocabulary import Role

_TOKEN = re.compile(r"^cfk_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class Key:
    """A key as stored, without its token."""

    name: str
    role: Role
    prefix: str
    token_hash: bytes
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None

    def in_force(self, now: dt.datetime) -> bool:
        """Neither revoked nor past its expiry."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class KeyExists(ValueError):
    """A key of that name exists already."""


def _hashed(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def prefix_of(token: str) -> str | None:
    """The public part of a well-formed token, or None for anything else."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def matches(key: Key, token: str) -> bool:
    """True when `token` is the key's own (constant time), whether in force or not."""
    return hmac.compare_digest(key.token_hash, _hashed(token))


def create(
    conn: psycopg.Connection[Any], name: str, role: Role, expires_at: dt.datetime | None = None
) -> str:
    """Store a new key and return its token, which is never shown again."""
    prefix = secrets.token_hex(4)
    token = f"cfk_{prefix}_{secrets.token_urlsafe(32)}"
    try:
        conn.execute(
            "INSERT INTO api_keys (name, role, prefix, token_hash, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            [name, role.value, prefix, _hashed(token), expires_at],
        )
    except psycopg.errors.UniqueViolation:
        raise KeyExists(name) from None
    return token


_COLUMNS = "name, role, prefix, token_hash, created_at, revoked_at, expires_at"


def listed(conn: psycopg.Connection[Any]) -> list[Key]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY name").fetchall()
    return [_key(row) for row in rows]


def revoke(conn: psycopg.Connection[Any], name: str) -> bool:
    """Revoke the key `name`; False when there is no such key still in force."""
    done = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", [name]
    )
    return done.rowcount == 1


async def find(conn: AsyncConnection[Any], prefix: str) -> Key | None:
    """The key whose token starts with `prefix`, revoked or not."""
    cursor = await conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = %s", [prefix])
    row = await cursor.fetchone()
    return None if row is None else _key(row)


_FIND_COUNTED = (
    f"SELECT {', '.join('k.' + c for c in _COLUMNS.split(', '))}, c.used,"
    " extract(epoch FROM c.ends - now())::float8"
    " FROM (SELECT) AS one"
    " LEFT JOIN api_keys AS k ON k.prefix = %(prefix)s"
    " LEFT JOIN rate_counts AS c ON c.key = %(count)s AND c.ends > now()"
)


async def find_counted(
    conn: AsyncConnection[Any], prefix: str, count: str
) -> tuple[Key | None, int, float]:
    """`find`, and the open window of `count` in service.counts' table (its failures and
    seconds left, 0 and 0.0 when none is open): one round trip where a write had two."""
    cursor = await conn.execute(_FIND_COUNTED, {"prefix": prefix, "count": count})
    row = await cursor.fetchone()
    assert row is not None  # one row, whatever matched
    key = None if row[0] is None else _key(row[:7])
    return key, int(row[7] or 0), float(row[8] or 0.0)


def _key(row: tuple[Any, ...]) -> Key:
    name, role, prefix, token_hash, created_at, revoked_at, expires_at = row
    return Key(
        name=name,
        role=Role(role),
        prefix=prefix,
        token_hash=bytes(token_hash),
        created_at=created_at,
        revoked_at=revoked_at,
        expires_at=expires_at,
    )
