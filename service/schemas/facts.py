"""The four kinds of fact, one tagged union."""

from __future__ import annotations

from service.schemas.parts import (
    ActorRef,
    Changed,
    Citation,
    Correction,
    Figure,
    PartialDate,
    Ref,
    Review,
    Shape,
    Translation,
)
from service.vocabulary import (
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    FactKind,
    Language,
    StatementMode,
    Verification,
    VictimGroup,
)


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
