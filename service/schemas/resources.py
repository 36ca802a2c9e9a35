"""Crises, sources, actors, places, disputes, search hits, pages and system answers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from msgspec import Meta

from service.schemas.parts import (
    Changed,
    Citation,
    Correction,
    Count,
    Figure,
    PartialDate,
    Ref,
    Shape,
    Translation,
)
from service.vocabulary import (
    ActorKind,
    FactKind,
    Language,
    Operation,
    RecordKind,
    Role,
    Verification,
)


class Crisis(Shape, frozen=True, kw_only=True):
    id: str
    name: str
    summary: str
    country: str
    start: PartialDate
    end: PartialDate | None
    counts: dict[str, int]
    corrections: list[Correction]
    changed: Changed
    """This crisis's own last change; `counts` follow its facts as they are now."""


class SourceSummary(Shape, frozen=True, kw_only=True):
    id: str
    crisis_id: str
    title: str
    outlet: str | None
    url: str | None
    language: Language
    published: PartialDate
    published_note: str
    file_name: str
    sha256: str
    length: Count
    translations: list[Translation]
    changed: Changed


class Source(SourceSummary, frozen=True, kw_only=True):
    text: str


class Alias(Shape, frozen=True, kw_only=True):
    name: str
    language: Language | None


class Actor(Shape, frozen=True, kw_only=True):
    id: str
    crisis_id: str
    kind: ActorKind
    name: str
    role: str | None
    aliases: list[Alias]
    fact_counts: dict[str, int]
    corrections: list[Correction]
    changed: Changed
    """This actor's own last change; `fact_counts` follow its facts as they are now."""


class Coordinates(Shape, frozen=True, kw_only=True):
    """Where a place lies; not from the articles, so `source` says where they come from."""

    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    source: str


class Place(Shape, frozen=True, kw_only=True):
    id: str
    crisis_id: str
    name: str
    aliases: list[str]
    coordinates: Coordinates | None
    changed: Changed


class DisputeValue(Shape, frozen=True, kw_only=True):
    """One source's value for a disputed quantity."""

    fact_id: str
    kind: FactKind
    source_id: str
    figure: Figure
    claimant: Ref | None
    date: PartialDate | None
    verification: Verification
    citation: Citation


class Dispute(Shape, frozen=True, kw_only=True):
    """A quantity that sources report differently."""

    key: str
    crisis_id: str
    kind: FactKind
    values: list[DisputeValue]
    low: Count
    high: Count | None
    conflicting: bool
    """True when no single number satisfies every source's figure; False when they only
    differ in precision (4,266 is 'more than 4,000')."""
    changed: Changed
    """A dispute is derived from its facts: the last revision of the change that altered
    what it shows (a figure, a source, a fact joining or leaving it)."""


SnippetOrigin = Literal["text", "translation", "note"]


class SearchHit(Shape, frozen=True, kw_only=True):
    """A source or fact matching the query; `snippet` marks the matched words with <mark>.

    `snippet_from` says where the snippet was taken: the words as written (`text`), or,
    when the query's words are found only there, the fact's English `translation` (made by
    the curators, listed in its `translations`) or its curators' `note`."""

    type: str
    id: str
    title: str
    snippet: str
    snippet_from: SnippetOrigin
    rank: float
    href: str


T = TypeVar("T")


class Page(Shape, Generic[T], frozen=True, kw_only=True):
    items: list[T]
    next_cursor: str | None


class Health(Shape, frozen=True, kw_only=True):
    status: str


class Revision(Shape, frozen=True, kw_only=True):
    """One change to a record: who made it, when, why, and the record's answer after it
    (none when the change deleted it)."""

    revision: int
    kind: RecordKind
    record_id: str
    crisis_id: str
    operation: Operation
    author: str
    message: str | None
    made_at: dt.datetime
    answer: dict[str, Any] | None


class Key(Shape, frozen=True, kw_only=True):
    """The API key a request was made with: its name and what it may do."""

    name: str
    role: Role


class Standby(Shape, frozen=True, kw_only=True):
    """A hot standby as the answering worker last saw it (ten times a second)."""

    name: str
    serving: bool
    """In this worker's read rotation."""
    dataset_version: int | None
    """The dataset version it had replayed when it last answered."""
    lag_seconds: float | None
    """How far its replay trails the primary's WAL; None while it does not answer."""


class Ready(Shape, frozen=True, kw_only=True):
    status: str
    revision: str
    dataset_version: int | None
    """The primary's."""
    floor: int | None = None
    """With standbys: the dataset version this worker serves from (it never serves older)."""
    standbys: list[Standby] = []
    """With standbys (DATABASE_READ_URLS): where reads may go, as this worker sees it."""


class StreamEnd(Shape, frozen=True, kw_only=True):
    """The last line of an NDJSON export: the stream is whole, `count` items long, and every
    item is of `dataset_version`. A stream that ends without it was cut off."""

    complete: bool
    count: Count
    dataset_version: int | None
