"""The webhook tables: subscriptions and their delivery attempts, beside the change log
(service.models) that is their outbox. alembic/env.py imports this module with the models."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models import Base


class WebhookSubscription(Base):
    """Where to push changes, and how far it got: the change log is the outbox, so what is
    left to deliver is every revision after `cursor` that matches the filters."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
    """Record kinds delivered; every kind when empty."""
    crisis_id: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    """The `whsec_` signing secret: kept whole, since every delivery is signed with it."""
    cursor: Mapped[int] = mapped_column(BigInteger)
    """The last revision delivered (or skipped as not matching)."""
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    """Failed attempts in a row at the next revision to deliver."""
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("url ~ '^https?://'", name="url_http"),
        CheckConstraint("cursor >= 0", name="cursor_not_negative"),
        Index(None, "next_attempt_at", postgresql_where=text("disabled_at IS NULL")),
    )


class WebhookAttempt(Base):
    """Each attempt to deliver one revision to one subscription, and what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        Text, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(Text)
    """The `webhook-id` header: the same on every attempt at the same revision."""
    attempted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    status: Mapped[int | None] = mapped_column(Integer)
    """The receiver's HTTP status; none when no answer came (refused, timed out)."""
    ok: Mapped[bool] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    excerpt: Mapped[str | None] = mapped_column(Text)
    """The first characters of the receiver's answer."""
    duration_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "subscription_id", "id"),)
