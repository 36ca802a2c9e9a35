"""The subscriptions' SQL for the API: create, list, get, delete, and their attempts.

A new subscription starts at the newest revision: it is sent what changes after it was
made (the feed, `GET /v1/changes`, has everything before)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import msgspec
from psycopg import AsyncConnection

from service import schemas
from service.vocabulary import RecordKind

Conn = AsyncConnection[Any]

_COLUMNS = (
    "id, url, kinds, crisis_id, cursor, failures, failing_since, next_attempt_at, created_at, "
    "disabled_at, disabled_reason"
)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create(conn: Conn, new: schemas.NewWebhook) -> schemas.CreatedWebhook:
    secret = new_secret()
    cursor = await conn.execute(
        "INSERT INTO webhook_subscriptions (id, url, kinds, crisis_id, secret, cursor) "
        "VALUES (%s, %s, %s, %s, %s, (SELECT coalesce(max(revision), 0) FROM revisions)) "
        f"RETURNING {_COLUMNS}",
        [
            "wh-" + secrets.token_hex(8),
            new.url,
            sorted({k.value for k in new.kinds}),
            new.crisis_id,
            secret,
        ],
    )
    row = await cursor.fetchone()
    assert row is not None
    webhook = _webhook(row)
    return schemas.CreatedWebhook(**msgspec.structs.asdict(webhook), secret=secret)


async def listed(conn: Conn) -> list[schemas.Webhook]:
    cursor = await conn.execute(f"SELECT {_COLUMNS} FROM webhook_subscriptions ORDER BY id")
    return [_webhook(row) for row in await cursor.fetchall()]


async def get(conn: Conn, webhook_id: str) -> schemas.Webhook | None:
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE id = %s", [webhook_id]
    )
    row = await cursor.fetchone()
    return None if row is None else _webhook(row)


async def delete(conn: Conn, webhook_id: str) -> bool:
    """Delete a subscription and its attempts: nothing more is sent to it. A delivery in
    flight finishes first (the worker holds the row until its attempt is recorded)."""
    cursor = await conn.execute("DELETE FROM webhook_subscriptions WHERE id = %s", [webhook_id])
    return cursor.rowcount == 1


async def attempts(conn: Conn, webhook_id: str, limit: int) -> list[schemas.Delivery]:
    cursor = await conn.execute(
        "SELECT revision, message_id, attempted_at, status, ok, error, excerpt, duration_ms "
        "FROM webhook_attempts WHERE subscription_id = %s ORDER BY id DESC LIMIT %s",
        [webhook_id, limit],
    )
    return [
        schemas.Delivery(
            revision=row[0],
            message_id=row[1],
            attempted_at=row[2],
            status=row[3],
            ok=row[4],
            error=row[5],
            excerpt=row[6],
            duration_ms=row[7],
        )
        for row in await cursor.fetchall()
    ]


def _webhook(row: tuple[Any, ...]) -> schemas.Webhook:
    return schemas.Webhook(
        id=row[0],
        url=row[1],
        kinds=[RecordKind(k) for k in row[2]],
        crisis_id=row[3],
        cursor=row[4],
        failures=row[5],
        failing_since=row[6],
        next_attempt_at=row[7],
        created_at=row[8],
        disabled_at=row[9],
        disabled_reason=row[10],
    )
