"""Crises, sources, actors and disputes: keyset pages of each, and one of each."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, LiteralString

import msgspec
from psycopg import sql

from service import schemas
from service.queries.base import (
    Conn,
    T,
    Where,
    decode_cursor,
    encode_cursor,
    fetch_rows,
    limit_clause,
    rendered,
    stored_list,
)
from service.queries.facts import FactFilter, decode_list
from service.vocabulary import PUBLIC, Visibility


def date_json(table: str, value: str, precision: str) -> sql.Composable:
    """A partial date as the API shows it: as much of it as is known (`2022-01` for a
    month), as service.engine.answers.partial_date writes it, and how much that is."""
    v, p = sql.Identifier(table, value), sql.Identifier(table, precision)
    return sql.SQL(
        "CASE WHEN {v} IS NULL THEN NULL ELSE json_build_object('value', "
        "to_char({v}, CASE {p} WHEN 'year' THEN 'YYYY' WHEN 'month' THEN 'YYYY-MM' "
        "ELSE 'YYYY-MM-DD' END), 'precision', {p}) END"
    ).format(v=v, p=p)


def changed_json(kind: LiteralString, record_id: LiteralString) -> sql.Composable:
    """When a record last changed, as `schemas.Changed`: its current revision (`records`)
    and that revision's time, in UTC as the write path writes it into stored answers."""
    return sql.SQL(
        "(SELECT json_build_object('revision', r.revision, 'at', "
        "to_char(v.made_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) "
        "FROM records r JOIN revisions v ON v.revision = r.revision "
        "WHERE r.kind = {kind} AND r.id = {id})"
    ).format(kind=sql.Literal(kind), id=sql.SQL(record_id))


def given_params(**values: Any) -> dict[str, Any]:
    """The filters that are set, by the name of their parameter: the names are the shape."""
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, eq=False)  # one per list: cached by identity, not by its SQL
class Keyset:
    """A list of `table` ordered by its text primary key `order`: each item's JSON, and the
    condition each filter's parameter stands for."""

    item: sql.Composable
    table: LiteralString
    order: LiteralString
    conditions: Mapping[str, LiteralString] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def _keyset_sql(listing: Keyset, names: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """A page of `listing` narrowed by the filters `names`, after the cursor."""
    order = sql.SQL(listing.order)
    where = Where(tuple(sql.SQL(listing.conditions[name]) for name in names))
    if paged:
        where += Where.of(sql.SQL("{} > %(after)s").format(order))
    return rendered(
        sql.SQL(
            "SELECT {item}::text, {order} FROM {table} WHERE {where} ORDER BY {order} {limit}"
        ).format(
            item=listing.item,
            order=order,
            table=sql.SQL(listing.table),
            where=where.joined(),
            limit=limit_clause(rows),
        )
    )


async def keyset_page(
    conn: Conn,
    listing: Keyset,
    scope: str,
    params: Mapping[str, Any],
    limit: int,
    cursor: str | None,
    item_type: type[T],
    bound: Mapping[str, Any] | None = None,
) -> schemas.Page[T]:
    """A page of `listing` narrowed by the filters' values `params`; `bound` gives the
    values its items' JSON asks for, which narrow nothing."""
    query = _keyset_sql(listing, tuple(params), cursor is not None, limit + 1)
    params = {**params, **(bound or {})}
    if cursor is not None:
        (after,) = decode_cursor(scope, cursor, (str,))
        params = {**params, "after": after}
    rows = await fetch_rows(conn, query, params)
    items = decode_list([r[0] for r in rows[:limit]], item_type)
    next_cursor = encode_cursor(scope, [rows[limit - 1][1]]) if len(rows) > limit else None
    return schemas.Page(items=items, next_cursor=next_cursor)


_CRISIS_JSON = sql.SQL("""json_build_object(
    'id', c.id, 'name', c.name, 'summary', c.summary, 'country', c.country,
    'start', {start}, 'end', {end},
    'counts', coalesce((SELECT json_object_agg(kind, n) FROM (
        SELECT kind, count(*) AS n FROM facts
        WHERE crisis_id = c.id AND review_status = ANY(%(statuses)s) GROUP BY kind) k),
        '{{}}'),
    'corrections', c.corrections::json, 'changed', {changed})""").format(
    start=date_json("c", "start_on", "start_precision"),
    end=date_json("c", "end_on", "end_precision"),
    changed=changed_json("crisis", "c.id"),
)


_CRISES = Keyset(_CRISIS_JSON, "crises c", "c.id")
_GET_CRISIS = rendered(
    sql.SQL("SELECT {}::text FROM crises c WHERE c.id = %(id)s").format(_CRISIS_JSON)
)


async def list_crises(
    conn: Conn, limit: int, cursor: str | None, visibility: Visibility = PUBLIC
) -> schemas.Page[schemas.Crisis]:
    """Crises with their counts of the facts this reader's lists show."""
    seen = {"statuses": list(visibility.statuses)}
    return await keyset_page(conn, _CRISES, "crises", {}, limit, cursor, schemas.Crisis, seen)


async def get_crisis(
    conn: Conn, crisis_id: str, visibility: Visibility = PUBLIC
) -> schemas.Crisis | None:
    """A crisis with its counts of the facts this reader's lists show."""
    params = {"id": crisis_id, "statuses": list(visibility.statuses)}
    return await _one(conn, _GET_CRISIS, params, schemas.Crisis)


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
        'length', s.text_length, 'translations', s.translations::json,
        'changed', {changed}{text})""").format(
        published=date_json("s", "published_on", "published_precision"),
        changed=changed_json("source", "s.id"),
        text=sql.SQL(", 'text', s.text" if with_text else ""),
    )


_SOURCE_SUMMARY_JSON = _source_json(with_text=False)
_SOURCE_JSON = _source_json(with_text=True)
SOURCES = Keyset(
    _SOURCE_SUMMARY_JSON,
    "sources s",
    "s.id",
    {"crisis": "s.crisis_id = %(crisis)s", "language": "s.language = %(language)s"},
)
_GET_SOURCE = rendered(
    sql.SQL("SELECT {}::text FROM sources s WHERE s.id = %(id)s").format(_SOURCE_JSON)
)


async def list_sources(
    conn: Conn, crisis: str | None, language: str | None, limit: int, cursor: str | None
) -> schemas.Page[schemas.SourceSummary]:
    scope = FactFilter(crisis=crisis, language=language).scope("sources")
    params = given_params(crisis=crisis, language=language)
    return await keyset_page(conn, SOURCES, scope, params, limit, cursor, schemas.SourceSummary)


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
        FROM fact_actors fa JOIN facts f ON f.id = fa.fact_id
        WHERE fa.actor_id = a.id AND f.review_status = ANY(%(statuses)s)
        GROUP BY fa.kind) k), '{{}}'),
    'corrections', a.corrections::json, 'changed', {changed})""").format(
    changed=changed_json("actor", "a.id")
)
ACTORS = Keyset(
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
_GET_ACTOR = rendered(
    sql.SQL("SELECT {}::text FROM actors a WHERE a.id = %(id)s").format(_ACTOR_JSON)
)


async def list_actors(
    conn: Conn,
    crisis: str | None,
    kind: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
    visibility: Visibility = PUBLIC,
) -> schemas.Page[schemas.Actor]:
    """Actors with their counts of the facts this reader's lists show."""
    pattern = None
    if name is not None:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    scope = FactFilter(crisis=crisis, kind_filters={"kind": kind, "name": name}).scope("actors")
    params = given_params(crisis=crisis, kind=kind, name=pattern)
    seen = {"statuses": list(visibility.statuses)}
    return await keyset_page(conn, ACTORS, scope, params, limit, cursor, schemas.Actor, seen)


async def get_actor(
    conn: Conn, actor_id: str, visibility: Visibility = PUBLIC
) -> schemas.Actor | None:
    params = {"id": actor_id, "statuses": list(visibility.statuses)}
    return await _one(conn, _GET_ACTOR, params, schemas.Actor)


def viewed_by(reader: int) -> Where:
    """Disputes as one kind of reader sees them (its bit in `disputed_quantities.views`)."""
    return Where.of(sql.SQL("d.views & {} <> 0").format(sql.Literal(reader)))


DISPUTE_CONDITIONS: dict[str, LiteralString] = {
    "crisis": "d.crisis_id = %(crisis)s",
    "kind": "d.kind = %(kind)s",
    "key": "d.quantity_key = %(key)s",
}


@functools.lru_cache(maxsize=64)
def _disputes_sql(names: tuple[str, ...], reader: int, paged: bool, rows: int) -> sql.SQL:
    """A page of disputes narrowed by the filters `names`, as the reader (its bit in
    `views`) sees them, after the cursor."""
    where = Where(tuple(sql.SQL(DISPUTE_CONDITIONS[name]) for name in names))
    where += viewed_by(reader)
    if paged:
        where += Where.of("(d.crisis_id, d.quantity_key) > (%(after_crisis)s, %(after_key)s)")
    return rendered(
        sql.SQL("""
        SELECT convert_to(d.document, 'UTF8'), d.crisis_id, d.quantity_key
        FROM disputed_quantities d WHERE {where}
        ORDER BY d.crisis_id, d.quantity_key {limit}
    """).format(where=where.joined(), limit=limit_clause(rows))
    )


async def list_disputes(
    conn: Conn,
    crisis: str | None,
    kind: str | None,
    key: str | None,
    limit: int,
    cursor: str | None,
    visibility: Visibility = PUBLIC,
) -> schemas.Page[schemas.Dispute]:
    """Disputes come from `disputed_quantities`, which each load fills with their answers: a
    page costs the same whatever the number of facts, and is sent as stored."""
    scope = FactFilter(
        crisis=crisis, key=key, kind_filters={"kind": kind}, visibility=visibility
    ).scope("disputes")
    params = given_params(crisis=crisis, kind=kind, key=key)
    query = _disputes_sql(tuple(params), visibility.bit, cursor is not None, limit + 1)
    if cursor is not None:
        params["after_crisis"], params["after_key"] = decode_cursor(scope, cursor, (str, str))
    rows = await fetch_rows(conn, query, params, binary=True)
    next_cursor = None
    if len(rows) > limit:
        _, last_crisis, last_key = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_crisis, last_key])
    return schemas.Page(items=stored_list(rows[:limit]), next_cursor=next_cursor)
