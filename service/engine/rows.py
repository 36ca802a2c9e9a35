"""Named rows: one type per table, its fields the columns the models declare.

A row is a `namedtuple` built from `Base.metadata`, so `row.claimant_id` reads as what
it is, the COPY that writes it names the same columns, and a column added to a model
is a field here without restating anything. Columns the database fills itself (a
generated search vector, an identity, a load time) are not fields.
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple

import sqlalchemy as sa

from service import models
from service.vocabulary import FactKind

_SERVER_FILLED = {("facts", "search"), ("crises", "loaded_at")}
"""Columns a load never writes: the fact's search vector is made from its text in the same
INSERT (see `write`), the load time is the server's."""


def _written(column: sa.Column[Any]) -> bool:
    return (
        column.computed is None
        and column.identity is None
        and (column.table.name, column.name) not in _SERVER_FILLED
    )


def columns(table: str) -> tuple[str, ...]:
    """The columns of `table` a load writes, in the models' order."""
    return tuple(c.name for c in models.Base.metadata.tables[table].columns if _written(c))


def _row_type(table: str) -> Any:
    name = "".join(part.title() for part in table.split("_")) + "Row"
    return collections.namedtuple(name, columns(table))


CrisisRow = _row_type("crises")
SourceRow = _row_type("sources")
PassageRow = _row_type("source_passages")
ActorRow = _row_type("actors")
AliasRow = _row_type("actor_aliases")
PlaceRow = _row_type("places")
FactRow = _row_type("facts")
StatementRow = _row_type("statements")
CasualtyRow = _row_type("casualties")
DeploymentRow = _row_type("deployments")
ArrestRow = _row_type("arrests")
FactActorRow = _row_type("fact_actors")
CitationRow = _row_type("citations")


class KindInfo(NamedTuple):
    """Where a kind of fact lives: its own table, its row type and its path in the API."""

    table: str
    row: Any
    path: str


KINDS: dict[FactKind, KindInfo] = {
    FactKind.STATEMENT: KindInfo("statements", StatementRow, "/v1/statements"),
    FactKind.CASUALTY: KindInfo("casualties", CasualtyRow, "/v1/casualties"),
    FactKind.DEPLOYMENT: KindInfo("deployments", DeploymentRow, "/v1/deployments"),
    FactKind.ARREST: KindInfo("arrests", ArrestRow, "/v1/arrests"),
}
"""The one place that maps a fact kind to its table and path."""

INSERT_ORDER = (
    "crises",
    "sources",
    "source_passages",
    "actors",
    "actor_aliases",
    "places",
    "facts",
    *(info.table for info in KINDS.values()),
    "fact_actors",
    "citations",
)
"""Every table a record is written to, after the tables it references."""


class CrisisRecord(NamedTuple):
    row: Any  # CrisisRow


class SourceRecord(NamedTuple):
    row: Any  # SourceRow
    passages: list[Any]  # PassageRow


class ActorRecord(NamedTuple):
    row: Any  # ActorRow
    aliases: list[Any]  # AliasRow


class PlaceRecord(NamedTuple):
    row: Any  # PlaceRow


class FactRecord(NamedTuple):
    """A fact's rows: its `facts` row, its kind table's row, the actors it involves, its
    citations in position order, and what its search vector is made from."""

    row: Any  # FactRow
    detail: Any  # the row of KINDS[kind].table
    actors: list[Any]  # FactActorRow
    citations: list[Any]  # CitationRow
    config: str  # text search configuration: the language of its first cited source
    document: str  # statement content, quotes and note: what full-text search matches


Record = CrisisRecord | SourceRecord | ActorRecord | PlaceRecord | FactRecord

RECORD_KIND: dict[type[Any], str] = {
    CrisisRecord: "crisis",
    SourceRecord: "source",
    ActorRecord: "actor",
    PlaceRecord: "place",
}
"""The kind a record's revisions are filed under; a fact's is its own kind."""


def record_kind(record: Record) -> str:
    if isinstance(record, FactRecord):
        return str(record.row.kind)
    return RECORD_KIND[type(record)]


def record_id(record: Record) -> str:
    return str(record.row.id)


def record_crisis(record: Record) -> str:
    if isinstance(record, CrisisRecord):
        return str(record.row.id)
    return str(record.row.crisis_id)
