"""What every read shares: cursors, stored answers and their ETags, SQL built once
per shape, and running it."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, LiteralString, TypeVar

import msgspec
from psycopg import AsyncConnection, sql

from service import schemas
from service.vocabulary import FactKind

T = TypeVar("T")
Conn = AsyncConnection[tuple[Any, ...]]


class BadCursor(ValueError):
    """A cursor this service did not issue for this list."""


def encode_cursor(scope: str, key: list[Any]) -> str:
    raw = msgspec.json.encode([scope, *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_PART = str | int | None


def decode_cursor(scope: str, cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The key a cursor carries, checked against the list it was issued for."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw, type=list[_CURSOR_PART])
    except (ValueError, msgspec.DecodeError):
        raise BadCursor("not a cursor issued by this API") from None
    if len(parts) != len(types) + 1 or parts[0] != scope:
        raise BadCursor("this cursor belongs to another list or filter")
    key = parts[1:]
    for value, kind in zip(key, types, strict=True):
        if kind is dt.date:
            if not isinstance(value, str):
                raise BadCursor("not a cursor issued by this API")
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise BadCursor("not a cursor issued by this API") from None
        elif not isinstance(value, kind) or isinstance(value, bool):
            raise BadCursor("not a cursor issued by this API")
    return key


KIND_TABLE = {
    FactKind.STATEMENT: ("statements", "st"),
    FactKind.CASUALTY: ("casualties", "ca"),
    FactKind.DEPLOYMENT: ("deployments", "de"),
    FactKind.ARREST: ("arrests", "ar"),
}


def stored_list(rows: list[tuple[Any, ...]]) -> Any:
    """Stored answers (first column, UTF-8 bytes) as one JSON array, sent as they are: the
    load built them in the Structs' shape, so they are not decoded to be encoded again."""
    return msgspec.Raw(b"[" + b",".join([r[0] for r in rows]) + b"]")


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """Stored answers and their strong ETag, made from the digests the load stored with them:
    hashing a 50 kB page on every request cost more than reading it from PostgreSQL."""

    value: T
    etag: str


_PAGE_TAG = msgspec.json.encode(schemas.Page(items=stored_list([]), next_cursor=None))
"""Salt of a page's ETag: the envelope around the answers, as this code encodes it, so that
a change to the envelope changes every page's tag."""


def _page_etag(digests: list[bytes], next_cursor: str | None) -> str:
    """The same answers in the same order with the same next cursor are the same body."""
    hashed = hashlib.sha256(_PAGE_TAG)
    hashed.update(b"".join(digests))
    hashed.update((next_cursor or "").encode())
    return f'"{hashed.hexdigest()[:32]}"'


def stored_page(rows: list[tuple[Any, ...]], next_cursor: str | None) -> Stored[schemas.Page[Any]]:
    """A page of stored answers: (answer, digest, ...) rows, at most a page of them."""
    page = schemas.Page(items=stored_list(rows), next_cursor=next_cursor)
    return Stored(page, _page_etag([r[1] for r in rows], next_cursor))


# Each statement is built once per shape (the kind, which filters are set, a cursor or not,
# the page size) by a cached builder, and rendered once: only the values vary per request,
# as a params dict built fresh for it and handed on untouched. A filter's parameter is named
# after the filter, so the names of the parameters set are the shape.


@dataclass(frozen=True, slots=True)
class Where:
    """SQL conditions, joined by AND; `a + b` has both. The values they name travel apart."""

    clauses: tuple[sql.Composable, ...] = ()

    @classmethod
    def of(cls, clause: LiteralString | sql.Composable) -> Where:
        return cls((sql.SQL(clause) if isinstance(clause, str) else clause,))

    def __add__(self, other: Where) -> Where:
        return Where(self.clauses + other.clauses)

    def joined(self) -> sql.Composable:
        """The conditions joined by AND; `true` when there are none."""
        return sql.SQL(" AND ").join(self.clauses) if self.clauses else sql.SQL("true")


@functools.cache
def limit_clause(rows: int) -> sql.Composed:
    """`LIMIT n` as a literal: a statement psycopg prepares plans `LIMIT $1` without knowing
    that a page is a few dozen rows, and picks plans made for the whole table."""
    return sql.SQL("LIMIT {}").format(sql.Literal(rows))


def rendered(query: sql.Composed) -> sql.SQL:
    """`query` as one string, for a statement built once and run many times: psycopg renders
    a `Composed` on every execute, and composing it per request cost more than the page's
    other Python (bench/RESULTS.md)."""
    return sql.SQL(query.as_string(None))


async def fetch_rows(
    conn: Conn,
    query: sql.SQL | sql.Composed,
    params: Mapping[str, Any],
    binary: bool = False,
    prepare: bool | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of one query. psycopg prepares a statement after a few runs, planned once when
    its generic plan is no dearer; `prepare=False` where one plan cannot suit every value."""
    cursor = await conn.execute(query, params, binary=binary, prepare=prepare)
    return await cursor.fetchall()
