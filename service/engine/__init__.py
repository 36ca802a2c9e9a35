"""The one write path: every change to the data goes through `apply`.

    read     fixture files -> a Bundle of specs        (service.engine.read)
    check    specs -> named records, every quote found  (service.engine.check)
    answers  records -> the Structs the API serves      (service.engine.answers)
    diff     records vs `records` -> only what differs, with revisions and tombstones
    write    the COPYs, updates and deletes             (service.engine.write)
    disputes the quantity keys a change touched         (service.engine.disputes)

`crisis-facts load` and `crisis-facts synth` call `apply` with what their crises should
hold and who is making the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from service.database import libpq_url
from service.engine import store
from service.engine.check import checked
from service.engine.diff import Applier, Progress
from service.engine.edits import change
from service.engine.outcome import Outcome, Stale
from service.engine.read import Bundle, FixtureError, read_bundle
from service.engine.rows import INSERT_ORDER, Record

__all__ = [
    "Bundle",
    "FixtureError",
    "Outcome",
    "Progress",
    "Stale",
    "change",
    "apply",
    "load",
    "read_bundle",
    "records",
    "tidy",
]


def records(bundle: Bundle) -> list[Record]:
    """Every record of `bundle`, checked; raise FixtureError listing every problem."""
    problems: list[str] = []
    found = list(checked(bundle, problems))
    if problems:
        raise FixtureError(problems)
    return found


def apply(
    connection: sa.Connection,
    bundle: Bundle,
    author: str,
    message: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Outcome:
    """Make the bundle's crises hold exactly its records, inside the caller's transaction.

    A change that would undo what a curator changed through the API since the last load
    (a record edited there and different in the bundle, or gone from it) is refused, naming
    the records, unless `force`.

    Records are checked and compared as they come, so a generated crisis never sits in
    memory whole; at the first problem writing stops, checking goes on, and FixtureError
    lists every problem. The caller must then roll back, which leaves the data as it was.
    """
    problems: list[str] = []
    crises = [cb.crisis.id for _, cb in bundle.crises]
    with _raw(connection).cursor() as cursor:
        applier = Applier(cursor, crises, author, message, progress)
        if not force:
            applier.protected = store.edited_since_load(cursor, crises)
        try:
            for record in checked(bundle, problems):
                if not problems:
                    applier.take(record)
            if not problems:
                outcome = applier.finish()
                if not applier.undone:
                    return outcome
                problems = [
                    *applier.undone,
                    "export the crisis (crisis-facts export) to keep these changes, "
                    "or load with --force to undo them",
                ]
        finally:
            applier.background.stop()
    raise FixtureError(problems)


def load(
    engine: sa.Engine,
    root: Path,
    author: str = "load",
    message: str | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Read the fixtures under `root` and apply them in one transaction."""
    bundle = read_bundle(root)
    with engine.begin() as connection:
        return apply(connection, bundle, author, message, progress)


def tidy(url: str) -> None:
    """After a large committed change: VACUUM ANALYZE what it rewrote, so the planner knows
    the new sizes and index-only page scans need not visit the heap."""
    tables = [*INSERT_ORDER, "fact_documents", "disputed_quantities", "records", "revisions"]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def _raw(connection: sa.Connection) -> psycopg.Connection[tuple[Any, ...]]:
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw
