"""Curators' writes to facts: create, edit with JSON Merge Patch, delete, and every fact's
history. Each write is one transaction through the one write path (`service.engine`).

Deliberately without `from __future__ import annotations`: each kind's controller is made
by `controller(kind)`, and Litestar reads its handlers' annotations as the objects they are.
"""

import dataclasses
from functools import partial
from typing import Annotated, Any, get_args

import msgspec
import psycopg
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.enums import ScopeType
from litestar.params import Body, JSONBody, Parameter
from litestar.types import Message, Scope

from service import engine, history, idempotency, schemas
from service.api import review
from service.api.auth import SECURITY, require_key
from service.api.bodies import plain_text
from service.api.params import PathId, fetch
from service.api.readers import sees_drafts
from service.api.writing import (
    JSON,
    MERGE_PATCH,
    PATCHED,
    IdempotencyKey,
    IfMatch,
    Summary,
    Written,
    at_fault,
    body_type,
    expected_revision,
    kept_answer,
    merge_patch,
    optional,
    write,
)
from service.engine import edits, store
from service.engine.rows import KINDS
from service.engine.specs import NEW_FACTS, FactSpec, convert
from service.errors import InvalidParam, Problem, gone, not_found
from service.queries.facts import GET_FACT, TOMBSTONE, fact_etag
from service.vocabulary import FactKind, ReviewStatus, Role


def _current(conn: psycopg.Connection[Any], kind: FactKind, fact_id: str) -> Written | None:
    row = conn.execute(GET_FACT[kind], {"id": fact_id}, binary=True).fetchone()
    if row is None:
        return None
    location = f"{KINDS[kind].path}/{fact_id}"
    return Written(200, fact_etag(row[2], row[1]), location, bytes(row[0]))


def _written(
    conn: psycopg.Connection[Any], kind: FactKind, fact_id: str, outcome: engine.Outcome
) -> Written:
    """The fact as the change left it: its answer as written, or as stored when the change
    changed nothing."""
    made = outcome.answers.get((kind.value, fact_id))
    if made is None:
        written = _current(conn, kind, fact_id)
        assert written is not None
        return dataclasses.replace(written, touched=outcome.touched)
    revision, digest, answer = made
    location = f"{KINDS[kind].path}/{fact_id}"
    return Written(200, fact_etag(revision, digest), location, answer, outcome.touched)


def _missing(conn: psycopg.Connection[Any], kind: FactKind, fact_id: str) -> Problem:
    """404, or 410 with the deletion when the fact was deleted."""
    row = conn.execute(TOMBSTONE, {"kind": kind.value, "id": fact_id, "drafts": True}).fetchone()
    if row is None:
        return not_found(kind.value, fact_id)
    return gone(kind.value, fact_id, row[0], row[1].date().isoformat(), row[2])


def _stale(conn: psycopg.Connection[Any], kind: FactKind, fact_id: str) -> Problem:
    now = _current(conn, kind, fact_id)
    if now is None:
        return _missing(conn, kind, fact_id)
    return Problem(
        412,
        f"The {kind.value} {fact_id!r} changed since you read it; read it again (its ETag is "
        f"{now.etag}) and redo your change on what it says now.",
        kind="stale",
        headers={"ETag": now.etag},
    )


def _create(
    conn: psycopg.Connection[Any],
    kind: FactKind,
    data: FactSpec,
    author: str,
    summary: str | None,
    retry: tuple[str, bytes] | None,
    role: Role = Role.CURATOR,
) -> Written:
    raw = msgspec.to_builtins(data)  # a fact spec and its crisis (NEW_FACTS)
    crisis: str = raw.pop("crisis")
    retried = None if retry is None else f"{author}\0{retry[0]}"
    edits.hold(conn, [data.id], [(crisis, data.key)], retried)
    if retry is not None:
        kept = idempotency.kept(conn, author, retry[0])
        if kept is not None and kept.fingerprint != retry[1]:
            raise Problem(
                422,
                f"Idempotency-Key {retry[0]!r} was used with another request; use a new key.",
                kind="idempotency-key-reused",
            )
        if kept is not None:
            return Written(kept.status, kept.etag, kept.location, kept.body)
    raw["review"] = review.created(conn, data.review, author, role)
    taken = store.kind_of(conn.cursor(), data.id)
    if taken is not None:
        raise Problem(409, f"A {taken} with id {data.id!r} exists already.", kind="conflict")
    spec = convert(raw, store.SPEC_OF[kind])
    outcome = engine.change(conn, [(crisis, spec)], [], author, summary, held=True)
    written = _written(conn, kind, data.id, outcome)
    answer = Written(201, written.etag, written.location, written.body, outcome.touched)
    if retry is not None:
        idempotency.keep(conn, author, retry[0], idempotency.Kept(retry[1], **kept_answer(answer)))
    return answer


def _edit(
    conn: psycopg.Connection[Any],
    kind: FactKind,
    fact_id: str,
    change: dict[str, Any] | None,
    if_match: str | None,
    author: str,
    summary: str | None,
) -> Written:
    """Apply a merge patch to the fact, or delete it when `change` is None: a fact that is
    not there answers 404 (410 deleted) whatever If-Match says."""
    edits.hold(conn, [fact_id])  # before reading it: edits of one fact queue
    try:
        found = store.fact_spec(conn.cursor(), kind, fact_id)
    except msgspec.ValidationError as exc:
        raise Problem(
            409,
            f"The stored {kind.value} {fact_id!r} breaks the fixture format ({exc}); "
            "correct it in the fixtures and load them.",
            kind="conflict",
        ) from None
    if found is None:
        raise _missing(conn, kind, fact_id)
    crisis, spec = found
    expect = {(kind.value, fact_id): expected_revision(if_match)}
    facts: list[tuple[str, FactSpec]] = []
    if change is not None:
        review.editable(kind, fact_id, spec, change)
        merged = merge_patch(msgspec.to_builtins(spec), change)
        if merged.get("id") != fact_id or "crisis" in change:
            raise Problem(422, "A fact's id and crisis cannot change.", kind="invalid-fact")
        try:
            facts = [(crisis, convert(merged, store.SPEC_OF[kind]))]
        except msgspec.ValidationError as exc:
            name, reason = at_fault(exc)
            invalid = [InvalidParam(name or "body", reason)]
            raise Problem(
                422, f"fact {fact_id!r}: {exc}", kind="invalid-fact", invalid=invalid
            ) from None
    try:
        deleted = [] if facts else [(kind.value, fact_id)]
        outcome = engine.change(conn, facts, deleted, author, summary, expect, held=True)
    except engine.Stale:
        raise _stale(conn, kind, fact_id) from None
    location = f"{KINDS[kind].path}/{fact_id}"
    if change is None:
        return Written(200, "", location, _deletion(conn, kind, fact_id), outcome.touched)
    return _written(conn, kind, fact_id, outcome)


def _transition(
    conn: psycopg.Connection[Any],
    kind: FactKind,
    fact_id: str,
    to: ReviewStatus,
    if_match: str | None,
    author: str,
    reason: str | None,
    summary: str | None,
) -> Written:
    """Publish or retract the fact, made against the revision If-Match names: one
    revision. A fact that is not there answers 404 (410 deleted) whatever If-Match says."""
    edits.hold(conn, [fact_id])
    found = store.fact_spec(conn.cursor(), kind, fact_id)
    if found is None:
        raise _missing(conn, kind, fact_id)
    expected = expected_revision(if_match)
    at = conn.execute(
        "SELECT revision FROM records WHERE kind = %s AND id = %s", [kind.value, fact_id]
    ).fetchone()
    if at is None or at[0] != expected:
        raise _stale(conn, kind, fact_id)
    crisis, spec = found
    edits.hold_keys(conn, [(crisis, spec.key)])  # what its revision writes, before its time
    moved, operation = review.moved(kind, fact_id, spec, to, author, review.now(conn), reason)
    key = (kind.value, fact_id)
    why = reason or summary
    outcome = engine.change(
        conn, [(crisis, moved)], [], author, why, {key: expected}, {key: operation}, held=True
    )
    return _written(conn, kind, fact_id, outcome)


async def _move(
    request: Request[Any, Any, Any],
    kind: FactKind,
    fact_id: str,
    to: ReviewStatus,
    if_match: str | None,
    reason: str | None,
    summary: str | None,
) -> Response[Any]:
    work = partial(
        _transition, kind=kind, fact_id=fact_id, to=to, if_match=if_match,
        author=request.state.key.name, reason=reason, summary=summary,
    )  # fmt: skip
    return (await write(request, work)).response()


def _deletion(conn: psycopg.Connection[Any], kind: FactKind, fact_id: str) -> bytes:
    """The revision that deleted the fact, as GET .../revisions/{n} answers it."""
    row = conn.execute(history.LATEST, [kind.value, fact_id]).fetchone()
    assert row is not None
    return msgspec.json.encode(history.revision_of(row))


async def _change(
    request: Request[Any, Any, Any],
    kind: FactKind,
    fact_id: str,
    change: dict[str, Any] | None,
    if_match: str | None,
    summary: str | None,
) -> Response[Any]:
    """An edit (a merge patch) or, with no `change`, a deletion, made against `if_match`."""
    author = request.state.key.name
    work = partial(
        _edit,
        kind=kind,
        fact_id=fact_id,
        change=change,
        if_match=if_match,
        author=author,
        summary=summary,
    )
    return (await write(request, work)).response()


def with_writes(reads: type[Controller], kind: FactKind) -> type[Controller]:
    """The read controller of one kind of fact, with its POST, PATCH, DELETE and revisions
    (Litestar routes one controller per path)."""
    new = NEW_FACTS[kind.value]
    # what a write answers: the fact as GET serves it (the contract says which kind)
    shown = next(t for t in get_args(schemas.AnyFact) if t.__struct_config__.tag == kind.value)
    noun = kind.value.title()
    article = "an" if kind.value[0] in "aeiou" else "a"
    secured: dict[str, Any] = {"guards": [require_key], "security": SECURITY}
    with_body: dict[str, Any] = {"guards": [require_key, body_type], "security": SECURITY}

    async def create(
        self: Controller,
        request: Request[Any, Any, Any],
        data: JSONBody[new],  # type: ignore[valid-type]
        summary: Summary = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[shown]:  # type: ignore[valid-type]
        """Creates the fact from its fixture record: citations are quotes, placed in their
        article by the server. It is a draft, seen only with an API key, unless an editor
        sends `"review": {"status": "published"}`. Answers the fact as GET serves it."""
        plain_text(msgspec.to_builtins(data))
        retry = None
        if idempotency_key is not None:
            body = await request.body()
            retry = (idempotency_key, idempotency.fingerprint("POST", request.url.path, body))
        key = request.state.key
        work = partial(
            _create, kind=kind, data=data, author=key.name, summary=summary, retry=retry,
            role=key.role,
        )  # fmt: skip
        return (await write(request, work)).response()

    async def edit(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        data: Annotated[dict[str, Any], Body(media_type=MERGE_PATCH)],
        if_match: IfMatch = None,
        summary: Summary = None,
    ) -> Response[shown]:  # type: ignore[valid-type]
        """Edits the fact with a JSON Merge Patch of its fixture record (null removes a
        member); the change applies at once, also to a published fact (its review status
        stays; `review` is changed by publishing or retracting, not here). A retracted fact
        is not edited: publish it again first. Answers the fact as it is now."""
        plain_text(data)
        return await _change(request, kind, fact_id, data, if_match, summary)

    async def remove(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        if_match: IfMatch = None,
        summary: Summary = None,
    ) -> Response[schemas.Revision]:
        """Deletes the fact, leaving a tombstone: its URL answers 410 with the summary given
        here. Answers the deleting revision."""
        if not summary:
            reason = "say why: it is what the fact's URL will answer"
            raise Problem(
                422,
                f"Invalid parameter 'X-Edit-Summary': {reason}.",
                kind="invalid-parameter",
                invalid=[InvalidParam("X-Edit-Summary", reason)],
            )
        return await _change(request, kind, fact_id, None, if_match, summary)

    async def publish(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        if_match: IfMatch = None,
        summary: Summary = None,
    ) -> Response[shown]:  # type: ignore[valid-type]
        """An editor publishes a draft, or a retracted fact again: from then on it is in
        public answers. Answers the fact as it is now; its history shows a `published`
        revision."""
        return await _move(request, kind, fact_id, ReviewStatus.PUBLISHED, if_match, None, summary)

    async def retract(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        if_match: IfMatch = None,
        data: JSONBody[schemas.Retraction | None] = None,
    ) -> Response[shown]:  # type: ignore[valid-type]
        """An editor withdraws a published fact, saying why (`reason`, required: 422
        without). It leaves lists, disputes, search and the timeline (unless
        `include=retracted`) and stays answered at its URL with its reason, who and when.
        Answers the fact as it is now; its history shows a `retracted` revision."""
        reason = review.reason_of(data)
        return await _move(request, kind, fact_id, ReviewStatus.RETRACTED, if_match, reason, None)

    async def list_revisions(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        limit: Annotated[int, Parameter(ge=1, le=200, description="Revisions, 1 to 200.")] = 50,
        before: Annotated[
            int | None, Parameter(ge=1, description="Only revisions before this one.")
        ] = None,
    ) -> list[schemas.Revision]:
        """Every change to the fact, newest first: who, when, why, and its answer then.
        Changes made while it was a draft are listed only for a request with an API key."""
        drafts = await sees_drafts(request)
        found = await fetch(request, history.revisions, kind.value, fact_id, limit, before, drafts)
        if not found and before is None:
            raise not_found(kind.value, fact_id)
        return found

    async def get_revision(
        self: Controller,
        request: Request[Any, Any, Any],
        fact_id: PathId,
        number: Annotated[int, Parameter(ge=1, description="The revision's number.")],
    ) -> schemas.Revision:
        """One change to the fact, with its answer as of then."""
        drafts = await sees_drafts(request)
        found = await fetch(request, history.revision, kind.value, fact_id, number, drafts)
        if found is None:
            raise not_found(f"revision of {kind.value} {fact_id!r}", str(number))
        return found

    handlers = {
        "create": post(
            "/", operation_id=f"Create{noun}", summary=f"Create {article} {kind.value}",
            status_code=201,
            opt={"role": Role.CURATOR, "body": JSON, "shape": new}, **with_body,
        )(create),
        "edit": patch(
            "/{fact_id:str}", operation_id=f"Edit{noun}", summary=f"Edit {article} {kind.value}",
            opt={"role": Role.CURATOR, **PATCHED},
            **with_body,
        )(edit),
        "remove": delete(
            "/{fact_id:str}", operation_id=f"Delete{noun}",
            summary=f"Delete {article} {kind.value}",
            status_code=200,
            opt={"role": Role.EDITOR}, **secured,
        )(remove),
        "publish": post(
            "/{fact_id:str}/publication", operation_id=f"Publish{noun}",
            summary=f"Publish {article} {kind.value}", status_code=200,
            opt={"role": Role.EDITOR, **optional(schemas.Publication)}, **with_body,
        )(publish),
        "retract": post(
            "/{fact_id:str}/retraction", operation_id=f"Retract{noun}",
            summary=f"Retract {article} {kind.value}", status_code=200,
            opt={"role": Role.EDITOR, **optional(schemas.Retraction | None)}, **with_body,
        )(retract),
        "list_revisions": get(
            "/{fact_id:str}/revisions", operation_id=f"List{noun}Revisions",
            summary=f"{article.title()} {kind.value}'s revisions",
        )(list_revisions),
        "get_revision": get(
            "/{fact_id:str}/revisions/{number:int}", operation_id=f"Get{noun}Revision",
            summary=f"One revision of {article} {kind.value}",
        )(get_revision),
    }  # fmt: skip
    return type(reads.__name__, (reads,), handlers)


async def allow_every_method(message: Message, scope: Scope) -> None:
    """A before_send hook: an OPTIONS answer's `Allow` lists every method of its path.
    Litestar's (2.25) lists only the method registered first on the path."""
    if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
        return
    if message["type"] != "http.response.start" or message["status"] != 204:
        return
    app = scope["litestar_app"]
    if not hasattr(app.state, "allowed"):
        app.state.allowed = {
            route.path_format: ", ".join(sorted(route.methods)) for route in app.routes
        }
    allowed = app.state.allowed.get(scope.get("path_template"))
    if allowed is not None:
        headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", allowed.encode())]
