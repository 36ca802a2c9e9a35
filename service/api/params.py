"""Query parameters shared by the controllers, declared once so the contract reads alike."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Response
from litestar.di import NamedDependency, Provide
from litestar.enums import ParamType
from litestar.openapi import spec
from litestar.openapi.spec import Example
from litestar.params import Parameter

from service import schemas
from service.api.readers import Include, visibility
from service.errors import invalid_parameter
from service.queries import Conn, FactFilter
from service.vocabulary import (
    ActorKind,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    Language,
    StatementMode,
    Verification,
    VictimGroup,
)

ID_PATTERN = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"

P = ParamSpec("P")
R = TypeVar("R")


async def fetch(
    request: Request[Any, Any, Any],
    query: Callable[Concatenate[Conn, P], Awaitable[R]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run one function of service.queries on a pooled connection, held only while it runs.

    Neither a Litestar dependency nor `pool.connection()`: why in bench/RESULTS.md.
    With standbys (DATABASE_READ_URLS), service.replicas chooses where it runs."""
    reads = request.app.state.reads
    if reads is not None:
        result: R = await reads.fetch(request.scope, query, *args, **kwargs)
        return result
    pool = request.app.state.pool
    conn = await pool.getconn()
    try:
        return await query(conn, *args, **kwargs)
    finally:
        await pool.putconn(conn)


Limit = Annotated[int, Parameter(ge=1, le=200, description="Items per page, 1 to 200.")]
Cursor = Annotated[
    str | None,
    Parameter(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Opaque `next_cursor` of the previous page; omit for the first page.",
    ),
]
CrisisId = Annotated[
    str | None,
    Parameter(
        max_length=120, description="Only items of this crisis (its id).", pattern=ID_PATTERN
    ),
]
ActorId = Annotated[
    str | None,
    Parameter(
        max_length=120,
        description="Only facts that involve this actor (its id), in any role (mentioned "
        "included); `speaker`, `claimant` and `sender` each ask for one role.",
        pattern=ID_PATTERN,
    ),
]

SpeakerId = Annotated[
    str | None,
    Parameter(
        max_length=120,
        description="Only statements this actor (its id) made, not those naming them.",
        pattern=ID_PATTERN,
    ),
]
ClaimantId = Annotated[
    str | None,
    Parameter(
        max_length=120,
        description="Only facts this actor (its id) claims: who gives the figure or says so.",
        pattern=ID_PATTERN,
    ),
]
SenderId = Annotated[
    str | None,
    Parameter(
        max_length=120,
        description="Only deployments of troops this actor (its id) sends.",
        pattern=ID_PATTERN,
    ),
]


def in_role(column: str, actor: str | None) -> dict[str, str]:
    """A kind filter of an actor in one role, present only when given: the filters of a
    list make its cursors, and those issued before these filters existed stay valid."""
    return {} if actor is None else {column: actor}


SourceId = Annotated[
    str | None,
    Parameter(
        max_length=120, description="Only facts citing this source (its id).", pattern=ID_PATTERN
    ),
]
DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
DATE_EXAMPLES = "e.g. 2022-01-05, 2022-01 or 2022"

Since = Annotated[
    str | None,
    Parameter(
        description="Only facts dated on or after this date: YYYY-MM-DD, or YYYY-MM or YYYY "
        "for the start of that month or year. A fact known only to the month or year counts "
        "as the first day of it; undated facts are left out.",
        # The pattern is the contract's; fact_filter checks it, to answer with an example.
        schema_extra={"pattern": DATE_PATTERN},
        examples=[Example(value="2022-01-05"), Example(value="2022-01")],
    ),
]
Until = Annotated[
    str | None,
    Parameter(
        description="Only facts dated on or before this date: YYYY-MM-DD, or YYYY-MM or YYYY "
        "for the end of that month or year. Undated facts are left out.",
        schema_extra={"pattern": DATE_PATTERN},
        examples=[Example(value="2022-01-10"), Example(value="2022-01")],
    ),
]
LanguageFilter = Annotated[
    Language | None,
    Parameter(description="Only items from sources in this language."),
]
VerificationFilter = Annotated[
    Verification | None,
    Parameter(description="Only facts whose source stands behind them this way."),
]
QuantityKey = Annotated[
    str | None,
    Parameter(
        max_length=120,
        pattern=ID_PATTERN,
        description="Only facts measuring this quantity (the key shared across sources, "
        "e.g. `arrests.nationwide`).",
    ),
]
# The filters of one kind of fact, shared by its list and its export.
ModeFilter = Annotated[
    StatementMode | None, Parameter(description="Direct quotes or reported speech.")
]
ChannelFilter = Annotated[Channel | None, Parameter(description="Only statements made this way.")]
CategoryFilter = Annotated[
    CasualtyCategory | None, Parameter(description="Killed, injured or seriously injured.")
]
VictimGroupFilter = Annotated[VictimGroup | None, Parameter(description="Who the victims were.")]
StatusFilter = Annotated[
    DeploymentStatus | None, Parameter(description="Requested, announced, approved ...")
]
ConfirmedFilter = Annotated[
    bool | None,
    Parameter(
        description="Only arrests the source confirms (true) or says are unconfirmed (false)."
    ),
]
ActorKindFilter = Annotated[ActorKind | None, Parameter(description="Only actors of this kind.")]
ActorName = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00]+$",
        description="Only actors whose name or any alias contains this text "
        "(case-insensitive), e.g. `Masimov`.",
    ),
]
Undated = Annotated[
    bool,
    Parameter(
        description="`true` adds the facts their sources do not date, each placed at "
        "the publication date of the first article citing it (its `date` stays null: "
        "that is the mark); `since` and `until` then compare that date too."
    ),
]
PathId = Annotated[str, Parameter(max_length=120, pattern=ID_PATTERN, description="The item's id.")]
"""Ids are slugs: anything else cannot name an item (and NUL would fail in PostgreSQL)."""

T = TypeVar("T")


def strict_query() -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A before_request hook: a misspelt parameter (`?limt=5`) would otherwise be ignored and
    answer everything; and Litestar reads `?language=fr&language=en` as one of the two and
    `?language=null` as no language at all, a mistake the contract does not allow; say so."""
    accepted: dict[str, Accepted] = {}

    # Async: Litestar would run a sync hook in a worker thread, which costs more than the check.
    async def hook(request: Request[Any, Any, Any]) -> None:
        if not request.scope["query_string"]:
            return
        if not accepted:
            accepted.update(query_parameters(request.app.openapi_schema))
        operation = request.route_handler.operation_id
        if callable(operation):  # one handler on several paths: an id per path
            parts: list[Any] = request.scope["path"].split("/")
            operation = operation(request.route_handler, request.method, parts)
        known = accepted.get(operation) if isinstance(operation, str) else None
        if known is None:
            return  # not an operation of the contract (the docs pages)
        seen: set[str] = set()
        for name, value in request.query_params.multi_items():
            if name not in known.names:
                listed = ", ".join(sorted(known.names)) or "none"
                raise invalid_parameter(name, f"not a parameter here; accepted: {listed}")
            allowed = known.enums.get(name)
            if allowed and value not in allowed and value != "null":
                raise invalid_parameter(name, f"{value!r} is not one of {', '.join(allowed)}")
            literal = known.single.get(name)
            if literal is None:
                continue
            if name in seen:
                raise invalid_parameter(name, "given more than once")
            seen.add(name)
            if value == "null" and not literal:
                raise invalid_parameter(name, "'null' is not a value: leave the parameter out")

    return hook


@dataclass(frozen=True, slots=True)
class Accepted:
    """An operation's query parameters: every name, the single-valued ones each with
    whether 'null' is one of its values (plain text), and the values of enumerations."""

    names: frozenset[str]
    single: dict[str, bool]
    enums: dict[str, tuple[str, ...]]


def query_parameters(document: spec.OpenAPI) -> dict[str, Accepted]:
    """Per operation id, its query parameters, read from the OpenAPI document the app serves."""
    operations: dict[str, Accepted] = {}
    for item in (document.paths or {}).values():
        if item.get is None or item.get.operation_id is None:
            continue
        names: set[str] = set()
        single: dict[str, bool] = {}
        enums: dict[str, tuple[str, ...]] = {}
        for parameter in item.get.parameters or []:
            if not isinstance(parameter, spec.Parameter) or parameter.param_in != ParamType.QUERY:
                continue
            names.add(parameter.name)
            values = _enum_values(document, parameter.schema)
            if values:
                enums[parameter.name] = values
            schema = parameter.schema
            members = (schema.one_of or [schema]) if isinstance(schema, spec.Schema) else [schema]
            kinds = [m.type for m in members if isinstance(m, spec.Schema)]
            if spec.OpenAPIType.ARRAY in kinds:
                continue
            single[parameter.name] = all(
                isinstance(m, spec.Schema)
                and m.type in (spec.OpenAPIType.STRING, spec.OpenAPIType.NULL)
                and m.format is None
                and m.enum is None
                for m in members
            )
        operations[item.get.operation_id] = Accepted(frozenset(names), single, enums)
    return operations


def _enum_values(document: spec.OpenAPI, schema: Any) -> tuple[str, ...]:
    """The values an enumerated parameter takes (also of a list of them, or one or null)."""
    if isinstance(schema, spec.Reference):
        components = document.components.schemas or {}
        schema = components.get(schema.ref.rsplit("/", 1)[-1])
    if not isinstance(schema, spec.Schema):
        return ()
    if schema.enum:
        return tuple(str(value) for value in schema.enum)
    for member in [*(schema.one_of or []), *(schema.any_of or []), schema.items]:
        values = _enum_values(document, member)
        if values:
            return values
    return ()


def date_range(name: str, text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a date given as YYYY-MM-DD, YYYY-MM or YYYY."""
    try:
        if re.fullmatch(DATE_PATTERN, text) is None:
            raise ValueError(text)
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 3:
            day = dt.date(*parts)
            return day, day
        if len(parts) == 2:
            first = dt.date(parts[0], parts[1], 1)
            after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, after - dt.timedelta(days=1)
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    except ValueError:
        raise invalid_parameter(
            name, f"{text!r} is not a date: give YYYY-MM-DD, YYYY-MM or YYYY, {DATE_EXAMPLES}"
        ) from None


def check_dates(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The first day `since` allows and the last `until` does."""
    first = None if since is None else date_range("since", since)[0]
    last = None if until is None else date_range("until", until)[1]
    if first is not None and last is not None and first > last:
        raise invalid_parameter("until", f"{until} is before since={since}")
    return first, last


_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9._~!$'()*+,;=:@/?&-]*")
"""A query string that can go into a Link header as the client sent it: no escapes."""


def next_link(path: str, query_string: bytes, cursor: str) -> str:
    """`Link: <path?same query, next cursor>; rel="next"`.

    A plain query string (the usual case: cursors are URL-safe base64) keeps its bytes and
    swaps its cursor; any other is decoded and encoded again."""
    if _PLAIN_QUERY.fullmatch(query_string):
        kept = [p for p in query_string.split(b"&") if p and not p.startswith(b"cursor=")]
        kept.append(b"cursor=" + cursor.encode())
        query = b"&".join(kept).decode()
    else:
        pairs = [
            (k, v)
            for k, v in parse_qsl(query_string.decode(), keep_blank_values=True)
            if k != "cursor"
        ]
        query = urlencode([*pairs, ("cursor", cursor)])
    return f'<{path}?{query}>; rel="next"'


def paged(
    request: Request[Any, Any, Any], page: schemas.Page[T], etag: str | None = None
) -> Response[schemas.Page[T]]:
    """The page, with a `Link: rel="next"` header when there is one, and its ETag when
    the query knows it (service.api.caching hashes the body otherwise)."""
    headers = {} if etag is None else {"ETag": etag}
    if page.next_cursor is not None:
        path, query = request.scope["path"], request.scope["query_string"]
        headers["Link"] = next_link(path, query, page.next_cursor)
    return Response(page, headers=headers)


async def fact_filter(
    request: Request[Any, Any, Any],
    crisis: CrisisId = None,
    actor: ActorId = None,
    source: SourceId = None,
    since: Since = None,
    until: Until = None,
    language: LanguageFilter = None,
    verification: VerificationFilter = None,
    key: QuantityKey = None,
    include: Include = None,
    claimant: ClaimantId = None,
) -> FactFilter:
    """The filters every fact list shares, declared once for the handlers and the contract;
    with the review statuses the reader sees."""
    first, last = check_dates(since, until)
    return FactFilter(
        crisis=crisis,
        actor=actor,
        source=source,
        since=first,
        until=last,
        language=language.value if language else None,
        verification=verification.value if verification else None,
        key=key,
        visibility=await visibility(request, include),
        claimant=claimant,
    )


Filters = NamedDependency[FactFilter]
FILTER_DEPENDENCIES = {"filters": Provide(fact_filter)}
