"""Requests per client address and minute: a count and the end of its window.

The rule and the headers are Litestar's RateLimitMiddleware's (a window opens on an
address's first request and lasts a minute; IETF RateLimit headers on every answer, 429
past the limit), kept as two numbers instead of a list of every request's time encoded
to JSON and back on each request (bench/RESULTS.md).
"""

from __future__ import annotations

import re
import time
from typing import Any

from litestar.exceptions import TooManyRequestsException

WINDOW = 60
"""Seconds of a window: the limit is per minute."""
MAX_ADDRESSES = 10_000
"""Past this many addresses, those whose window has ended are forgotten."""


class RateLimiter:
    """Counts each address's requests in its current window; `exclude` are path patterns
    (searched, as Litestar searches them) never counted."""

    def __init__(self, per_minute: int, exclude: list[str]) -> None:
        self.per_minute = per_minute
        self.policy = f"{per_minute}; w={WINDOW}".encode()
        self.limit = str(per_minute).encode()
        self.exclude = re.compile("|".join(exclude)) if exclude else None
        self.windows: dict[str, list[int]] = {}  # key -> [requests, end of window]

    def headers(self, scope: Any) -> list[tuple[bytes, bytes]] | None:
        """Counts the request and answers its RateLimit headers; None when it is not counted.
        Raises 429 past the limit."""
        if self.exclude is not None and self.exclude.search(scope["path"]):
            return None
        now = int(time.time())
        key = _key(scope)
        window = self.windows.get(key)
        if window is None or window[1] <= now:
            if len(self.windows) >= MAX_ADDRESSES:
                self._forget(now)
            window = self.windows[key] = [0, now + WINDOW]
        if window[0] >= self.per_minute:
            raise TooManyRequestsException(headers=self._named(window, now))
        window[0] += 1
        return [
            (b"ratelimit-policy", self.policy),
            (b"ratelimit-limit", self.limit),
            (b"ratelimit-remaining", str(max(0, self.per_minute - window[0])).encode()),
            (b"ratelimit-reset", str(window[1] - now).encode()),
        ]

    def _named(self, window: list[int], now: int) -> dict[str, str]:
        return {
            "RateLimit-Policy": self.policy.decode(),
            "RateLimit-Limit": str(self.per_minute),
            "RateLimit-Remaining": str(max(0, self.per_minute - window[0])),
            "RateLimit-Reset": str(window[1] - now),
        }

    def _forget(self, now: int) -> None:
        self.windows = {k: w for k, w in self.windows.items() if w[1] > now}


def _key(scope: Any) -> str:
    """The client's address; mounted apps and static files count apart, as in Litestar."""
    client = scope.get("client")
    key = client[0] if client else "127.0.0.1"
    handler = scope.get("route_handler")
    if getattr(handler, "is_mount", False):
        key += "::mount"
    if getattr(handler, "is_static", False):
        key += "::static"
    return key
