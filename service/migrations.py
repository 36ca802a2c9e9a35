"""alembic, driven from Python: upgrade to head, and tell whether a database is there."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from service.settings import PROJECT_ROOT


def alembic_config(url: str | None = None, connection: sa.Connection | None = None) -> Config:
    config = Config(toml_file=PROJECT_ROOT / "pyproject.toml")
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head() -> str:
    """The revision the code expects."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "alembic/versions holds no migration"
    return revision


def current(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
