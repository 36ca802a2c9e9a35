"""Curators' writes of articles and actors, and their history: POST /v1/sources,
POST and PATCH /v1/actors, and GET .../revisions of each. Like a fact's, each write is one
transaction through the one write path (`service.engine.curated`), keyed, with If-Match
on an edit and Idempotency-Key on a creation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Request, Response, get, patch, post
from litestar.params import Body, HeaderParameter, JSONBody, Parameter

from service import engine, history, idempotency, schemas
from service.api.auth import SECURITY, require_key
from service.api.bodies import plain_text
from service.api.params import PathId, fetch
from service.api.writing import (
    JSON,
    MERGE_PATCH,
    PATCHED,
    IdempotencyKey,
    Summary,
    Written,
    body_type,
    expected_revision,
    kept_answer,
    merge_patch,
    write,
)
from service.engine import curated
from service.engine.specs import ActorSpec, NewActor, NewSource, SourceSpec, convert
from service.errors import InvalidParam, Problem, not_found
from service.queries.facts import TOMBSTONE
from service.queries.revised import GET_REVISED, revised
from service.vocabulary import Role, Visibility

WRITER = Visibility(drafts=True)
"""What a writer reads: every write is made with an API key."""

PATHS = {"source": "/v1/sources", "actor": "/v1/actors"}

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="The record's ETag as you last read it."),
]
RevisionLimit = Annotated[int, Parameter(ge=1, le=200, description="Revisions, 1 to 200.")]
Before = Annotated[int | None, Parameter(ge=1, description="Only revisions before this one.")]
Number = Annotated[int, Parameter(ge=1, description="The revision's number.")]
KEYED: dict[str, Any] = {"guards": [require_key, body_type], "security": SECURITY}


async def _write(
    request: Request[Any, Any, Any], work: Callable[[psycopg.Connection[Any]], Written]
) -> Response[Any]:
    """An article's or actor's write (service.api.writing.write); its answer."""
    written = await write(request, work, refused="invalid-record", facts=False)
    return written.response()


def _current(conn: psycopg.Connection[Any], kind: str, record_id: str) -> Written:
    """The record as its writer reads it next (with a key: an actor counts drafts too)."""
    params = {"id": record_id, "statuses": list(WRITER.statuses)}
    row = conn.execute(GET_REVISED[kind], params).fetchone()
    assert row is not None, "written in this transaction"
    stored = revised(kind, row)
    return Written(200, stored.etag, f"{PATHS[kind]}/{record_id}", bytes(stored.value))


def _once(
    conn: psycopg.Connection[Any],
    author: str,
    retry: tuple[str, bytes] | None,
    make: Callable[[], Written],
) -> Written:
    """`make` an answer, or replay the one kept under the request's Idempotency-Key."""
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
    answer = make()
    if retry is not None:
        idempotency.keep(conn, author, retry[0], idempotency.Kept(retry[1], **kept_answer(answer)))
    return answer


async def _retry(request: Request[Any, Any, Any], key: str | None) -> tuple[str, bytes] | None:
    if key is None:
        return None
    body = await request.body()
    return key, idempotency.fingerprint("POST", request.url.path, body)


def _taken(conn: psycopg.Connection[Any], kind: str, record_id: str) -> None:
    table = "sources" if kind == "source" else "actors"
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", [record_id]).fetchone():
        raise Problem(409, f"A {kind} with id {record_id!r} exists already.", kind="conflict")


def _create_source(
    conn: psycopg.Connection[Any], data: NewSource, author: str, summary: str | None
) -> Written:
    _taken(conn, "source", data.id)
    raw = msgspec.to_builtins(data)
    # Lines end in \n, as the loader reads the file an export writes.
    text = raw.pop("text").replace("\r\n", "\n").replace("\r", "\n")
    raw["file"] = curated.source_file(data.id)
    spec = convert(raw, SourceSpec)
    with conn.cursor() as cursor:
        curated.create_source(cursor, spec, text, author, summary)
    written = _current(conn, "source", data.id)
    return Written(201, written.etag, written.location, written.body)


def _create_actor(
    conn: psycopg.Connection[Any], data: NewActor, author: str, summary: str | None
) -> Written:
    _taken(conn, "actor", data.id)
    raw = msgspec.to_builtins(data)
    crisis = raw.pop("crisis")
    with conn.cursor() as cursor:
        curated.write_actor(cursor, crisis, convert(raw, ActorSpec), author, summary)
    written = _current(conn, "actor", data.id)
    return Written(201, written.etag, written.location, written.body)


def _missing(conn: psycopg.Connection[Any], kind: str, record_id: str) -> Problem:
    row = conn.execute(TOMBSTONE, {"kind": kind, "id": record_id, "drafts": True}).fetchone()
    if row is None:
        return not_found(kind, record_id)
    return Problem(
        404,
        f"No {kind} with id {record_id!r}: it was deleted in revision {row[0]}.",
        kind="not-found",
    )


def _edit_actor(
    conn: psycopg.Connection[Any],
    actor_id: str,
    change: dict[str, Any],
    if_match: str | None,
    author: str,
    summary: str | None,
) -> Written:
    with conn.cursor() as cursor:
        found = curated.actor_spec(cursor, actor_id)
        if found is None:
            raise _missing(conn, "actor", actor_id)  # whatever If-Match says
        expected = expected_revision(if_match)
        crisis, spec = found
        merged = merge_patch(msgspec.to_builtins(spec), change)
        if merged.get("id") != actor_id or "crisis" in change:
            raise Problem(422, "An actor's id and crisis cannot change.", kind="invalid-record")
        try:
            edited = convert(merged, ActorSpec)
        except msgspec.ValidationError as exc:
            raise Problem(
                422,
                f"actor {actor_id!r}: {exc}",
                kind="invalid-record",
                invalid=[InvalidParam("body", str(exc))],
            ) from None
        try:
            curated.write_actor(
                cursor, crisis, edited, author, summary, {("actor", actor_id): expected}
            )
        except engine.Stale:
            now = _current(conn, "actor", actor_id)
            raise Problem(
                412,
                f"The actor {actor_id!r} changed since you read it; read it again (its ETag "
                f"is {now.etag}) and redo your change on what it says now.",
                kind="stale",
                headers={"ETag": now.etag},
            ) from None
    return _current(conn, "actor", actor_id)


@post(
    "/v1/sources", operation_id="CreateSource", summary="Create a source", tags=["sources"],
    status_code=201, opt={"role": Role.CURATOR, "body": JSON, "shape": NewSource}, **KEYED,
)  # fmt: skip
async def create_source(
    request: Request[Any, Any, Any],
    data: JSONBody[NewSource],
    summary: Summary = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[schemas.Source]:
    """Stores an article from its fixture record and its full text (lines end in `\\n`;
    the server computes its SHA-256). Facts may then cite it by quote."""
    plain_text(msgspec.to_builtins(data))
    retry = await _retry(request, idempotency_key)
    author = request.state.key.name

    def work(conn: psycopg.Connection[Any]) -> Written:
        return _once(conn, author, retry, partial(_create_source, conn, data, author, summary))

    return await _write(request, work)


@post(
    "/v1/actors", operation_id="CreateActor", summary="Create an actor", tags=["actors"],
    status_code=201, opt={"role": Role.CURATOR, "body": JSON, "shape": NewActor}, **KEYED,
)  # fmt: skip
async def create_actor(
    request: Request[Any, Any, Any],
    data: JSONBody[NewActor],
    summary: Summary = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[schemas.Actor]:
    """Stores an actor from its fixture record: kind, name, role, and every other spelling
    (`aliases`), each with its language."""
    plain_text(msgspec.to_builtins(data))
    retry = await _retry(request, idempotency_key)
    author = request.state.key.name

    def work(conn: psycopg.Connection[Any]) -> Written:
        return _once(conn, author, retry, partial(_create_actor, conn, data, author, summary))

    return await _write(request, work)


@patch(
    "/v1/actors/{actor_id:str}", operation_id="EditActor", summary="Edit an actor",
    tags=["actors"], opt={"role": Role.CURATOR, **PATCHED}, **KEYED,
)  # fmt: skip
async def edit_actor(
    request: Request[Any, Any, Any],
    actor_id: PathId,
    data: Annotated[dict[str, Any], Body(media_type=MERGE_PATCH)],
    if_match: IfMatch = None,
    summary: Summary = None,
) -> Response[schemas.Actor]:
    """Edits the actor with a JSON Merge Patch of its fixture record (`aliases` is replaced
    whole); a new name is rewritten into the facts that involve it. Answers the actor."""
    plain_text(data)
    author = request.state.key.name
    work = partial(
        _edit_actor,
        actor_id=actor_id,
        change=data,
        if_match=if_match,
        author=author,
        summary=summary,
    )
    return await _write(request, work)


async def _revisions(
    request: Request[Any, Any, Any], kind: str, record_id: str, limit: int, before: int | None
) -> list[schemas.Revision]:
    found = await fetch(request, history.revisions, kind, record_id, limit, before)
    if not found and before is None:
        raise not_found(kind, record_id)
    return found


async def _revision(
    request: Request[Any, Any, Any], kind: str, record_id: str, number: int
) -> schemas.Revision:
    found = await fetch(request, history.revision, kind, record_id, number)
    if found is None:
        raise not_found(f"revision of {kind} {record_id!r}", str(number))
    return found


@get(
    "/v1/sources/{source_id:str}/revisions", operation_id="ListSourceRevisions",
    summary="A source's revisions", tags=["sources"],
)  # fmt: skip
async def list_source_revisions(
    request: Request[Any, Any, Any], source_id: PathId, limit: RevisionLimit = 50,
    before: Before = None,
) -> list[schemas.Revision]:  # fmt: skip
    """Every change to the article, newest first: who, when, why, and its answer then."""
    return await _revisions(request, "source", source_id, limit, before)


@get(
    "/v1/sources/{source_id:str}/revisions/{number:int}", operation_id="GetSourceRevision",
    summary="One revision of a source", tags=["sources"],
)  # fmt: skip
async def get_source_revision(
    request: Request[Any, Any, Any], source_id: PathId, number: Number
) -> schemas.Revision:
    """One change to the article, with its answer as of then."""
    return await _revision(request, "source", source_id, number)


@get(
    "/v1/actors/{actor_id:str}/revisions", operation_id="ListActorRevisions",
    summary="An actor's revisions", tags=["actors"],
)  # fmt: skip
async def list_actor_revisions(
    request: Request[Any, Any, Any], actor_id: PathId, limit: RevisionLimit = 50,
    before: Before = None,
) -> list[schemas.Revision]:  # fmt: skip
    """Every change to the actor, newest first: who, when, why, and its answer then."""
    return await _revisions(request, "actor", actor_id, limit, before)


@get(
    "/v1/actors/{actor_id:str}/revisions/{number:int}", operation_id="GetActorRevision",
    summary="One revision of an actor", tags=["actors"],
)  # fmt: skip
async def get_actor_revision(
    request: Request[Any, Any, Any], actor_id: PathId, number: Number
) -> schemas.Revision:
    """One change to the actor, with its answer as of then."""
    return await _revision(request, "actor", actor_id, number)


HANDLERS = [
    create_source,
    list_source_revisions,
    get_source_revision,
    create_actor,
    edit_actor,
    list_actor_revisions,
    get_actor_revision,
]
"""The routes of this module, for the app's list."""
