"""Counters every worker and replica share: requests and failed authentications per client
address and window, in PostgreSQL's primary (an UNLOGGED table, one upsert a count) or in
Redis when REDIS_URL is set (one MULTI a count).

A window opens on a key's first count and lasts WINDOW seconds. When the store cannot be
reached, each process counts alone until it can again: limits loosen, nothing fails.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import psycopg
import redis.asyncio
import redis.exceptions
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from service.settings import Settings

WINDOW = 60
"""Seconds of a window: limits are per minute."""
SWEEP_EVERY = 60.0
"""Seconds between one process's deletions of ended windows from the table."""
AWAY = 1.0
"""Seconds a process counts alone after the store failed to answer, before asking again."""

log = logging.getLogger(__name__)

ADD = (
    "INSERT INTO rate_counts AS c (key, used, ends) "
    f"VALUES (%(key)s, %(n)s, now() + interval '{WINDOW} seconds') "
    "ON CONFLICT (key) DO UPDATE SET "
    "used = CASE WHEN c.ends <= now() THEN excluded.used ELSE c.used + excluded.used END, "
    "ends = CASE WHEN c.ends <= now() THEN excluded.ends ELSE c.ends END "
    "RETURNING used, extract(epoch FROM ends - now())::float8"
)


PEEK = (
    "SELECT used, extract(epoch FROM ends - now())::float8 FROM rate_counts "
    "WHERE key = %(key)s AND ends > now()"
)


class Counts(Protocol):
    async def add(self, key: str, n: int) -> tuple[int, float]:
        """Add `n` to the count of `key`'s window, opening one if none is open; the count
        after, and the seconds left in the window."""
        ...

    async def peek(self, key: str) -> tuple[int, float]:
        """The count of `key`'s open window and its seconds left, (0, 0.0) when none is
        open; writes nothing."""
        ...


class MemoryCounts:
    """One process's counts: what each process falls back to while the store is away."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, float]] = {}

    async def add(self, key: str, n: int) -> tuple[int, float]:
        now = time.monotonic()
        used, ends = self.windows.get(key, (0, 0.0))
        if ends <= now:
            if len(self.windows) >= 10_000:
                self.windows = {k: w for k, w in self.windows.items() if w[1] > now}
            used, ends = 0, now + WINDOW
        self.windows[key] = (used + n, ends)
        return used + n, ends - now

    async def peek(self, key: str) -> tuple[int, float]:
        used, ends = self.windows.get(key, (0, 0.0))
        left = ends - time.monotonic()
        return (used, left) if left > 0 else (0, 0.0)


class PostgresCounts:
    """Counts in the table `rate_counts` of the primary: UNLOGGED (a crash forgets a minute
    of counts, and writing them costs no WAL), a row per key."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self.swept = time.monotonic()

    async def open(self) -> None:
        from service.database import pool

        self.pool = pool(self.url, name="crisis-facts-counts", sizes=(1, 2), timeout=self.timeout)
        await self.pool.open(wait=False)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def add(self, key: str, n: int) -> tuple[int, float]:
        assert self.pool is not None, "open() first"
        async with self.pool.connection() as conn:
            row = await (await conn.execute(ADD, {"key": key, "n": n})).fetchone()
            if time.monotonic() - self.swept > SWEEP_EVERY:
                self.swept = time.monotonic()
                await conn.execute("DELETE FROM rate_counts WHERE ends < now()")
        assert row is not None
        return int(row[0]), float(row[1])

    async def peek(self, key: str) -> tuple[int, float]:
        assert self.pool is not None, "open() first"
        async with self.pool.connection() as conn:
            row = await (await conn.execute(PEEK, {"key": key})).fetchone()
        return (0, 0.0) if row is None else (int(row[0]), float(row[1]))


class RedisCounts:
    """Counts in Redis, a key per window that expires with it."""

    def __init__(self, url: str, timeout: float) -> None:
        self.client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        await self.client.aclose()

    async def add(self, key: str, n: int) -> tuple[int, float]:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=WINDOW, nx=True)
            pipe.incrby(key, n)
            pipe.pttl(key)
            _, used, left_ms = await pipe.execute()
        return int(used), max(0, int(left_ms)) / 1000

    async def peek(self, key: str) -> tuple[int, float]:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.pttl(key)
            used, left_ms = await pipe.execute()
        return (0, 0.0) if used is None or left_ms <= 0 else (int(used), left_ms / 1000)


class SharedCounts:
    """The store the settings name, opened with the app; this process's own counts while it
    cannot be reached (a limit must not turn into an outage), asking again after a second."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: PostgresCounts | RedisCounts | None = None
        self.alone = MemoryCounts()
        self.away_until = 0.0

    async def open(self, database_url: str) -> None:
        settings = self.settings
        if settings.redis_url:
            self.store = RedisCounts(settings.redis_url, settings.pool_timeout)
        else:
            self.store = PostgresCounts(database_url, settings.pool_timeout)
        await self.store.open()

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()

    def in_primary(self) -> bool:
        """True when the counts are the primary's table and it answers: a caller already
        asking the primary may read a count in the same statement (service.keys)."""
        return isinstance(self.store, PostgresCounts) and time.monotonic() >= self.away_until

    async def add(self, key: str, n: int) -> tuple[int, float]:
        if self.store is None or time.monotonic() < self.away_until:
            return await self.alone.add(key, n)
        try:
            return await self.store.add(key, n)
        except (psycopg.Error, PoolTimeout, redis.exceptions.RedisError, OSError) as error:
            self._away(error)
            return await self.alone.add(key, n)

    async def peek(self, key: str) -> tuple[int, float]:
        if self.store is None or time.monotonic() < self.away_until:
            return await self.alone.peek(key)
        try:
            return await self.store.peek(key)
        except (psycopg.Error, PoolTimeout, redis.exceptions.RedisError, OSError) as error:
            self._away(error)
            return await self.alone.peek(key)

    def _away(self, error: Exception) -> None:
        log.warning("shared counts unreachable, counting alone: %s", error)
        self.away_until = time.monotonic() + AWAY
