"""All read SQL: one function per question, each one round trip, returning Structs.

Facts are answered from `fact_documents`, their JSON built by the load (citations and
actors embedded) and sent as it is stored. For the other items PostgreSQL builds each
one's JSON and msgspec decodes the page into typed Structs in one call, so a page costs
the same whatever its size. Lists are keyset-paginated on a unique, indexed order.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, LiteralString, TypeVar

import msgspec
from psycopg import AsyncConnection, sql

from service import schemas
from service.vocabulary import FactKind

T = TypeVar("T")
Conn = AsyncConnection[tuple[Any, ...]]


class BadCursor(ValueError):
    """A cursor this service did not issue for this list."""


# ---------------------------------------------------------------- cursors


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


# ---------------------------------------------------------------- stored fact answers

_KIND_TABLE = {
    FactKind.STATEMENT: ("statements", "st"),
    FactKind.CASUALTY: ("casualties", "ca"),
    FactKind.DEPLOYMENT: ("deployments", "de"),
    FactKind.ARREST: ("arrests", "ar"),
}


def _stored_list(rows: list[tuple[Any, ...]]) -> Any:
    """Stored answers (first column, UTF-8 bytes) as one JSON array, sent as they are: the
    load built them in the Structs' shape, so they are not decoded to be encoded again."""
    return msgspec.Raw(b"[" + b",".join([r[0] for r in rows]) + b"]")


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """Stored answers and their strong ETag, made from the digests the load stored with them:
    hashing a 50 kB page on every request cost more than reading it from PostgreSQL."""

    value: T
    etag: str


_PAGE_TAG = msgspec.json.encode(schemas.Page(items=_stored_list([]), next_cursor=None))
"""Salt of a page's ETag: the envelope around the answers, as this code encodes it, so that
a change to the envelope changes every page's tag."""


def _page_etag(digests: list[bytes], next_cursor: str | None) -> str:
    """The same answers in the same order with the same next cursor are the same body."""
    hashed = hashlib.sha256(_PAGE_TAG)
    hashed.update(b"".join(digests))
    hashed.update((next_cursor or "").encode())
    return f'"{hashed.hexdigest()[:32]}"'


def _stored_page(rows: list[tuple[Any, ...]], next_cursor: str | None) -> Stored[schemas.Page[Any]]:
    """A page of stored answers: (answer, digest, ...) rows, at most a page of them."""
    page = schemas.Page(items=_stored_list(rows), next_cursor=next_cursor)
    return Stored(page, _page_etag([r[1] for r in rows], next_cursor))


# ---------------------------------------------------------------- building SQL


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
def _limit(rows: int) -> sql.Composed:
    """`LIMIT n` as a literal: a statement psycopg prepares plans `LIMIT $1` without knowing
    that a page is a few dozen rows, and picks plans made for the whole table."""
    return sql.SQL("LIMIT {}").format(sql.Literal(rows))


def _rendered(query: sql.Composed) -> sql.SQL:
    """`query` as one string, for a statement built once and run many times: psycopg renders
    a `Composed` on every execute, and composing it per request cost more than the page's
    other Python (bench/RESULTS.md)."""
    return sql.SQL(query.as_string(None))


async def _fetch(
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


# ---------------------------------------------------------------- fact filters


@dataclass(frozen=True)
class FactFilter:
    """What a client may narrow a fact list by; None means no restriction."""

    crisis: str | None = None
    actor: str | None = None
    source: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    language: str | None = None
    verification: str | None = None
    key: str | None = None
    kind_filters: dict[str, Any] = field(default_factory=dict)

    def _shared(self) -> tuple[Any, ...]:
        """The filters every fact list has, in one order for `narrows` and `scope`."""
        return (
            self.crisis,
            self.actor,
            self.source,
            self.since,
            self.until,
            self.language,
            self.verification,
            self.key,
        )

    @property
    def narrows(self) -> bool:
        """True when any filter is set: such a page is planned for its own values."""
        values = (*self._shared(), *self.kind_filters.values())
        return any(value is not None for value in values)

    def params(self) -> dict[str, Any]:
        """The values of the filters that are set, named as `_fact_conditions` names them and
        in its order, in a dict of their own: its keys are the query's shape."""
        named = {
            "crisis": self.crisis,
            "actor": self.actor,
            "source": self.source,
            "language": self.language,
            "since": self.since,
            "until": self.until,
            "verification": self.verification,
            "key": self.key,
            **{f"k_{column}": value for column, value in self.kind_filters.items()},
        }
        return {name: value for name, value in named.items() if value is not None}

    def scope(self, name: str) -> str:
        """Cursors are bound to the list and its filters: a cursor from another list is refused."""
        parts = [name, *self._shared(), *sorted(self.kind_filters.items())]
        digest = msgspec.json.encode(parts, enc_hook=str)
        return hashlib.blake2s(digest, digest_size=6).hexdigest()


_FACT_CONDITIONS: dict[str, LiteralString] = {
    "crisis": "f.crisis_id = %(crisis)s",
    "actor": "f.id IN (SELECT fa.fact_id FROM fact_actors fa WHERE fa.actor_id = %(actor)s)",
    "source": "f.id IN (SELECT c.fact_id FROM citations c WHERE c.source_id = %(source)s)",
    "language": "f.id IN (SELECT c.fact_id FROM citations c JOIN sources s ON s.id = c.source_id"
    " WHERE s.language = %(language)s)",
    "since": "{date} >= %(since)s",
    "until": "{date} <= %(until)s",
    "verification": "f.verification = %(verification)s",
    "key": "f.quantity_key = %(key)s",
}
"""The condition on `f` each filter's parameter stands for; `{date}` is the fact's date."""


def _fact_conditions(
    names: Iterable[str], alias: str | None, date: LiteralString = "f.occurred_on"
) -> Where:
    """The conditions the filters' parameters `names` stand for, in their order: a kind
    filter's (`k_<column>`) is on the kind table as `alias`."""
    where = Where()
    for name in names:
        if name.startswith("k_"):
            assert alias is not None
            column = sql.Identifier(alias, name.removeprefix("k_"))
            where += Where.of(sql.SQL("{} = {}").format(column, sql.Placeholder(name)))
        else:
            where += Where.of(sql.SQL(_FACT_CONDITIONS[name]).format(date=sql.SQL(date)))
    return where


def _decode_list(texts: list[str], item_type: Any) -> list[Any]:
    """Decode rows of JSON into Structs in one call: one `[...]` document, one decode."""
    if not texts:
        return []
    items: list[Any] = msgspec.json.decode(
        ("[" + ",".join(texts) + "]").encode(), type=list[item_type]
    )
    return items


_DOCUMENTS = sql.SQL(
    "SELECT convert_to(d.document, 'UTF8'), d.digest, d.fact_id FROM fact_documents d"
)


@functools.cache
def _every_fact(kind: FactKind, paged: bool, rows: int) -> sql.SQL:
    """A page of every fact of the kind: one range of fact_documents (kind, fact_id), the
    answers read as they lie. The cursor is a subquery so that the plan does not depend on
    its value, which made PostgreSQL plan every page afresh."""
    where = Where.of(sql.SQL("d.kind = {}").format(sql.Literal(kind.value)))
    if paged:
        where += Where.of("d.fact_id > (SELECT %(after)s::text)")
    return _rendered(
        sql.SQL("{documents} WHERE {where} ORDER BY d.fact_id {limit}").format(
            documents=_DOCUMENTS, where=where.joined(), limit=_limit(rows)
        )
    )


def _documents_of(page: sql.Composable) -> sql.SQL:
    """The answers of a page of ids: one array probed in one index scan, not a lookup joined
    per id."""
    return _rendered(
        sql.SQL("{documents} WHERE d.fact_id = ANY(ARRAY({page})) ORDER BY d.fact_id").format(
            documents=_DOCUMENTS, page=page
        )
    )


def _kind_join(kind: FactKind, names: tuple[str, ...]) -> sql.Composable:
    """The kind's table, joined when a kind filter is set."""
    if not any(name.startswith("k_") for name in names):
        return sql.SQL("")
    table, alias = _KIND_TABLE[kind]
    return sql.SQL(" JOIN {table} {alias} ON {alias}.fact_id = f.id").format(
        table=sql.Identifier(table), alias=sql.Identifier(alias)
    )


_DATES = ("since", "until")


@functools.lru_cache(maxsize=1024)
def _actor_page(kind: FactKind, names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """An actor's page of facts of the kind, with the other filters `names` and the cursor.

    The actor's facts of this kind are one index range in id order, with their dates: the
    page walks it and stops at `rows`, where the planner might read every fact of the date
    range and sort. The other filters are checked on each fact walked, fetched by its key
    alone (OFFSET 0 keeps them out of that probe; LATERAL ... LIMIT 1 keeps the walk), so
    one plan suits every value and is prepared once."""
    alias = _KIND_TABLE[kind][1]
    walk = Where.of(
        sql.SQL("fa.actor_id = %(actor)s AND fa.kind = {}").format(sql.Literal(kind.value))
    )
    walk += _fact_conditions([n for n in names if n in _DATES], alias, date="fa.occurred_on")
    if paged:
        walk += Where.of("fa.fact_id > %(after)s")
    checked = _fact_conditions([n for n in names if n not in {"actor", *_DATES}], alias)
    probe: sql.Composable = sql.SQL("")
    if checked.clauses:  # kind filters come with their clauses
        probe = sql.SQL("""
            CROSS JOIN LATERAL (
                SELECT 1 FROM (SELECT * FROM facts f WHERE f.id = fa.fact_id OFFSET 0) f{join}
                WHERE {checked} LIMIT 1
            ) f""").format(join=_kind_join(kind, names), checked=checked.joined())
    page = sql.SQL("""
            SELECT fa.fact_id AS id
            FROM (SELECT DISTINCT fa.fact_id FROM fact_actors fa WHERE {walk}) fa{probe}
            ORDER BY fa.fact_id {limit}
        """).format(walk=walk.joined(), probe=probe, limit=_limit(rows))
    return _documents_of(page)


@functools.lru_cache(maxsize=1024)
def _filtered_page(kind: FactKind, names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """A page of facts of the kind narrowed by the filters `names`, after the cursor."""
    where = Where.of(sql.SQL("f.kind = {}").format(sql.Literal(kind.value)))
    where += _fact_conditions(names, _KIND_TABLE[kind][1])
    if paged:
        where += Where.of("f.id > %(after)s")
    page = sql.SQL("SELECT f.id FROM facts f{join} WHERE {where} ORDER BY f.id {limit}").format(
        join=_kind_join(kind, names), where=where.joined(), limit=_limit(rows)
    )
    return _documents_of(page)


async def list_facts(
    conn: Conn,
    kind: FactKind,
    filters: FactFilter,
    limit: int,
    cursor: str | None,
) -> Stored[schemas.Page[Any]]:
    """A page of facts of one kind, in id order. The kind is written into the SQL: each kind
    is its own statement with its own plan."""
    scope = filters.scope(kind.value)
    params = filters.params()
    names, paged = tuple(params), cursor is not None
    if cursor is not None:
        params["after"] = decode_cursor(scope, cursor, (str,))[0]
    prepare: bool | None = None
    if filters.actor is not None:
        query = _actor_page(kind, names, paged, limit + 1)
    elif not names:
        query = _every_fact(kind, paged, limit + 1)
    else:
        # One plan cannot suit every value of every filter.
        query, prepare = _filtered_page(kind, names, paged, limit + 1), False
    rows = await _fetch(conn, query, params, binary=True, prepare=prepare)
    return _page(rows, limit, scope)


def _page(rows: list[tuple[Any, ...]], limit: int, scope: str) -> Stored[schemas.Page[Any]]:
    """Stored answers and the id after which the next page starts."""
    next_cursor = encode_cursor(scope, [rows[limit - 1][2]]) if len(rows) > limit else None
    return _stored_page(rows[:limit], next_cursor)


_GET_FACT = {
    kind: _rendered(
        sql.SQL(
            "SELECT convert_to(d.document, 'UTF8'), d.digest, d.revision "
            "FROM fact_documents d "
            "WHERE d.fact_id = %(id)s AND d.kind = {}"
        ).format(sql.Literal(kind.value))
    )
    for kind in FactKind
}


async def get_fact(conn: Conn, kind: FactKind, fact_id: str) -> Stored[Any] | None:
    row = await (await conn.execute(_GET_FACT[kind], {"id": fact_id}, binary=True)).fetchone()
    if row is None:
        return None
    # The fact's current revision is its ETag; the digest keeps a number reused by a
    # rebuilt database from naming other bytes.
    return Stored(msgspec.Raw(row[0]), f'"{row[2]}.{row[1].hex()}"')


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of a deleted record: the revision that deleted it, when and why."""

    revision: int
    deleted_at: dt.datetime
    message: str | None


async def tombstone(conn: Conn, kind: str, record_id: str) -> Tombstone | None:
    """The deletion of a record that no longer exists, if it ever did."""
    row = await (
        await conn.execute(
            "SELECT v.revision, v.made_at, v.message FROM records r "
            "JOIN revisions v ON v.revision = r.revision "
            "WHERE r.kind = %(kind)s AND r.id = %(id)s AND r.state IS NULL",
            {"kind": kind, "id": record_id},
        )
    ).fetchone()
    return None if row is None else Tombstone(int(row[0]), row[1], row[2])


@functools.lru_cache(maxsize=1024)
def _timeline_sql(names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """Dated facts of the kinds `%(kinds)s` narrowed by the filters `names`, after the
    cursor. The answers are joined to the page once it is picked, ordered and limited."""
    where = Where.of("f.occurred_on IS NOT NULL")
    where += Where.of("f.kind = ANY(%(kinds)s)")
    where += _fact_conditions(names, None)
    if paged:
        where += Where.of("(f.occurred_on, f.id) > (%(day)s, %(after)s)")
    return _rendered(
        sql.SQL("""
        WITH page AS MATERIALIZED (
            SELECT f.id, f.occurred_on FROM facts f WHERE {where}
            ORDER BY f.occurred_on, f.id {limit}
        )
        SELECT convert_to(d.document, 'UTF8'), d.digest, page.*
        FROM page JOIN fact_documents d ON d.fact_id = page.id
        ORDER BY page.occurred_on, page.id
    """).format(where=where.joined(), limit=_limit(rows))
    )


async def timeline(
    conn: Conn, filters: FactFilter, kinds: tuple[FactKind, ...], limit: int, cursor: str | None
) -> Stored[schemas.Page[Any]]:
    """Dated facts of every kind in date order (then id), for dashboards."""
    scope = filters.scope("timeline:" + ",".join(k.value for k in kinds))
    params = filters.params()
    names, paged = tuple(params), cursor is not None
    params["kinds"] = [k.value for k in kinds]
    if cursor is not None:
        day, after = decode_cursor(scope, cursor, (dt.date, str))
        params["day"], params["after"] = dt.date.fromisoformat(day), after
    query = _timeline_sql(names, paged, limit + 1)
    prepare = False if filters.narrows else None
    rows = await _fetch(conn, query, params, binary=True, prepare=prepare)
    next_cursor = None
    if len(rows) > limit:
        _, _, last_id, last_day = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_day.isoformat(), last_id])
    return _stored_page(rows[:limit], next_cursor)


# ---------------------------------------------------------------- crises, sources, actors


def _date_json(table: str, value: str, precision: str) -> sql.Composable:
    """A partial date as the API shows it: as much of it as is known (`2022-01` for a
    month), as service.engine.answers.partial_date writes it, and how much that is."""
    v, p = sql.Identifier(table, value), sql.Identifier(table, precision)
    return sql.SQL(
        "CASE WHEN {v} IS NULL THEN NULL ELSE json_build_object('value', "
        "to_char({v}, CASE {p} WHEN 'year' THEN 'YYYY' WHEN 'month' THEN 'YYYY-MM' "
        "ELSE 'YYYY-MM-DD' END), 'precision', {p}) END"
    ).format(v=v, p=p)


def _given(**values: Any) -> dict[str, Any]:
    """The filters that are set, by the name of their parameter: the names are the shape."""
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, eq=False)  # one per list: cached by identity, not by its SQL
class _Keyset:
    """A list of `table` ordered by its text primary key `order`: each item's JSON, and the
    condition each filter's parameter stands for."""

    item: sql.Composable
    table: LiteralString
    order: LiteralString
    conditions: Mapping[str, LiteralString] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def _keyset_sql(listing: _Keyset, names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """A page of `listing` narrowed by the filters `names`, after the cursor."""
    order = sql.SQL(listing.order)
    where = Where(tuple(sql.SQL(listing.conditions[name]) for name in names))
    if paged:
        where += Where.of(sql.SQL("{} > %(after)s").format(order))
    return _rendered(
        sql.SQL(
            "SELECT {item}::text, {order} FROM {table} WHERE {where} ORDER BY {order} {limit}"
        ).format(
            item=listing.item,
            order=order,
            table=sql.SQL(listing.table),
            where=where.joined(),
            limit=_limit(rows),
        )
    )


async def _keyset_page(
    conn: Conn,
    listing: _Keyset,
    scope: str,
    params: Mapping[str, Any],
    limit: int,
    cursor: str | None,
    item_type: type[T],
) -> schemas.Page[T]:
    """A page of `listing` narrowed by the filters' values `params`."""
    query = _keyset_sql(listing, tuple(params), cursor is not None, limit + 1)
    if cursor is not None:
        (after,) = decode_cursor(scope, cursor, (str,))
        params = {**params, "after": after}
    rows = await _fetch(conn, query, params)
    items = _decode_list([r[0] for r in rows[:limit]], item_type)
    next_cursor = encode_cursor(scope, [rows[limit - 1][1]]) if len(rows) > limit else None
    return schemas.Page(items=items, next_cursor=next_cursor)


_CRISIS_JSON = sql.SQL("""json_build_object(
    'id', c.id, 'name', c.name, 'summary', c.summary, 'country', c.country,
    'start', {start}, 'end', {end},
    'counts', coalesce((SELECT json_object_agg(kind, n) FROM (
        SELECT kind, count(*) AS n FROM facts WHERE crisis_id = c.id GROUP BY kind) k),
        '{{}}'))""").format(
    start=_date_json("c", "start_on", "start_precision"),
    end=_date_json("c", "end_on", "end_precision"),
)


_CRISES = _Keyset(_CRISIS_JSON, "crises c", "c.id")
_GET_CRISIS = _rendered(
    sql.SQL("SELECT {}::text FROM crises c WHERE c.id = %(id)s").format(_CRISIS_JSON)
)


async def list_crises(conn: Conn, limit: int, cursor: str | None) -> schemas.Page[schemas.Crisis]:
    return await _keyset_page(conn, _CRISES, "crises", {}, limit, cursor, schemas.Crisis)


async def get_crisis(conn: Conn, crisis_id: str) -> schemas.Crisis | None:
    return await _one(conn, _GET_CRISIS, {"id": crisis_id}, schemas.Crisis)


async def _one(
    conn: Conn, query: sql.SQL, params: Mapping[str, Any], item_type: type[T]
) -> T | None:
    row = await (await conn.execute(query, params)).fetchone()
    return None if row is None else msgspec.json.decode(row[0], type=item_type)


def _source_json(with_text: bool) -> sql.Composable:
    return sql.SQL("""json_build_object(
        'id', s.id, 'crisis_id', s.crisis_id, 'title', s.title, 'outlet', s.outlet,
        'url', s.url, 'language', s.language, 'published', {published},
        'published_note', s.published_note, 'file_name', s.file_name, 'sha256', s.sha256,
        'length', s.text_length{text})""").format(
        published=_date_json("s", "published_on", "published_precision"),
        text=sql.SQL(", 'text', s.text" if with_text else ""),
    )


_SOURCE_SUMMARY_JSON = _source_json(with_text=False)
_SOURCE_JSON = _source_json(with_text=True)
_SOURCES = _Keyset(
    _SOURCE_SUMMARY_JSON,
    "sources s",
    "s.id",
    {"crisis": "s.crisis_id = %(crisis)s", "language": "s.language = %(language)s"},
)
_GET_SOURCE = _rendered(
    sql.SQL("SELECT {}::text FROM sources s WHERE s.id = %(id)s").format(_SOURCE_JSON)
)


async def list_sources(
    conn: Conn, crisis: str | None, language: str | None, limit: int, cursor: str | None
) -> schemas.Page[schemas.SourceSummary]:
    scope = FactFilter(crisis=crisis, language=language).scope("sources")
    params = _given(crisis=crisis, language=language)
    return await _keyset_page(conn, _SOURCES, scope, params, limit, cursor, schemas.SourceSummary)


async def get_source(conn: Conn, source_id: str) -> schemas.Source | None:
    return await _one(conn, _GET_SOURCE, {"id": source_id}, schemas.Source)


_ACTOR_JSON = sql.SQL("""json_build_object(
    'id', a.id, 'crisis_id', a.crisis_id, 'kind', a.kind, 'name', a.name, 'role', a.role,
    'aliases', coalesce((SELECT json_agg(json_build_object('name', al.alias,
                                                           'language', al.language)
                                         ORDER BY al.alias)
                         FROM actor_aliases al WHERE al.actor_id = a.id), '[]'),
    'fact_counts', coalesce((SELECT json_object_agg(kind, n) FROM (
        SELECT fa.kind, count(DISTINCT fa.fact_id) AS n
        FROM fact_actors fa WHERE fa.actor_id = a.id GROUP BY fa.kind) k), '{}'))""")
_ACTORS = _Keyset(
    _ACTOR_JSON,
    "actors a",
    "a.id",
    {
        "crisis": "a.crisis_id = %(crisis)s",
        "kind": "a.kind = %(kind)s",
        "name": "(a.name ILIKE %(name)s OR a.id IN "
        "(SELECT al.actor_id FROM actor_aliases al WHERE al.alias ILIKE %(name)s))",
    },
)
_GET_ACTOR = _rendered(
    sql.SQL("SELECT {}::text FROM actors a WHERE a.id = %(id)s").format(_ACTOR_JSON)
)


async def list_actors(
    conn: Conn,
    crisis: str | None,
    kind: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> schemas.Page[schemas.Actor]:
    pattern = None
    if name is not None:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    scope = FactFilter(crisis=crisis, kind_filters={"kind": kind, "name": name}).scope("actors")
    params = _given(crisis=crisis, kind=kind, name=pattern)
    return await _keyset_page(conn, _ACTORS, scope, params, limit, cursor, schemas.Actor)


async def get_actor(conn: Conn, actor_id: str) -> schemas.Actor | None:
    return await _one(conn, _GET_ACTOR, {"id": actor_id}, schemas.Actor)


# ---------------------------------------------------------------- disputes


_DISPUTE_CONDITIONS: dict[str, LiteralString] = {
    "crisis": "d.crisis_id = %(crisis)s",
    "kind": "d.kind = %(kind)s",
    "key": "d.quantity_key = %(key)s",
}


@functools.lru_cache(maxsize=64)
def _disputes_sql(names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """A page of disputes narrowed by the filters `names`, after the cursor."""
    where = Where(tuple(sql.SQL(_DISPUTE_CONDITIONS[name]) for name in names))
    if paged:
        where += Where.of("(d.crisis_id, d.quantity_key) > (%(after_crisis)s, %(after_key)s)")
    return _rendered(
        sql.SQL("""
        SELECT convert_to(d.document, 'UTF8'), d.crisis_id, d.quantity_key
        FROM disputed_quantities d WHERE {where}
        ORDER BY d.crisis_id, d.quantity_key {limit}
    """).format(where=where.joined(), limit=_limit(rows))
    )


async def list_disputes(
    conn: Conn,
    crisis: str | None,
    kind: str | None,
    key: str | None,
    limit: int,
    cursor: str | None,
) -> schemas.Page[schemas.Dispute]:
    """Disputes come from `disputed_quantities`, which each load fills with their answers: a
    page costs the same whatever the number of facts, and is sent as stored."""
    scope = FactFilter(crisis=crisis, key=key, kind_filters={"kind": kind}).scope("disputes")
    params = _given(crisis=crisis, kind=kind, key=key)
    query = _disputes_sql(tuple(params), cursor is not None, limit + 1)
    if cursor is not None:
        params["after_crisis"], params["after_key"] = decode_cursor(scope, cursor, (str, str))
    rows = await _fetch(conn, query, params, binary=True)
    next_cursor = None
    if len(rows) > limit:
        _, last_crisis, last_key = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_crisis, last_key])
    return schemas.Page(items=_stored_list(rows[:limit]), next_cursor=next_cursor)


# ---------------------------------------------------------------- search

FACT_CANDIDATES = 1000
"""Facts ranked per search: the first this many that match, in the order the index finds
them (storage order, which is load order), so that a common word costs what a rare one does."""

SOURCE_CANDIDATES = 100
"""Articles ranked per search, found as facts are, before the phrase check: articles are
long, so checking a phrase and ranking one costs more than a fact."""

FACT_RANK_BOUND = 0.1
"""What no fact can reach on a one-word query, and every article holding the word does.

Each text is ranked against the query as stemmed in its own language, so a word is one
`ts_rank` term, weighted by its first occurrence: D (0.1) in a fact, at least C (0.2) over
pi²/6 = 0.12 in an article. A page that such articles fill skips the facts' lookup (a test
holds PostgreSQL to it; bench/RESULTS.md has what that saves)."""

WINDOW = 160
WINDOW_BEFORE = 60
"""An article's snippet is marked in the WINDOW characters of its passage that start
WINDOW_BEFORE before the word: `ts_headline` parses and stems all it is given."""


def _config(language: sql.Composable) -> sql.Composable:
    """The text search configuration of a text in `language`."""
    return sql.SQL(
        "CASE {} WHEN 'fr' THEN 'french'::regconfig ELSE 'english'::regconfig END"
    ).format(language)


_SEARCH_SQL = sql.SQL("""
WITH q AS (
    SELECT query, words, query = words AS plain, english, french,
           numnode(english) <= 1 AND numnode(french) <= 1 AS one_word,
           tsvector_to_array(to_tsvector('english', %(near_word)s)
                             || to_tsvector('french', %(near_word)s)) AS stems
    FROM (
        SELECT query, english, french,
               CASE WHEN strpos(query::text, '!') = 0
                    THEN regexp_replace(query::text, '<(-|[0-9]+)>', '&', 'g')::tsquery
                    ELSE query END AS words
        FROM (SELECT english || french AS query, english, french
              FROM websearch_to_tsquery('english', %(q)s) english,
                   websearch_to_tsquery('french', %(q)s) french) q
    ) q
),
articles AS (
    SELECT 'source' AS type, s.id,
           ts_rank(s.search, CASE s.language WHEN 'fr' THEN q.french ELSE q.english END)::float8
             AS rank
    FROM q, LATERAL (
        SELECT s.id, s.search, s.language FROM sources s
        WHERE {sources}
        LIMIT {source_candidates}
    ) s
    WHERE q.plain OR s.search @@ q.query
),
hits AS (
    SELECT * FROM (
        SELECT * FROM articles
        UNION ALL
        SELECT f.kind AS type, f.id,
               greatest(ts_rank(f.search, q.english), ts_rank(f.search, q.french))::float8 AS rank
        FROM q, LATERAL (
            SELECT f.id, f.kind, f.search FROM facts f
            WHERE {facts}
            LIMIT {fact_candidates}
        ) f
        WHERE NOT (q.one_word AND (
            SELECT count(*) FROM articles h WHERE {after} AND h.rank >= {fact_rank_bound}
        ) >= {page})
    ) h
    WHERE {after}
    ORDER BY rank DESC, type, id
    {limit}
)
SELECT h.type, h.id, h.rank,
       coalesce(s.title, left(coalesce(st.content, fc.quotes), 160)),
       CASE WHEN NOT (q.one_word AND s_text.typed IS NOT NULL) THEN
       ts_headline({config},
                   coalesce(s_text.typed, s_text.excerpt, fc.quotes), q.query,
                   'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=30, MinWords=10')
       END,
       CASE WHEN q.one_word THEN s_text.typed END
FROM hits h CROSS JOIN q
LEFT JOIN sources s ON h.type = 'source' AND s.id = h.id
LEFT JOIN LATERAL (
    SELECT typed, CASE WHEN typed IS NULL THEN coalesce(
        (SELECT p.text FROM source_passages p
         WHERE p.source_id = s.id
           AND EXISTS (SELECT FROM unnest(q.stems) stem
                       WHERE strpos(lower(p.text COLLATE "C"), stem) > 0)
         ORDER BY p.n LIMIT 1),
        (SELECT p.text FROM source_passages p WHERE p.source_id = s.id AND p.n = 0)
    ) END AS excerpt
    FROM (
        SELECT (SELECT substr(p.text, greatest(w.at - {window_before}, 1), {window})
                FROM source_passages p,
                     LATERAL (SELECT coalesce(nullif(strpos(lower(p.text COLLATE "C"), %(near)s),
                                                     0),
                                              strpos(p.text, %(near_initial)s)) AS at) w
                WHERE p.source_id = s.id AND w.at > 0
                ORDER BY p.n LIMIT 1) AS typed
        WHERE s.id IS NOT NULL  -- facts have no passage to look for
        OFFSET 0  -- found once: pulled up, the passage search ran for every use of `typed`
    ) typed
) s_text ON true
LEFT JOIN statements st ON h.type = 'statement' AND st.fact_id = h.id
LEFT JOIN LATERAL (
    SELECT string_agg(c.quote, ' … ' ORDER BY c.position) AS quotes, min(c.source_id) AS source_id
    FROM citations c WHERE h.type <> 'source' AND c.fact_id = h.id
) fc ON true
LEFT JOIN sources fs ON fs.id = fc.source_id
ORDER BY h.rank DESC, h.type, h.id
""")
"""Facts and articles matching the query, ranked by `ts_rank` among the first
FACT_CANDIDATES facts and SOURCE_CANDIDATES articles found (the facts skipped when
FACT_RANK_BOUND shows none can be on the page), then paged by (rank, type, id).
Snippets mark the words in a fact's quotes, or in an article's first passage (400
characters, see service.loader.passages) that holds the query's longest phrase or word as
typed (around it, see WINDOW), else one of its stems ("arrest" of "arrested" in
"arrestations"), else in its opening: a passage, not the whole article, is marked and
searched. `q` is a CTE on purpose: a planner that sees the words picks a sequential scan
for a common one, which reads every article's whole vector until it has its candidates."""

_SEARCH_CONSTANTS = {
    "source_candidates": sql.Literal(SOURCE_CANDIDATES),
    "fact_candidates": sql.Literal(FACT_CANDIDATES),
    "fact_rank_bound": sql.Literal(FACT_RANK_BOUND),
    "window_before": sql.Literal(WINDOW_BEFORE),
    "window": sql.Literal(WINDOW),
    "config": _config(sql.SQL("coalesce(s.language, fs.language)")),
}

_HREF = {
    "source": "/v1/sources/",
    "statement": "/v1/statements/",
    "casualty": "/v1/casualties/",
    "deployment": "/v1/deployments/",
    "arrest": "/v1/arrests/",
}


def _near(q: str) -> tuple[str, str]:
    """Where an article's snippet is taken from: the longest phrase the query quotes, else
    its longest word, lowercased; and its longest word alone, whose stem is looked for when
    the text does not have the word as typed. Excluded words (`-word`) are not looked for."""
    kept = re.sub(r'-"[^"]*"?|(?:^|\s)-\S+', " ", q)
    phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]*)"', kept)]
    words = [w for w in re.findall(r"\w+", kept.lower()) if w != "or"]  # "or" is an operator
    word = max(words, key=len, default="")
    return max(phrases, key=len, default="").lower() or word, word


def _near_forms(q: str) -> dict[str, str]:
    """`_near` as it appears in an article's text with only ASCII letters lowercased (lowering
    the whole text by the locale cost ten times more): a word with a capital outside ASCII
    ("État", "ÉTAT") is found by its initial form."""
    near, word = _near(q)
    return {"near": near, "near_initial": near[:1].upper() + near[1:], "near_word": word}


_MARKED_AS = (r"(?<!\w){}(?!\w)", r"(?<!\w){}\w*", r"{}\w*")
"""Where a one-word query's article snippet marks the word: where it stands whole; only if
it does not, at the start of words ("arrestation" in "arrestations", as `ts_headline`
marked a stem's forms), else inside one. "les" standing whole leaves "lesson" unmarked."""


def _mark(window: str, word: str) -> str:
    """A one-word query's article snippet: the window where the word was found as typed (see
    WINDOW), marked in Python, case aside, where `ts_headline` would parse and stem it all."""
    if not word:
        return window
    for form in _MARKED_AS:
        pattern = re.compile(form.format(re.escape(word)), re.IGNORECASE)
        marked, count = pattern.subn(lambda found: f"<mark>{found.group(0)}</mark>", window)
        if count:
            return marked
    return window


@functools.lru_cache(maxsize=1024)
def _search_sql(types: tuple[str, ...], by_crisis: bool, paged: bool, rows: int) -> sql.SQL:
    """The search for these types, filters and page size, built once: only its values vary,
    as parameters."""
    sources = Where.of("s.search @@ q.words")
    facts = Where.of("f.search @@ q.query")
    if "source" not in types:
        sources += Where.of("false")
    # The kinds are written into the SQL, one prepared statement per combination: as an
    # array parameter, PostgreSQL judged the generic plan dearer and planned every search.
    kinds = [sql.Literal(kind.value) for kind in FactKind if kind.value in types]
    if not kinds:
        facts += Where.of("false")
    elif len(kinds) < len(FactKind):
        facts += Where.of(sql.SQL("f.kind IN ({})").format(sql.SQL(", ").join(kinds)))
    if by_crisis:
        sources += Where.of("s.crisis_id = %(crisis)s")
        facts += Where.of("f.crisis_id = %(crisis)s")
    after = Where()
    if paged:
        after = Where.of("(-rank, type, id) > (-%(rank)s, %(after_type)s, %(after_id)s)")
    query = _SEARCH_SQL.format(
        sources=sources.joined(),
        facts=facts.joined(),
        after=after.joined(),
        page=sql.Literal(rows),
        limit=_limit(rows),
        **_SEARCH_CONSTANTS,
    )
    return _rendered(query)


async def search(
    conn: Conn,
    q: str,
    crisis: str | None,
    types: tuple[str, ...],
    limit: int,
    cursor: str | None,
) -> schemas.Page[schemas.SearchHit]:
    """Sources and facts matching `q` (English and French stemming), best first."""
    near = _near_forms(q)
    params: dict[str, Any] = {"q": q, **near}
    if crisis is not None:
        params["crisis"] = crisis
    scope = FactFilter(crisis=crisis, kind_filters={"q": q, "types": types}).scope("search")
    if cursor is not None:
        rank, after_type, after_id = decode_cursor(scope, cursor, (str, str, str))
        try:
            params["rank"] = float(rank)
        except ValueError:
            raise BadCursor("not a cursor issued by this API") from None
        params["after_type"], params["after_id"] = after_type, after_id
    query = _search_sql(types, crisis is not None, cursor is not None, limit + 1)
    rows = await _fetch(conn, query, params)
    items = [
        schemas.SearchHit(
            type=r[0],
            id=r[1],
            rank=r[2],
            title=r[3] or r[1],
            snippet=(r[4] or "") if r[5] is None else _mark(r[5], near["near"]),
            href=_HREF[r[0]] + r[1],
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(scope, [repr(last.rank), last.type, last.id])
    return schemas.Page(items=items, next_cursor=next_cursor)


# ---------------------------------------------------------------- system


async def dataset_version(conn: Conn) -> int | None:
    row = await (await conn.execute("SELECT version FROM dataset_version WHERE id = 1")).fetchone()
    return None if row is None else int(row[0])


async def schema_revision(conn: Conn) -> str | None:
    exists = await (await conn.execute("SELECT to_regclass('alembic_version')")).fetchone()
    if exists is None or exists[0] is None:
        return None
    row = await (await conn.execute("SELECT version_num FROM alembic_version")).fetchone()
    return None if row is None else str(row[0])
