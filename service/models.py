"""The schema: the product's memory. alembic/ migrations are the only way it changes.

Integrity lives here rather than in Python: foreign keys, NOT NULL where a fact
is meaningless without the value, CHECKs for counts, enumerations and citation
offsets (a citation's end may not pass its source's length, enforced through a
composite foreign key onto `sources(id, text_length)`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    Role,
    StatementMode,
    Verification,
    VictimGroup,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that a text column holds one of an enumeration's values."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_allowed")


def figure_checks() -> tuple[CheckConstraint, ...]:
    """A figure is a count >= 0, with an upper bound >= it only when it is a range."""
    return (
        CheckConstraint("count >= 0", name="count_not_negative"),
        CheckConstraint(
            "count_max IS NULL OR (count IS NOT NULL AND count_max >= count)",
            name="count_max_above_count",
        ),
        CheckConstraint("(hedge = 'range') = (count_max IS NOT NULL)", name="range_has_count_max"),
        one_of("hedge", Hedge),
    )


class Crisis(Base):
    __tablename__ = "crises"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(Text)
    start_on: Mapped[dt.date] = mapped_column(Date)
    start_precision: Mapped[str] = mapped_column(Text)
    end_on: Mapped[dt.date | None] = mapped_column(Date)
    end_precision: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (
        one_of("start_precision", Precision),
        one_of("end_precision", Precision),
        CheckConstraint("(end_on IS NULL) = (end_precision IS NULL)", name="end_complete"),
    )


class Source(Base):
    """An article, its full text and where its publication date comes from."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    crisis_id: Mapped[str] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    outlet: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    published_on: Mapped[dt.date] = mapped_column(Date)
    published_precision: Mapped[str] = mapped_column(Text)
    published_note: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_length: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(Text)
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector(CASE language WHEN 'fr' THEN 'french'::regconfig "
            "ELSE 'english'::regconfig END, title), 'A') || "
            "setweight(to_tsvector(CASE language WHEN 'fr' THEN 'french'::regconfig "
            "ELSE 'english'::regconfig END, text), 'C')",
            persisted=True,
        ),
    )

    __table_args__ = (
        UniqueConstraint("id", "text_length"),
        UniqueConstraint("crisis_id", "file_name"),
        one_of("language", Language),
        one_of("published_precision", Precision),
        CheckConstraint("text_length = char_length(text)", name="text_length_matches"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        Index(None, "search", postgresql_using="gin"),
    )


class SourcePassage(Base):
    """An article's text cut into overlapping windows, written by the load with the article:
    a search finds where a word sits in a few short rows, where reading a whole long article
    cost ~60 µs a hit (`service.loader.passages` says how they are cut)."""

    __tablename__ = "source_passages"

    source_id: Mapped[str] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (CheckConstraint("n >= 0", name="n_not_negative"),)


class Actor(Base):
    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    crisis_id: Mapped[str] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("crisis_id", "id"),
        UniqueConstraint("crisis_id", "name"),
        one_of("kind", ActorKind),
    )


class ActorAlias(Base):
    """Every spelling the sources use; one spelling names one actor within a crisis."""

    __tablename__ = "actor_aliases"

    crisis_id: Mapped[str] = mapped_column(Text, primary_key=True)
    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    actor_id: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["crisis_id", "actor_id"], ["actors.crisis_id", "actors.id"], ondelete="CASCADE"
        ),
        Index(None, "actor_id"),
        one_of("language", Language),
    )


class Place(Base):
    __tablename__ = "places"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    crisis_id: Mapped[str] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    coordinates_source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("crisis_id", "id"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        CheckConstraint(
            "(lat IS NULL) = (lon IS NULL) AND (lat IS NULL) = (coordinates_source IS NULL)",
            name="coordinates_complete",
        ),
    )


class Fact(Base):
    """What every kind of fact shares: crisis, claimant, verification, date, key, citations."""

    __tablename__ = "facts"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    crisis_id: Mapped[str] = mapped_column(
        ForeignKey("crises.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text)
    claimant_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    verification: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)
    date_precision: Mapped[str | None] = mapped_column(Text)
    date_note: Mapped[str | None] = mapped_column(Text)
    quantity_key: Mapped[str | None] = mapped_column(Text)
    place_id: Mapped[str | None] = mapped_column(ForeignKey("places.id"))
    note: Mapped[str | None] = mapped_column(Text)
    search: Mapped[str | None] = mapped_column(TSVECTOR)

    __table_args__ = (
        UniqueConstraint("id", "kind"),
        one_of("kind", FactKind),
        one_of("verification", Verification),
        one_of("date_precision", Precision),
        CheckConstraint("(occurred_on IS NULL) = (date_precision IS NULL)", name="date_complete"),
        Index(None, "crisis_id", "kind", "id"),
        Index(None, "kind", "id"),
        Index(None, "kind", "occurred_on", "id"),
        Index(None, "occurred_on", "id", postgresql_where=text("occurred_on IS NOT NULL")),
        Index(None, "claimant_id"),
        Index(None, "crisis_id", "quantity_key", postgresql_where=text("quantity_key IS NOT NULL")),
        Index(None, "place_id"),
        Index(None, "search", postgresql_using="gin"),
    )


def kind_table_args(kind: FactKind) -> tuple[object, ...]:
    """A kind table's row belongs to a fact of that kind: (fact_id, kind) -> facts(id, kind)."""
    return (
        ForeignKeyConstraint(["fact_id", "kind"], ["facts.id", "facts.kind"], ondelete="CASCADE"),
        CheckConstraint(f"kind = '{kind.value}'", name="kind_fixed"),
    )


class Statement(Base):
    __tablename__ = "statements"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, server_default=FactKind.STATEMENT.value)
    speaker_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    content: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *kind_table_args(FactKind.STATEMENT),
        one_of("mode", StatementMode),
        one_of("language", Language),
        one_of("channel", Channel),
        Index(None, "speaker_id"),
    )


class Casualty(Base):
    __tablename__ = "casualties"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, server_default=FactKind.CASUALTY.value)
    category: Mapped[str] = mapped_column(Text)
    victim_group: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    count_max: Mapped[int | None] = mapped_column(Integer)
    hedge: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        *kind_table_args(FactKind.CASUALTY),
        *figure_checks(),
        one_of("category", CasualtyCategory),
        one_of("victim_group", VictimGroup),
        Index(None, "category", "fact_id"),
        Index(None, "victim_group", "fact_id"),
    )


class Deployment(Base):
    __tablename__ = "deployments"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, server_default=FactKind.DEPLOYMENT.value)
    sender_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    status: Mapped[str] = mapped_column(Text)
    count: Mapped[int | None] = mapped_column(Integer)
    count_max: Mapped[int | None] = mapped_column(Integer)
    hedge: Mapped[str | None] = mapped_column(Text)
    framework_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    authorised_by_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    purpose: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *kind_table_args(FactKind.DEPLOYMENT),
        *figure_checks(),
        CheckConstraint("(count IS NULL) = (hedge IS NULL)", name="hedge_with_count"),
        one_of("status", DeploymentStatus),
        Index(None, "status", "fact_id"),
        Index(None, "sender_id"),
    )


class Arrest(Base):
    __tablename__ = "arrests"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, server_default=FactKind.ARREST.value)
    confirmed: Mapped[bool]
    person_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    count: Mapped[int | None] = mapped_column(Integer)
    count_max: Mapped[int | None] = mapped_column(Integer)
    hedge: Mapped[str | None] = mapped_column(Text)
    charge: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *kind_table_args(FactKind.ARREST),
        *figure_checks(),
        CheckConstraint("(count IS NULL) = (hedge IS NULL)", name="hedge_with_count"),
        CheckConstraint("person_id IS NOT NULL OR count IS NOT NULL", name="who_or_how_many"),
        Index(None, "confirmed", "fact_id"),
        Index(None, "person_id"),
    )


class FactActor(Base):
    """Every actor a fact involves, with why: one index for the `actor` filter and embedding.

    `kind` repeats the fact's kind (kept equal by the foreign key onto `facts (id, kind)`)
    so that a list of one kind of fact involving an actor is one index range in id order.
    `occurred_on` repeats the fact's date, written from the same row by the loader, so that
    the range answers an actor-and-dates page without reading the facts it skips.
    """

    __tablename__ = "fact_actors"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    role: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(["fact_id", "kind"], ["facts.id", "facts.kind"], ondelete="CASCADE"),
        one_of("role", ActorRole),
        Index(None, "actor_id", "kind", "fact_id", postgresql_include=["occurred_on"]),
    )


class Citation(Base):
    """A verbatim span of a source: quote == sources.text[start_offset:end_offset]."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    fact_id: Mapped[str] = mapped_column(ForeignKey("facts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str] = mapped_column(Text)
    source_length: Mapped[int] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text)
    start_offset: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        ForeignKeyConstraint(["source_id", "source_length"], ["sources.id", "sources.text_length"]),
        UniqueConstraint("fact_id", "position"),
        CheckConstraint("start_offset >= 0", name="start_not_negative"),
        CheckConstraint("end_offset > start_offset", name="not_empty"),
        CheckConstraint("end_offset <= source_length", name="within_source"),
        CheckConstraint(
            "char_length(quote) = end_offset - start_offset", name="quote_matches_span"
        ),
        Index(None, "source_id", "fact_id"),
    )


class FactDocument(Base):
    """Each fact's answer as the API serves it, citations and actors embedded, built by the
    load that wrote the fact: a page of facts reads ready JSON instead of joining six
    tables per row, so its cost does not grow with the data."""

    __tablename__ = "fact_documents"

    fact_id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    document: Mapped[str] = mapped_column(Text)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    """The first 16 bytes of the document's SHA-256: a page's ETag is made from its facts'
    digests instead of hashing the whole answer on every request."""
    revision: Mapped[int] = mapped_column(BigInteger)
    """The fact's current revision (`revisions`): the basis of its own ETag."""

    __table_args__ = (
        ForeignKeyConstraint(["fact_id", "kind"], ["facts.id", "facts.kind"], ondelete="CASCADE"),
        CheckConstraint("length(digest) = 16", name="digest_length"),
        # An unfiltered page of one kind is one range of this index: no probe per fact.
        Index(None, "kind", "fact_id"),
    )


class DisputedQuantity(Base):
    """A quantity key whose facts give different figures: found once per load, so that
    /v1/disputes pages through a small table instead of grouping every fact per request."""

    __tablename__ = "disputed_quantities"

    crisis_id: Mapped[str] = mapped_column(
        ForeignKey("crises.id", ondelete="CASCADE"), primary_key=True
    )
    quantity_key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    document: Mapped[str] = mapped_column(Text)
    """The dispute as /v1/disputes serves it, each source's figure with its citation
    (smallest first), built by the same load: a page reads 50 ready answers instead of
    joining ~200 facts and deciding each dispute's bounds per request."""

    __table_args__ = (one_of("kind", FactKind), Index(None, "kind", "crisis_id", "quantity_key"))


class DatasetVersion(Base):
    """One row, bumped by every load: the version answers are cached under."""

    __tablename__ = "dataset_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class Record(Base):
    """Every record a change has touched, as it stands now: its current revision, and the
    digest of its stored state that the next load compares with (a tombstone has none)."""

    __tablename__ = "records"

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    crisis_id: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        one_of("kind", RecordKind),
        CheckConstraint("length(state) = 16", name="state_length"),
        Index(None, "crisis_id", "kind"),
    )


class Revision(Base):
    """The change log: one row per change to a record, tombstones included, numbered in
    commit order (every writer holds the write lock while it numbers and commits)."""

    __tablename__ = "revisions"

    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(Text)
    record_id: Mapped[str] = mapped_column(Text)
    crisis_id: Mapped[str] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    """The record's answer after the change, as the API serves it; none for a deletion."""
    author: Mapped[str] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (
        one_of("kind", RecordKind),
        one_of("operation", Operation),
        CheckConstraint("(answer IS NULL) = (operation = 'deleted')", name="answer_unless_deleted"),
        Index(None, "kind", "record_id", "revision"),
        # The changes feed filtered by crisis or by kind: one range each, in revision order.
        Index(None, "crisis_id", "revision"),
        Index(None, "kind", "revision"),
    )


class ApiKey(Base):
    """A key a curator's client sends as `Authorization: Bearer <token>`: only the token's
    SHA-256 is stored, found by the token's public prefix."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        one_of("role", Role),
        CheckConstraint("length(token_hash) = 32", name="token_hash_length"),
    )
