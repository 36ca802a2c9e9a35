"""All read SQL: one function per question, each one round trip, returning Structs.

Facts are answered from `fact_documents`, their JSON built by the load (citations and
actors embedded) and sent as it is stored. For the other items PostgreSQL builds each
one's JSON and msgspec decodes the page into typed Structs in one call, so a page costs
the same whatever its size. Lists are keyset-paginated on a unique, indexed order.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import msgspec
from psycopg import AsyncConnection

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


def _document_select(page_sql: str, order: str) -> str:
    """The stored answers and digests of the facts `page_sql` picks (ordered and limited
    there), with the page's own columns after them for the next cursor."""
    return f"""
        WITH page AS MATERIALIZED ({page_sql})
        SELECT convert_to(d.document, 'UTF8'), d.digest, page.*
        FROM page JOIN fact_documents d ON d.fact_id = page.id
        ORDER BY {order}
    """


def _stored_list(rows: list[tuple[Any, ...]]) -> Any:
    """Stored answers (first column) as one JSON array, for a page's `items`.

    A stored answer goes out as it is: the load built it from the same Structs' shape
    (tests and the contract check every field), so it is not decoded to be re-encoded.
    It arrives as UTF-8 bytes (bytea in binary format): turning 50 answers into Python
    text and back cost more than the rest of the page's Python. One Raw for the page is
    copied once when the page is encoded, where a Raw per answer was 50 objects."""
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

    def dates(self, params: dict[str, Any], column: str) -> list[str]:
        """SQL conditions on `column`, a fact's date, for `since` and `until`."""
        clauses: list[str] = []
        if self.since is not None:
            clauses.append(f"{column} >= %(since)s")
            params["since"] = self.since
        if self.until is not None:
            clauses.append(f"{column} <= %(until)s")
            params["until"] = self.until
        return clauses

    def where(self, params: dict[str, Any], alias: str | None, by_actor: bool = True) -> list[str]:
        """SQL conditions on `f` (and on the kind table as `alias`); `by_actor=False` when
        the caller already drives the page from the actor's `fact_actors` range."""
        clauses: list[str] = []
        if self.crisis is not None:
            clauses.append("f.crisis_id = %(crisis)s")
            params["crisis"] = self.crisis
        if self.actor is not None and by_actor:
            clauses.append(
                "f.id IN (SELECT fa.fact_id FROM fact_actors fa WHERE fa.actor_id = %(actor)s)"
            )
            params["actor"] = self.actor
        if self.source is not None:
            clauses.append(
                "f.id IN (SELECT c.fact_id FROM citations c WHERE c.source_id = %(source)s)"
            )
            params["source"] = self.source
        if self.language is not None:
            clauses.append(
                "f.id IN (SELECT c.fact_id FROM citations c JOIN sources s ON s.id = c.source_id"
                " WHERE s.language = %(language)s)"
            )
            params["language"] = self.language
        clauses += self.dates(params, "f.occurred_on")
        if self.verification is not None:
            clauses.append("f.verification = %(verification)s")
            params["verification"] = self.verification
        if self.key is not None:
            clauses.append("f.quantity_key = %(key)s")
            params["key"] = self.key
        for column, value in self.kind_filters.items():
            if value is None:
                continue
            assert alias is not None and column.isidentifier()
            clauses.append(f"{alias}.{column} = %(k_{column})s")
            params[f"k_{column}"] = value
        return clauses

    def scope(self, name: str) -> str:
        """Cursors are bound to the list and its filters: a cursor from another list is refused."""
        parts = [name, *self._shared(), *sorted(self.kind_filters.items())]
        digest = msgspec.json.encode(parts, enc_hook=str)
        return hashlib.blake2s(digest, digest_size=6).hexdigest()


async def _fetch(
    conn: Conn,
    sql: str,
    params: dict[str, Any],
    binary: bool = False,
    prepare: bool | None = None,
) -> list[tuple[Any, ...]]:
    """Run a page query with its LIMIT written into the SQL: psycopg prepares a statement
    after a few runs, and a plan cached for `LIMIT $n` does not know a page is 51 rows
    (measured at 1M facts: 148 ms with the parameter, 1.2 ms with the literal).

    A prepared statement is planned once, if PostgreSQL finds its generic plan no dearer
    than planning each run; planning a page afresh cost more than running it (0.8 ms
    against 0.3 ms at 1M facts).
    A filtered page passes `prepare=False` instead: one plan for every date range or place
    would be wrong for some of them. A search is prepared: its words reach the plan only
    through the `q` CTE, so planning it per request bought nothing (0.8 ms a search)."""
    limit = int(params.pop("limit"))
    sql = sql.replace("%(limit)s", str(limit))
    cursor = await conn.execute(sql, params, binary=binary, prepare=prepare)
    return await cursor.fetchall()


def _decode_list(texts: list[str], item_type: Any) -> list[Any]:
    """Decode rows of JSON into Structs in one call: one `[...]` document, one decode."""
    if not texts:
        return []
    items: list[Any] = msgspec.json.decode(
        ("[" + ",".join(texts) + "]").encode(), type=list[item_type]
    )
    return items


async def list_facts(
    conn: Conn,
    kind: FactKind,
    filters: FactFilter,
    limit: int,
    cursor: str | None,
) -> Stored[schemas.Page[Any]]:
    """A page of facts of one kind, in id order."""
    table, alias = _KIND_TABLE[kind]
    scope = filters.scope(kind.value)
    params: dict[str, Any] = {"limit": limit + 1}
    join = ""
    if any(value is not None for value in filters.kind_filters.values()):
        join = f" JOIN {table} {alias} ON {alias}.fact_id = f.id"
    if cursor is not None:
        (params["after"],) = decode_cursor(scope, cursor, (str,))
    prepare: bool | None = False
    if filters.actor is not None:
        # The actor's facts of this kind are one index range in id order, with their dates:
        # the page walks it and stops at `limit`. Left to choose, the planner may instead
        # read every fact of the date range and sort (29 ms at 100k facts, against 0.3 ms).
        # Filters other than dates are checked on each fact walked, fetched by its key
        # alone (OFFSET 0 keeps the filters out of that probe; LATERAL ... LIMIT 1 keeps
        # the walk), so the plan is the same whatever the values and is prepared once: a
        # generic plan free to choose skip-scanned the date index for every fact walked
        # (7.5 ms a page at 1M facts, against 0.3 ms).
        params["actor"] = filters.actor
        walk = [f"fa.actor_id = %(actor)s AND fa.kind = '{kind.value}'"]
        walk += filters.dates(params, "fa.occurred_on")
        if cursor is not None:
            walk.append("fa.fact_id > %(after)s")
        undated = replace(filters, since=None, until=None)
        clauses = undated.where(params, alias, by_actor=False)
        probe = ""
        if clauses:  # kind filters come with their clauses
            probe = f"""
            CROSS JOIN LATERAL (
                SELECT 1 FROM (SELECT * FROM facts f WHERE f.id = fa.fact_id OFFSET 0) f{join}
                WHERE {" AND ".join(clauses)} LIMIT 1
            ) f"""
        page_sql = f"""
            SELECT fa.fact_id AS id
            FROM (SELECT DISTINCT fa.fact_id FROM fact_actors fa
                  WHERE {" AND ".join(walk)}) fa{probe}
            ORDER BY fa.fact_id LIMIT %(limit)s
        """
        prepare = None
    elif not filters.narrows:
        # Every fact of the kind: one range of fact_documents (kind, fact_id), the answers
        # read as they lie, no probe per fact. The cursor is a subquery so that the plan
        # does not depend on its value: as a plain parameter, PostgreSQL judged the generic
        # plan dearer than one made for the value, and planned every page afresh (PostgreSQL
        # CPU per page 168 -> 123 us at 1M facts once it stopped).
        after = "" if cursor is None else " AND d.fact_id > (SELECT %(after)s::text)"
        sql = f"""
            SELECT convert_to(d.document, 'UTF8'), d.digest, d.fact_id FROM fact_documents d
            WHERE d.kind = '{kind.value}'{after}
            ORDER BY d.fact_id LIMIT %(limit)s
        """
        rows = await _fetch(conn, sql, params, binary=True)
        return _page(rows, limit, scope)
    else:
        clauses = [f"f.kind = '{kind.value}'", *filters.where(params, alias, by_actor=False)]
        if cursor is not None:
            clauses.append("f.id > %(after)s")
        page_sql = f"""
            SELECT f.id
            FROM facts f{join}
            WHERE {" AND ".join(clauses)}
            ORDER BY f.id LIMIT %(limit)s
        """
    # The page's ids as one array probed in one index scan: at 1M facts an actor's page
    # touched 70 buffers in 11 index descents this way, against 210 in 51 joined lookups.
    select = f"""
        SELECT convert_to(d.document, 'UTF8'), d.digest, d.fact_id FROM fact_documents d
        WHERE d.fact_id = ANY(ARRAY({page_sql}))
        ORDER BY d.fact_id
    """
    rows = await _fetch(conn, select, params, binary=True, prepare=prepare)
    return _page(rows, limit, scope)


def _page(rows: list[tuple[Any, ...]], limit: int, scope: str) -> Stored[schemas.Page[Any]]:
    """Stored answers and the id after which the next page starts."""
    next_cursor = encode_cursor(scope, [rows[limit - 1][2]]) if len(rows) > limit else None
    return _stored_page(rows[:limit], next_cursor)


async def get_fact(conn: Conn, kind: FactKind, fact_id: str) -> Stored[Any] | None:
    select = (
        "SELECT convert_to(d.document, 'UTF8'), d.digest FROM fact_documents d "
        f"WHERE d.fact_id = %(id)s AND d.kind = '{kind.value}'"
    )
    row = await (await conn.execute(select, {"id": fact_id}, binary=True)).fetchone()
    if row is None:
        return None
    # The answer is the stored document itself, so its ETag is the document's digest.
    return Stored(msgspec.Raw(row[0]), f'"{row[1].hex()}"')  # as _stored_list, one answer


async def timeline(
    conn: Conn, filters: FactFilter, kinds: tuple[FactKind, ...], limit: int, cursor: str | None
) -> Stored[schemas.Page[Any]]:
    """Dated facts of every kind in date order (then id), for dashboards."""
    scope = filters.scope("timeline:" + ",".join(k.value for k in kinds))
    params: dict[str, Any] = {"limit": limit + 1, "kinds": [k.value for k in kinds]}
    clauses = [
        "f.occurred_on IS NOT NULL",
        "f.kind = ANY(%(kinds)s)",
        *filters.where(params, None),
    ]
    if cursor is not None:
        day, after = decode_cursor(scope, cursor, (dt.date, str))
        clauses.append("(f.occurred_on, f.id) > (%(day)s, %(after)s)")
        params["day"] = dt.date.fromisoformat(day)
        params["after"] = after
    page_sql = f"""
        SELECT f.id, f.occurred_on
        FROM facts f WHERE {" AND ".join(clauses)}
        ORDER BY f.occurred_on, f.id LIMIT %(limit)s
    """
    select = _document_select(page_sql, order="page.occurred_on, page.id")
    prepare = False if filters.narrows else None
    rows = await _fetch(conn, select, params, binary=True, prepare=prepare)
    next_cursor = None
    if len(rows) > limit:
        _, _, last_id, last_day = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_day.isoformat(), last_id])
    return _stored_page(rows[:limit], next_cursor)


# ---------------------------------------------------------------- crises, sources, actors

_DATE_JSON = (
    "CASE WHEN {v} IS NULL THEN NULL ELSE json_build_object('value', {v}, 'precision', {p}) END"
)


async def _keyset_page(
    conn: Conn,
    scope: str,
    item_json: str,
    from_sql: str,
    clauses: list[str],
    params: dict[str, Any],
    order: str,
    limit: int,
    cursor: str | None,
    item_type: type[T],
) -> schemas.Page[T]:
    """A page of a table ordered by its text primary key `order`."""
    params["limit"] = limit + 1
    if cursor is not None:
        (after,) = decode_cursor(scope, cursor, (str,))
        clauses = [*clauses, f"{order} > %(after)s"]
        params["after"] = after
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (
        f"SELECT {item_json}::text, {order} FROM {from_sql} {where} "
        f"ORDER BY {order} LIMIT %(limit)s"
    )
    rows = await _fetch(conn, sql, params)
    items = _decode_list([r[0] for r in rows[:limit]], item_type)
    next_cursor = encode_cursor(scope, [rows[limit - 1][1]]) if len(rows) > limit else None
    return schemas.Page(items=items, next_cursor=next_cursor)


_CRISIS_JSON = f"""json_build_object(
    'id', c.id, 'name', c.name, 'summary', c.summary, 'country', c.country,
    'start', {_DATE_JSON.format(v="c.start_on", p="c.start_precision")},
    'end', {_DATE_JSON.format(v="c.end_on", p="c.end_precision")},
    'counts', coalesce((SELECT json_object_agg(kind, n) FROM (
        SELECT kind, count(*) AS n FROM facts WHERE crisis_id = c.id GROUP BY kind) k), '{{}}'))"""


async def list_crises(conn: Conn, limit: int, cursor: str | None) -> schemas.Page[schemas.Crisis]:
    return await _keyset_page(
        conn, "crises", _CRISIS_JSON, "crises c", [], {}, "c.id", limit, cursor, schemas.Crisis
    )


async def get_crisis(conn: Conn, crisis_id: str) -> schemas.Crisis | None:
    return await _one(
        conn,
        f"SELECT {_CRISIS_JSON}::text FROM crises c WHERE c.id = %(id)s",
        {"id": crisis_id},
        schemas.Crisis,
    )


async def _one(conn: Conn, sql: str, params: dict[str, Any], item_type: type[T]) -> T | None:
    row = await (await conn.execute(sql, params)).fetchone()
    return None if row is None else msgspec.json.decode(row[0], type=item_type)


def _source_json(with_text: bool) -> str:
    text = ", 'text', s.text" if with_text else ""
    return f"""json_build_object(
        'id', s.id, 'crisis_id', s.crisis_id, 'title', s.title, 'outlet', s.outlet,
        'url', s.url, 'language', s.language,
        'published', {_DATE_JSON.format(v="s.published_on", p="s.published_precision")},
        'published_note', s.published_note, 'file_name', s.file_name, 'sha256', s.sha256,
        'length', s.text_length{text})"""


async def list_sources(
    conn: Conn, crisis: str | None, language: str | None, limit: int, cursor: str | None
) -> schemas.Page[schemas.SourceSummary]:
    params: dict[str, Any] = {}
    clauses = []
    if crisis is not None:
        clauses.append("s.crisis_id = %(crisis)s")
        params["crisis"] = crisis
    if language is not None:
        clauses.append("s.language = %(language)s")
        params["language"] = language
    scope = FactFilter(crisis=crisis, language=language).scope("sources")
    return await _keyset_page(
        conn,
        scope,
        _source_json(False),
        "sources s",
        clauses,
        params,
        "s.id",
        limit,
        cursor,
        schemas.SourceSummary,
    )


async def get_source(conn: Conn, source_id: str) -> schemas.Source | None:
    return await _one(
        conn,
        f"SELECT {_source_json(True)}::text FROM sources s WHERE s.id = %(id)s",
        {"id": source_id},
        schemas.Source,
    )


_ACTOR_JSON = """json_build_object(
    'id', a.id, 'crisis_id', a.crisis_id, 'kind', a.kind, 'name', a.name, 'role', a.role,
    'aliases', coalesce((SELECT json_agg(json_build_object('name', al.alias,
                                                           'language', al.language)
                                         ORDER BY al.alias)
                         FROM actor_aliases al WHERE al.actor_id = a.id), '[]'),
    'fact_counts', coalesce((SELECT json_object_agg(kind, n) FROM (
        SELECT fa.kind, count(DISTINCT fa.fact_id) AS n
        FROM fact_actors fa WHERE fa.actor_id = a.id GROUP BY fa.kind) k), '{}'))"""


async def list_actors(
    conn: Conn,
    crisis: str | None,
    kind: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> schemas.Page[schemas.Actor]:
    params: dict[str, Any] = {}
    clauses = []
    if crisis is not None:
        clauses.append("a.crisis_id = %(crisis)s")
        params["crisis"] = crisis
    if kind is not None:
        clauses.append("a.kind = %(kind)s")
        params["kind"] = kind
    if name is not None:
        clauses.append(
            "(a.name ILIKE %(name)s OR a.id IN "
            "(SELECT al.actor_id FROM actor_aliases al WHERE al.alias ILIKE %(name)s))"
        )
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["name"] = f"%{escaped}%"
    scope = FactFilter(crisis=crisis, kind_filters={"kind": kind, "name": name}).scope("actors")
    return await _keyset_page(
        conn, scope, _ACTOR_JSON, "actors a", clauses, params, "a.id", limit, cursor, schemas.Actor
    )


async def get_actor(conn: Conn, actor_id: str) -> schemas.Actor | None:
    return await _one(
        conn,
        f"SELECT {_ACTOR_JSON}::text FROM actors a WHERE a.id = %(id)s",
        {"id": actor_id},
        schemas.Actor,
    )


# ---------------------------------------------------------------- disputes


_DISPUTE_SQL = """
SELECT convert_to(d.document, 'UTF8'), d.crisis_id, d.quantity_key FROM disputed_quantities d
WHERE true {filters} {after}
ORDER BY d.crisis_id, d.quantity_key
LIMIT %(limit)s
"""
"""Disputes come from `disputed_quantities`, which each load fills with their answers: a
page costs the same whatever the number of facts, and is sent as stored."""


async def list_disputes(
    conn: Conn, crisis: str | None, kind: str | None, limit: int, cursor: str | None
) -> schemas.Page[schemas.Dispute]:
    params: dict[str, Any] = {"limit": limit + 1}
    filters = ""
    if crisis is not None:
        filters += " AND d.crisis_id = %(crisis)s"
        params["crisis"] = crisis
    if kind is not None:
        filters += " AND d.kind = %(kind)s"
        params["kind"] = kind
    scope = FactFilter(crisis=crisis, kind_filters={"kind": kind}).scope("disputes")
    after = ""
    if cursor is not None:
        params["after_crisis"], params["after_key"] = decode_cursor(scope, cursor, (str, str))
        after = "AND (d.crisis_id, d.quantity_key) > (%(after_crisis)s, %(after_key)s)"
    sql = _DISPUTE_SQL.format(filters=filters, after=after)
    rows = await _fetch(conn, sql, params, binary=True)
    next_cursor = None
    if len(rows) > limit:
        _, last_crisis, last_key = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_crisis, last_key])
    return schemas.Page(items=_stored_list(rows[:limit]), next_cursor=next_cursor)


# ---------------------------------------------------------------- search

FACT_CANDIDATES = 1000
"""Facts ranked per search: the first this many that match, in the order the index finds
them (storage order, which is load order). Ranking every match of a common word (25,000
documents at 1M facts) cost a second under load; this bounds a search to a few ms."""

SOURCE_CANDIDATES = 100
"""Articles ranked per search: the first this many that contain every word of the query,
in the order the index finds them. Articles are long, so checking a phrase and ranking
cost ~10 µs an article: bounded like facts, and before the phrase check."""

FACT_RANK_BOUND = 0.1
"""What no fact can reach on a one-word query, and every article holding the word does.

A text is ranked against the query as stemmed in its own language (a fact's is its first
source's, not stored: the better of English and French), so that a word with one stem per
language is one term, not two of which each text holds one (which halved every rank).
With one term, `ts_rank` gives a text the weight of its first occurrence, times at most 1
for more (the sum of 1/i² over pi²/6).
Facts' vectors carry the default weight D (0.1), so a fact ranks below 0.1; an article's
title is weighted A (1.0) and its text C (0.2), so an article ranks at least 0.2/(pi²/6) =
0.12. When a page's worth of articles rank at least this, no fact can be on the page and
the facts are not looked up: for the busiest place at 1M facts that was 19,083 index
entries and 1,000 ranks, 4.5 of 10 ms (bench/RESULTS.md). A test holds PostgreSQL to it."""

WINDOW = 160
WINDOW_BEFORE = 60
"""An article's snippet is marked in the WINDOW characters of its passage that start
WINDOW_BEFORE before the word: `ts_headline` parses and stems all it is given (~0.1 µs a
character and ~4 µs a call): 3.1 ms for a page of 51 whole passages (400 characters) at 1M
facts, 1.3 ms for 51 windows, and none on a one-word query (see _mark)."""

_CONFIG = "CASE {lang} WHEN 'fr' THEN 'french'::regconfig ELSE 'english'::regconfig END"

_SEARCH_SQL = f"""
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
        WHERE s.search @@ q.words {{source_filters}}
        LIMIT {SOURCE_CANDIDATES}
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
            WHERE f.search @@ q.query {{fact_filters}}
            LIMIT {FACT_CANDIDATES}
        ) f
        WHERE NOT (q.one_word AND (
            SELECT count(*) FROM articles h {{after}} AND h.rank >= {FACT_RANK_BOUND}
        ) >= %(limit)s)
    ) h
    {{after}}
    ORDER BY rank DESC, type, id
    LIMIT %(limit)s
)
SELECT h.type, h.id, h.rank,
       coalesce(s.title, left(coalesce(st.content, fc.quotes), 160)),
       CASE WHEN NOT (q.one_word AND s_text.typed IS NOT NULL) THEN
       ts_headline({_CONFIG.format(lang="coalesce(s.language, fs.language)")},
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
        SELECT (SELECT substr(p.text, greatest(w.at - {WINDOW_BEFORE}, 1), {WINDOW})
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
"""
"""Facts and articles matching the query, ranked by `ts_rank` among the first
FACT_CANDIDATES facts and SOURCE_CANDIDATES articles found (the facts skipped when
FACT_RANK_BOUND shows none can be on the page), then paged by (rank, type, id).
Snippets mark the words in a fact's quotes, or in an article's first passage (400
characters, see service.loader.passages) that holds the query's longest phrase or word as
typed (around it, see WINDOW), else one of its stems ("arrest" of "arrested" in
"arrestations"), else in its opening: marking a whole article costs ~2 ms (16 kB at 1M
facts), a passage ~0.05 ms, and finding the passage reads a few short rows where finding
the word in the whole text read and decompressed the article (~60 µs a hit). `q` is a CTE
on purpose: a planner that sees the words picks a sequential scan for a common one, which
reads every article's whole vector until it has its candidates (10 ms at 1M facts)."""

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
    """`_near` as it appears in an article's text with only ASCII letters lowercased: lowering
    the whole text by the locale cost ~10 ms for a page of articles at 1M facts, lowering ASCII
    ~1 ms. A word with a capital outside ASCII ("État", "ÉTAT") is found by its initial form."""
    near, word = _near(q)
    return {"near": near, "near_initial": near[:1].upper() + near[1:], "near_word": word}


_MARKED_AS = (r"(?<!\w){}(?!\w)", r"(?<!\w){}\w*", r"{}\w*")
"""Where a one-word query's article snippet marks the word: where it stands whole; only if
it does not, at the start of words ("arrestation" in "arrestations", as `ts_headline`
marked a stem's forms), else inside one. "les" standing whole leaves "lesson" unmarked."""


def _mark(window: str, word: str) -> str:
    """A one-word query's article snippet: the window where the word was found as typed (see
    WINDOW), marked in Python, case aside. `ts_headline` parses and stems every word it is
    given to find what is already known to be there: 25 µs a hit, most of a page's SQL."""
    if not word:
        return window
    for form in _MARKED_AS:
        pattern = re.compile(form.format(re.escape(word)), re.IGNORECASE)
        marked, count = pattern.subn(lambda found: f"<mark>{found.group(0)}</mark>", window)
        if count:
            return marked
    return window


async def search(
    conn: Conn,
    q: str,
    crisis: str | None,
    types: tuple[str, ...],
    limit: int,
    cursor: str | None,
) -> schemas.Page[schemas.SearchHit]:
    """Sources and facts matching `q` (English and French stemming), best first.

    The types asked for are written into the SQL: as an array parameter, PostgreSQL judged
    the generic plan dearer than one made for the values and planned every search afresh
    (0.9 of 5 ms at 1M facts); a statement per combination of types is prepared instead."""
    params: dict[str, Any] = {"q": q, "limit": limit + 1, **_near_forms(q)}
    kinds = [kind.value for kind in FactKind if kind.value in types]
    source_filters = "" if "source" in types else " AND false"
    if len(kinds) == len(FactKind):
        fact_filters = ""
    elif kinds:
        fact_filters = " AND f.kind IN ({})".format(", ".join(f"'{kind}'" for kind in kinds))
    else:
        fact_filters = " AND false"
    if crisis is not None:
        source_filters += " AND s.crisis_id = %(crisis)s"
        fact_filters += " AND f.crisis_id = %(crisis)s"
        params["crisis"] = crisis
    scope = FactFilter(crisis=crisis, kind_filters={"q": q, "types": types}).scope("search")
    after = "WHERE true"
    if cursor is not None:
        rank, kind, after_id = decode_cursor(scope, cursor, (str, str, str))
        try:
            params["rank"] = float(rank)
        except ValueError:
            raise BadCursor("not a cursor issued by this API") from None
        params["after_type"], params["after_id"] = kind, after_id
        after = "WHERE (-rank, type, id) > (-%(rank)s, %(after_type)s, %(after_id)s)"
    sql = _SEARCH_SQL.format(source_filters=source_filters, fact_filters=fact_filters, after=after)
    rows = await _fetch(conn, sql, params)
    items = [
        schemas.SearchHit(
            type=r[0],
            id=r[1],
            rank=r[2],
            title=r[3] or r[1],
            snippet=(r[4] or "") if r[5] is None else _mark(r[5], params["near"]),
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
