"""What every write route shares: its headers, one transaction under the write locks, the
revision an If-Match names, JSON Merge Patch, the body's media type checked before decoding,
and the answer kept for an idempotent replay."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import msgspec
import psycopg
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import HeaderParameter

from service.engine import FixtureError
from service.engine.write import WRITE_LOCK
from service.errors import InvalidParam, Problem
from service.touched import Touched

T = TypeVar("T")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
_ETAG = re.compile(r'\s*(?:W/)?"(\d+)\.[0-9a-f]{32}(?:-gzip)?"\s*')

Summary = Annotated[
    str | None,
    HeaderParameter(
        name="X-Edit-Summary",
        max_length=500,
        description="Why: the summary of the revision this write makes.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=200,
        description="Retry safely: the same key and body replay the first answer for 24 hours.",
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="The ETag of the fact as you last read it."),
]


@dataclass(frozen=True, slots=True)
class Written:
    """A write's answer: status, the fact's answer and ETag afterwards, its URL; and what it
    touched, for the answer cache (None: anything)."""

    status: int
    etag: str
    location: str
    body: bytes
    touched: Touched | None = None

    def response(self) -> Response[Any]:
        headers = {"Location": self.location, "Cache-Control": "no-store"}
        if self.etag:
            headers["ETag"] = self.etag
        return Response(msgspec.Raw(self.body), status_code=self.status, headers=headers)


def transaction(pool: Any, work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run `work` in one transaction that holds the whole write lock from its start."""
    pool.open()  # on the first write: a worker that never writes starts no pool threads
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        return work(conn)


def pipelined(pool: Any, work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run `work` (a write of facts, which takes its own locks: service.engine.edits) in one
    transaction, its statements sent in a pipeline: a round trip only where it reads."""
    pool.open()
    with pool.connection() as conn, conn.pipeline(), conn.transaction():
        return work(conn)


async def write(
    request: Request[Any, Any, Any],
    work: Callable[[psycopg.Connection[Any]], Written],
    refused: str = "invalid-fact",
    facts: bool = True,
) -> Written:
    """Run a write in one transaction on a thread of its own (the write path is
    synchronous): a rule the data breaks is a 422 of kind `refused` naming it, and what the
    write touched is left in the request's state for the answer cache (service.api.caching).
    A write of facts runs beside others; any other takes the whole write lock."""
    pool = request.app.state.change_pool
    run = pipelined if facts else transaction
    try:
        written: Written = await anyio.to_thread.run_sync(partial(run, pool, work))
    except FixtureError as exc:
        invalid = [InvalidParam("body", problem) for problem in exc.problems]
        raise Problem(422, "; ".join(exc.problems), kind=refused, invalid=invalid) from None
    request.state.touched = written.touched
    return written


def expected_revision(if_match: str | None) -> int:
    """The revision an If-Match names: 428 without one, 412 when it names none."""
    if if_match is None:
        raise Problem(
            428,
            "This write needs If-Match with the record's ETag as you last read it, so that it "
            "cannot undo a change you have not seen.",
            kind="precondition-required",
        )
    match = _ETAG.fullmatch(if_match)
    if match is None:
        raise Problem(412, "If-Match names no revision of this record.", kind="stale")
    return int(match.group(1))


def merge_patch(target: Any, change: Any) -> Any:
    """RFC 7396 JSON Merge Patch: members set to null are removed, objects merge."""
    if not isinstance(change, dict):
        return change
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in change.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def kept_answer(answer: Written) -> dict[str, Any]:
    return {
        "status": answer.status,
        "etag": answer.etag,
        "location": answer.location,
        "body": answer.body,
    }


async def body_type(
    connection: ASGIConnection[Any, Any, Any, Any], route: BaseRouteHandler
) -> None:
    """A guard: the body is of the media type the route's `opt` names, checked before
    anything decodes it."""
    media_type = route.opt["body"]
    given = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if given != media_type:
        raise Problem(
            415,
            f"This write takes a body of type {media_type}, not {given or 'none'}.",
            kind="unsupported-media-type",
        )
