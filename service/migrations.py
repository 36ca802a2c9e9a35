"""alembic, driven from Python: upgrade to head, and tell whether a database is there."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql

from service.database import libpq_url
from service.settings import CHECKOUT, PROJECT_ROOT, shipped

MIGRATE_LOCK = 727_002
"""pg_advisory_xact_lock key held while migrating and granting: replicas that all migrate
at start take turns, and the later ones find the schema at head instead of racing."""


def alembic_config(url: str | None = None, connection: sa.Connection | None = None) -> Config:
    """The checkout's pyproject.toml (as the `alembic` command reads it), or, installed,
    the migrations shipped with the code."""
    if CHECKOUT:
        config = Config(toml_file=PROJECT_ROOT / "pyproject.toml")
    else:
        config = Config()
        config.set_main_option("script_location", str(shipped("alembic")))
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head", read_role: str = "crisis_facts_reader") -> None:
    """Migrate, then (re)grant the read-only role the serving connections act as."""
    command.upgrade(alembic_config(url), revision)
    if read_role:
        grant_read_role(url, read_role)


def grant_read_role(url: str, role: str) -> None:
    """A role that may read every table of this database and nothing more.

    Roles belong to the whole server, so creation tolerates a concurrent twin; the
    migrating user is made a member so its connections may `SET ROLE` to it.
    """
    ident = sql.Identifier(role)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
        conn.execute(
            sql.SQL(
                "DO $$ BEGIN CREATE ROLE {} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ).format(ident)
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
        conn.execute(
            sql.SQL(
                "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {}"
            ).format(ident)
        )
        # Readers never see even the hashes of API keys, nor webhooks' signing secrets.
        for table in ("api_keys", "webhook_subscriptions"):
            found = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()
            if found is not None and found[0] is not None:
                conn.execute(
                    sql.SQL("REVOKE SELECT ON {} FROM {}").format(sql.Identifier(table), ident)
                )
        member = conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [role]).fetchone()
        if member is None or not member[0]:
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident))


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head() -> str:
    """The revision the code expects."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "alembic/versions holds no migration"
    return revision


def current(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
