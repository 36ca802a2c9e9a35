"""Query parameters shared by the controllers, declared once so the contract reads alike.

Each is an `Annotated[T, Meta(...)]` alias: the lists decode them with msgspec
(service.api.querystring); the operations that let Litestar read their parameters take
the same alias through `declared`, so both document and check the same constraints."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Example
from litestar.params import Parameter
from msgspec import Meta

from service.api.paging import fetch as fetch  # re-exported: the controllers' one way in
from service.api.paging import paged as paged
from service.api.querystring import meta_of
from service.api.readers import Include, visibility
from service.api.strict import strict_query as strict_query
from service.errors import invalid_parameter
from service.queries import FactFilter
from service.vocabulary import (
    ActorKind,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    Included,
    Language,
    StatementMode,
    Verification,
    VictimGroup,
)

ID_PATTERN = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"
DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
DATE_EXAMPLES = "e.g. 2022-01-05, 2022-01 or 2022"


def _slug(description: str) -> Meta:
    return Meta(max_length=120, pattern=ID_PATTERN, description=description)


PageSize = Annotated[int, Meta(ge=1, le=200, description="Items per page, 1 to 200.")]
PageCursor = Annotated[
    str,
    Meta(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Opaque `next_cursor` of the previous page; omit for the first page.",
    ),
]
InCrisis = Annotated[str, _slug("Only items of this crisis (its id).")]
WithActor = Annotated[
    str,
    _slug(
        "Only facts that involve this actor (its id), in any role (mentioned "
        "included); `speaker`, `claimant` and `sender` each ask for one role."
    ),
]
BySpeaker = Annotated[
    str, _slug("Only statements this actor (its id) made, not those naming them.")
]
ByClaimant = Annotated[
    str, _slug("Only facts this actor (its id) claims: who gives the figure or says so.")
]
BySender = Annotated[str, _slug("Only deployments of troops this actor (its id) sends.")]
CitingSource = Annotated[str, _slug("Only facts citing this source (its id).")]
SinceDate = Annotated[
    str,
    Meta(
        description="Only facts dated on or after this date: YYYY-MM-DD, or YYYY-MM or YYYY "
        "for the start of that month or year. A fact known only to the month or year counts "
        "as the first day of it; undated facts are left out.",
        # The pattern is the contract's; check_dates checks it, to answer with an example.
        extra_json_schema={"pattern": DATE_PATTERN},
        examples=["2022-01-05", "2022-01"],
    ),
]
UntilDate = Annotated[
    str,
    Meta(
        description="Only facts dated on or before this date: YYYY-MM-DD, or YYYY-MM or YYYY "
        "for the end of that month or year. Undated facts are left out.",
        extra_json_schema={"pattern": DATE_PATTERN},
        examples=["2022-01-10", "2022-01"],
    ),
]
InLanguage = Annotated[Language, Meta(description="Only items from sources in this language.")]
Verified = Annotated[
    Verification, Meta(description="Only facts whose source stands behind them this way.")
]
Measuring = Annotated[
    str,
    _slug(
        "Only facts measuring this quantity (the key shared across sources, "
        "e.g. `arrests.nationwide`)."
    ),
]
Including = Annotated[
    Included,
    Meta(
        description="`retracted`: also the facts an editor retracted, each with its "
        "`review` (status, reason, by whom, when). Drafts are shown to requests with an "
        "API key, whatever this says.",
    ),
]
"""service.api.readers.Include, for the lists that decode their parameters."""
# The filters of one kind of fact, shared by its list and its export.
InMode = Annotated[StatementMode, Meta(description="Direct quotes or reported speech.")]
InChannel = Annotated[Channel, Meta(description="Only statements made this way.")]
InCategory = Annotated[CasualtyCategory, Meta(description="Killed, injured or seriously injured.")]
OfVictims = Annotated[VictimGroup, Meta(description="Who the victims were.")]
InStatus = Annotated[DeploymentStatus, Meta(description="Requested, announced, approved ...")]
IsConfirmed = Annotated[
    bool,
    Meta(description="Only arrests the source confirms (true) or says are unconfirmed (false)."),
]
OfActorKind = Annotated[ActorKind, Meta(description="Only actors of this kind.")]
Named = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00]+$",
        description="Only actors whose name or any alias contains this text "
        "(case-insensitive), e.g. `Masimov`.",
    ),
]
WithUndated = Annotated[
    bool,
    Meta(
        description="`true` adds the facts their sources do not date, each placed at "
        "the publication date of the first article citing it (its `date` stays null: "
        "that is the mark); `since` and `until` then compare that date too."
    ),
]


def declared(alias: Any) -> Any:
    """The Litestar Parameter of a Meta alias, for a handler that lets Litestar read it."""
    meta = meta_of(alias)
    extra = meta.extra_json_schema or {}
    return Parameter(
        description=meta.description,
        ge=meta.ge,
        le=meta.le,
        min_length=meta.min_length,
        max_length=meta.max_length,
        pattern=meta.pattern,
        examples=[Example(value=v) for v in meta.examples] if meta.examples else None,
        schema_extra={"pattern": extra["pattern"]} if "pattern" in extra else None,
    )


Limit = Annotated[int, declared(PageSize)]
Cursor = Annotated[str | None, declared(PageCursor)]
CrisisId = Annotated[str | None, declared(InCrisis)]
ActorId = Annotated[str | None, declared(WithActor)]
SpeakerId = Annotated[str | None, declared(BySpeaker)]
ClaimantId = Annotated[str | None, declared(ByClaimant)]
SenderId = Annotated[str | None, declared(BySender)]
SourceId = Annotated[str | None, declared(CitingSource)]
Since = Annotated[str | None, declared(SinceDate)]
Until = Annotated[str | None, declared(UntilDate)]
LanguageFilter = Annotated[Language | None, declared(InLanguage)]
VerificationFilter = Annotated[Verification | None, declared(Verified)]
QuantityKey = Annotated[str | None, declared(Measuring)]
ModeFilter = Annotated[StatementMode | None, declared(InMode)]
ChannelFilter = Annotated[Channel | None, declared(InChannel)]
CategoryFilter = Annotated[CasualtyCategory | None, declared(InCategory)]
VictimGroupFilter = Annotated[VictimGroup | None, declared(OfVictims)]
StatusFilter = Annotated[DeploymentStatus | None, declared(InStatus)]
ConfirmedFilter = Annotated[bool | None, declared(IsConfirmed)]
ActorKindFilter = Annotated[ActorKind | None, declared(OfActorKind)]
ActorName = Annotated[str | None, declared(Named)]
Undated = Annotated[bool, declared(WithUndated)]
PathId = Annotated[str, Parameter(max_length=120, pattern=ID_PATTERN, description="The item's id.")]
"""Ids are slugs: anything else cannot name an item (and NUL would fail in PostgreSQL)."""


def in_role(column: str, actor: str | None) -> dict[str, str]:
    """A kind filter of an actor in one role, present only when given: the filters of a
    list make its cursors, and those issued before these filters existed stay valid."""
    return {} if actor is None else {column: actor}


class FactQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The filters every fact list shares; each list's Struct adds its own after them."""

    crisis: InCrisis | None = None
    actor: WithActor | None = None
    source: CitingSource | None = None
    since: SinceDate | None = None
    until: UntilDate | None = None
    language: InLanguage | None = None
    verification: Verified | None = None
    key: Measuring | None = None
    include: Including | None = None
    claimant: ByClaimant | None = None

    async def filters(self, request: Request[Any, Any, Any], **kind_filters: Any) -> FactFilter:
        """The filters, with the review statuses the reader sees."""
        first, last = check_dates(self.since, self.until)
        return FactFilter(
            crisis=self.crisis,
            actor=self.actor,
            source=self.source,
            since=first,
            until=last,
            language=self.language.value if self.language else None,
            verification=self.verification.value if self.verification else None,
            key=self.key,
            kind_filters=kind_filters,
            visibility=await visibility(request, self.include),
            claimant=self.claimant,
        )


def date_range(name: str, text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a date given as YYYY-MM-DD, YYYY-MM or YYYY."""
    try:
        if re.fullmatch(DATE_PATTERN, text) is None:
            raise ValueError(text)
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 3:
            day = dt.date(*parts)
            return day, day
        if len(parts) == 2:
            first = dt.date(parts[0], parts[1], 1)
            after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, after - dt.timedelta(days=1)
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    except ValueError:
        raise invalid_parameter(
            name, f"{text!r} is not a date: give YYYY-MM-DD, YYYY-MM or YYYY, {DATE_EXAMPLES}"
        ) from None


def check_dates(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The first day `since` allows and the last `until` does."""
    first = None if since is None else date_range("since", since)[0]
    last = None if until is None else date_range("until", until)[1]
    if first is not None and last is not None and first > last:
        raise invalid_parameter("until", f"{until} is before since={since}")
    return first, last


async def fact_filter(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    actor: ActorId = None,
    source: SourceId = None,
    since: Since = None,
    until: Until = None,
    language: LanguageFilter = None,
    verification: VerificationFilter = None,
    key: QuantityKey = None,
    include: Include = None,
    claimant: ClaimantId = None,
) -> FactFilter:
    """The filters every fact list shares, declared once for the handlers and the contract;
    with the review statuses the reader sees."""
    first, last = check_dates(since, until)
    return FactFilter(
        crisis=crisis,
        actor=actor,
        source=source,
        since=first,
        until=last,
        language=language.value if language else None,
        verification=verification.value if verification else None,
        key=key,
        visibility=await visibility(request, include),
        claimant=claimant,
    )


Filters = NamedDependency[FactFilter]
FILTER_DEPENDENCIES = {"filters": Provide(fact_filter)}
