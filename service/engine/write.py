"""Stage five's hands: the statements that put named rows into PostgreSQL.

Rows go in by binary COPY under the columns their type names; what a record owns is
deleted table by table (never left to cascades, which a bulk load turns off).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from service import schemas
from service.engine import rows as r
from service.engine.answers import digest
from service.engine.read import FixtureError
from service.export.cells import fact_cells
from service.models import Base

Cursor = psycopg.Cursor[tuple[Any, ...]]
TEXT_OID = 25
BYTEA_OID = 17
INT8_OID = 20
TEXT_ARRAY_OID = 1009
DATE_OID = 1082

CHUNK = 20_000
"""Facts written per round of COPYs: bounds memory, not speed."""

WRITE_LOCK = 727_001
"""pg_advisory_xact_lock key: held whole by a load and by an article's or actor's write
from its first statement to its commit; shared by curators' writes of facts, which
keep apart by finer locks (service.engine.edits)."""

NUMBER_LOCK = 727_002
"""pg_advisory_xact_lock key held from reading the last revision to the commit by every
writer that numbers revisions: revisions are numbered in commit order."""

CHANGE_TIME = (
    "SELECT coalesce(nullif(current_setting('crisis_facts.change_time', true), '')::timestamptz,"
    " set_config('crisis_facts.change_time', clock_timestamp()::text, true)::timestamptz)"
)
"""The time of every change a transaction makes, read first under the numbering lock and kept
for the transaction: times follow revisions, and a review's time is its revision's."""


def change_time(conn: psycopg.Connection[Any] | Cursor) -> dt.datetime:
    """The time of this transaction's changes; from here to the commit, this transaction
    alone numbers revisions."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [NUMBER_LOCK])
    row = conn.execute(CHANGE_TIME).fetchone()
    assert row is not None
    moment: dt.datetime = row[0]
    return moment.astimezone(dt.UTC)


FACT_TABLES = ("fact_documents", "citations", "fact_actors", *(k.table for k in r.KINDS.values()))
"""What hangs off a fact, deleted before it."""


def english_vector(translations: sql.Composable) -> sql.Composed:
    """A fact's English translations, stemmed as English, in its search vector: an English
    search finds a French fact (the original stays what is cited)."""
    return sql.SQL(
        "to_tsvector('english', coalesce((SELECT string_agg(t->>'text', ' ') "
        "FROM json_array_elements({}::json) t WHERE t->>'language' = 'en'), ''))"
    ).format(translations)


ENGLISH_VECTOR = english_vector(sql.Identifier("translations"))

DOCUMENT_COLUMNS = (
    "fact_id",
    "kind",
    "document",
    "digest",
    "revision",
    "review_status",
    "cells",
    "occurred_on",
)
"""The columns of `fact_documents` a write fills, in the order of `document_row`."""

DocumentRow = tuple[str, str, str, bytes, int, str, list[str], dt.date | None]


def document_row(
    fact: r.FactRecord, text: str, answer: bytes, revision: int, stamped: schemas.Fact
) -> DocumentRow:
    """A written fact's row of `fact_documents`: its answer as stored and served (`stamped`,
    encoded as `answer`, `text`), its CSV cells, what an export joins, and its date, by
    which the timeline's export reads it."""
    row = fact.row
    return (
        row.id,
        row.kind,
        text,
        digest(answer),
        revision,
        row.review_status,
        fact_cells(stamped),
        row.occurred_on,
    )


OWNED = {
    "source": (("source_passages", "source_id"), ("sources", "id")),
    "actor": (("actor_aliases", "actor_id"), ("actors", "id")),
    "place": (("places", "id"),),
}
"""What a record of each kind owns, table and key column, in the order to delete it."""

OWNER_KEY = {"source_passages": "source_id", "actor_aliases": "actor_id"}
"""The column naming the owner of rows rewritten whole with it."""


class Writer:
    """Writes rows inside the caller's transaction, counting them per table."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self.counts: dict[str, int] = {}
        allowed = cursor.execute(
            "SELECT has_parameter_privilege('session_replication_role', 'SET')"
        ).fetchone()
        self.may_defer = allowed is not None and bool(allowed[0])
        self.deferred = False
        self.types = _column_types(cursor)
        # Facts are staged: PostgreSQL turns each document into its search vector while
        # inserting the fact, instead of updating every fact afterwards.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS loading_facts "
            "(LIKE facts INCLUDING DEFAULTS, config text, document text) ON COMMIT DELETE ROWS"
        )

    def defer_references(self) -> None:
        """For a bulk write: foreign keys are checked once per key by `check_references`
        instead of by a trigger per row (bench/RESULTS.md has the figures). Only a role
        allowed to set session_replication_role can defer; any other has rows checked as
        they come."""
        if self.may_defer and not self.deferred:
            self.cursor.execute("SET LOCAL session_replication_role = replica")
            self.deferred = True

    def check_references(self) -> None:
        """Raise FixtureError for the first row whose reference leads nowhere."""
        if not self.deferred:
            return
        self.cursor.execute("SET LOCAL session_replication_role = origin")
        self.deferred = False
        for table, parent, own, keys in _foreign_keys():
            orphan = self.cursor.execute(_orphan_query(table, parent, own, keys)).fetchone()
            if orphan is not None:
                named = ", ".join(f"{c}={v!r}" for c, v in zip(own, orphan, strict=True))
                raise FixtureError([f"{table} row with {named}: no such row in {parent}"])

    def copy(self, table: str, rows: Sequence[Any]) -> None:
        """COPY named rows into `table`; facts go through `facts` instead."""
        if rows:
            self._copy(table, r.columns(table), self.types[table], rows)

    def _copy(
        self, table: str, names: Sequence[str], types: list[int], rows: Iterable[Any]
    ) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        count = 0
        with self.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
                count += 1
        self.counts[table] = self.counts.get(table, 0) + count

    def facts(self, records: Sequence[r.FactRecord]) -> None:
        """Facts' rows with their search vectors made from (config, document)."""
        if not records:
            return
        names = r.columns("facts")
        staged = [(*f.row, f.config, f.document) for f in records]
        self._copy(
            "loading_facts",
            (*names, "config", "document"),
            [*self.types["facts"], TEXT_OID, TEXT_OID],
            staged,
        )
        self.counts["loading_facts"] -= len(staged)
        listed = sql.SQL(", ").join(map(sql.Identifier, names))
        self.cursor.execute(
            sql.SQL(
                "INSERT INTO facts ({listed}, search) "
                "SELECT {listed}, to_tsvector(config::regconfig, document) || {english} "
                "FROM loading_facts"
            ).format(listed=listed, english=ENGLISH_VECTOR)
        )
        self.cursor.execute("TRUNCATE loading_facts")
        self.counts["facts"] = self.counts.get("facts", 0) + len(staged)
        for kind, info in r.KINDS.items():
            self.copy(info.table, [f.detail for f in records if f.row.kind == kind])
        self.copy("fact_actors", [a for f in records for a in f.actors])
        self.copy("citations", [c for f in records for c in f.citations])

    def documents(self, rows: Sequence[DocumentRow]) -> None:
        """(fact id, kind, answer, digest, revision, review status, CSV cells, date) of
        facts written, into fact_documents."""
        if rows:
            types = [TEXT_OID, TEXT_OID, TEXT_OID, BYTEA_OID, INT8_OID, TEXT_OID, TEXT_ARRAY_OID]
            types.append(DATE_OID)
            self._copy("fact_documents", DOCUMENT_COLUMNS, types, rows)

    def delete_facts(self, ids: list[str]) -> list[tuple[str, str]]:
        """Delete facts and what hangs off them; their (crisis, quantity key)s, where set.
        The deletes go in one pipeline: one round trip, not one per table."""
        if not ids:
            return []
        with self.cursor.connection.pipeline():
            for table in FACT_TABLES:
                self.cursor.execute(
                    sql.SQL("DELETE FROM {} WHERE fact_id = ANY(%s)").format(sql.Identifier(table)),
                    [ids],
                )
            self.cursor.execute(
                "DELETE FROM facts WHERE id = ANY(%s) RETURNING crisis_id, quantity_key", [ids]
            )
        keys = self.cursor.fetchall()
        return [(crisis, key) for crisis, key in keys if key is not None]

    def facts_citing(self, source_ids: list[str]) -> list[str]:
        found = self.cursor.execute(
            "SELECT DISTINCT fact_id FROM citations WHERE source_id = ANY(%s)", [source_ids]
        ).fetchall()
        return [row[0] for row in found]

    def delete_owned(self, kind: str, ids: list[str]) -> None:
        """Delete sources, actors or places and the rows they own."""
        for table, key in OWNED[kind]:
            self.cursor.execute(
                sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                    sql.Identifier(table), sql.Identifier(key)
                ),
                [ids],
            )

    def replace_owned(self, table: str, rows: Sequence[Any], owner: str) -> None:
        """Replace the passages of a source or the aliases of an actor."""
        self.cursor.execute(
            sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(OWNER_KEY[table])
            ),
            [owner],
        )
        self.copy(table, rows)

    def copy_text(self, table: str, names: Sequence[str], rows: Sequence[Any]) -> None:
        """COPY rows in text format, for tables outside the records' (revisions, records);
        none is no statement (a change set's last batch is often empty)."""
        if not rows:
            return
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with self.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        self.counts[table] = self.counts.get(table, 0) + len(rows)

    def upsert_records(self, names: Sequence[str], rows: Sequence[Any]) -> None:
        """Each record's current revision and state, new or replacing the one stored: a few
        as statements in one pipeline, many through a temporary table."""
        if len(rows) <= FEW:
            self.cursor.executemany(
                sql.SQL(
                    "INSERT INTO records ({}) VALUES ({}) ON CONFLICT (kind, id) DO UPDATE "
                    "SET crisis_id = excluded.crisis_id, revision = excluded.revision, "
                    "state = excluded.state"
                ).format(
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                rows,
            )
            self.counts["records"] = self.counts.get("records", 0) + len(rows)
            return
        self.cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS loading_records (LIKE records) ON COMMIT DELETE ROWS"
        )
        self.copy_text("loading_records", names, rows)
        self.counts["loading_records"] -= len(rows)
        self.cursor.execute(
            "INSERT INTO records SELECT * FROM loading_records ON CONFLICT (kind, id) DO UPDATE "
            "SET crisis_id = excluded.crisis_id, revision = excluded.revision, "
            "state = excluded.state"
        )
        self.cursor.execute("TRUNCATE loading_records")
        self.counts["records"] = self.counts.get("records", 0) + len(rows)

    def update(self, table: str, rows: Sequence[Any]) -> None:
        """Rewrite existing rows of `table` (keyed by `id`) in place: what references them
        keeps referring to the same row."""
        if not rows:
            return
        names = [c for c in r.columns(table) if c != "id"]
        statement = sql.SQL("UPDATE {} SET ({}) = ROW({}) WHERE id = %(id)s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder(n) for n in names),
        )
        self.cursor.executemany(statement, [row._asdict() for row in rows])
        self.counts[table] = self.counts.get(table, 0) + len(rows)


def _foreign_keys() -> Iterator[tuple[str, str, list[str], list[str]]]:
    """Each foreign key of the tables a load writes, as the models declare it (a test holds
    the migrations to them): table, referenced table, their columns in order."""
    for table in (*r.INSERT_ORDER, "fact_documents"):
        for key in Base.metadata.tables[table].foreign_key_constraints:
            own = [element.parent.name for element in key.elements]
            referenced = [element.column.name for element in key.elements]
            yield table, key.referred_table.name, own, referenced


def _orphan_query(table: str, parent: str, own: list[str], keys: list[str]) -> sql.Composed:
    """One row of `table` whose `own` columns are set but name no row of `parent`."""
    columns = [sql.SQL("t.{}").format(sql.Identifier(c)) for c in own]
    return sql.SQL(
        "SELECT {own} FROM {table} t WHERE {set} "
        "AND NOT EXISTS (SELECT FROM {parent} p WHERE {match}) LIMIT 1"
    ).format(
        own=sql.SQL(", ").join(columns),
        table=sql.Identifier(table),
        set=sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(o) for o in columns),
        parent=sql.Identifier(parent),
        match=sql.SQL(" AND ").join(
            sql.SQL("p.{} = {}").format(sql.Identifier(k), o)
            for k, o in zip(keys, columns, strict=True)
        ),
    )


Job = Callable[[Writer], None]

FEW = 100
"""Rows written as statements in a pipeline rather than through a temporary table."""


_TYPES: dict[str, list[int]] = {}
"""The type of each column a load writes: built-in types, whose oids are the same in every
database, so looked up once per process."""


def _column_types(cursor: Cursor) -> dict[str, list[int]]:
    if not _TYPES:
        found = cursor.execute(
            "SELECT c.relname, a.attname, a.atttypid::int FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.oid = ANY(%s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped",
            [list(r.INSERT_ORDER)],
        ).fetchall()
        types = {(table, column): oid for table, column, oid in found}
        _TYPES.update({t: [types[t, c] for c in r.columns(t)] for t in r.INSERT_ORDER})
    return _TYPES


class Background:
    """Runs writes on a thread of its own, in order: PostgreSQL stores one chunk while
    Python checks the next. A job is handed over once the one before is done, so two
    chunks at most are held, which bounds memory. A change of a few records (`inline`)
    runs its jobs as they come: a thread would only wait."""

    def __init__(self, writer: Writer, inline: bool = False) -> None:
        self.writer = writer
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="engine-writer", daemon=True)
        self.inline = inline
        if not inline:
            self.thread.start()

    def _run(self) -> None:
        while (job := self.queue.get()) is not None:
            if self.error is None:  # after a failure, jobs are taken and dropped
                try:
                    job(self.writer)
                except BaseException as exc:  # raised again by the checking thread
                    self.error = exc
            job = None  # its chunk is freed before the next is handed over
            self.queue.task_done()

    def put(self, job: Job) -> None:
        if self.inline:
            job(self.writer)
            return
        self.queue.join()
        self.raise_error()
        self.queue.put(job)

    def stop(self) -> None:
        """Wait for the jobs handed over to be done (or dropped after a failure)."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error
