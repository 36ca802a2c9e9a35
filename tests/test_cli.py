"""The command line against a database it cannot use: a sentence saying what to do, never a
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.database import drop_database
from service.settings import PROJECT_ROOT
from tests.conftest import fresh_database


@pytest.fixture
def unmigrated(server_url: str) -> Iterator[str]:
    """A database that exists but was never migrated, as a wrong DATABASE_URL gives."""
    url = fresh_database(server_url, "unmigrated")
    try:
        yield url
    finally:
        drop_database(server_url, sa.engine.make_url(url).database or "")


@pytest.mark.parametrize(
    "command",
    [
        ["snapshot", "--out", "{tmp}"],
        ["keys", "list"],
        ["export", "--crisis", "x", "--out", "{tmp}"],
    ],
)
def test_a_command_on_a_database_never_migrated_says_so(
    unmigrated: str, tmp_path: Path, command: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *(a.format(tmp=tmp_path) for a in command)],
        env={**os.environ, "DATABASE_URL": unmigrated},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{command[0]} refused: the database has no crisis-facts schema" in done.stderr
    assert "crisis-facts migrate" in done.stderr
