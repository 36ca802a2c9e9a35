"""Reads on hot standbys (DATABASE_READ_URLS), and the rules that keep what clients see
consistent while standbys trail the primary (README, "Read replicas"):

- each process serves from a dataset version (its *floor*) that only moves forward: a read
  goes to a standby that has replayed at least that far, else to the primary;
- a client that wrote carries the version it wrote in a cookie: its reads go where that
  version is, which is the primary until a standby has replayed it;
- every answer's version is read from the database that answered, after it answered; an
  answer is kept for others only when that version is the one the database had when the
  read began (so exactly the answer's), which is the process's floor;
- a standby that does not answer, or trails the primary's WAL by more than
  REPLICA_MAX_LAG seconds, leaves the rotation, and comes back once it is whole again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service import schemas
from service.database import WATCH_EVERY, Position, make_read_pool, watch
from service.queries import Conn, dataset_version
from service.settings import Settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

COOKIE = "crisis_facts_wrote"
"""Holds the dataset version a client's last write made: its next reads must show it."""
COOKIE_AGE = 600
"""Seconds the cookie lasts; once a standby has replayed its version it changes nothing."""
READING = "crisis_facts.reading"
"""The key of a request's Reading in its ASGI scope's state."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(eq=False)
class Database:
    """One server reads may go to, as this process last saw it."""

    name: str
    url: str
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    version: int | None = None
    """The dataset version it has replayed, as read from it."""
    lsn: int | None = None
    lag: float = math.inf
    serving: bool = False
    """In the rotation: answering, and within REPLICA_MAX_LAG of the primary."""


@dataclass(slots=True)
class Reading:
    """What one request needs from the database, and what its reads got."""

    at_least: int
    """The version it must see: the process's floor, or its client's write if later."""
    cache_ok: bool
    """Answers kept at the floor are recent enough for it (no later write of its own)."""
    database: Database | None = None
    exact: bool = True
    """Every read was of exactly the version its database had when the read began."""


def written_version(headers: list[tuple[bytes, bytes]]) -> int:
    """The version in the request's cookie; 0 without one (or with one not a number)."""
    for name, value in headers:
        if name != b"cookie":
            continue
        for part in value.split(b";"):
            key, _, number = part.strip().partition(b"=")
            if key == COOKIE.encode() and number.isdigit() and len(number) < 19:
                return int(number)
    return 0


@dataclass
class WalHistory:
    """When this process first saw the primary's WAL reach each position: a standby that has
    not replayed a position is behind by at least the time since the primary had it."""

    keep: int
    seen: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)

    def add(self, now: float, lsn: int) -> None:
        if not self.seen or lsn > self.seen[-1][1]:
            self.seen.append((now, lsn))
            while len(self.seen) > self.keep:
                self.seen.popleft()

    def lag(self, now: float, replayed: int) -> float:
        for when, lsn in self.seen:
            if lsn > replayed:
                return now - when
        return 0.0

    def forget_before(self, replayed: int) -> None:
        """Positions every standby has replayed say nothing more."""
        while len(self.seen) > 1 and self.seen[0][1] <= replayed:
            self.seen.popleft()


Follow = Callable[[bool, int | None], None]


class Reads:
    """Chooses the database of each read and keeps the process's floor; `follow(live,
    version)` hears every move of the floor (the answer cache, the changes feed's waiters)."""

    def __init__(self, settings: Settings, follow: Follow) -> None:
        self.settings = settings
        self.max_lag = settings.replica_max_lag
        self.follow = follow
        self.floor = 0
        self.live = False
        self.standbys: list[Database] = []
        self.primary: Database | None = None
        self.history = WalHistory(keep=max(1000, math.ceil(self.max_lag / WATCH_EVERY) + 10))
        self.turn = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, url: str, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        """Start with the primary's read pool and a pool per standby, each watched."""
        self.primary = Database("primary", url, pool)
        for index, standby_url in enumerate(self.settings.database_read_urls):
            standby_pool = make_read_pool(self.settings, standby_url)
            await standby_pool.open(wait=False)
            self.standbys.append(Database(f"standby {index + 1}", standby_url, standby_pool))
        self.tasks = [asyncio.create_task(watch(url, self._saw_primary))]
        for standby in self.standbys:
            self.tasks.append(asyncio.create_task(watch(standby.url, self._watcher(standby))))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=2)
        for standby in self.standbys:
            await standby.pool.close()

    def begin(self, scope: Any) -> Reading:
        """The Reading of a GET, kept in its scope for `fetch`."""
        wrote = written_version(scope["headers"])
        reading = Reading(at_least=max(self.floor, wrote), cache_ok=wrote <= self.floor)
        scope["state"][READING] = reading
        return reading

    async def fetch(
        self,
        scope: Any,
        query: Callable[Concatenate[Conn, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run one function of service.queries where the request's Reading may read; a
        standby that fails it leaves the rotation and the primary answers instead."""
        assert self.primary is not None
        reading: Reading | None = scope.get("state", {}).get(READING)
        if reading is None:
            reading = Reading(at_least=self.floor, cache_ok=True)
        database = reading.database or self.choose(reading.at_least)
        if database is not self.primary:
            try:
                return await self._read(reading, database, query, *args, **kwargs)
            except psycopg.errors.QueryCanceled:
                raise  # its statement timeout: as slow on the primary
            except (psycopg.OperationalError, psycopg.errors.SerializationFailure) as exc:
                # Down, or a conflict with recovery: the read is retried on the primary.
                self._leave(database, exc)
        return await self._read(reading, self.primary, query, *args, **kwargs)

    def choose(self, at_least: int) -> Database:
        """A standby in the rotation that has replayed `at_least`, in turn; else the primary."""
        assert self.primary is not None
        ready = [
            standby
            for standby in self.standbys
            if standby.serving and standby.version is not None and standby.version >= at_least
        ]
        if not ready:
            return self.primary
        self.turn += 1
        return ready[self.turn % len(ready)]

    async def _read(
        self,
        reading: Reading,
        database: Database,
        query: Callable[Concatenate[Conn, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        known = database.version
        conn = await database.pool.getconn()
        try:
            result = await query(conn, *args, **kwargs)
            version = await dataset_version(conn)  # after the answer: at least its version
        finally:
            await database.pool.putconn(conn)
        reading.database = database
        reading.exact = reading.exact and version is not None and version == known
        if version is not None:
            database.version = max(version, database.version or 0)
            self.raise_floor(version)
        return result

    def standing(self) -> list[schemas.Standby]:
        """Each standby as this process last saw it, for /ready."""
        return [
            schemas.Standby(
                name=standby.name,
                serving=standby.serving,
                dataset_version=standby.version,
                lag_seconds=None if math.isinf(standby.lag) else round(standby.lag, 3),
            )
            for standby in self.standbys
        ]

    def raise_floor(self, version: int) -> None:
        if version > self.floor:
            self.floor = version
            if self.live:
                self.follow(True, version)

    def _leave(self, database: Database, exc: Exception) -> None:
        if database.serving:
            log.warning("%s leaves the read rotation: %s", database.name, exc)
        database.serving = False

    async def remember_write(self, message: Any, scope: Any) -> None:
        """A before_send hook: a write's success carries the version it made, in a cookie,
        and this process serves from it on."""
        if (
            message["type"] != "http.response.start"
            or scope["method"] not in WRITES
            or message["status"] >= 300
        ):
            return
        assert self.primary is not None
        try:
            async with self.primary.pool.connection() as conn:
                version = await dataset_version(conn)
        except psycopg.Error:
            return  # the write is made: its answer goes out, without the cookie
        if version is None:
            return
        self.raise_floor(version)
        cookie = f"{COOKIE}={version}; Max-Age={COOKIE_AGE}; Path=/; HttpOnly; SameSite=Lax"
        message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]

    async def _saw_primary(self, position: Position | None) -> None:
        assert self.primary is not None
        was = self.primary.serving
        self.primary.serving = position is not None
        if position is not None:
            self.history.add(time.monotonic(), position.lsn)
            self.primary.version = position.version
        if was != self.primary.serving:
            # Its idle connections died with it, or it is back: replace the dead ones now.
            await self.primary.pool.check()
        self._review()

    def _watcher(self, standby: Database) -> Callable[[Position | None], Awaitable[None]]:
        async def saw(position: Position | None) -> None:
            await self._saw_standby(standby, position)

        return saw

    async def _saw_standby(self, standby: Database, position: Position | None) -> None:
        if position is None:
            self._leave(standby, ConnectionError("it does not answer"))
            standby.lag = math.inf
        else:
            standby.lag = self.history.lag(time.monotonic(), position.lsn)
            standby.lsn = position.lsn
            standby.version = position.version
            whole = standby.lag <= self.max_lag and position.version is not None
            if whole and not standby.serving:
                await standby.pool.check()  # connections from before it left may be dead
                log.info("%s joins the read rotation", standby.name)
            elif not whole:
                self._leave(standby, ConnectionError(f"{standby.lag:.1f} s behind"))
            standby.serving = whole
            replayed = [s.lsn for s in self.standbys if s.lsn is not None]
            if len(replayed) == len(self.standbys):
                self.history.forget_before(min(replayed))
        self._review()

    def _review(self) -> None:
        """Raise the floor to what the rotation has replayed (the primary's version when no
        standby serves) and tell whether anything answers at all."""
        assert self.primary is not None
        versions = [s.version for s in self.standbys if s.serving and s.version is not None]
        if not versions and self.primary.serving and self.primary.version is not None:
            versions = [self.primary.version]
        live = any(s.serving for s in self.standbys) or self.primary.serving
        if live != self.live:
            self.live = live
            self.follow(live, self.floor if live else None)
        if versions:
            self.raise_floor(max(versions))
