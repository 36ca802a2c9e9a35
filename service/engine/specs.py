"""The fixture format: what a journalist writes in `fixtures/`, as msgspec Structs.

Parsing is strict (unknown fields, wrong types and out-of-range values are
errors) so that a typo in a YAML file never becomes a silently missing fact.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from service.vocabulary import (
    ActorKind,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    Hedge,
    Language,
    ReviewStatus,
    StatementMode,
    Verification,
    VictimGroup,
)

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$", max_length=120)]
Count = Annotated[int, Meta(ge=0, le=2**31 - 1)]
"""A figure as PostgreSQL's `integer` holds it: a larger one would be cut to 32 bits."""
Text = Annotated[str, Meta(min_length=1)]
WebUrl = Annotated[
    str, Meta(pattern=r"^https?://[^\s]+$", max_length=2000, description="http(s) only")
]
"""An article's address: served as a link, so never `javascript:` or another scheme."""
PartialDateText = Annotated[
    str, Meta(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD")
]


class Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every fixture record."""


DayText = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]


class TranslationSpec(Spec, frozen=True, kw_only=True):
    """A curator's translation of a text of the record it sits in: a fact's cited quote
    (`citation`, 1-based), else a statement's content or a source's title. The original
    stays the evidence; a translation is never cited."""

    language: Language
    text: Text
    translator: Text  # who made it: "curators" for the project's own
    reviewed: bool = False  # checked against the original by a second person
    citation: Annotated[int, Meta(ge=1)] | None = None


class CorrectionSpec(Spec, frozen=True, kw_only=True):
    """A public correction notice: when the record was corrected, what changed and why.
    `previous` holds the changed members as they were (null: the member was not set)."""

    date: DayText
    summary: Text
    reason: Text
    previous: dict[str, Any] = {}


class AliasSpec(Spec, frozen=True, kw_only=True):
    """Another spelling of a name, as the articles write it, and its language."""

    name: Text
    language: Language | None = None


Alias = AliasSpec
"""The name the fixture format had for it (synth uses it)."""


class Coordinates(Spec, frozen=True, kw_only=True):
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    source: Text  # background knowledge, not from the articles: say where it comes from


class CrisisSpec(Spec, frozen=True, kw_only=True):
    id: Slug
    name: Text
    summary: Text
    country: Text
    start: PartialDateText
    end: PartialDateText | None = None
    corrections: list[CorrectionSpec] = []


class SourceSpec(Spec, frozen=True, kw_only=True):
    id: Slug
    file: Text
    crisis: Slug
    title: Text
    language: Language
    published: PartialDateText
    published_note: Text  # how the publication date was determined
    outlet: str | None = None
    url: WebUrl | None = None
    translations: list[TranslationSpec] = []  # of the title


class ActorSpec(Spec, frozen=True, kw_only=True):
    id: Slug
    kind: ActorKind
    name: Text
    role: str | None = None
    aliases: list[AliasSpec] = []
    corrections: list[CorrectionSpec] = []


class PlaceSpec(Spec, frozen=True, kw_only=True):
    id: Slug
    name: Text
    aliases: list[AliasSpec] = []
    coordinates: Coordinates | None = None


class CitationSpec(Spec, frozen=True, kw_only=True):
    source: Slug
    quote: Annotated[str, Meta(min_length=8)]
    occurrence: Annotated[int, Meta(ge=1)] | None = None  # which one, when the quote repeats


class ReviewSpec(Spec, frozen=True, kw_only=True):
    """Where a fact stands in review; a fact without one is published (as fixtures are).
    `reason`, `by` and `at` are set by the server when an editor publishes or retracts."""

    status: ReviewStatus
    reason: Text | None = None  # why it was retracted
    by: str | None = None  # the key that published or retracted it
    at: Annotated[dt.datetime, Meta(tz=True)] | None = None  # when


class FactSpec(Spec, frozen=True, kw_only=True):
    """Fields every kind of fact has."""

    id: Slug
    citations: Annotated[list[CitationSpec], Meta(min_length=1)]
    claimant: Slug | None = None
    verification: Verification = Verification.REPORTED
    date: PartialDateText | None = None
    date_note: str | None = None  # why the stored date differs from the article's words
    key: Slug | None = None  # names the quantity measured, shared by facts across sources
    place: Slug | None = None
    actors: list[Slug] = []  # other actors the fact involves
    note: str | None = None
    review: ReviewSpec | None = None  # none: published
    translations: list[TranslationSpec] = []
    corrections: list[CorrectionSpec] = []


class StatementSpec(FactSpec, frozen=True, kw_only=True):
    speaker: Slug
    content: Text  # the words, as the article gives them
    mode: StatementMode
    language: Language
    channel: Channel | None = None


class CasualtySpec(FactSpec, frozen=True, kw_only=True):
    category: CasualtyCategory
    victim_group: VictimGroup
    count: Count
    count_max: Count | None = None
    hedge: Hedge = Hedge.EXACT


class DeploymentSpec(FactSpec, frozen=True, kw_only=True):
    sender: Slug
    status: DeploymentStatus
    count: Count | None = None
    count_max: Count | None = None
    hedge: Hedge | None = None
    framework: Slug | None = None
    authorised_by: Slug | None = None
    purpose: str | None = None


class ArrestSpec(FactSpec, frozen=True, kw_only=True):
    confirmed: bool
    person: Slug | None = None
    count: Count | None = None
    count_max: Count | None = None
    hedge: Hedge | None = None
    charge: str | None = None
    legal_basis: str | None = None
    scope: str | None = None


FACT_FILES: dict[str, type[FactSpec]] = {
    "statements.yaml": StatementSpec,
    "casualties.yaml": CasualtySpec,
    "deployments.yaml": DeploymentSpec,
    "arrests.yaml": ArrestSpec,
}


class PartialDate(msgspec.Struct, frozen=True):
    value: dt.date
    precision: str


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_partial_date(text: str) -> PartialDate:
    """'2022', '2022-01' or '2022-01-08' -> first day of the period and its precision."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"bad date {text!r}: expected YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    precision = "day" if day else "month" if month else "year"
    try:
        value = dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"bad date {text!r}: {exc}") from None
    return PartialDate(value, precision)


def convert(raw: Any, spec: type[Spec]) -> Any:
    return msgspec.convert(raw, type=spec, strict=True)


class NewStatement(StatementSpec, frozen=True, kw_only=True):
    """A statement as a curator posts it: the fixture record and its crisis."""

    crisis: Slug


class NewCasualty(CasualtySpec, frozen=True, kw_only=True):
    """A casualty figure as a curator posts it: the fixture record and its crisis."""

    crisis: Slug


class NewDeployment(DeploymentSpec, frozen=True, kw_only=True):
    """A deployment as a curator posts it: the fixture record and its crisis."""

    crisis: Slug


class NewArrest(ArrestSpec, frozen=True, kw_only=True):
    """An arrest as a curator posts it: the fixture record and its crisis."""

    crisis: Slug


NEW_FACTS: dict[str, type[FactSpec]] = {
    "statement": NewStatement,
    "casualty": NewCasualty,
    "deployment": NewDeployment,
    "arrest": NewArrest,
}
"""What POST /v1/<kinds> takes, by fact kind."""


class NewSource(Spec, frozen=True, kw_only=True):
    """An article as a curator posts it: its fixture record and crisis, the text itself in
    place of a file (an export writes it to `<id>.txt`)."""

    id: Slug
    crisis: Slug
    title: Text
    language: Language
    published: PartialDateText
    published_note: Text  # how the publication date was determined
    outlet: str | None = None
    url: WebUrl | None = None
    text: Text


class NewActor(ActorSpec, frozen=True, kw_only=True):
    """An actor as a curator posts it: the fixture record and its crisis."""

    crisis: Slug
