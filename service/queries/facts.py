"""Facts: lists of one kind by their filters, one fact, a deleted fact's tombstone, and
the timeline. Facts are answered from `fact_documents`, built by the write path and sent
as stored."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, LiteralString

import msgspec
from psycopg import sql

from service import schemas
from service.queries.base import (
    KIND_TABLE,
    Conn,
    Stored,
    Where,
    decode_cursor,
    encode_cursor,
    fetch_rows,
    limit_clause,
    rendered,
    stored_page,
)
from service.vocabulary import PUBLIC, FactKind, ReviewStatus, Visibility


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
    visibility: Visibility = PUBLIC
    """Which review statuses the reader sees: published facts, unless a key or
    `include=retracted` says more."""
    claimant: str | None = None

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
        values = (*self._shared(), self.claimant, *self.kind_filters.values())
        return any(value is not None for value in values)

    def params(self) -> dict[str, Any]:
        """The values of the filters that are set, named as `fact_conditions` names them and
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
            "claimant": self.claimant,
            **{f"k_{column}": value for column, value in self.kind_filters.items()},
        }
        return {name: value for name, value in named.items() if value is not None}

    def scope(self, name: str) -> str:
        """Cursors are bound to the list and its filters: a cursor from another list is refused."""
        parts = [name, *self._shared(), *sorted(self.kind_filters.items())]
        if self.visibility != PUBLIC:
            parts.append(self.visibility.statuses)
        if self.claimant is not None:  # added later: the cursors issued before stay valid
            parts += ["claimant", self.claimant]
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
    "claimant": "f.claimant_id = %(claimant)s",
}
"""The condition on `f` each filter's parameter stands for; `{date}` is the fact's date."""


def fact_conditions(
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


def reviewed(alias: LiteralString, statuses: tuple[str, ...]) -> Where:
    """Only facts (`alias`: facts or fact_documents) of these review statuses, written into
    the SQL: each set of statuses is a statement of its own, planned for it."""
    listed = sql.SQL(", ").join(map(sql.Literal, statuses))
    return Where.of(sql.SQL("{}.review_status IN ({})").format(sql.Identifier(alias), listed))


def decode_list(texts: list[str], item_type: Any) -> list[Any]:
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
def _every_fact(kind: FactKind, statuses: tuple[str, ...], paged: bool, rows: int) -> sql.SQL:
    """A page of every fact of the kind: one range of fact_documents (kind, fact_id), the
    answers read as they lie. The cursor is a subquery so that the plan does not depend on
    its value, which made PostgreSQL plan every page afresh."""
    where = Where.of(sql.SQL("d.kind = {}").format(sql.Literal(kind.value)))
    where += reviewed("d", statuses)
    if paged:
        where += Where.of("d.fact_id > (SELECT %(after)s::text)")
    return rendered(
        sql.SQL("{documents} WHERE {where} ORDER BY d.fact_id {limit}").format(
            documents=_DOCUMENTS, where=where.joined(), limit=limit_clause(rows)
        )
    )


def _documents_of(page: sql.Composable) -> sql.SQL:
    """The answers of a page of ids: one array probed in one index scan, not a lookup joined
    per id."""
    return rendered(
        sql.SQL("{documents} WHERE d.fact_id = ANY(ARRAY({page})) ORDER BY d.fact_id").format(
            documents=_DOCUMENTS, page=page
        )
    )


def kind_join(kind: FactKind, names: tuple[str, ...]) -> sql.Composable:
    """The kind's table, joined when a kind filter is set."""
    if not any(name.startswith("k_") for name in names):
        return sql.SQL("")
    table, alias = KIND_TABLE[kind]
    return sql.SQL(" JOIN {table} {alias} ON {alias}.fact_id = f.id").format(
        table=sql.Identifier(table), alias=sql.Identifier(alias)
    )


_DATES = ("since", "until")


@functools.lru_cache(maxsize=1024)
def _actor_page(
    kind: FactKind, names: tuple[str, ...], statuses: tuple[str, ...], paged: bool, rows: int
) -> sql.SQL:
    """An actor's page of facts of the kind, with the other filters `names` and the cursor.

    The actor's facts of this kind are one index range in id order, with their dates: the
    page walks it and stops at `rows`, where the planner might read every fact of the date
    range and sort. The other filters are checked on each fact walked, fetched by its key
    alone (OFFSET 0 keeps them out of that probe; LATERAL ... LIMIT 1 keeps the walk), so
    one plan suits every value and is prepared once."""
    alias = KIND_TABLE[kind][1]
    walk = Where.of(
        sql.SQL("fa.actor_id = %(actor)s AND fa.kind = {}").format(sql.Literal(kind.value))
    )
    walk += fact_conditions([n for n in names if n in _DATES], alias, date="fa.occurred_on")
    if paged:
        walk += Where.of("fa.fact_id > %(after)s")
    checked = fact_conditions([n for n in names if n not in {"actor", *_DATES}], alias)
    checked += reviewed("f", statuses)
    probe: sql.Composable = sql.SQL("")
    if checked.clauses:  # kind filters come with their clauses
        probe = sql.SQL("""
            CROSS JOIN LATERAL (
                SELECT 1 FROM (SELECT * FROM facts f WHERE f.id = fa.fact_id OFFSET 0) f{join}
                WHERE {checked} LIMIT 1
            ) f""").format(join=kind_join(kind, names), checked=checked.joined())
    page = sql.SQL("""
            SELECT fa.fact_id AS id
            FROM (SELECT DISTINCT fa.fact_id FROM fact_actors fa WHERE {walk}) fa{probe}
            ORDER BY fa.fact_id {limit}
        """).format(walk=walk.joined(), probe=probe, limit=limit_clause(rows))
    return _documents_of(page)


@functools.lru_cache(maxsize=1024)
def _filtered_page(
    kind: FactKind, names: tuple[str, ...], statuses: tuple[str, ...], paged: bool, rows: int
) -> sql.SQL:
    """A page of facts of the kind narrowed by the filters `names`, after the cursor."""
    where = Where.of(sql.SQL("f.kind = {}").format(sql.Literal(kind.value)))
    where += fact_conditions(names, KIND_TABLE[kind][1])
    where += reviewed("f", statuses)
    if paged:
        where += Where.of("f.id > %(after)s")
    page = sql.SQL("SELECT f.id FROM facts f{join} WHERE {where} ORDER BY f.id {limit}").format(
        join=kind_join(kind, names), where=where.joined(), limit=limit_clause(rows)
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
    statuses = filters.visibility.statuses
    if filters.actor is not None:
        query = _actor_page(kind, names, statuses, paged, limit + 1)
    elif not names:
        query = _every_fact(kind, statuses, paged, limit + 1)
    else:
        # One plan cannot suit every value of every filter.
        query, prepare = _filtered_page(kind, names, statuses, paged, limit + 1), False
    rows = await fetch_rows(conn, query, params, binary=True, prepare=prepare)
    return _page(rows, limit, scope)


def _page(rows: list[tuple[Any, ...]], limit: int, scope: str) -> Stored[schemas.Page[Any]]:
    """Stored answers and the id after which the next page starts."""
    next_cursor = encode_cursor(scope, [rows[limit - 1][2]]) if len(rows) > limit else None
    return stored_page(rows[:limit], next_cursor)


GET_FACT = {
    kind: rendered(
        sql.SQL(
            "SELECT convert_to(d.document, 'UTF8'), d.digest, d.revision, d.review_status "
            "FROM fact_documents d "
            "WHERE d.fact_id = %(id)s AND d.kind = {}"
        ).format(sql.Literal(kind.value))
    )
    for kind in FactKind
}


async def get_fact(
    conn: Conn, kind: FactKind, fact_id: str, drafts: bool = False
) -> Stored[Any] | None:
    """One fact, whatever its review status but draft, which only `drafts` readers see: a
    retracted fact is answered at its URL."""
    row = await (await conn.execute(GET_FACT[kind], {"id": fact_id}, binary=True)).fetchone()
    if row is None or (row[3] == ReviewStatus.DRAFT and not drafts):
        return None
    return Stored(msgspec.Raw(row[0]), fact_etag(row[2], row[1]))


def fact_etag(revision: int, digest: bytes) -> str:
    """A fact's ETag: its current revision, and its answer's digest so that a number reused
    by a rebuilt database does not name other bytes."""
    return f'"{revision}.{bytes(digest).hex()}"'


TOMBSTONE = (
    "SELECT v.revision, v.made_at, v.message FROM records r "
    "JOIN revisions v ON v.revision = r.revision "
    "WHERE r.kind = %(kind)s AND r.id = %(id)s AND r.state IS NULL "
    "AND (v.public OR %(drafts)s)"
)
"""The revision that deleted a record, when and why; no row while it exists, nor for a
deleted draft unless the reader sees drafts."""


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of a deleted record: the revision that deleted it, when and why."""

    revision: int
    deleted_at: dt.datetime
    message: str | None


async def tombstone(
    conn: Conn, kind: str, record_id: str, drafts: bool = False
) -> Tombstone | None:
    """The deletion of a record that no longer exists, if it ever did."""
    params = {"kind": kind, "id": record_id, "drafts": drafts}
    row = await (await conn.execute(TOMBSTONE, params)).fetchone()
    return None if row is None else Tombstone(int(row[0]), row[1], row[2])


PLACED_ON: LiteralString = (
    "coalesce(f.occurred_on, (SELECT min(s.published_on) FROM citations c "
    "JOIN sources s ON s.id = c.source_id WHERE c.fact_id = f.id))"
)
"""Where a fact stands on a timeline that includes undated facts: its date, else the
publication date of the first article citing it (the first day of a month or year)."""


@functools.lru_cache(maxsize=1024)
def _timeline_sql(
    names: tuple[str, ...], statuses: tuple[str, ...], paged: bool, rows: int, undated: bool
) -> sql.SQL:
    """Dated facts (`undated`: every fact, placed) of the kinds `%(kinds)s` narrowed by the
    filters `names`, after the cursor. The answers are joined to the page once it is
    picked, ordered and limited."""
    date: LiteralString = PLACED_ON if undated else "f.occurred_on"
    where = Where.of(sql.SQL("{} IS NOT NULL").format(sql.SQL(date)))
    where += Where.of("f.kind = ANY(%(kinds)s)")
    where += fact_conditions(names, None, date=date)
    where += reviewed("f", statuses)
    if paged:
        where += Where.of(sql.SQL("({}, f.id) > (%(day)s, %(after)s)").format(sql.SQL(date)))
    return rendered(
        sql.SQL("""
        WITH page AS MATERIALIZED (
            SELECT f.id, {date} AS occurred_on FROM facts f WHERE {where}
            ORDER BY {date}, f.id {limit}
        )
        SELECT convert_to(d.document, 'UTF8'), d.digest, page.*
        FROM page JOIN fact_documents d ON d.fact_id = page.id
        ORDER BY page.occurred_on, page.id
    """).format(date=sql.SQL(date), where=where.joined(), limit=limit_clause(rows))
    )


async def timeline(
    conn: Conn,
    filters: FactFilter,
    kinds: tuple[FactKind, ...],
    limit: int,
    cursor: str | None,
    undated: bool = False,
) -> Stored[schemas.Page[Any]]:
    """Dated facts of every kind in date order (then id), for dashboards; `undated` adds
    the facts their sources do not date, each at its article's publication date."""
    placed = ",undated" if undated else ""
    scope = filters.scope("timeline:" + ",".join(k.value for k in kinds) + placed)
    params = filters.params()
    names, paged = tuple(params), cursor is not None
    params["kinds"] = [k.value for k in kinds]
    if cursor is not None:
        day, after = decode_cursor(scope, cursor, (dt.date, str))
        params["day"], params["after"] = dt.date.fromisoformat(day), after
    query = _timeline_sql(names, filters.visibility.statuses, paged, limit + 1, undated)
    prepare = False if filters.narrows or undated else None
    rows = await fetch_rows(conn, query, params, binary=True, prepare=prepare)
    next_cursor = None
    if len(rows) > limit:
        _, _, last_id, last_day = rows[limit - 1]
        next_cursor = encode_cursor(scope, [last_day.isoformat(), last_id])
    return stored_page(rows[:limit], next_cursor)
