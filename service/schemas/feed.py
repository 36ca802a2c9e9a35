"""The change log and its pushes: changes, webhooks and their deliveries, retractions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from msgspec import Meta

from service.schemas.parts import Count, Shape
from service.vocabulary import (
    Operation,
    RecordKind,
)


class ChangeRef(Shape, frozen=True, kw_only=True):
    """One change to one record: which, what was done, when, by whom and why."""

    revision: Annotated[int, Meta(ge=1, description="Its place in commit order.")]
    kind: RecordKind
    id: str
    crisis_id: str
    operation: Operation
    made_at: dt.datetime
    author: str
    message: str | None


class Change(ChangeRef, frozen=True, kw_only=True):
    answer: Any = None
    """The record as its URL answered after this change; null for a deletion."""


class ChangePage(Shape, frozen=True, kw_only=True):
    """Changes in commit order; `next_cursor` is always given: poll with it for newer ones."""

    items: list[Change]
    next_cursor: str


class ChangeEvent(Shape, frozen=True, kw_only=True):
    """A webhook's body (Standard Webhooks): the change without the record's answer, which
    `GET /v1/changes` or the record's URL give."""

    type: str
    timestamp: dt.datetime
    data: ChangeRef


WebhookUrl = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="Where to POST each change: http(s) only.",
    ),
]
CrisisRef = Annotated[str, Meta(max_length=120, pattern=r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")]


class NewWebhook(Shape, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A subscription to create: where to send, and which changes (every one by default)."""

    url: WebhookUrl
    kinds: Annotated[list[RecordKind], Meta(max_length=8)] = []
    crisis_id: CrisisRef | None = None


class Webhook(Shape, frozen=True, kw_only=True):
    """A subscription and how its deliveries stand."""

    id: str
    url: str
    kinds: list[RecordKind]
    """Record kinds sent; every kind when empty."""
    crisis_id: str | None
    cursor: Annotated[int, Meta(ge=0, description="The last revision delivered or skipped.")]
    failures: Count
    failing_since: dt.datetime | None
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled_reason: str | None


class CreatedWebhook(Webhook, frozen=True, kw_only=True):
    secret: str
    """The `whsec_` signing secret, shown this once: verify each delivery with it."""


class WebhookList(Shape, frozen=True, kw_only=True):
    items: list[Webhook]


class Delivery(Shape, frozen=True, kw_only=True):
    """One attempt to deliver one change, newest first."""

    revision: int
    message_id: str
    attempted_at: dt.datetime
    status: int | None
    ok: bool
    error: str | None
    excerpt: str | None
    duration_ms: Count


class DeliveryList(Shape, frozen=True, kw_only=True):
    items: list[Delivery]


class Retraction(Shape, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An editor's retraction of a published fact."""

    reason: Annotated[str, Meta(max_length=1000)] | None = None
    """Required: why the fact is withdrawn, shown with it at its URL (and the revision's
    summary). A retraction without one is refused with 422 naming `reason`."""


class Publication(Shape, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An editor's publication takes no body, or an empty object: any member is a mistake,
    refused by name rather than ignored."""
