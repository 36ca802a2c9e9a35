"""What remembers changes and who may make them: records' current states, the change
log, API keys, and answers kept for retried writes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, one_of
from service.vocabulary import (
    Operation,
    RecordKind,
    Role,
)


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
    commit order (every writer holds the numbering lock from numbering to its commit)."""

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
    public: Mapped[bool] = mapped_column(server_default=text("true"))
    """False for a change to a draft fact: only a request with a key sees it."""

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
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        one_of("role", Role),
        CheckConstraint("length(token_hash) = 32", name="token_hash_length"),
    )


class IdempotentRequest(Base):
    """A write's answer kept under its `Idempotency-Key` for 24 hours: the same key and body
    replay it; the same key with another body is refused."""

    __tablename__ = "idempotent_requests"

    key_name: Mapped[str] = mapped_column(Text, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    made_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (Index(None, "made_at"),)


class RateCount(Base):
    """Requests or failed authentications of one client address in its current window,
    shared by every worker and replica (service.counts). UNLOGGED: a crash forgets a
    minute of counts, and counting writes no WAL."""

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
    ends: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = ({"prefixes": ["UNLOGGED"]},)
