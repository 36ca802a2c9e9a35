"""A curator's change of a few facts: a handful of round trips, each a pipeline of
statements, and the change numbered only at its end.

Curators' writes of different facts run side by side. What keeps them apart, always taken
in this order, so that no two writers ever wait for each other:

1. the write lock, shared (a load, or an article's or actor's write, takes it whole);
2. a lock per record the change names: edits of one fact queue, and each then checks the
   revision it was made against;
3. a lock per (crisis, quantity key) the change touches, before and after: facts of one
   dispute are written one after the other, each reading the figures the other left;
4. the numbering lock (`write.NUMBER_LOCK`), from reading the last revision to the commit:
   revisions, and so the changes feed, are numbered in commit order.

Only the last statements (the answers stamped with their revision, the change log, the
records' states, the disputes) and the commit run under the numbering lock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from service import schemas
from service.engine import answers, disputes, store
from service.engine import rows as r
from service.engine.check import KIND_OF, fact_record
from service.engine.outcome import Current, Outcome, Revision, Stale, bump_version
from service.engine.read import FixtureError
from service.engine.specs import FactSpec
from service.engine.write import (
    CHANGE_TIME,
    DOCUMENT_COLUMNS,
    NUMBER_LOCK,
    WRITE_LOCK,
    document_row,
    english_vector,
)
from service.touched import MAX_FACTS, FactTouched, Touched
from service.vocabulary import Operation, ReviewStatus

Conn = psycopg.Connection[Any]

RECORD_LOCKS = 1
"""First key of the two-key advisory locks on records (by id: a fact's id is unique
across kinds); the second is a hash of the id."""
DISPUTE_LOCKS = 2
"""First key of the locks on (crisis, quantity key)s."""
RETRY_LOCKS = 3
"""First key of the locks on Idempotency-Keys: a retry racing its original waits for it."""


def lock_key(name: str) -> int:
    """A stable 32-bit key for `name` (two names that share one only wait for each other)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), signed=True)


def hold(
    conn: Conn,
    records: Iterable[str] = (),
    keys: Iterable[tuple[str, str | None]] = (),
    retry: str | None = None,
) -> None:
    """Take the shared write lock, then the lock of an Idempotency-Key (`retry`, named with
    its key's owner), of these records (ids) and of these (crisis, quantity key)s, until the
    commit. A write that must know its time before it is numbered (`write.change_time`)
    holds first what it will write."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", [WRITE_LOCK])
    _take(conn, RETRY_LOCKS, [] if retry is None else [retry])
    _take(conn, RECORD_LOCKS, records)
    hold_keys(conn, keys)


def hold_keys(conn: Conn, keys: Iterable[tuple[str, str | None]]) -> None:
    """`hold`'s last step alone, for a write that holds the rest already."""
    _take(conn, DISPUTE_LOCKS, (f"{crisis}\0{key}" for crisis, key in keys if key is not None))


def _take(conn: Conn, space: int, names: Iterable[str]) -> None:
    keys = sorted({lock_key(name) for name in names})  # one order for every writer
    if keys:  # taken in the array's order
        conn.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) k", [space, keys])


class Stored(NamedTuple):
    """What is stored of a record the change names: its row of `records`, and for a fact
    still there its quantity key and review status."""

    current: Current
    quantity_key: str | None = None
    review_status: str | None = None


class _Change(NamedTuple):
    key: tuple[str, str]  # (kind, id)
    crisis: str
    operation: Operation
    record: r.FactRecord | None  # None: a deletion
    built: Any  # the record's answer, not yet stamped
    state: bytes | None
    public: bool  # False for a change to a draft: seen only with a key


def change(
    conn: Conn,
    facts: list[tuple[str, FactSpec]],
    deleted: list[tuple[str, str]],
    author: str,
    message: str | None = None,
    expect: dict[tuple[str, str], int] | None = None,
    operations: dict[tuple[str, str], Operation] | None = None,
    held: bool = False,
) -> Outcome:
    """Apply a change set inside the caller's transaction (best in a pipeline, which makes
    each step below one round trip): `facts` (crisis, spec) to create or rewrite, `deleted`
    (kind, id) to delete, each record at the revision `expect` says; `operations` names a
    rewrite that is a publication or a retraction. The facts are checked with the same rules
    and words as a load's, against the stored actors, places and articles they name. Raises
    FixtureError listing every problem, or Stale when a record moved on. `held`: the caller
    holds the write lock and the records' locks already (`hold`)."""
    named = [(KIND_OF[type(spec)].value, spec.id) for _, spec in facts] + deleted
    if not held:
        hold(conn, records=[record_id for _, record_id in named])
    with _stored(conn, named, {crisis for crisis, _ in facts}) as stored_now:
        known, names = store.context(conn.cursor(), [spec for _, spec in facts])
        stored, crises = stored_now()
    problems: list[str] = []
    records = []
    known.crises = crises
    for crisis, spec in facts:
        if crisis not in crises:
            problems.append(f"fact {spec.id!r}: unknown crisis {crisis!r}")
            continue
        record = fact_record(spec, crisis, f"fact {spec.id!r}", known, problems)
        if record is not None:
            records.append(record)
    if problems:
        raise FixtureError(problems)
    for key, revision in (expect or {}).items():
        found = stored.get(key)
        if (None if found is None else found.current.revision) != revision:
            raise Stale(*key, None if found is None else found.current.revision)
    changes = _changes(records, deleted, stored, names, operations or {})
    if not changes:
        version = conn.execute("SELECT version FROM dataset_version").fetchone()
        return Outcome(version=None if version is None else int(version[0]), touched=Touched(()))
    keys = _rewrite(conn, changes, stored)
    reread = disputes.reread(conn.cursor(), keys) if keys else None
    return _numbered(conn, changes, reread, author, message)


@contextmanager
def _stored(
    conn: Conn, named: list[tuple[str, str]], crisis_ids: set[str]
) -> Iterator[Callable[[], tuple[dict[tuple[str, str], Stored], set[str]]]]:
    """The named records as stored (locked: they cannot change before the commit), and
    which of `crisis_ids` are crises: asked on entry, read when the function it yields is
    called, so that in a pipeline what is asked in between shares their round trip."""
    with conn.cursor() as current, conn.cursor() as crises:
        current.execute(
            "SELECT r.kind, r.id, r.crisis_id, r.revision, r.state, f.quantity_key, "
            "f.review_status FROM records AS r "
            "LEFT JOIN facts AS f ON f.id = r.id AND f.kind = r.kind WHERE (r.kind, r.id) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            [[kind for kind, _ in named], [record_id for _, record_id in named]],
        )
        crises.execute("SELECT id FROM crises WHERE id = ANY(%s)", [list(crisis_ids)])
        yield partial(_read_stored, current, crises)


def _read_stored(
    current: psycopg.Cursor[Any], crises: psycopg.Cursor[Any]
) -> tuple[dict[tuple[str, str], Stored], set[str]]:
    found = {}
    for kind, record_id, crisis, revision, state, quantity_key, review in current.fetchall():
        held = None if state is None else bytes(state)
        now = Current(kind, record_id, crisis, revision, held)
        found[kind, record_id] = Stored(now, quantity_key, review)
    return found, {row[0] for row in crises.fetchall()}


def _changes(
    records: list[r.FactRecord],
    deleted: list[tuple[str, str]],
    stored: dict[tuple[str, str], Stored],
    names: answers.Names,
    operations: dict[tuple[str, str], Operation],
) -> list[_Change]:
    """What differs from what is stored: facts rewritten or created, facts deleted."""
    found = []
    for record in records:
        key = (record.row.kind, record.row.id)
        built = answers.fact(record, names)
        state = answers.state(record, answers.encode(built))
        old = stored.get(key)
        was = None if old is None else old.current.state
        if was == state:
            continue
        operation = Operation.CREATED if was is None else Operation.UPDATED
        operation = operations.get(key, operation)
        public = record.row.review_status != ReviewStatus.DRAFT
        found.append(_Change(key, record.row.crisis_id, operation, record, built, state, public))
    for key in deleted:
        old = stored.get(key)
        if old is not None and old.current.state is not None:
            public = old.review_status != ReviewStatus.DRAFT
            crisis = old.current.crisis_id
            found.append(_Change(key, crisis, Operation.DELETED, None, None, None, public))
    return found


def _rewrite(
    conn: Conn, changes: list[_Change], stored: dict[tuple[str, str], Stored]
) -> list[tuple[str, str]]:
    """Hold the quantity keys the change touches, delete the facts' old rows and write
    their new ones; the (crisis, quantity key)s whose disputes to find again."""
    keys = set()
    for item in changes:
        old = stored.get(item.key)
        if old is not None and old.quantity_key is not None:
            keys.add((old.current.crisis_id, old.quantity_key))
        if item.record is not None and item.record.row.quantity_key is not None:
            keys.add((item.crisis, item.record.row.quantity_key))
    _take(conn, DISPUTE_LOCKS, (f"{crisis}\0{key}" for crisis, key in keys))
    gone = [item.key[1] for item in changes if item.key in stored]
    if gone:
        conn.execute(DELETE_FACTS, [gone])
    written = [item.record for item in changes if item.record is not None]
    if written:
        facts = [{**f.row._asdict(), "config": f.config, "document": f.document} for f in written]
        conn.cursor().executemany(INSERT_FACT, facts)
        for kind, info in r.KINDS.items():
            _insert(conn, info.table, [f.detail for f in written if f.row.kind == kind])
        _insert(conn, "fact_actors", [a for f in written for a in f.actors])
        _insert(conn, "citations", [c for f in written for c in f.citations])
    return sorted(keys)


def _insert(conn: Conn, table: str, rows: list[Any]) -> None:
    if rows:
        conn.cursor().executemany(INSERTS[table], rows)


def _once(query: sql.Composed) -> sql.SQL:
    """A statement rendered once: psycopg renders a `Composed` again on every execute."""
    return sql.SQL(query.as_string(None))


def _inserting(table: str, names: Iterable[str]) -> sql.SQL:
    listed = list(names)
    return _once(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, listed)),
            sql.SQL(", ").join(sql.Placeholder() * len(listed)),
        )
    )


INSERTS = {
    table: _inserting(table, r.columns(table))
    for table in (*(info.table for info in r.KINDS.values()), "fact_actors", "citations")
}
INSERT_DOCUMENT = _inserting("fact_documents", DOCUMENT_COLUMNS)
INSERT_REVISION = _inserting("revisions", Revision._fields)
DELETE_FACTS = "DELETE FROM facts WHERE id = ANY(%s)"
"""A fact's old rows, deleted before its new ones go in: what hangs off it goes with it by
its foreign keys (ON DELETE CASCADE), in the same statement."""

INSERT_FACT = _once(
    sql.SQL(
        "INSERT INTO facts ({listed}, search) VALUES ({values}, "
        "to_tsvector(%(config)s::regconfig, %(document)s) || {english})"
    ).format(
        listed=sql.SQL(", ").join(map(sql.Identifier, r.columns("facts"))),
        values=sql.SQL(", ").join(map(sql.Placeholder, r.columns("facts"))),
        english=english_vector(sql.SQL("{}::text").format(sql.Placeholder("translations"))),
    )
)
"""A fact's row with its search vector, made as a load makes it (write.Writer.facts)."""

UPSERT_RECORD = _once(
    sql.SQL(
        "{} ON CONFLICT (kind, id) DO UPDATE SET crisis_id = excluded.crisis_id, "
        "revision = excluded.revision, state = excluded.state"
    ).format(_inserting("records", Current._fields))
)


def _numbered(
    conn: Conn,
    changes: list[_Change],
    reread: Callable[[], disputes.Reread] | None,
    author: str,
    message: str | None,
) -> Outcome:
    """Number the changes (holding the numbering lock from here to the commit), stamp their
    answers and write what says their revision."""
    touched = _touched(changes)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [NUMBER_LOCK])
    last = conn.execute("SELECT coalesce(max(revision), 0) FROM revisions")
    moment = conn.execute(CHANGE_TIME)
    version = bump_version(conn.cursor(), touched)
    revision = int(_one(last))
    at = _one(moment)
    outcome = Outcome(version=version, touched=touched)
    documents, log, current = [], [], []
    for item in changes:
        revision += 1
        outcome.changes[item.key[0], item.operation.value] += 1
        text = None
        if item.record is not None:
            stamped = answers.stamped(item.built, revision, at)
            answer = answers.encode(stamped)
            text = answer.decode()
            row = document_row(item.record, text, answer, revision, stamped)
            documents.append(row)
            outcome.answers[item.key] = (revision, row[3], answer)
        log.append(
            Revision(
                revision,
                *item.key,
                item.crisis,
                item.operation.value,
                text,
                author,
                message,
                at,
                item.public,
            )  # fmt: skip
        )
        current.append(Current(*item.key, item.crisis, revision, item.state))
    cursor = conn.cursor()
    if documents:
        cursor.executemany(INSERT_DOCUMENT, documents)
    cursor.executemany(INSERT_REVISION, log)
    cursor.executemany(UPSERT_RECORD, current)
    if reread is not None:
        disputes.store(cursor, reread(), schemas.Changed(revision=revision, at=at))
    outcome.rows = Counter(
        {"facts": len(documents), "revisions": len(log), "records": len(current)}
    )
    return outcome


def _one(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    assert row is not None
    return row[0]


def _touched(changes: list[_Change]) -> Touched | None:
    """What the change touched, for the answer caches (service.touched)."""
    if len(changes) > MAX_FACTS:
        return None
    return Touched(
        tuple(
            FactTouched(kind, record_id, item.crisis, item.operation != Operation.UPDATED)
            for item in changes
            for kind, record_id in [item.key]
        )
    )
