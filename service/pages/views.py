"""What the pages show, made from the API's Structs: figures as a reader says them, dates
as precisely as their source, and each part's JSON URL. No HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from service import schemas
from service.vocabulary import FactKind, Hedge

KIND_PATH = {
    FactKind.STATEMENT: "statements",
    FactKind.CASUALTY: "casualties",
    FactKind.DEPLOYMENT: "deployments",
    FactKind.ARREST: "arrests",
}
KIND_OF: dict[type, FactKind] = {
    schemas.Statement: FactKind.STATEMENT,
    schemas.Casualty: FactKind.CASUALTY,
    schemas.Deployment: FactKind.DEPLOYMENT,
    schemas.Arrest: FactKind.ARREST,
}
"""A fact's kind: the tag msgspec writes, not an attribute of the Struct."""
FIGURE_KINDS = (FactKind.CASUALTY, FactKind.ARREST, FactKind.DEPLOYMENT)
"""The kinds whose facts carry figures, in the order the page shows them."""

MONTHS = (
    "January February March April May June July August September October November December"
).split()


def figure_text(figure: schemas.Figure) -> str:
    """`more than 4,000`, `100–150`: the figure hedged as its source hedges it."""
    count = f"{figure.count:,}"
    if figure.hedge == Hedge.RANGE and figure.count_max is not None:
        return f"{count}–{figure.count_max:,}"
    prefix = {
        Hedge.AT_LEAST: "at least ",
        Hedge.MORE_THAN: "more than ",
        Hedge.ABOUT: "about ",
        Hedge.UP_TO: "up to ",
    }.get(figure.hedge, "")
    return prefix + count


def date_text(date: schemas.PartialDate) -> str:
    """`8 January 2022`, `January 2022`, `2022`: never a day the source did not give."""
    parts = [int(p) for p in date.value.split("-")]
    if len(parts) == 3:
        return f"{parts[2]} {MONTHS[parts[1] - 1]} {parts[0]}"
    if len(parts) == 2:
        return f"{MONTHS[parts[1] - 1]} {parts[0]}"
    return str(parts[0])


def humanized(text: str) -> str:
    return text.replace("_", " ").replace("-", " ")


@dataclass(frozen=True, slots=True)
class Quote:
    """A citation as the page shows it: the words, in their language, and who published them."""

    text: str
    language: str
    source_id: str
    source_title: str
    outlet: str | None
    published: str
    published_iso: str

    @classmethod
    def of(cls, citation: schemas.Citation) -> Quote:
        source = citation.source
        return cls(
            text=citation.quote,
            language=source.language.value,
            source_id=source.id,
            source_title=source.title,
            outlet=source.outlet,
            published=date_text(source.published),
            published_iso=source.published.value,
        )


@dataclass(frozen=True, slots=True)
class AsOf:
    """When a figure held: the fact's own date, else its article's publication date, marked."""

    text: str
    iso: str
    from_source: bool

    @classmethod
    def of(cls, date: schemas.PartialDate | None, citation: schemas.Citation) -> AsOf:
        if date is not None:
            return cls(date_text(date), date.value, False)
        published = citation.source.published
        return cls(date_text(published), published.value, True)


@dataclass(frozen=True, slots=True)
class Value:
    """One source's figure for a quantity."""

    fact_id: str
    fact_url: str
    count: int
    text: str
    as_of: AsOf
    claimant: str | None
    verification: str
    quote: Quote


@dataclass(frozen=True, slots=True)
class Headline:
    """A quantity of the crisis: every source's figure for it, and whether they disagree."""

    key: str
    label: str
    kind: FactKind
    values: list[Value]
    disputed: bool = False

    @property
    def anchor(self) -> str:
        return f"figure-{self.key}"


def label_of(fact: schemas.AnyFact) -> str:
    """What a figure counts, in words: `Killed: police`, `Troops sent by CSTO`."""
    if isinstance(fact, schemas.Casualty):
        group = humanized(fact.victim_group)
        what = "victims not specified" if fact.victim_group == "unspecified" else group
        return f"{humanized(fact.category.value).capitalize()}: {what}"
    if isinstance(fact, schemas.Deployment):
        return f"Troops sent by {fact.sender.name}"
    if isinstance(fact, schemas.Arrest):
        named = (fact.quantity_key or "").partition(".")[2]
        return f"Arrests: {humanized(named)}" if named else "Arrests"
    return humanized(fact.quantity_key or fact.id)


def _value(fact: schemas.Casualty | schemas.Deployment | schemas.Arrest) -> Value | None:
    if fact.figure is None or not fact.citations:
        return None
    citation = fact.citations[0]
    return Value(
        fact_id=fact.id,
        fact_url=f"/v1/{KIND_PATH[KIND_OF[type(fact)]]}/{fact.id}",
        count=fact.figure.count,
        text=figure_text(fact.figure),
        as_of=AsOf.of(fact.date, citation),
        claimant=fact.claimant.name if fact.claimant else None,
        verification=fact.verification.value,
        quote=Quote.of(citation),
    )


def headlines(
    facts: Iterable[schemas.Casualty | schemas.Deployment | schemas.Arrest], disputed: set[str]
) -> list[Headline]:
    """The facts with a figure, grouped by quantity key (a fact without one stands alone),
    in the order they come; a key in `disputed` is marked so."""
    groups: dict[str, Headline] = {}
    for fact in facts:
        value = _value(fact)
        if value is None:
            continue
        key = fact.quantity_key or fact.id
        group = groups.get(key)
        if group is None:
            group = groups[key] = Headline(
                key=key,
                label=label_of(fact),
                kind=KIND_OF[type(fact)],
                values=[],
                disputed=key in disputed,
            )
        group.values.append(value)
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A quantity sources report differently, each source's figure beside its words."""

    crisis_id: str
    key: str
    label: str
    low: str
    high: str | None
    conflicting: bool
    values: list[Value]

    @property
    def anchor(self) -> str:
        return f"dispute-{self.key}"

    @property
    def path(self) -> str:
        return f"/crises/{self.crisis_id}/disputes/{self.key}"

    @property
    def json_url(self) -> str:
        return f"/v1/disputes?crisis={self.crisis_id}&key={self.key}"


def dispute_view(dispute: schemas.Dispute, labels: dict[str, str]) -> DisputeView:
    values = [
        Value(
            fact_id=v.fact_id,
            fact_url=f"/v1/{KIND_PATH[v.kind]}/{v.fact_id}",
            count=v.figure.count,
            text=figure_text(v.figure),
            as_of=AsOf.of(v.date, v.citation),
            claimant=v.claimant.name if v.claimant else None,
            verification=v.verification.value,
            quote=Quote.of(v.citation),
        )
        for v in dispute.values
    ]
    return DisputeView(
        crisis_id=dispute.crisis_id,
        key=dispute.key,
        label=labels.get(dispute.key, humanized(dispute.key).capitalize()),
        low=f"{dispute.low:,}",
        high=None if dispute.high is None else f"{dispute.high:,}",
        conflicting=dispute.conflicting,
        values=values,
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One dated fact on the timeline."""

    fact_id: str
    kind: str
    json_url: str
    date: str
    date_iso: str
    summary: str
    summary_language: str | None
    quotes: list[Quote] = field(default_factory=list)
    undated: bool = False
    """Not dated by its source: placed at its article's publication date."""


def summary_of(fact: schemas.AnyFact) -> str:
    """A fact in a line, from its fields (the quotes follow it)."""
    if isinstance(fact, schemas.Statement):
        return fact.content
    if isinstance(fact, schemas.Casualty):
        group = humanized(fact.victim_group)
        return f"{figure_text(fact.figure)} {humanized(fact.category)} ({group})"
    if isinstance(fact, schemas.Deployment):
        size = f", {figure_text(fact.figure)} troops" if fact.figure else ""
        return f"{fact.sender.name}: deployment {fact.status.value}{size}"
    what = fact.person.name if fact.person else (figure_text(fact.figure) if fact.figure else "")
    charge = f", {fact.charge}" if fact.charge else ""
    status = "arrested" if fact.confirmed else "reported arrested (unconfirmed)"
    return f"{what} {status}{charge}".strip()


def entry(fact: schemas.AnyFact) -> Entry:
    """A timeline entry; an undated fact stands at its article's publication date, marked."""
    placed = AsOf.of(fact.date, fact.citations[0])
    speaker = fact.speaker.name if isinstance(fact, schemas.Statement) else None
    return Entry(
        fact_id=fact.id,
        kind=speaker or KIND_OF[type(fact)].value,
        json_url=f"/v1/{KIND_PATH[KIND_OF[type(fact)]]}/{fact.id}",
        date=placed.text,
        date_iso=placed.iso,
        summary=summary_of(fact),
        summary_language=fact.language.value if isinstance(fact, schemas.Statement) else None,
        quotes=[Quote.of(c) for c in fact.citations],
        undated=placed.from_source,
    )
