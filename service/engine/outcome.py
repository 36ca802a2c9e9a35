"""What a change reports and writes about itself, whichever path made it (a load's diff,
a curator's edit): its outcome, its rows of `revisions` and `records`, the refusal of a
record that moved on, and the new dataset version it announces."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from service.database import NOTIFY_CHANNEL
from service.engine.write import Cursor
from service.touched import Touched, notice


@dataclass
class Outcome:
    """What a change did: changes per (kind, operation), rows written, the dataset version."""

    version: int | None
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)
    touched: Touched | None = None  # the facts changed, when only a few facts changed
    # a change set's facts as now stored: (kind, id) -> (revision, digest, answer)
    answers: dict[tuple[str, str], tuple[int, bytes, bytes]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.changes.values())

    def summary(self) -> str:
        """'0 changes', or e.g. '3 changes: statement 1 updated, casualty 1 created, ...'."""
        if not self.total:
            return "0 changes"
        parts = [f"{kind} {n} {operation}" for (kind, operation), n in sorted(self.changes.items())]
        return f"{self.total} change{'s' if self.total > 1 else ''}: {', '.join(parts)}"


class Revision(NamedTuple):
    """A row of `revisions`: `made_at` is when the change took the numbering lock, so times
    follow revisions, and each answer says it in `changed`."""

    revision: int
    kind: str
    record_id: str
    crisis_id: str
    operation: str
    answer: str | None
    author: str
    message: str | None
    made_at: dt.datetime
    public: bool = True  # False for a change to a draft: seen only with a key


class Current(NamedTuple):
    """A row of `records`: a record's current revision and stored state."""

    kind: str
    id: str
    crisis_id: str
    revision: int
    state: bytes | None


class Stale(Exception):
    """A record is no longer at the revision the change was made against."""

    def __init__(self, kind: str, record_id: str, revision: int | None) -> None:
        self.kind, self.record_id, self.revision = kind, record_id, revision
        super().__init__(f"{kind} {record_id!r} is at revision {revision}")


def bump_version(cursor: Cursor, touched: Touched | None) -> int:
    """A new dataset version, told to every server when the transaction commits, with what
    the change touched."""
    row = cursor.execute(
        "INSERT INTO dataset_version (id, version) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET version = dataset_version.version + 1, "
        "loaded_at = now() RETURNING version"
    ).fetchone()
    assert row is not None
    cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, notice(row[0], touched)])
    return int(row[0])
