"""What every write route shares: its headers, one transaction under the write locks, the
revision an If-Match names, JSON Merge Patch, the body's media type and shape checked
strictly before Litestar decodes it, and the answer kept for an idempotent replay."""

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
_ETAG = re.compile(r'\s*"(\d+)\.[0-9a-f]{32}(?:-gzip)?"\s*')

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
    """The revision an If-Match names: 428 without one or with `*` (it matches whatever
    revision is current, so it cannot keep a write from undoing a change unseen), 412 when
    it names none; a weak ETag never matches (RFC 9110 compares If-Match strongly)."""
    if if_match is None or if_match.strip() == "*":
        given = "If-Match: * matches any revision, so it" if if_match else "A write without it"
        raise Problem(
            428,
            "This write needs If-Match with the record's ETag as you last read it: "
            f"{given} cannot keep it from undoing a change you have not seen.",
            kind="precondition-required",
        )
    if if_match.strip().startswith("W/"):
        raise Problem(
            412,
            "If-Match compares ETags strongly: a weak ETag (W/...) never matches; send the "
            "record's ETag as its answer gave it.",
            kind="stale",
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


def optional(shape: Any) -> dict[str, Any]:
    """The `opt` of a route that may take a JSON body of `shape`, or none."""
    return {"body": JSON, "shape": shape, "optional": True}


PATCHED: dict[str, Any] = {"body": MERGE_PATCH, "shape": dict[str, Any]}
"""The `opt` of a route that takes a JSON Merge Patch."""


async def body_type(
    connection: ASGIConnection[Any, Any, Any, Any], route: BaseRouteHandler
) -> None:
    """A guard: the body is of the media type the route's `opt` names and, decoded strictly
    (`"1"` is not a count), of the shape it names, checked before Litestar decodes it
    leniently. A route whose body is optional (`opt["optional"]`) takes none at all."""
    media_type = route.opt["body"]
    assert isinstance(connection, Request), "a guard of HTTP routes"
    body = await connection.body()
    if route.opt.get("optional") and not body.strip():
        return
    given = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if given != media_type:
        raise Problem(
            415,
            f"This write takes a body of type {media_type}, not {given or 'none'}.",
            kind="unsupported-media-type",
        )
    strict_body(body, route.opt["shape"], media_type)


def strict_body(body: bytes, shape: Any, media_type: str) -> None:
    """400 naming `body`, or the member at fault, when the body is not JSON of `shape`."""
    what = "a JSON Merge Patch" if media_type == MERGE_PATCH else "the record"
    if not body.strip():
        raise body_problem("body", f"the body is empty; it must be a JSON object ({what})")
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise body_problem("body", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # arrays in arrays a few thousand deep: no record is
        raise body_problem("body", f"the body nests too deeply to be {what}") from None
    try:
        msgspec.convert(_whole(value), shape, strict=True)
    except msgspec.ValidationError as exc:
        name, reason = at_fault(exc)
        if not name and reason.startswith("Expected `object`"):
            reason = f"the body must be a JSON object ({what}), not {reason.split('got ')[-1]}"
        raise body_problem(name or "body", reason) from None


def at_fault(exc: msgspec.ValidationError) -> tuple[str, str]:
    """The member msgspec names (`count`, `citations[0].quote`; '' for the whole value) and
    what is wrong with it."""
    reason, _, at = str(exc).partition(" - at `")
    name = at.removesuffix("`").removeprefix("$").removeprefix(".")
    field = _FIELD.search(reason)
    if field:
        name = f"{name}.{field[1]}" if name else field[1]
    return name, reason


def _whole(value: Any) -> Any:
    """JSON has one kind of number: `3.0` is the integer 3 (as JSON Schema reads it), while
    `"3"` stays a string."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


_FIELD = re.compile(r"(?:unknown|required) field `([^`]+)`")


def body_problem(name: str, reason: str) -> Problem:
    """A body that is not what the write takes: 400 naming the member at fault."""
    return Problem(
        400,
        f"Invalid body: `{name}`: {reason}." if name != "body" else f"Invalid body: {reason}.",
        kind="invalid-body",
        invalid=[InvalidParam(name, reason)],
    )
