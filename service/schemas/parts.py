"""The parts of a record's answer: references, dates, citations, review, notices."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from service.vocabulary import (
    ActorRole,
    Hedge,
    Language,
    Precision,
    ReviewStatus,
)

Count = Annotated[int, Meta(ge=0)]
Offset = Annotated[
    int, Meta(ge=0, description="Character (code point) offset into the source text")
]


class Shape(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every API shape."""


class Ref(Shape, frozen=True, kw_only=True):
    """An actor or place named by a fact: enough to show it, and its id to fetch more."""

    id: str
    name: str


class ActorRef(Shape, frozen=True, kw_only=True):
    id: str
    name: str
    role: ActorRole


DateText = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
        description="As much of the date as is known: YYYY, YYYY-MM or YYYY-MM-DD",
        examples=["2022-01-05", "2022-01", "2022"],
    ),
]


class PartialDate(Shape, frozen=True, kw_only=True):
    """A date as precisely as its source gives it: `2022-01` is January, which a first day
    (`2022-01-01`) would misstate."""

    value: DateText
    precision: Precision


class CitedSource(Shape, frozen=True, kw_only=True):
    """Who published the cited words, where and when: enough to attribute a quote without
    fetching the source."""

    id: str
    title: str
    outlet: str | None
    published: PartialDate
    language: Language


class Citation(Shape, frozen=True, kw_only=True):
    """The words a fact rests on: `quote == source.text[start:end]`."""

    source_id: str
    source: CitedSource
    quote: str
    start: Offset
    end: Offset


class Figure(Shape, frozen=True, kw_only=True):
    """A number as its source gives it: exact, hedged, or a range from `count` to `count_max`."""

    count: Count
    count_max: Count | None
    hedge: Hedge


class Review(Shape, frozen=True, kw_only=True):
    """Where a fact stands in review. Public answers hold published facts only; a draft is
    seen with an API key; a retracted fact is answered at its URL with why, by whom and
    when, and in lists with `include=retracted`."""

    status: ReviewStatus
    reason: str | None
    """Why the fact was retracted; null unless it was."""
    by: str | None
    """The key that last published or retracted it; null for a fact published by a load."""
    at: dt.datetime | None
    """When it was last published or retracted; null for a fact published by a load."""


class Changed(Shape, frozen=True, kw_only=True):
    """When a record last changed: the revision that changed it, which `GET /v1/changes`
    lists (`since` a cursor before it), and when that change was made. An answer that shows
    revision N holds every change up to N."""

    revision: Annotated[int, Meta(ge=0, description="Its place in the change log.")]
    at: dt.datetime


class Translation(Shape, frozen=True, kw_only=True):
    """A curator's translation of a record's text, served beside the original, which stays
    the evidence and the citation."""

    of: str
    """What it translates: `quote` (the quote of citation number `citation`), `content` (a
    statement's words) or `title` (a source's)."""
    citation: Annotated[int, Meta(ge=1)] | None
    language: Language
    text: str
    translator: str
    reviewed: bool
    """False until a second person has checked it against the original."""


class Correction(Shape, frozen=True, kw_only=True):
    """A public correction notice: when the record was corrected, what changed, why, and
    the changed members as they were before (null: not set)."""

    date: DateText
    summary: str
    reason: str
    previous: dict[str, Any]
