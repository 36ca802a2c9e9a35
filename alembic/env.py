"""Runs migrations against the URL the caller put in `config.attributes["url"]`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from service.database import make_engine
from service.migrations import MIGRATE_LOCK
from service.models import Base
from service.webhooks import tables as _webhook_tables  # noqa: F401  (registers its tables)

config = context.config
target_metadata = Base.metadata


def migrate() -> None:
    with context.begin_transaction():
        context.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})"))
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        migrate()
        return
    engine = make_engine(config.attributes["url"])
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            migrate()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: give a database URL")
run_migrations_online()
