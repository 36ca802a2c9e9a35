"""Every error a client can meet, as RFC 9457 problem+json: never a trace, never SQL."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
import psycopg
import psycopg_pool
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import HeaderParameter

from service.queries import BadCursor

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2

log = logging.getLogger(__name__)


class InvalidParam(msgspec.Struct, frozen=True):
    name: str
    reason: str


class ProblemBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    invalid_params: list[InvalidParam] = []


class Problem(Exception):
    """Raised by handlers for an error the client caused (or a service outage)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        invalid: list[InvalidParam] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.invalid = invalid or []
        self.headers = headers or {}


def invalid_parameter(name: str, reason: str) -> Problem:
    return invalid_parameters([InvalidParam(name, reason)])


def invalid_parameters(
    invalid: list[InvalidParam], headers: dict[str, str] | None = None
) -> Problem:
    """The 400 of every bad parameter at once, each named with its reason."""
    detail = "; ".join(f"Invalid parameter '{p.name}': {p.reason}" for p in invalid)
    return Problem(400, detail, kind="invalid-parameter", invalid=invalid, headers=headers)


_MISSING = re.compile(r"Missing required \w+ parameter '([^']+)'")
"""How Litestar says a required parameter is missing: in its detail alone, no `extra`."""


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, f"No {what} with id {ident!r}.", kind="not-found")


def gone(what: str, ident: str, revision: int, when: str, message: str | None) -> Problem:
    why = f": {message}" if message else ""
    return Problem(
        410, f"The {what} {ident!r} was deleted in revision {revision} on {when}{why}.", kind="gone"
    )


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[bytes]:
    body = ProblemBody(
        type=f"urn:crisis-facts:problem:{problem.kind}" if problem.kind else "about:blank",
        title=HTTPStatus(problem.status).phrase,
        status=problem.status,
        detail=problem.detail,
        instance=request.url.path,
        invalid_params=problem.invalid,
    )
    return Response(
        msgspec.json.encode(body),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **problem.headers},
    )


def _header_name(request: Request[Any, Any, Any], key: str) -> str:
    """A header parameter as the client sends it (`X-Edit-Summary`), not as the handler
    names its argument (`summary`)."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    kwarg = getattr(parameter, "kwarg_definition", None)
    header = kwarg.name if isinstance(kwarg, HeaderParameter) else getattr(kwarg, "header", None)
    return header if isinstance(header, str) else key


def _from_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Problem:
    invalid: list[InvalidParam] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            name = str(item.get("key") or item.get("source") or "request")
            if item.get("source") != "body":
                name = _header_name(request, name)
            invalid.append(InvalidParam(name, str(item.get("message", "invalid value"))))
    missing = _MISSING.match(str(exc.detail))
    if missing is not None:
        invalid.append(InvalidParam(missing.group(1), "a required parameter is missing"))
    if not invalid:
        return Problem(400, str(exc.detail), kind="invalid-request")
    return invalid_parameters(invalid)


def handle_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[bytes]:
    return problem_response(request, exc)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ValidationException):
        return problem_response(request, _from_validation(request, exc))
    status = exc.status_code
    if status >= 500:
        log.error("server error on %s: %s", request.url.path, exc.detail)
        return problem_response(
            request, Problem(status, "The server could not answer; try again later.")
        )
    detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    if status == 404:
        detail = f"No resource at {request.url.path}."
    elif status == 405:
        allowed = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), "GET")
        detail = f"{request.method} is not allowed on {request.url.path}; it answers {allowed}."
    headers = {
        k: v
        for k, v in (exc.headers or {}).items()
        if k.lower() in {"allow", "retry-after"} or k.lower().startswith("ratelimit-")
    }
    if status == 429:
        reset = next((v for k, v in headers.items() if k.lower() == "ratelimit-reset"), "60")
        headers.setdefault("Retry-After", reset)
        detail = "Too many requests from this client; retry after the time in Retry-After."
    return problem_response(request, Problem(status, detail, headers=headers))


def handle_bad_cursor(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    return problem_response(request, invalid_parameter("cursor", str(exc)))


def handle_bad_body(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A body that is not UTF-8: Litestar's JSON decoding raises it as it finds it."""
    detail = f"The request body is not UTF-8 text: {exc}."
    return problem_response(request, Problem(400, detail, kind="invalid-body"))


def handle_database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
    return problem_response(
        request,
        Problem(
            503,
            "The database is unavailable; retry shortly.",
            kind="database-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ),
    )


def handle_query_cancelled(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    return problem_response(
        request,
        Problem(
            503,
            "The query took too long and was cancelled.",
            kind="query-timeout",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ),
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s", request.url.path)
    return problem_response(
        request, Problem(500, "The server failed to answer; the error was logged.")
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    Problem: handle_problem,
    HTTPException: handle_http,
    BadCursor: handle_bad_cursor,
    UnicodeDecodeError: handle_bad_body,
    psycopg_pool.PoolTimeout: handle_database_down,
    psycopg.OperationalError: handle_database_down,
    psycopg.errors.QueryCanceled: handle_query_cancelled,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "Problem"]
