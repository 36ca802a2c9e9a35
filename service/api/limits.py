"""Requests per client address and minute, counted once for every worker and replica.

The rule and the headers are Litestar's RateLimitMiddleware's (a window opens on an
address's first request and lasts a minute; IETF RateLimit headers on every answer, 429
past the limit). The count lives in a shared store (service.counts): PostgreSQL's
primary, or Redis when REDIS_URL is set. A process asks the store for a few requests at a
time (a lease, doubling from one), so a busy client costs a round trip per lease, not per
request; leased requests a process does not use are lost, so a client may be refused a
little before the limit, never allowed past it (bench/RESULTS.md, issue 25).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from litestar.exceptions import TooManyRequestsException

from service.counts import WINDOW, Counts, SharedCounts

MAX_ADDRESSES = 10_000
"""Past this many addresses, those whose window has ended are forgotten."""
LEASE_MAX = 64
"""Most requests one process takes from the store at once."""
LEASE_SHARE = 16
"""A lease is at most this fraction of what is left: near the limit, leases are single
requests, so that requests leased and left unused elsewhere stay few."""


@dataclass(slots=True)
class Lease:
    """What this process knows of one address's window."""

    tokens: int = 0
    """Requests this process may still allow without asking the store."""
    used: int = 0
    """The shared count when the store was last asked."""
    ends: float = 0.0
    """When the window ends, on this process's monotonic clock."""
    size: int = 0
    """Requests asked for last time; the next lease asks for twice as many."""


class RateLimiter:
    """Counts each address's requests in its current window; `exclude` are path patterns
    (searched, as Litestar searches them) never counted."""

    def __init__(
        self, per_minute: int, exclude: list[str], counts: Counts, lease_max: int = LEASE_MAX
    ) -> None:
        self.per_minute = per_minute
        self.counts = counts
        self.lease_max = lease_max
        self.policy = f"{per_minute}; w={WINDOW}".encode()
        self.limit = str(per_minute).encode()
        self.exclude = re.compile("|".join(exclude)) if exclude else None
        self.leases: dict[str, Lease] = {}

    async def headers(self, scope: Any) -> list[tuple[bytes, bytes]] | None:
        """Counts the request and answers its RateLimit headers; None when it is not counted.
        Raises 429 past the limit."""
        if self.exclude is not None and self.exclude.search(scope["path"]):
            return None
        now = time.monotonic()
        key = _key(scope)
        lease = self.leases.get(key)
        if lease is None or lease.ends <= now:
            if len(self.leases) >= MAX_ADDRESSES:
                self._forget(now)
            lease = self.leases[key] = Lease()
        if lease.tokens == 0 and lease.used < self.per_minute:
            await self._renew(f"rate:{self.per_minute}:{key}", lease, now)
        if lease.tokens == 0:  # the shared count never falls within a window
            raise TooManyRequestsException(headers=self._named(lease, now))
        lease.tokens -= 1
        return [
            (b"ratelimit-policy", self.policy),
            (b"ratelimit-limit", self.limit),
            (b"ratelimit-remaining", str(self._remaining(lease)).encode()),
            (b"ratelimit-reset", str(_reset(lease, now)).encode()),
        ]

    async def _renew(self, key: str, lease: Lease, now: float) -> None:
        left = self.per_minute - lease.used
        want = min(max(1, lease.size * 2), max(1, left // LEASE_SHARE), self.lease_max)
        used, seconds = await self.counts.add(key, want)
        lease.tokens = max(0, min(want, self.per_minute - (used - want)))
        lease.used = used
        lease.size = want
        lease.ends = now + seconds

    def _remaining(self, lease: Lease) -> int:
        return max(0, self.per_minute - lease.used + lease.tokens)

    def _named(self, lease: Lease, now: float) -> dict[str, str]:
        return {
            "RateLimit-Policy": self.policy.decode(),
            "RateLimit-Limit": str(self.per_minute),
            "RateLimit-Remaining": str(self._remaining(lease)),
            "RateLimit-Reset": str(_reset(lease, now)),
        }

    def _forget(self, now: float) -> None:
        self.leases = {k: w for k, w in self.leases.items() if w.ends > now}


class Failures:
    """Failed authentications per client address and minute, counted in the shared store:
    past the limit, the address gets 429 until its window ends, on every replica, so that
    tokens cannot be guessed fast by spreading the guesses."""

    def __init__(self, per_minute: int, counts: SharedCounts) -> None:
        self.per_minute = per_minute
        self.counts = counts

    async def blocked(self, address: str) -> int | None:
        """Seconds to wait when `address` is over the limit, else None (0 turns it off)."""
        if self.per_minute <= 0:
            return None
        return self.wait(*await self.counts.peek(self.key(address)))

    def wait(self, used: int, seconds: float) -> int | None:
        """Seconds to wait for a window holding `used` failures with `seconds` left."""
        if self.per_minute <= 0 or used < self.per_minute:
            return None
        return max(1, round(seconds))

    def in_primary(self) -> bool:
        """True when the count can be read beside the key, in the same statement."""
        return self.per_minute > 0 and self.counts.in_primary()

    async def add(self, address: str) -> None:
        if self.per_minute > 0:
            await self.counts.add(self.key(address), 1)

    def key(self, address: str) -> str:
        return f"auth:{self.per_minute}:{address}"


def _reset(lease: Lease, now: float) -> int:
    return max(0, round(lease.ends - now))


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
