"""Read SQL of the change log: the revisions of one record, newest first."""

from __future__ import annotations

from typing import Any

import msgspec

from service import schemas
from service.queries import Conn

_COLUMNS = "revision, kind, record_id, crisis_id, operation, author, message, made_at, answer"

LATEST = (
    f"SELECT {_COLUMNS} FROM revisions WHERE kind = %s AND record_id = %s "
    "ORDER BY revision DESC LIMIT 1"
)
"""A record's latest revision."""


def revision_of(row: tuple[Any, ...]) -> schemas.Revision:
    """A row of `_COLUMNS` as the API serves it."""
    revision, kind, record_id, crisis_id, operation, author, message, made_at, answer = row
    return schemas.Revision(
        revision=revision,
        kind=kind,
        record_id=record_id,
        crisis_id=crisis_id,
        operation=operation,
        author=author,
        message=message,
        made_at=made_at,
        answer=None if answer is None else msgspec.json.decode(answer),
    )


async def revisions(
    conn: Conn, kind: str, record_id: str, limit: int, before: int | None, drafts: bool = False
) -> list[schemas.Revision]:
    """Up to `limit` revisions of a record, newest first, older than `before` when given;
    changes made to it as a draft only for a reader who sees drafts."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM revisions WHERE kind = %s AND record_id = %s "
        "AND revision < %s AND (public OR %s) ORDER BY revision DESC LIMIT %s",
        [kind, record_id, before if before is not None else 2**62, drafts, limit],
    )
    return [revision_of(row) for row in await cursor.fetchall()]


async def revision(
    conn: Conn, kind: str, record_id: str, number: int, drafts: bool = False
) -> schemas.Revision | None:
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM revisions WHERE kind = %s AND record_id = %s AND revision = %s "
        "AND (public OR %s)",
        [kind, record_id, number, drafts],
    )
    row = await cursor.fetchone()
    return None if row is None else revision_of(row)
