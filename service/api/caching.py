"""Conditional GETs: a strong ETag on every successful answer, 304 when the client has it."""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.settings import Settings


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if if_none_match.strip() == b"*":
        return True
    wanted = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return etag in wanted


class CachingMiddleware:
    """Buffers GET answers to tag them; the body of a list page is small and bounded."""

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.cache_control = f"public, max-age={max_age}".encode()

    @classmethod
    def define(cls, settings: Settings) -> DefineMiddleware:
        return DefineMiddleware(cls, max_age=settings.cache_max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") not in {"GET", "HEAD"}:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._finish(scope, send, start, b"".join(chunks))
            else:  # pragma: no cover - http.response.trailers etc. are not used here
                await send(message)

        await self.app(scope, receive, buffer)

    async def _finish(self, scope: Scope, send: Any, start: dict[str, Any], body: bytes) -> None:
        status = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        if status == 200:
            tag = etag_of(body)
            names = {name.lower() for name, _ in headers}
            headers.append((b"etag", tag))
            if b"cache-control" not in names:
                headers.append((b"cache-control", self.cache_control))
            if b"vary" not in names:
                headers.append((b"vary", b"Accept-Encoding"))
            request_headers = dict(scope["headers"])
            if_none_match = request_headers.get(b"if-none-match")
            if if_none_match is not None and matches(if_none_match, tag):
                keep = {b"etag", b"cache-control", b"vary", b"link", b"content-location"}
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": [(n, v) for n, v in headers if n.lower() in keep],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
