"""What each list exports: the whole filtered set of its JSON list, as one ordered query.

The conditions are the JSON lists' own (service.queries), so a filter narrows an export
exactly as it narrows the list; only the paging is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, LiteralString

import msgspec
from psycopg import sql

from service import schemas
from service.queries import (
    ACTORS,
    DISPUTE_CONDITIONS,
    KIND_TABLE,
    PLACED_ON,
    SOURCES,
    FactFilter,
    Keyset,
    Where,
    fact_conditions,
    given_params,
    kind_join,
    reviewed,
    viewed_by,
)
from service.vocabulary import PUBLIC, FactKind, Visibility

FACT_SHAPES: dict[FactKind, type[schemas.Fact]] = {
    FactKind.STATEMENT: schemas.Statement,
    FactKind.CASUALTY: schemas.Casualty,
    FactKind.DEPLOYMENT: schemas.Deployment,
    FactKind.ARREST: schemas.Arrest,
}


@dataclass(frozen=True, slots=True)
class Listing:
    """An export's rows: `document`, the SQL text of one item's JSON, over `source`, the
    ordered `FROM ...` it reads; and the shape of its rows.

    `stored` rows are answers the load encoded (facts, disputes), sent as they are; the
    others are built by PostgreSQL and encoded by msgspec from `shape`, as the JSON list does.
    """

    name: str
    source: sql.Composed
    params: dict[str, Any] = field(default_factory=dict)
    shape: Any = None
    stored: bool = True
    kinds: tuple[FactKind, ...] = ()
    """The kinds of fact its rows may be: empty for a list of something else."""
    document: sql.Composable = field(default_factory=lambda: sql.SQL("d.document"))
    """The stored answer's text by default."""

    def query(self, item: sql.Composable) -> sql.Composed:
        """The listing's rows, each the expression `item` of its `document`, in order."""
        return sql.SQL("SELECT {} ").format(item) + self.source


def _answers_of(
    facts: sql.Composed, statuses: tuple[str, ...], order: LiteralString
) -> sql.Composed:
    """The stored answers (`d`) of the facts `facts` selects (as `f`) that are of these
    review statuses, in `order`. The status is read beside the answer: a fact's heap row
    is not visited when an index of `facts` holds the rest (the unfiltered timeline)."""
    return sql.SQL(
        "FROM ({facts}) f JOIN fact_documents d ON d.fact_id = f.id WHERE {reviewed} "
        "ORDER BY {order}"
    ).format(facts=facts, reviewed=reviewed("d", statuses).joined(), order=sql.SQL(order))


def facts(name: str, kind: FactKind, filters: FactFilter) -> Listing:
    """Every fact of the kind the filters let through, in id order (as the list pages)."""
    params = filters.params()
    names = tuple(params)
    shape = FACT_SHAPES[kind]
    statuses = filters.visibility.statuses
    if not names:  # one range of fact_documents (kind, fact_id), read as it lies
        source = sql.SQL(
            "FROM fact_documents d WHERE d.kind = {} AND {} ORDER BY d.fact_id"
        ).format(sql.Literal(kind.value), reviewed("d", statuses).joined())
        return Listing(name, source, params, shape, kinds=(kind,))
    where = Where.of(sql.SQL("f.kind = {}").format(sql.Literal(kind.value)))
    where += fact_conditions(names, KIND_TABLE[kind][1])
    selected = sql.SQL("SELECT f.id FROM facts f{join} WHERE {where}").format(
        join=kind_join(kind, names), where=where.joined()
    )
    source = _answers_of(selected, statuses, "f.id")
    return Listing(name, source, params, shape, kinds=(kind,))


def timeline(filters: FactFilter, kinds: tuple[FactKind, ...], undated: bool = False) -> Listing:
    """Every dated fact of the kinds (`undated`: every fact, placed as the timeline places
    it), in date order then id, as the timeline pages."""
    date: LiteralString = PLACED_ON if undated else "f.occurred_on"
    params: dict[str, Any] = filters.params()
    if not params and not undated:
        return _dated_answers(filters.visibility.statuses, kinds)
    where = Where.of(sql.SQL("{} IS NOT NULL").format(sql.SQL(date)))
    where += fact_conditions(tuple(params), None, date=date)
    if set(kinds) != set(FactKind):  # every kind: no condition, so no visit of the row
        where += Where.of("f.kind = ANY(%(kinds)s)")
        params["kinds"] = [k.value for k in kinds]
    selected = sql.SQL("SELECT f.id, {date} AS placed FROM facts f WHERE {where}").format(
        date=sql.SQL(date), where=where.joined()
    )
    source = _answers_of(selected, filters.visibility.statuses, "f.placed, f.id")
    return Listing("timeline", source, params, schemas.AnyFact, kinds=kinds)


def _dated_answers(statuses: tuple[str, ...], kinds: tuple[FactKind, ...]) -> Listing:
    """The unfiltered timeline: one range of fact_documents (occurred_on, fact_id), each
    answer one index entry and its row, not a probe per fact found in `facts`."""
    where = Where.of("d.occurred_on IS NOT NULL") + reviewed("d", statuses)
    params: dict[str, Any] = {}
    if set(kinds) != set(FactKind):
        where += Where.of("d.kind = ANY(%(kinds)s)")
        params["kinds"] = [k.value for k in kinds]
    source = sql.SQL("FROM fact_documents d WHERE {} ORDER BY d.occurred_on, d.fact_id").format(
        where.joined()
    )
    return Listing("timeline", source, params, schemas.AnyFact, kinds=kinds)


def _keyset(
    name: str,
    listing: Keyset,
    params: dict[str, Any],
    shape: Any,
    bound: dict[str, Any] | None = None,
) -> Listing:
    """`listing` whole, narrowed by the filters' values `params`; `bound` gives the values
    its items' JSON asks for, which narrow nothing."""
    where = Where(tuple(sql.SQL(listing.conditions[n]) for n in params))
    source = sql.SQL("FROM {table} WHERE {where} ORDER BY {order}").format(
        table=sql.SQL(listing.table), where=where.joined(), order=sql.SQL(listing.order)
    )
    document = sql.SQL("({})::text").format(listing.item)
    params = {**params, **(bound or {})}
    return Listing(name, source, params, shape, stored=False, document=document)


def actors(
    crisis: str | None, kind: str | None, name: str | None, visibility: Visibility = PUBLIC
) -> Listing:
    """Actors with their counts of the facts this reader's lists show."""
    pattern = None
    if name is not None:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    params = given_params(crisis=crisis, kind=kind, name=pattern)
    seen = {"statuses": list(visibility.statuses)}
    return _keyset("actors", ACTORS, params, schemas.Actor, seen)


def sources(crisis: str | None, language: str | None) -> Listing:
    params = given_params(crisis=crisis, language=language)
    return _keyset("sources", SOURCES, params, schemas.SourceSummary)


def disputes(
    crisis: str | None, kind: str | None, key: str | None, visibility: Visibility = PUBLIC
) -> Listing:
    params = given_params(crisis=crisis, kind=kind, key=key)
    where = Where(tuple(sql.SQL(DISPUTE_CONDITIONS[n]) for n in params))
    where += viewed_by(visibility.bit)
    source = sql.SQL(
        "FROM disputed_quantities d WHERE {where} ORDER BY d.crisis_id, d.quantity_key"
    ).format(where=where.joined())
    return Listing("disputes", source, params, schemas.Dispute)


def everything() -> list[Listing]:
    """Every list unfiltered, as a snapshot and the data package hold them."""
    return [
        *(facts(plural, kind, FactFilter()) for kind, plural in FACT_LISTS.items()),
        actors(None, None, None),
        sources(None, None),
        disputes(None, None, None),
        timeline(FactFilter(), tuple(FactKind)),
    ]


FACT_LISTS = {
    FactKind.STATEMENT: "statements",
    FactKind.CASUALTY: "casualties",
    FactKind.DEPLOYMENT: "deployments",
    FactKind.ARREST: "arrests",
}

decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def list_decoder(shape: Any) -> msgspec.json.Decoder[Any]:
    """One Decoder of a list of `shape` per shape, built once (msgspec's perf tips)."""
    if shape not in decoders:
        decoders[shape] = msgspec.json.Decoder(list[shape])
    return decoders[shape]
