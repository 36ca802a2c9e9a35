"""The shapes that cross into HTTP: msgspec Structs, decoded from the JSON PostgreSQL builds."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

from service.vocabulary import (
    ActorKind,
    ActorRole,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    FactKind,
    Hedge,
    Language,
    Operation,
    Precision,
    RecordKind,
    ReviewStatus,
    Role,
    StatementMode,
    Verification,
    VictimGroup,
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


class Fact(Shape, frozen=True, kw_only=True, tag_field="kind"):
    id: str
    crisis_id: str
    verification: Verification
    date: PartialDate | None
    date_note: str | None
    quantity_key: str | None
    claimant: Ref | None
    place: Ref | None
    note: str | None
    citations: list[Citation]
    actors: list[ActorRef]
    review: Review
    translations: list[Translation]
    corrections: list[Correction]
    changed: Changed


class Statement(Fact, tag=FactKind.STATEMENT.value, frozen=True, kw_only=True):
    speaker: Ref
    content: str
    mode: StatementMode
    language: Language
    channel: Channel | None


class Casualty(Fact, tag=FactKind.CASUALTY.value, frozen=True, kw_only=True):
    category: CasualtyCategory
    victim_group: VictimGroup
    figure: Figure


class Deployment(Fact, tag=FactKind.DEPLOYMENT.value, frozen=True, kw_only=True):
    sender: Ref
    status: DeploymentStatus
    figure: Figure | None
    framework: Ref | None
    authorised_by: Ref | None
    purpose: str | None


class Arrest(Fact, tag=FactKind.ARREST.value, frozen=True, kw_only=True):
    confirmed: bool
    person: Ref | None
    figure: Figure | None
    charge: str | None
    legal_basis: str | None
    scope: str | None


AnyFact = Statement | Casualty | Deployment | Arrest


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


class Ready(Shape, frozen=True, kw_only=True):
    status: str
    revision: str
    dataset_version: int | None


class StreamEnd(Shape, frozen=True, kw_only=True):
    """The last line of an NDJSON export: the stream is whole, `count` items long, and every
    item is of `dataset_version`. A stream that ends without it was cut off."""

    complete: bool
    count: Count
    dataset_version: int | None


# ---------------------------------------------------------------- the change log


class ChangeRef(Shape, frozen=True, kw_only=True):
    """One change to one record: which, what was done, when, by whom and why."""

    revision: Annotated[int, Meta(ge=1, description="Its place in commit order.")]
    kind: RecordKind
    id: str
    crisis_id: str
    operation: Operation
    made_at: dt.datetime
    author: str
    message: str | None


class Change(ChangeRef, frozen=True, kw_only=True):
    answer: Any = None
    """The record as its URL answered after this change; null for a deletion."""


class ChangePage(Shape, frozen=True, kw_only=True):
    """Changes in commit order; `next_cursor` is always given: poll with it for newer ones."""

    items: list[Change]
    next_cursor: str


class ChangeEvent(Shape, frozen=True, kw_only=True):
    """A webhook's body (Standard Webhooks): the change without the record's answer, which
    `GET /v1/changes` or the record's URL give."""

    type: str
    timestamp: dt.datetime
    data: ChangeRef


# ---------------------------------------------------------------- webhooks

WebhookUrl = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="Where to POST each change: http(s) only.",
    ),
]
CrisisRef = Annotated[str, Meta(max_length=120, pattern=r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")]


class NewWebhook(Shape, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A subscription to create: where to send, and which changes (every one by default)."""

    url: WebhookUrl
    kinds: Annotated[list[RecordKind], Meta(max_length=8)] = []
    crisis_id: CrisisRef | None = None


class Webhook(Shape, frozen=True, kw_only=True):
    """A subscription and how its deliveries stand."""

    id: str
    url: str
    kinds: list[RecordKind]
    """Record kinds sent; every kind when empty."""
    crisis_id: str | None
    cursor: Annotated[int, Meta(ge=0, description="The last revision delivered or skipped.")]
    failures: Count
    failing_since: dt.datetime | None
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled_reason: str | None


class CreatedWebhook(Webhook, frozen=True, kw_only=True):
    secret: str
    """The `whsec_` signing secret, shown this once: verify each delivery with it."""


class WebhookList(Shape, frozen=True, kw_only=True):
    items: list[Webhook]


class Delivery(Shape, frozen=True, kw_only=True):
    """One attempt to deliver one change, newest first."""

    revision: int
    message_id: str
    attempted_at: dt.datetime
    status: int | None
    ok: bool
    error: str | None
    excerpt: str | None
    duration_ms: Count


class DeliveryList(Shape, frozen=True, kw_only=True):
    items: list[Delivery]


# ---------------------------------------------------------------- review


class Retraction(Shape, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An editor's retraction of a published fact."""

    reason: Annotated[str, Meta(max_length=1000)] | None = None
    """Required: why the fact is withdrawn, shown with it at its URL (and the revision's
    summary). A retraction without one is refused with 422 naming `reason`."""


# ---------------------------------------------------------------- the pages (service/pages)


class Home(Shape, frozen=True, kw_only=True):
    """What `/` answers a client that asks for JSON: where the API and its contract are
    (a browser gets the landing page)."""

    name: str
    version: str
    links: dict[str, str]


class OEmbed(Shape, frozen=True, kw_only=True):
    """An oEmbed 1.0 `rich` answer (oembed.com): the iframe that shows one disputed figure."""

    type: str
    version: str
    title: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    cache_age: int
