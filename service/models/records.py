"""The records a crisis is made of: the crisis, its articles, actors, places and facts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, one_of
from service.vocabulary import (
    ActorKind,
    FactKind,
    Language,
    Precision,
    ReviewStatus,
    Verification,
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
    corrections: Mapped[str] = mapped_column(Text, server_default="[]")
    """Public correction notices, a JSON list of service.schemas.Correction."""

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
    translations: Mapped[str] = mapped_column(Text, server_default="[]")
    """Curators' translations, a JSON list of service.schemas.Translation."""

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
    corrections: Mapped[str] = mapped_column(Text, server_default="[]")
    """Public correction notices, a JSON list of service.schemas.Correction."""

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
    review_status: Mapped[str] = mapped_column(Text, server_default=ReviewStatus.PUBLISHED.value)
    """draft, published or retracted: only published facts are in public answers."""
    review_reason: Mapped[str | None] = mapped_column(Text)
    """Why the fact was retracted (only then)."""
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    """The key that last published or retracted the fact; none for a fixture's."""
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    translations: Mapped[str] = mapped_column(Text, server_default="[]")
    """Curators' translations, a JSON list of service.schemas.Translation."""
    corrections: Mapped[str] = mapped_column(Text, server_default="[]")
    """Public correction notices, a JSON list of service.schemas.Correction."""

    __table_args__ = (
        UniqueConstraint("id", "kind"),
        one_of("review_status", ReviewStatus),
        CheckConstraint(
            "(review_status = 'retracted') = (review_reason IS NOT NULL)",
            name="reason_when_retracted",
        ),
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
