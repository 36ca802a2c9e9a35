"""Read SQL is built once per shape and only its values vary: pinned with a connection that
records what it is sent, so no database is needed."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable, Coroutine
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from psycopg import sql

from service import queries, schemas
from service.queries import FactFilter
from service.vocabulary import FactKind


class _Cursor:
    async def fetchall(self) -> list[tuple[Any, ...]]:
        return []

    async def fetchone(self) -> tuple[Any, ...] | None:
        return None


class RecordingConn:
    """Keeps each statement, its params and its flags; answers no rows."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any, dict[str, Any]]] = []
        self.info = SimpleNamespace(host="recorded", port=0, dbname="recorded")

    async def execute(self, query: Any, params: Any = None, **flags: Any) -> _Cursor:
        self.sent.append((query, params, flags))
        return _Cursor()


def sent(call: Callable[[Any], Coroutine[Any, Any, Any]]) -> tuple[Any, Any, dict[str, Any]]:
    conn = RecordingConn()
    asyncio.run(call(conn))
    (one,) = conn.sent
    return one


def scoped(filters: FactFilter, scope: str, key: list[Any]) -> str:
    return queries.encode_cursor(filters.scope(scope), key)


ARREST = FactKind.ARREST
BY_CRISIS = FactFilter(crisis="kazakhstan-2022", since=dt.date(2022, 1, 5))
BY_ACTOR = FactFilter(actor="tokayev", until=dt.date(2022, 1, 9), kind_filters={"confirmed": True})
EVERY_READ: dict[str, Callable[[Any], Coroutine[Any, Any, Any]]] = {
    "every fact": lambda c: queries.list_facts(c, ARREST, FactFilter(), 50, None),
    "every fact, paged": lambda c: queries.list_facts(
        c, ARREST, FactFilter(), 50, scoped(FactFilter(), "arrest", ["f1"])
    ),
    "filtered facts": lambda c: queries.list_facts(
        c, ARREST, BY_CRISIS, 50, scoped(BY_CRISIS, "arrest", ["f1"])
    ),
    "an actor's facts": lambda c: queries.list_facts(
        c, ARREST, BY_ACTOR, 50, scoped(BY_ACTOR, "arrest", ["f1"])
    ),
    "a fact": lambda c: queries.get_fact(c, ARREST, "f1"),
    "timeline": lambda c: queries.timeline(
        c, BY_CRISIS, (ARREST,), 50, scoped(BY_CRISIS, "timeline:arrest", ["2022-01-05", "f1"])
    ),
    "crises": lambda c: queries.list_crises(c, 50, queries.encode_cursor("crises", ["a"])),
    "a crisis": lambda c: queries.get_crisis(c, "a"),
    "sources": lambda c: queries.list_sources(c, "kazakhstan-2022", "fr", 50, None),
    "a source": lambda c: queries.get_source(c, "s"),
    "actors": lambda c: queries.list_actors(c, "kazakhstan-2022", None, "to%k", 50, None),
    "an actor": lambda c: queries.get_actor(c, "a"),
    "disputes": lambda c: queries.list_disputes(c, "kazakhstan-2022", "casualty", None, 50, None),
    "search": lambda c: queries.search(c, "arrested", "kazakhstan-2022", ("source",), 50, None),
}


@pytest.mark.parametrize("read", EVERY_READ.values(), ids=EVERY_READ.keys())
def test_every_read_is_sent_rendered_and_names_exactly_its_params(
    read: Callable[[Any], Coroutine[Any, Any, Any]],
) -> None:
    """A `Composed` would be rendered again on every execute; and the SQL, cached by the
    names of the parameters set, must name exactly the parameters it is handed."""
    conn = RecordingConn()
    asyncio.run(read(conn))
    assert conn.sent
    for query, params, _ in conn.sent:  # a search reads the names it may widen first
        assert type(query) is sql.SQL
        named = set(re.findall(r"%\((\w+)\)s", query.as_string(None)))
        assert named == set(params)


def test_one_shape_one_statement_whatever_the_values() -> None:
    first = FactFilter(crisis="a", since=dt.date(2022, 1, 1), kind_filters={"confirmed": True})
    second = FactFilter(crisis="b", since=dt.date(2023, 1, 1), kind_filters={"confirmed": False})
    query_a, params_a, _ = sent(lambda c: queries.list_facts(c, ARREST, first, 20, None))
    query_b, params_b, _ = sent(lambda c: queries.list_facts(c, ARREST, second, 20, None))
    assert query_a is query_b
    assert params_a == {"crisis": "a", "since": dt.date(2022, 1, 1), "k_confirmed": True}
    assert params_b == {"crisis": "b", "since": dt.date(2023, 1, 1), "k_confirmed": False}


def test_another_shape_another_statement() -> None:
    shapes = [
        FactFilter(crisis="a"),
        FactFilter(source="a"),
        FactFilter(crisis="a", source="a"),
        FactFilter(actor="a"),
        FactFilter(actor="a", crisis="a"),
    ]

    def page_of(filters: FactFilter) -> str:
        query = sent(lambda c: queries.list_facts(c, ARREST, filters, 20, None))[0]
        return str(query.as_string(None))

    queries_sent = {page_of(f) for f in shapes}
    assert len(queries_sent) == len(shapes)


def test_a_kind_filter_left_unset_is_no_condition() -> None:
    unset = FactFilter(crisis="a", kind_filters={"confirmed": None})
    query, params, flags = sent(lambda c: queries.list_facts(c, ARREST, unset, 20, None))
    assert (
        query is sent(lambda c: queries.list_facts(c, ARREST, FactFilter(crisis="a"), 20, None))[0]
    )
    assert params == {"crisis": "a"}
    assert flags == {"binary": True, "prepare": False}


def test_each_request_gets_a_params_dict_of_its_own() -> None:
    """A statement is shared between requests; the values handed with it must not be."""
    read = EVERY_READ["filtered facts"]
    assert sent(read)[1] is not sent(read)[1]
    assert BY_CRISIS.params() is not BY_CRISIS.params()


def test_a_page_does_not_edit_the_filters_it_is_handed() -> None:
    """The cursor's key joins the values in a new dict: a read-only mapping stays as it was."""
    given = MappingProxyType({"crisis": "kazakhstan-2022"})
    cursor = queries.encode_cursor("scope", ["s1"])
    _, params, _ = sent(
        lambda c: queries.keyset_page(
            c, queries.SOURCES, "scope", given, 50, cursor, schemas.SourceSummary
        )
    )
    assert params == {"crisis": "kazakhstan-2022", "after": "s1"}
    assert dict(given) == {"crisis": "kazakhstan-2022"}
