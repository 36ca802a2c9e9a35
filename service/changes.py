"""The changes feed's read SQL: the change log (`revisions`) in commit order after a cursor.

Writers number revisions under one lock held until they commit, so no change can commit
later with a number below one a reader has already seen: reading `revision > cursor` in
order never skips and never repeats.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from psycopg import sql

from service import schemas
from service.queries import BadCursor, Conn, decode_cursor, encode_cursor
from service.vocabulary import Operation, RecordKind

SCOPE = "changes"
_KINDS = {kind.value: kind for kind in RecordKind}
_OPERATIONS = {operation.value: operation for operation in Operation}
"""Names to members by a dict lookup: calling the enum costs a microsecond, 100 a page."""


def cursor_of(revision: int) -> str:
    """The opaque cursor of a position in the change log."""
    return encode_cursor(SCOPE, [revision])


def revision_of(cursor: str | None) -> int:
    """The revision a cursor stands after; 0 (the beginning) for none."""
    if cursor is None:
        return 0
    (revision,) = decode_cursor(SCOPE, cursor, (int,))
    if revision < 0:
        raise BadCursor("not a cursor issued by this API")
    return int(revision)


@functools.cache
def _statement(crisis: bool, kind: bool, limit: int, drafts: bool = False) -> sql.SQL:
    """One statement, one snapshot: the page and the last revision committed, so that a page
    with fewer matches than asked for moves the cursor past the changes it did not match
    (changes to drafts among them, for a reader who does not see drafts)."""
    where = [sql.SQL("revision > %(since)s")]
    if not drafts:
        where.append(sql.SQL("public"))
    if crisis:
        where.append(sql.SQL("crisis_id = %(crisis)s"))
    if kind:
        where.append(sql.SQL("kind = %(kind)s"))
    query = sql.SQL(
        "SELECT h.head, r.revision, r.kind, r.record_id, r.crisis_id, r.operation, r.made_at, "
        "r.author, r.message, convert_to(r.answer, 'UTF8') "
        "FROM (SELECT coalesce(max(revision), 0) AS head FROM revisions) h "
        "LEFT JOIN LATERAL (SELECT * FROM revisions WHERE {where} "
        "ORDER BY revision LIMIT {limit}) r ON true ORDER BY r.revision"
    ).format(where=sql.SQL(" AND ").join(where), limit=sql.Literal(limit))
    return sql.SQL(query.as_string(None))


async def page(
    conn: Conn,
    since: int,
    limit: int,
    crisis: str | None,
    kind: str | None,
    drafts: bool = False,
) -> schemas.ChangePage:
    """Up to `limit` changes after revision `since`, optionally of one crisis and one kind;
    changes to drafts only for a reader who sees drafts."""
    params: dict[str, Any] = {"since": since, "crisis": crisis, "kind": kind}
    query = _statement(crisis is not None, kind is not None, limit, drafts)
    # A filter is planned for its value: a generic plan walked the whole log in revision
    # order to find the one change of a rare kind (seconds at 1M changes; bench/RESULTS.md).
    prepare = False if crisis is not None or kind is not None else None
    rows = await (await conn.execute(query, params, binary=True, prepare=prepare)).fetchall()
    items = [
        schemas.Change(
            revision=row[1],
            kind=_KINDS[row[2]],
            id=row[3],
            crisis_id=row[4],
            operation=_OPERATIONS[row[5]],
            made_at=row[6],
            author=row[7],
            message=row[8],
            answer=None if row[9] is None else msgspec.Raw(row[9]),
        )
        for row in rows
        if row[1] is not None
    ]
    head = int(rows[0][0]) if rows else 0
    if len(items) == limit:
        last = items[-1].revision
    else:  # every change up to `head` was seen: those that did not match are passed over
        last = max(since, head)
    return schemas.ChangePage(items=items, next_cursor=cursor_of(last))
