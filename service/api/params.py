"""Query parameters shared by the controllers, declared once so the contract reads alike."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Litestar, Request, Response
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema
from litestar.params import Parameter

from service import schemas
from service.errors import PROBLEM_JSON, invalid_parameter
from service.queries import BadCursor
from service.vocabulary import Language, Verification

ID_PATTERN = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"

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
        description="Only facts that involve this actor (its id), in any role.",
        pattern=ID_PATTERN,
    ),
]
SourceId = Annotated[
    str | None,
    Parameter(
        max_length=120, description="Only facts citing this source (its id).", pattern=ID_PATTERN
    ),
]
Since = Annotated[
    dt.date | None,
    Parameter(
        description="Only facts dated on or after this day (YYYY-MM-DD). A fact known to "
        "the month or year is dated by the first day of that period."
    ),
]
Until = Annotated[
    dt.date | None,
    Parameter(description="Only facts dated on or before this day (YYYY-MM-DD)."),
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
PathId = Annotated[str, Parameter(max_length=120, description="The item's id.")]

T = TypeVar("T")


def check_dates(since: dt.date | None, until: dt.date | None) -> None:
    if since is not None and until is not None and since > until:
        raise invalid_parameter("until", f"{until} is before since={since}")


def cursor_problem(exc: BadCursor) -> Exception:
    return invalid_parameter("cursor", str(exc))


def paged(request: Request[Any, Any, Any], page: schemas.Page[T]) -> Response[schemas.Page[T]]:
    """The page, with a `Link: rel="next"` header when there is one."""
    headers = {}
    if page.next_cursor is not None:
        query: list[tuple[str, Any]] = [
            (k, v) for k, v in request.query_params.multi_items() if k != "cursor"
        ]
        query.append(("cursor", page.next_cursor))
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(page, headers=headers)


_PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="A URI naming the kind of problem."),
        "title": Schema(type=OpenAPIType.STRING, description="The HTTP status phrase."),
        "status": Schema(type=OpenAPIType.INTEGER, description="The HTTP status code."),
        "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, for a human."),
        "instance": Schema(type=OpenAPIType.STRING, description="The request path."),
        "invalid_params": Schema(
            type=OpenAPIType.ARRAY,
            description="Each bad parameter with the reason.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["name", "reason"],
                properties={
                    "name": Schema(type=OpenAPIType.STRING),
                    "reason": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    description="RFC 9457 problem details.",
)

_PROBLEMS = {
    "400": "A parameter is invalid; `invalid_params` names it.",
    "404": "Nothing at this path or with this id.",
    "405": "The API is read-only: only GET is allowed.",
    "429": "Too many requests; see Retry-After.",
    "500": "The server failed; the error was logged.",
    "503": "The database is unavailable; see Retry-After.",
}


def document_problems(app: Litestar) -> None:
    """Every operation documents the problem+json answers a client may meet."""
    schema = app.openapi_schema
    components = schema.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM_SCHEMA
    ref = Reference(ref="#/components/schemas/Problem")
    for path_item in (schema.paths or {}).values():
        operation = path_item.get
        if operation is None:
            continue
        responses = operation.responses or {}
        for code, description in _PROBLEMS.items():
            existing = responses.get(code)
            text = existing.description if isinstance(existing, OpenAPIResponse) else description
            responses[code] = OpenAPIResponse(
                description=text or description,
                content={PROBLEM_JSON: OpenAPIMediaType(schema=ref)},
            )
        operation.responses = responses
