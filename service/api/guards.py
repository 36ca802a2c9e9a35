"""What stands between the API and a hostile or careless client: body size, hosts, rate,
and the headers that keep a browser from misreading an answer."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.types import LifeSpanReceive, LifeSpanScope, LifeSpanSend, Receive, Scope, Send

from service.errors import PROBLEM_JSON, ProblemBody
from service.settings import Settings

DOCS_PATH = "/docs"
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
MAX_QUERY_BYTES = 4096
UNGUARDED = ["/health", "/ready"]
"""Probes are never rate limited: an orchestrator polling them must not be locked out."""

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_INLINE_STYLE = re.compile(rb"<style[^>]*>(.*?)</style>", re.S | re.I)


def rate_limit(settings: Settings) -> RateLimitConfig | None:
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimitConfig(rate_limit=("minute", settings.rate_limit_per_minute), exclude=UNGUARDED)


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


def query_problem(query: bytes, raw_path: bytes) -> tuple[int, str, str] | None:
    """A query string too long to be a real request, or not text: refused before parsing."""
    if len(query) > MAX_QUERY_BYTES:
        return (
            414,
            "URI Too Long",
            f"The query string is {len(query)} bytes; at most {MAX_QUERY_BYTES} are read.",
        )
    for part in (query, raw_path):
        decoded = urllib.parse.unquote_to_bytes(part.replace(b"+", b" "))
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "Bad Request", "The request's path or query string is not valid UTF-8."
        if "\x00" in text:
            return (
                400,
                "Bad Request",
                "The request's path or query string contains a NUL character.",
            )
    return None


def _hashes(pattern: re.Pattern[bytes], body: bytes) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in pattern.finditer(body)
    )


def docs_csp(body: bytes) -> bytes:
    """A strict policy for the docs page: its CDN assets and exactly its own inline code."""
    cdn = "https://cdn.jsdelivr.net"
    return (
        f"default-src 'none'; script-src {cdn} {_hashes(_INLINE_SCRIPT, body)}; "
        f"style-src {cdn} {_hashes(_INLINE_STYLE, body)}; img-src 'self' data: {cdn}; "
        "connect-src 'self'; font-src " + cdn + "; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    ).encode()


def _problem(status: int, title: str, detail: str, path: str) -> bytes:
    return msgspec.json.encode(
        ProblemBody(type="about:blank", title=title, status=status, detail=detail, instance=path)
    )


class GuardMiddleware:
    """Refuses unknown hosts (400) and bodies over MAX_BODY_BYTES (413), as problem+json;
    adds security headers to every answer."""

    def __init__(self, app: Any, max_body_bytes: int, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.hosts = hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = dict(scope["headers"])
        if not host_allowed(headers.get(b"host", b""), self.hosts):
            await self._refuse(send, path, 400, "Bad Request", "This host name is not served here.")
            return
        problem = query_problem(scope.get("query_string", b""), scope.get("raw_path") or b"")
        if problem is not None:
            await self._refuse(send, path, *problem)
            return
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body_bytes:
            detail = (
                f"Request bodies are limited to {self.max_body_bytes} bytes; the API reads none."
            )
            await self._refuse(send, path, 413, "Content Too Large", detail)
            return
        if path == DOCS_PATH:
            await self._docs(scope, receive, send)
            return

        async def secure(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"content-security-policy", API_CSP))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secure)

    async def _refuse(self, send: Any, path: str, status: int, title: str, detail: str) -> None:
        body = _problem(status, title, detail, path)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _docs(self, scope: Any, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":  # pragma: no cover
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [
                (n, v) for n, v in start.get("headers", []) if n.lower() != b"content-length"
            ]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", docs_csp(body)),
                (b"referrer-policy", b"no-referrer"),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, buffer)


class GuardedLitestar(Litestar):
    """Litestar with the guard around everything: Litestar's own middleware runs only for
    matched routes, but a 404, 405 or an unknown host must be guarded too."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = GuardMiddleware(
            super().__call__, max_body_bytes=settings.max_body_bytes, hosts=settings.allowed_hosts
        )

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        await self.guard(scope, receive, send)
