"""gzip of answers sent whole, as a step of the one middleware rather than a layer of its
own: the guard already holds every such answer's body, and Litestar's compression
middleware cost a page a wrapper and a parse of the request's headers (bench/RESULTS.md).
Exports, which stream, keep Litestar's middleware on their routes (`STREAMING`)."""

from __future__ import annotations

import gzip
from typing import Any

from litestar.config.compression import CompressionConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.compression import CompressionMiddleware

LEVEL = 3
"""Litestar's default, 9, cost a page as much CPU as all else (bench/RESULTS.md)."""
MINIMUM_SIZE = 1024
"""Smaller answers are sent as they are: gzip's header and a round of deflate cost more
than the bytes they save."""

STREAMING = DefineMiddleware(
    CompressionMiddleware,
    config=CompressionConfig(backend="gzip", minimum_size=MINIMUM_SIZE, gzip_compress_level=LEVEL),
)
"""Litestar's compression, for the routes that stream their answer (the exports)."""


def accepted(request_headers: dict[bytes, bytes]) -> bool:
    """The client reads gzip (as Litestar's middleware decides it: the word is named)."""
    return b"gzip" in request_headers.get(b"accept-encoding", b"")


def zipped(
    headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """The answer's headers and body gzipped, or None when it is left as it is (too small,
    or already encoded). No time is stamped in the gzip header (RFC 1952 MTIME 0), so one
    answer is the same bytes, and has the same ETag, on every worker and every second."""
    if len(body) < MINIMUM_SIZE:
        return None
    kept: list[tuple[bytes, bytes]] = []
    vary = b""
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-encoding":
            return None
        if lower == b"vary":
            vary = value
        elif lower != b"content-length":
            kept.append((name, value))
    body = gzip.compress(body, compresslevel=LEVEL, mtime=0)
    if b"accept-encoding" not in vary.lower():
        vary = vary + b", Accept-Encoding" if vary else b"Accept-Encoding"
    kept += [
        (b"content-encoding", b"gzip"),
        (b"content-length", b"%d" % len(body)),
        (b"vary", vary),
    ]
    return kept, body


def whole(send: Any) -> Any:
    """`send`, gzipping an answer sent in one body message (the write routes' answers);
    one sent in parts goes as it is."""
    start: dict[str, Any] = {}

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if start and message["type"] == "http.response.body":
            first = dict(start)
            start.clear()
            if not message.get("more_body", False):
                done = zipped(list(first.get("headers", [])), message.get("body", b""))
                if done is not None:
                    first["headers"], message = done[0], {**message, "body": done[1]}
            await send(first)
        await send(message)

    return sending
