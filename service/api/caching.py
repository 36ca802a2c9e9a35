"""Answers from memory while the data cannot have changed, and conditional GETs.

The data changes only when a change commits, and every change NOTIFYs the version it
made. Each worker keeps the answers it has built, keyed by URL, and when a notification
arrives drops those the change could alter (service.api.reach: a curator's edit of a fact
leaves the other crises and kinds alone), or all of them after a load, a missed version,
or when its listening connection is lost, since it could then miss one (so during a
database outage every request goes to the database and gets its honest 503). Every 200
carries a strong ETag; a matching If-None-Match gets 304.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.api import negotiation, reach, zipping
from service.api.asgi import header_value
from service.settings import Settings
from service.touched import Touched

if TYPE_CHECKING:
    from service.replicas import Reads

log = logging.getLogger(__name__)

CACHED_PREFIX = "/v1/"
"""Only data answers are kept: /ready and /health must say what is true now."""


def etag_of(body: bytes) -> bytes:
    """128 bits of SHA-256: CPUs hash it in hardware, about 3 times faster than BLAKE2b here,
    and a page's body is hashed on every answer built."""
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


def given_etag(headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The ETag a handler set from what it read (stored answers carry digests), else the
    body's."""
    for name, value in headers:
        if name.lower() == b"etag":
            return value
    return etag_of(body)


def zipped_etag(etag: bytes) -> bytes:
    """A gzipped body is another representation: its tag differs from the plain one's."""
    return etag[:-1] + b'-gzip"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if if_none_match.strip() == b"*":
        return True
    wanted = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return etag in wanted


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    no_store: bool = False
    """The handler said `no-store`: the answer depends on when it was asked."""


class ResponseCache:
    """Answers by URL for the current dataset version; empty whenever that is unknown."""

    def __init__(self, max_entries: int, max_bytes: int = 64 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: OrderedDict[bytes, Answer] = OrderedDict()
        self.tags: dict[bytes, reach.Tag] = {}  # each kept answer's, and the answers of each
        self.tagged: dict[reach.Tag, set[bytes]] = {}
        self.generation = 0  # bumped on every invalidation: a slow request cannot store stale data
        self.live = False  # True only while a listener is connected and has read the version
        self.version: int | None = None
        self.hits = 0  # answers served from memory, and answers that had to be built
        self.misses = 0

    def get(self, key: bytes) -> Answer | None:
        answer = self.entries.get(key) if self.live else None
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return answer

    def report(self) -> None:
        """Log the hits and misses so far (when a worker stops: bench/hitrate.py reads it)."""
        log.info("answer cache: %d hits, %d misses", self.hits, self.misses)

    def put(self, key: bytes, answer: Answer, generation: int, tag: reach.Tag = reach.ANY) -> None:
        """Keep `answer`, unless a change was told since `generation` (when its request
        began): it may have been read before that change."""
        if not self.live or generation != self.generation or self.max_entries <= 0:
            return
        if len(answer.body) > self.max_bytes:
            return
        self._remove(key)
        self.entries[key] = answer
        self.bytes += len(answer.body)
        self.tags[key] = tag
        self.tagged.setdefault(tag, set()).add(key)
        while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
            self._remove(next(iter(self.entries)))

    def _remove(self, key: bytes) -> None:
        answer = self.entries.pop(key, None)
        if answer is None:
            return
        self.bytes -= len(answer.body)
        tag = self.tags.pop(key)
        keys = self.tagged[tag]
        keys.discard(key)
        if not keys:
            del self.tagged[tag]

    def invalidate(self, live: bool, version: int | None = None) -> None:
        self.entries.clear()
        self.tags.clear()
        self.tagged.clear()
        self.bytes = 0
        self.generation += 1
        self.live = live
        self.version = version

    def forget(self, touched: Touched | None) -> None:
        """Drop the answers a change could alter: every one when it is not known."""
        if touched is None:
            self.invalidate(self.live, self.version)
            return
        self.generation += 1
        for tag in reach.touched_tags(touched):
            for key in list(self.tagged.get(tag, ())):
                self._remove(key)

    def follow(self, live: bool, version: int | None, touched: Touched | None = None) -> None:
        """The database listener's callback: the news of the version after ours drops what
        it touched; any other news, every answer."""
        if live and self.live and version == self.version:
            return
        if self.live and not live:
            log.warning("answer cache off: the database is unreachable")
        following = self.version is not None and version == self.version + 1
        if live and self.live and following and touched is not None:
            self.forget(touched)
            self.version = version
            return
        self.invalidate(live, version)


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PRIVATE = b"private, no-store"
"""The Cache-Control of an answer to a request made with an API key."""


def _streamed(scope: Any) -> bool:
    """Exports stream their answer as they read it: never buffered, kept or tagged."""
    handler = scope.get("route_handler")
    return handler is not None and bool(handler.opt.get("streamed"))


class Caching:
    """Serves and stores /v1 answers through the cache, and tags every 200 with an ETag:
    a stage of service.api.guards.GuardMiddleware, the one middleware of every request."""

    def __init__(
        self, cache_control: str, cache: ResponseCache | None, reads: Reads | None = None
    ) -> None:
        self.cache_control = cache_control.encode()
        self.cache = cache
        self.reads = reads

    @classmethod
    def of(
        cls, settings: Settings, cache: ResponseCache | None, reads: Reads | None = None
    ) -> Caching:
        return cls(f"public, max-age={settings.cache_max_age}", cache, reads)

    @staticmethod
    def applies(scope: Any) -> bool:
        """GET answers, but for exports, which stream theirs as they read it."""
        return scope["method"] == "GET" and not _streamed(scope)

    async def serve(
        self,
        scope: Any,
        receive: Any,
        send: Any,
        app: Any,
        extra: list[tuple[bytes, bytes]],
        plain: bool = False,
    ) -> None:
        """Answer from the cache, else from `app`; `extra` headers go on the answer sent,
        not on the one kept; `plain`: never gzipped (the docs page, whose CSP is read off
        its body)."""
        request_headers = dict(scope["headers"])
        if_none_match = request_headers.get(b"if-none-match")
        # An answer to a request made with a key is that key's alone: never kept or shared.
        private = b"authorization" in request_headers
        # One whose Accept refuses what the path serves is the route's to refuse (406).
        refused = negotiation.refuses(scope["path"], header_value(scope, b"accept"))
        shared = scope["path"].startswith(CACHED_PREFIX) and not private and not refused
        cache = self.cache if shared else None
        # With standbys, what this request may be answered from (service.replicas).
        reading = self.reads.begin(scope) if self.reads is not None else None
        gzip = not plain and zipping.accepted(request_headers)
        key = b""
        if cache is not None and (reading is None or reading.cache_ok):
            origin = request_headers.get(b"origin", b"")
            key = b"%s?%s|%d|%s" % (scope["path"].encode(), scope["query_string"], gzip, origin)
            answer = cache.get(key)
            if answer is not None:
                await self._send(send, answer, if_none_match, extra)
                return
        generation = cache.generation if cache is not None else 0
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answer = self._answer(start, b"".join(chunks), private, gzip)
                    exact = reading is None or reading.exact
                    if cache is not None and answer.status == 200 and not answer.no_store:
                        if exact:  # read at the very version the cache is of
                            tag = reach.tag_of(scope["path"], scope["query_string"])
                            cache.put(key, answer, generation, tag)
                    await self._send(send, answer, if_none_match, extra)
            else:  # pragma: no cover - no other message is sent for HTTP
                await send(message)

        await app(scope, receive, buffer)

    def forgetting(self, scope: Any, send: Any) -> Any:
        """`send`, dropping the kept answers a write touched before its success is told: its
        client's next read must show it, and this worker's NOTIFY comes a moment after the
        commit. A write route says what it touched in the request's state (`touched`);
        from any other, every answer goes."""
        if scope["method"] not in WRITES:
            return send

        async def forget(message: Any) -> None:
            if (
                self.cache is not None
                and message["type"] == "http.response.start"
                and message["status"] < 300
            ):
                self.cache.forget(scope.get("state", {}).get("touched"))
            await send(message)

        return forget

    def _answer(self, start: dict[str, Any], body: bytes, private: bool, gzip: bool) -> Answer:
        """The answer as sent and kept: a 200 tagged from its plain body, then gzipped if
        the client reads gzip."""
        status: int = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        etag = b""
        no_store = False
        if status == 200:
            names = set()
            for name, value in headers:
                names.add(name.lower())
                no_store = no_store or (name.lower() == b"cache-control" and b"no-store" in value)
            etag = given_etag(headers, body)
            if b"etag" not in names:
                headers.append((b"etag", etag))
            if b"cache-control" not in names:
                headers.append((b"cache-control", PRIVATE if private else self.cache_control))
            if b"vary" not in names:
                headers.append((b"vary", b"Accept-Encoding, Origin"))
        done = zipping.zipped(headers, body) if gzip else None
        if done is not None:
            headers, body = done
            if etag:
                etag = zipped_etag(etag)
                headers = [(n, etag if n.lower() == b"etag" else v) for n, v in headers]
        return Answer(status, headers, body, etag, no_store)

    @staticmethod
    async def _send(
        send: Any, answer: Answer, if_none_match: bytes | None, extra: list[tuple[bytes, bytes]]
    ) -> None:
        if (
            answer.status == 200
            and if_none_match is not None
            and matches(if_none_match, answer.etag)
        ):
            keep = {b"etag", b"cache-control", b"vary", b"link"}
            headers = [(n, v) for n, v in answer.headers if n.lower() in keep]
            await send({"type": "http.response.start", "status": 304, "headers": headers + extra})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = answer.headers + extra if extra else answer.headers
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
