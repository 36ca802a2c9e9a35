"""An article or an actor with the revision it is at: its answer and its ETag, which an
edit's If-Match names (as a fact's does)."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from psycopg import sql

from service import schemas
from service.queries.base import Conn, Stored, rendered
from service.queries.facts import fact_etag
from service.queries.resources import _ACTOR_JSON, _SOURCE_JSON
from service.vocabulary import PUBLIC, Visibility

GET_REVISED = {
    kind: rendered(
        sql.SQL(
            "SELECT {json}::text, coalesce(r.revision, 0) FROM {table} "
            "LEFT JOIN records r ON r.kind = {kind} AND r.id = {alias}.id "
            "WHERE {alias}.id = %(id)s"
        ).format(
            json=json,
            table=sql.SQL(table),
            kind=sql.Literal(kind),
            alias=sql.Identifier(table[-1]),
        )
    )
    for kind, table, json in (
        ("source", "sources s", _SOURCE_JSON),
        ("actor", "actors a", _ACTOR_JSON),
    )
}
"""By record kind: its answer as JSON text and its current revision."""

SHAPE: dict[str, type[msgspec.Struct]] = {"source": schemas.Source, "actor": schemas.Actor}


def revised(kind: str, row: tuple[Any, ...]) -> Stored[Any]:
    """A row of GET_REVISED as it is served: the Struct's encoding, tagged with its revision."""
    body = msgspec.json.encode(msgspec.json.decode(row[0], type=SHAPE[kind]))
    return Stored(msgspec.Raw(body), fact_etag(row[1], hashlib.sha256(body).digest()[:16]))


async def get_revised(
    conn: Conn, kind: str, record_id: str, visibility: Visibility = PUBLIC
) -> Stored[Any] | None:
    """The record as this reader sees it (an actor counts the facts its reader's lists show)."""
    params = {"id": record_id, "statuses": list(visibility.statuses)}
    row = await (await conn.execute(GET_REVISED[kind], params)).fetchone()
    return None if row is None else revised(kind, row)
