"""Stage three: records -> their answers as the API serves them, from `service.schemas`.

The Structs the OpenAPI document shows are the only definition of an answer: a fact's
stored answer, a dispute's, and every revision's are those Structs encoded by msgspec.
They are built before their revision is known, and `stamped` with it once it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from service import schemas
from service.engine import rows as r
from service.vocabulary import ActorRole, FactKind, Precision

encode = msgspec.json.Encoder().encode

UNSTAMPED: dict[str, Any] = {"changed": msgspec.UNSET}
"""What an answer built before its revision is known has for `changed`: encoded, it is the
answer without that member, which a record's stored state is compared by (a revision of its
own would make every record differ from what is stored)."""

S = TypeVar("S", bound=msgspec.Struct)


def stamped(answer: S, revision: int, at: dt.datetime) -> S:
    """`answer` saying when its record last changed: at `revision`, made `at`."""
    changed = schemas.Changed(revision=revision, at=at)
    return msgspec.structs.replace(answer, changed=changed)


def stored_translations(text: str) -> list[schemas.Translation]:
    """A record's translations as its row keeps them (JSON in the answer's shape)."""
    return msgspec.json.decode(text, type=list[schemas.Translation])


def stored_corrections(text: str) -> list[schemas.Correction]:
    """A record's correction notices as its row keeps them."""
    return msgspec.json.decode(text, type=list[schemas.Correction])


def digest(answer: bytes) -> bytes:
    """What `fact_documents.digest` holds: 16 bytes of the answer's SHA-256."""
    return hashlib.sha256(answer).digest()[:16]


DATE_FORMAT = {Precision.YEAR: "%Y", Precision.MONTH: "%Y-%m", Precision.DAY: "%Y-%m-%d"}
"""A partial date written with as much as is known (queries.date_json writes the same)."""


def partial_date(value: dt.date | None, precision: str | None) -> schemas.PartialDate | None:
    if value is None or precision is None:
        return None
    known = Precision(precision)
    return schemas.PartialDate(value=value.strftime(DATE_FORMAT[known]), precision=known)


def cited_source(row: Any) -> schemas.CitedSource:
    """What a citation shows of its source (a `sources` row)."""
    published = partial_date(row.published_on, row.published_precision)
    assert published is not None
    return schemas.CitedSource(
        id=row.id,
        title=row.title,
        outlet=row.outlet,
        published=published,
        language=row.language,
    )


def figure(detail: Any) -> schemas.Figure | None:
    if detail.count is None:
        return None
    return schemas.Figure(count=detail.count, count_max=detail.count_max, hedge=detail.hedge)


class Names:
    """The actors, places and sources facts refer to, as their answers embed them."""

    def __init__(self) -> None:
        self.actors: dict[str, schemas.Ref] = {}
        self.places: dict[str, schemas.Ref] = {}
        self.sources: dict[str, schemas.CitedSource] = {}
        self._involved: dict[tuple[str, str], schemas.ActorRef] = {}

    def actor(self, row: Any) -> None:
        self.actors[row.id] = schemas.Ref(id=row.id, name=row.name)
        self._involved = {k: v for k, v in self._involved.items() if k[0] != row.id}

    def place(self, row: Any) -> None:
        self.places[row.id] = schemas.Ref(id=row.id, name=row.name)

    def source(self, row: Any) -> None:
        self.sources[row.id] = cited_source(row)

    def ref(self, actor_id: str | None) -> schemas.Ref | None:
        return None if actor_id is None else self.actors[actor_id]

    def involved(self, actor_id: str, role: str) -> schemas.ActorRef:
        item = self._involved.get((actor_id, role))
        if item is None:
            name = self.actors[actor_id].name
            item = schemas.ActorRef(id=actor_id, name=name, role=ActorRole(role))
            self._involved[actor_id, role] = item
        return item


def fact(record: r.FactRecord, names: Names) -> schemas.AnyFact:
    """A fact's answer from its record."""
    row, detail = record.row, record.detail
    common: dict[str, Any] = {
        "id": row.id,
        "crisis_id": row.crisis_id,
        "verification": row.verification,
        "date": partial_date(row.occurred_on, row.date_precision),
        "date_note": row.date_note,
        "quantity_key": row.quantity_key,
        "claimant": names.ref(row.claimant_id),
        "place": None if row.place_id is None else names.places[row.place_id],
        "note": row.note,
        "citations": [
            schemas.Citation(
                source_id=c.source_id,
                source=names.sources[c.source_id],
                quote=c.quote,
                start=c.start_offset,
                end=c.end_offset,
            )
            for c in record.citations
        ],
        # Ordered by role, then actor id, by code point: the same on every server.
        "actors": [
            names.involved(a.actor_id, a.role)
            for a in sorted(record.actors, key=lambda a: (a.role, a.actor_id))
        ],
        "review": schemas.Review(
            status=row.review_status,
            reason=row.review_reason,
            by=row.reviewed_by,
            at=row.reviewed_at,
        ),
        **UNSTAMPED,
        "translations": stored_translations(row.translations),
        "corrections": stored_corrections(row.corrections),
    }
    kind = FactKind(row.kind)
    if kind is FactKind.STATEMENT:
        return schemas.Statement(
            **common,
            speaker=names.actors[detail.speaker_id],
            content=detail.content,
            mode=detail.mode,
            language=detail.language,
            channel=detail.channel,
        )
    if kind is FactKind.CASUALTY:
        return schemas.Casualty(
            **common,
            category=detail.category,
            victim_group=detail.victim_group,
            figure=schemas.Figure(
                count=detail.count, count_max=detail.count_max, hedge=detail.hedge
            ),
        )
    if kind is FactKind.DEPLOYMENT:
        return schemas.Deployment(
            **common,
            sender=names.actors[detail.sender_id],
            status=detail.status,
            figure=figure(detail),
            framework=names.ref(detail.framework_id),
            authorised_by=names.ref(detail.authorised_by_id),
            purpose=detail.purpose,
        )
    return schemas.Arrest(
        **common,
        confirmed=detail.confirmed,
        person=names.ref(detail.person_id),
        figure=figure(detail),
        charge=detail.charge,
        legal_basis=detail.legal_basis,
        scope=detail.scope,
    )


def crisis(record: r.CrisisRecord, counts: Counter[str]) -> schemas.Crisis:
    row = record.row
    start = partial_date(row.start_on, row.start_precision)
    assert start is not None
    return schemas.Crisis(
        id=row.id,
        name=row.name,
        summary=row.summary,
        country=row.country,
        start=start,
        end=partial_date(row.end_on, row.end_precision),
        counts=dict(sorted(counts.items())),
        **UNSTAMPED,
        corrections=stored_corrections(row.corrections),
    )


def source(record: r.SourceRecord) -> schemas.Source:
    row = record.row
    published = partial_date(row.published_on, row.published_precision)
    assert published is not None
    return schemas.Source(
        id=row.id,
        crisis_id=row.crisis_id,
        title=row.title,
        outlet=row.outlet,
        url=row.url,
        language=row.language,
        published=published,
        published_note=row.published_note,
        file_name=row.file_name,
        sha256=row.sha256,
        length=row.text_length,
        translations=stored_translations(row.translations),
        text=row.text,
        **UNSTAMPED,
    )


def actor(record: r.ActorRecord, fact_counts: Counter[str]) -> schemas.Actor:
    row = record.row
    return schemas.Actor(
        id=row.id,
        crisis_id=row.crisis_id,
        kind=row.kind,
        name=row.name,
        role=row.role,
        aliases=[
            schemas.Alias(name=a.alias, language=a.language)
            for a in sorted(record.aliases, key=lambda a: a.alias)
        ],
        fact_counts=dict(sorted(fact_counts.items())),
        **UNSTAMPED,
        corrections=stored_corrections(row.corrections),
    )


def place(record: r.PlaceRecord) -> schemas.Place:
    row = record.row
    coordinates = None
    if row.lat is not None:
        coordinates = schemas.Coordinates(lat=row.lat, lon=row.lon, source=row.coordinates_source)
    return schemas.Place(
        id=row.id,
        crisis_id=row.crisis_id,
        name=row.name,
        aliases=list(row.aliases),
        coordinates=coordinates,
        **UNSTAMPED,
    )


def state(record: r.Record, answer: bytes | None) -> bytes:
    """What a record's stored state is compared by: its rows, and for a fact its answer too
    (which embeds the names of the actors and places it refers to)."""
    hashed = hashlib.sha256(encode(list(_rows(record))))
    if answer is not None:
        hashed.update(answer)
    return hashed.digest()[:16]


def _rows(record: r.Record) -> Iterable[Any]:
    """A record's rows in an order the database keeps: aliases and the actors a fact
    involves are sets, in whatever order a file lists them."""
    if isinstance(record, r.FactRecord):
        involved = sorted(record.actors, key=lambda a: (a.role, a.actor_id))
        return (record.row, record.detail, involved, record.citations, record.config)
    if isinstance(record, r.SourceRecord):
        return (record.row,)  # passages are cut from the text
    if isinstance(record, r.ActorRecord):
        return (record.row, sorted(record.aliases, key=lambda a: a.alias))
    return (record.row,)
