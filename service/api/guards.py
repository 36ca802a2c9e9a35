"""What stands between the API and a hostile or careless client: body size, hosts, rate,
and the headers that keep a browser from misreading an answer."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import urllib.parse
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import (
    ASGIApp,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)

from service.api import zipping
from service.api.caching import Caching
from service.api.limits import RateLimiter
from service.counts import Counts
from service.errors import (
    InvalidParam,
    Problem,
    handle_http,
    invalid_parameters,
    problem_response,
)
from service.settings import Settings

DOCS_PATH = "/docs"
DOCS_PAGES = {f"{DOCS_PATH}/openapi.json"}
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
MAX_QUERY_BYTES = 4096
UNGUARDED = ["/health", "/ready"]
"""Probes are never rate limited: an orchestrator polling them must not be locked out."""

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_INLINE_STYLE = re.compile(rb"<style[^>]*>(.*?)</style>", re.S | re.I)


@functools.lru_cache(maxsize=64)
def host_allowed(host: bytes, allowed: tuple[str, ...]) -> bool:
    """Host header without its port against the allowed names; `*` and `*.domain` match."""
    name = host.decode("latin-1").strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def query_problem(query: bytes, raw_path: bytes) -> Problem | None:
    """A query string too long to be a real request, or not text: refused before parsing,
    each parameter it spoils named (Litestar would read bad bytes as U+FFFD, and PostgreSQL
    text cannot hold a NUL)."""
    if len(query) > MAX_QUERY_BYTES:
        return _refused(
            414, f"The query string is {len(query)} bytes; at most {MAX_QUERY_BYTES} are read."
        )
    path = raw_path.partition(b"?")[0]  # some servers send the query string with it
    if not _plain(path):
        unreadable = _unreadable(path)
        if unreadable is not None:
            return _refused(400, f"The request's path {unreadable}.")
    if _plain(query):
        return None
    invalid = [p for field in query.split(b"&") if (p := _unreadable_field(field)) is not None]
    return invalid_parameters(invalid, headers=dict(CLOSE)) if invalid else None


def _plain(part: bytes) -> bool:
    """Text as it is: nothing to decode (the usual case)."""
    return part.isascii() and b"%" not in part and b"\x00" not in part


def _decoded(raw: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" "))


NUL = "contains a NUL character"
"""Why a text is refused that PostgreSQL cannot hold, in the words a body's refusal uses."""


def _unreadable(raw: bytes) -> str | None:
    """Why `raw`, percent-decoded, is not text (which bytes, where), else None."""
    decoded = _decoded(raw)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = " ".join(f"0x{byte:02x}" for byte in decoded[error.start : error.end])
        return f"is not UTF-8 (byte {bad} at position {error.start}, once percent-decoded)"
    return NUL if "\x00" in text else None


def _unreadable_field(field: bytes) -> InvalidParam | None:
    """A `name=value` of the query string that is not text, named by its name, or by the
    name as sent when that is what cannot be read."""
    raw_name, _, raw_value = field.partition(b"=")
    in_name = _unreadable(raw_name)
    reason = _unreadable(raw_value) if in_name is None else f"its name {in_name}"
    if reason is None:
        return None
    if not reason.endswith(NUL):
        reason += "; the query string must be UTF-8"
    if in_name is None:
        return InvalidParam(_decoded(raw_name).decode("utf-8"), reason)
    return InvalidParam(raw_name.decode("utf-8", "backslashreplace"), reason)


def _hashes(pattern: re.Pattern[bytes], body: bytes) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in pattern.finditer(body)
    )


def docs_csp(body: bytes) -> bytes:
    """A strict policy for the docs page: its own assets (service.api.docs) and exactly its
    own inline code; nothing from another origin."""
    return (
        f"default-src 'none'; script-src 'self' {_hashes(_INLINE_SCRIPT, body)}; "
        f"style-src 'self' {_hashes(_INLINE_STYLE, body)}; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ).encode()


async def security_headers(message: Message, scope: Scope) -> None:
    """A before_send hook: Litestar calls it for every answer, a 404 or 405 included.
    Header names are compared as written: Litestar writes them in lower case, as this does."""
    if message["type"] == "http.response.start":
        headers = [*message.get("headers", ()), *SECURITY_HEADERS]
        if b"content-security-policy" not in dict(headers):
            headers.append((b"content-security-policy", API_CSP))
        message["headers"] = headers


SOURCES_PATH = "/v1/sources"
"""Where an article is posted: its body may be as large as MAX_SOURCE_BYTES."""


class GuardMiddleware(ASGIMiddleware):
    """The one middleware of every request, one layer doing in turn what each needs: refuses
    unknown hosts, unreadable query strings and bodies over MAX_BODY_BYTES as problem+json
    before anything reads them; counts the client's requests (service.api.limits); answers
    through the answer cache with ETags (service.api.caching); pins the docs page's inline
    code in its CSP. One layer, not one middleware each: bench/RESULTS.md."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings, caching: Caching, counts: Counts) -> None:
        self.max_body_bytes = settings.max_body_bytes
        self.max_source_bytes = settings.max_source_bytes
        self.hosts = settings.allowed_hosts
        self.limiter = None
        if settings.rate_limit_per_minute > 0:
            self.limiter = RateLimiter(settings.rate_limit_per_minute, UNGUARDED, counts)
        self.caching = caching

    def refusal(self, scope: HTTPScope) -> Problem | None:
        headers = dict(scope["headers"])
        if not host_allowed(headers.get(b"host", b""), self.hosts):
            return _refused(400, "This host name is not served here.")
        problem = query_problem(scope["query_string"], scope.get("raw_path") or b"")
        if problem is not None:
            return problem
        length = headers.get(b"content-length", b"0")
        limit = self.max_body_bytes
        if scope["path"] == SOURCES_PATH and scope["method"] == "POST":
            limit = self.max_source_bytes  # an article's full text
        if not length.isdigit() or int(length) > limit:
            return _refused(
                413, f"Request bodies are limited to {limit} bytes here; this one was not read."
            )
        return None

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        assert scope["type"] == ScopeType.HTTP
        problem = self.refusal(scope)
        if problem is not None:
            raise problem
        path = scope["path"]
        if path.startswith(DOCS_PATH + "/") and path not in DOCS_PAGES:
            # Litestar's docs router answers the rest of /docs/ with an HTML 404 of its own.
            raise Problem(404, f"No resource at {path}; the docs are at {DOCS_PATH}.")
        limits = await self.limiter.headers(scope) if self.limiter is not None else None
        if path == DOCS_PATH:

            async def served(scope: Scope, receive: Receive, send: Send) -> None:
                await self._serve(scope, receive, send, next_app, limits, plain=True)

            await self._docs(scope, receive, send, served)
            return
        await self._serve(scope, receive, send, next_app, limits)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        limits: list[tuple[bytes, bytes]] | None,
        plain: bool = False,
    ) -> None:
        """Through the answer cache, which also gzips; else (writes, exports) gzipped here
        when sent whole (exports stream through Litestar's compression: zipping.STREAMING)."""
        if self.caching.applies(scope):
            await self.caching.serve(scope, receive, send, next_app, limits or [], plain)
            return
        send = self.caching.forgetting(scope, send)
        if limits:
            send = _with_headers(send, limits)
        if zipping.accepted(dict(scope["headers"])):
            send = zipping.whole(send)
        await next_app(scope, receive, send)

    def unrouted(self, request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        """The exception handler of 404 and 405, which Litestar raises before any middleware
        runs: what the guard refuses is refused there too."""
        problem = self.refusal(request.scope)
        return handle_http(request, exc) if problem is None else problem_response(request, problem)

    @staticmethod
    async def _docs(scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        start: list[HTTPResponseStartEvent] = []
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
                return
            if message["type"] != "http.response.body":  # pragma: no cover
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [(n, v) for n, v in start[0]["headers"] if n.lower() != b"content-length"]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"content-security-policy", docs_csp(body)),
            ]
            await send({**start[0], "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await next_app(scope, receive, buffer)


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)

    return sending


CLOSE = {"Connection": "close"}
"""A refusal's header: the client may still be sending a body nobody will read."""


def _refused(status: int, detail: str) -> Problem:
    return Problem(status, detail, headers=dict(CLOSE))
