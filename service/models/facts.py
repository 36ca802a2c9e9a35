"""What extends a fact: its kind's table, the actors it involves, its citations, its
stored answer; the disputes found among facts; the dataset version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, figure_checks, one_of
from service.vocabulary import (
    ActorRole,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    FactKind,
    Language,
    ReviewStatus,
    StatementMode,
    VictimGroup,
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
    review_status: Mapped[str] = mapped_column(Text, server_default=ReviewStatus.PUBLISHED.value)
    """The fact's review status, beside its answer: a public page reads published ones."""
    cells: Mapped[list[str]] = mapped_column(ARRAY(Text))
    """The fact's CSV cells in its kind's columns, quoted, joined into the runs every export
    keeps together (service.export.cells): an export joins them instead of parsing each
    answer again. The table keeps its rows
    whole up to 8 kB (toast_tuple_target, set by the migration): answer and cells are read
    as they lie, neither compressed."""
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)
    """The fact's date, repeated from `facts` by the same write: the timeline's export reads
    the answers in date order from this table's own index, no probe of another per fact."""

    __table_args__ = (
        ForeignKeyConstraint(["fact_id", "kind"], ["facts.id", "facts.kind"], ondelete="CASCADE"),
        CheckConstraint("length(digest) = 16", name="digest_length"),
        # An unfiltered page of one kind is one range of this index: no probe per fact.
        Index(None, "kind", "fact_id"),
        Index(None, "occurred_on", "fact_id", postgresql_where=text("occurred_on IS NOT NULL")),
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
    views: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="15")
    """The readers this answer is for, one bit each (service.queries.Visibility): the public,
    the public asking for retracted facts too, a key, a key asking for retracted facts."""

    __table_args__ = (
        one_of("kind", FactKind),
        CheckConstraint("views BETWEEN 1 AND 15", name="views_allowed"),
        Index(None, "kind", "crisis_id", "quantity_key"),
    )


class DatasetVersion(Base):
    """One row, bumped by every load: the version answers are cached under."""

    __tablename__ = "dataset_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
