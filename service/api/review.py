"""Review states of a fact: draft -> published -> retracted (and retracted -> published).

The rules each write keeps: who may create a fact published, what a PATCH may not touch,
and which transitions an editor may make. The transitions themselves are writes like any
other (service.api.writes): one revision each, through the one write path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg

from service.engine.specs import FactSpec, ReviewSpec
from service.engine.write import change_time
from service.errors import InvalidParam, Problem
from service.vocabulary import FactKind, Operation, ReviewStatus, Role

ROLES = list(Role)


def now(conn: psycopg.Connection[Any]) -> dt.datetime:
    """The time of the write's changes: the same instant as the revision's `made_at`."""
    return change_time(conn)


def status_of(spec: FactSpec) -> ReviewStatus:
    return ReviewStatus.PUBLISHED if spec.review is None else spec.review.status


def created(
    conn: psycopg.Connection[Any], given: ReviewSpec | None, author: str, role: Role
) -> dict[str, Any]:
    """A new fact's review: a draft unless an editor asks for it published."""
    if given is not None and (given.reason, given.by, given.at) != (None, None, None):
        raise _invalid("review", "give only `status`: reason, by and at are set by the server")
    status = ReviewStatus.DRAFT if given is None else given.status
    if status is ReviewStatus.RETRACTED:
        raise _invalid("review", "a fact is created as a draft or published, not retracted")
    if status is ReviewStatus.DRAFT:
        return {"status": status.value}
    if ROLES.index(role) < ROLES.index(Role.EDITOR):
        raise Problem(
            403,
            f"A {role.value} creates drafts; publishing needs an editor. Leave out `review` "
            "(or send status draft) and ask an editor to publish it.",
            kind="forbidden",
        )
    return {"status": status.value, "by": author, "at": now(conn)}


def editable(kind: FactKind, fact_id: str, spec: FactSpec, change: dict[str, Any]) -> None:
    """A PATCH changes what a fact says, never its review; a retracted fact stays as it was
    retracted."""
    if "review" in change:
        raise _invalid(
            "review",
            f"publish with POST .../{fact_id}/publication and retract with POST "
            f".../{fact_id}/retraction (an editor's), not with PATCH",
        )
    if status_of(spec) is ReviewStatus.RETRACTED:
        raise Problem(
            409,
            f"The {kind.value} {fact_id!r} is retracted and stays as it was retracted; an "
            "editor publishes it again (POST .../publication) before it can be edited.",
            kind="conflict",
        )


def moved(
    kind: FactKind,
    fact_id: str,
    spec: FactSpec,
    to: ReviewStatus,
    author: str,
    at: dt.datetime,
    reason: str | None = None,
) -> tuple[FactSpec, Operation]:
    """The fact published or retracted, and the operation its revision records; 409 when
    the fact cannot go there from where it stands."""
    now_at = status_of(spec)
    if now_at is to:
        raise Problem(409, f"The {kind.value} {fact_id!r} is {to.value} already.", kind="conflict")
    if to is ReviewStatus.RETRACTED and now_at is ReviewStatus.DRAFT:
        raise Problem(
            409,
            f"The {kind.value} {fact_id!r} is a draft, never published: there is nothing to "
            "retract. Delete it (DELETE, with If-Match and X-Edit-Summary) instead.",
            kind="conflict",
        )
    review = ReviewSpec(status=to, reason=reason, by=author, at=at)
    operation = Operation.RETRACTED if to is ReviewStatus.RETRACTED else Operation.PUBLISHED
    return msgspec.structs.replace(spec, review=review), operation


def reason_of(given: Any) -> str:
    """A retraction's reason, which it cannot go without (422 naming it)."""
    reason = getattr(given, "reason", None)
    if not isinstance(reason, str) or not reason.strip():
        raise _invalid(
            "reason",
            'a retraction needs a reason: send {"reason": "..."}, which the fact\'s URL will show',
        )
    return reason.strip()


def _invalid(name: str, why: str) -> Problem:
    return Problem(422, f"{name}: {why}", kind="invalid-fact", invalid=[InvalidParam(name, why)])
