"""Stage four: what should be stored, compared with what is; only the difference is written.

Every record's stored state is a digest in `records`. A record whose digest differs is
rewritten with everything derived from it, and gets a revision: a number in commit
order, its answer after the change, who made it and why. A record of the crises in
scope that is no longer given is deleted and leaves a tombstone. All of it happens in
the caller's transaction, so readers see the data before or after, never a mix.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
from psycopg import sql

from service.engine import answers, disputes
from service.engine import rows as r
from service.engine.outcome import Current, Outcome, Revision, Stale, bump_version
from service.engine.write import (
    CHUNK,
    WRITE_LOCK,
    Background,
    Cursor,
    DocumentRow,
    Writer,
    change_time,
    document_row,
)
from service.touched import MAX_FACTS, FactTouched, Touched
from service.vocabulary import Operation, ReviewStatus

Progress = Callable[[int], None]
"""Called with how many more facts have been compared."""


class _Pending(NamedTuple):
    """A change whose answer is made once every fact has been seen (it counts facts)."""

    revision: int
    operation: str
    record: r.CrisisRecord | r.ActorRecord


OWNER_TABLE = {
    r.CrisisRecord: "crises",
    r.SourceRecord: "sources",
    r.ActorRecord: "actors",
    r.PlaceRecord: "places",
}

SOURCES_PER_BATCH = CHUNK // 10
"""Articles are long: a batch holds fewer of them than of facts."""


@dataclass
class _Batch:
    """Everything the next write job does, in an order that keeps every reference whole."""

    created: dict[str, list[Any]] = field(default_factory=dict)  # table -> new rows
    updated: list[tuple[str, Any, tuple[str, list[Any]] | None]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # facts whose old rows go first
    facts: list[r.FactRecord] = field(default_factory=list)
    documents: list[DocumentRow] = field(default_factory=list)
    log: list[Revision] = field(default_factory=list)
    current: list[Current] = field(default_factory=list)  # replacing what `records` holds
    fresh: list[Current] = field(default_factory=list)  # records never stored before

    def create(self, table: str, rows: list[Any]) -> None:
        self.created.setdefault(table, []).extend(rows)

    def write(self, writer: Writer, keys: set[tuple[str, str]]) -> None:
        for table, row, owned in self.updated:
            writer.update(table, [row])
            if owned is not None:
                writer.replace_owned(*owned, owner=row.id)
        for table in r.INSERT_ORDER:
            writer.copy(table, self.created.get(table, []))
        keys.update(writer.delete_facts(self.replaced))
        writer.facts(self.facts)
        writer.documents(self.documents)
        writer.copy_text("revisions", Revision._fields, self.log)
        writer.copy_text("records", Current._fields, self.fresh)
        if self.current:
            writer.upsert_records(Current._fields, self.current)


def _waiting(cursor: Cursor, crises: list[str]) -> set[tuple[str, str]]:
    """Actors of `crises` that no fact involves: added through the API, they wait for a fact
    before they are exported, so a load without them keeps them."""
    rows = cursor.execute(
        "SELECT a.id FROM actors a WHERE a.crisis_id = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM fact_actors fa WHERE fa.actor_id = a.id)",
        [crises],
    ).fetchall()
    return {("actor", row[0]) for row in rows}


class Applier:
    """Takes the records the crises in scope should hold, one at a time, parents first."""

    def __init__(
        self,
        cursor: Cursor,
        crises: list[str],
        author: str,
        message: str | None,
        progress: Progress | None = None,
        only: list[tuple[str, str]] | None = None,
        expect: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """`only`: a change set's records (kind, id), the only ones compared; those of them
        not taken are deleted. `expect`: the revision each must still be at (If-Match)."""
        self.cursor, self.author, self.message, self.progress = cursor, author, message, progress
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        last = cursor.execute("SELECT coalesce(max(revision), 0) FROM revisions").fetchone()
        assert last is not None
        self.revision = int(last[0])
        self.at: dt.datetime = change_time(cursor)  # the time of every change made
        if only is None:
            scope = sql.SQL("crisis_id = ANY(%(crises)s)")
        else:
            scope = sql.SQL(
                "(kind, id) IN (SELECT * FROM unnest(%(kinds)s::text[], %(ids)s::text[]))"
            )
        params = {
            "crises": crises,
            "kinds": [k for k, _ in only or []],
            "ids": [i for _, i in only or []],
        }
        self.stored: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.tombstones: set[tuple[str, str]] = set()
        revisions: dict[tuple[str, str], int] = {}
        for kind, record_id, state, crisis_id, revision in cursor.execute(
            sql.SQL("SELECT kind, id, state, crisis_id, revision FROM records WHERE {}").format(
                scope
            ),
            params,
        ):
            revisions[kind, record_id] = revision
            if state is None:
                self.tombstones.add((kind, record_id))
            else:
                self.stored[kind, record_id] = (bytes(state), crisis_id)
        for key, revision in (expect or {}).items():
            if revisions.get(key) != revision:
                raise Stale(*key, revisions.get(key))
        self.waiting = set() if only is not None else _waiting(cursor, crises)
        self.writer = Writer(cursor)
        self.background = Background(self.writer, inline=only is not None)
        self.names = answers.Names()
        self.outcome = Outcome(version=None)
        self.batch = _Batch()
        self.forced: set[str] = set()  # facts to rewrite: their cited source changed length
        self.keys: set[tuple[str, str]] = set()  # (crisis, quantity key)s a change touched
        self.pending: list[_Pending] = []
        self.fact_counts: dict[str, Counter[str]] = {}  # of crises and changed actors
        self.seen = 0
        self.protected: dict[tuple[str, str], tuple[str, int]] = {}  # see engine.apply
        self.operations: dict[tuple[str, str], Operation] = {}  # a change that is not an edit
        self.undone: list[str] = []
        self.touched: list[FactTouched] | None = []  # None once anything but a few facts

    # ------------------------------------------------------------ classifying

    def _change(self, record: r.Record, answer: bytes | None) -> tuple[int, str, bytes] | None:
        """(revision, operation, state) when the record differs from what is stored."""
        key = (r.record_kind(record), r.record_id(record))
        state = answers.state(record, answer)
        old = self.stored.pop(key, None)
        if old is not None and old[0] == state and key[1] not in self.forced:
            return None
        self.revision += 1
        operation = Operation.CREATED if old is None else Operation.UPDATED
        operation = self.operations.get(key, operation)
        self.outcome.changes[key[0], operation.value] += 1
        self._undoes(key)
        self._touch(key, r.record_crisis(record), operation)
        return self.revision, operation.value, state

    def _undoes(self, key: tuple[str, str]) -> None:
        """Note a change to a record a curator changed through the API since the last load."""
        edited = self.protected.get(key)
        if edited is not None:
            author, revision = edited
            self.undone.append(
                f"{key[0]} {key[1]!r}: changed through the API by {author!r} in revision "
                f"{revision}, after the last load"
            )

    def _touch(self, key: tuple[str, str], crisis: str, operation: Operation) -> None:
        """Note what a change touched, for the answer caches (service.touched)."""
        if self.touched is None:
            return
        if key[0] not in r.KINDS or len(self.touched) >= MAX_FACTS:
            self.touched = None
            return
        counted = operation != Operation.UPDATED
        self.touched.append(FactTouched(key[0], key[1], crisis, counted))

    def take(self, record: r.Record) -> None:
        if isinstance(record, r.FactRecord):
            self._fact(record)
            return
        if isinstance(record, r.ActorRecord):
            self.names.actor(record.row)
        elif isinstance(record, r.PlaceRecord):
            self.names.place(record.row)
        elif isinstance(record, r.SourceRecord):
            self.names.source(record.row)
        elif isinstance(record, r.CrisisRecord):
            self.fact_counts.setdefault(record.row.id, Counter())
        change = self._change(record, None)
        if change is None:
            return
        revision, operation, state = change
        self._write_owner(record, operation)
        self._record(record, revision, operation, state)
        if isinstance(record, r.CrisisRecord | r.ActorRecord):
            self.fact_counts.setdefault(record.row.id, Counter())
            self.pending.append(_Pending(revision, operation, record))
            return
        answer = (
            answers.source(record) if isinstance(record, r.SourceRecord) else answers.place(record)
        )
        stored = self._stamped(answer, revision)
        self.batch.log.append(self._revision(record, revision, operation, stored.decode()))
        if len(self.batch.created.get("sources", ())) >= SOURCES_PER_BATCH:
            self._flush()

    def _write_owner(self, record: r.Record, operation: str) -> None:
        """Write a crisis, source, actor or place: a new one is copied, a changed one is
        updated in place, so that what refers to it still does."""
        table = OWNER_TABLE[type(record)]
        owned: tuple[str, list[Any]] | None = None
        if isinstance(record, r.SourceRecord):
            owned = ("source_passages", record.passages)
        elif isinstance(record, r.ActorRecord):
            owned = ("actor_aliases", record.aliases)
        if operation == Operation.CREATED:
            self.batch.create(table, [record.row])
            if owned is not None:
                self.batch.create(*owned)
            return
        if isinstance(record, r.SourceRecord):
            self._rewrite_citing(record)
        self.batch.updated.append((table, record.row, owned))

    def _rewrite_citing(self, record: r.SourceRecord) -> None:
        """Facts cite a source with its length: when it changes, they are rewritten, and
        their old rows go before the source changes."""
        done = threading.Event()
        found: list[str] = []

        def job(writer: Writer) -> None:
            found.extend(writer.facts_citing([record.row.id]))
            self.keys.update(writer.delete_facts(found))
            done.set()

        self.background.put(job)
        while not done.wait(0.05):
            self.background.raise_error()
        self.forced.update(found)

    def _fact(self, record: r.FactRecord) -> None:
        self.seen += 1
        if self.progress is not None and self.seen % 1000 == 0:
            self.progress(1000)
        self._count(record)
        built = answers.fact(record, self.names)
        change = self._change(record, answers.encode(built))
        if change is None:
            return
        revision, operation, state = change
        stamped = answers.stamped(built, revision, self.at)
        answer = answers.encode(stamped)
        text = answer.decode()  # one string for its stored answer and its revision
        batch, row = self.batch, record.row
        batch.facts.append(record)
        if operation != Operation.CREATED:  # updated, published or retracted
            batch.replaced.append(row.id)
        batch.documents.append(document_row(record, text, answer, revision, stamped))
        public = row.review_status != ReviewStatus.DRAFT
        batch.log.append(self._revision(record, revision, operation, text)._replace(public=public))
        self._record(record, revision, operation, state)
        if row.quantity_key is not None:
            self.keys.add((row.crisis_id, row.quantity_key))
        if len(batch.facts) >= CHUNK:
            self._flush()

    def _count(self, record: r.FactRecord) -> None:
        """Facts per kind of the crisis and of each changed actor, for their answers, as
        their URLs answer the public: published facts only."""
        kind = record.row.kind
        if record.row.review_status != ReviewStatus.PUBLISHED:
            return
        crisis = self.fact_counts.get(record.row.crisis_id)
        if crisis is not None:  # a change set counts nothing it does not rewrite
            crisis[kind] += 1
        for actor_id in {a.actor_id for a in record.actors}:
            counts = self.fact_counts.get(actor_id)
            if counts is not None:
                counts[kind] += 1

    # ------------------------------------------------------------ writing

    def _flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        bulk = len(batch.facts) >= CHUNK

        def job(writer: Writer) -> None:
            if bulk:
                writer.defer_references()
            batch.write(writer, self.keys)

        self.background.put(job)

    def _stamped(self, answer: msgspec.Struct, revision: int) -> bytes:
        """The answer as stored and served: saying it changed at `revision`, now."""
        return answers.encode(answers.stamped(answer, revision, self.at))

    def _revision(
        self, record: r.Record, revision: int, operation: str, answer: str | None
    ) -> Revision:
        return Revision(
            revision=revision,
            kind=r.record_kind(record),
            record_id=r.record_id(record),
            crisis_id=r.record_crisis(record),
            operation=operation,
            answer=answer,
            author=self.author,
            message=self.message,
            made_at=self.at,
        )

    def _record(self, record: r.Record, revision: int, operation: str, state: bytes) -> None:
        """The record's new row of `records`: copied when it never was stored, else an upsert."""
        kind, record_id = r.record_kind(record), r.record_id(record)
        row = Current(kind, record_id, r.record_crisis(record), revision, state)
        if operation == Operation.CREATED and (kind, record_id) not in self.tombstones:
            self.batch.fresh.append(row)
        else:
            self.batch.current.append(row)

    # ------------------------------------------------------------ finishing

    def finish(self) -> Outcome:
        """Delete what is no longer given, derive what the changes touched, and bump the
        dataset version when anything changed; the caller commits."""
        self._flush()
        self._delete_missing()
        self._answer_pending()
        self._flush()
        self.background.stop()
        self.background.raise_error()
        self.writer.check_references()
        if self.outcome.total >= CHUNK:
            # The planner must know what a bulk write wrote before the disputes are found.
            self.cursor.execute("ANALYZE " + ", ".join((*r.INSERT_ORDER, "fact_documents")))
        disputes.refresh(self.cursor, self.keys)
        self.outcome.rows = dict(self.writer.counts)
        if self.touched is not None:
            self.outcome.touched = Touched(tuple(self.touched))
        if self.outcome.total:
            self.outcome.version = bump_version(self.cursor, self.outcome.touched)
        else:
            found = self.cursor.execute("SELECT version FROM dataset_version").fetchone()
            self.outcome.version = int(found[0]) if found else None
        return self.outcome

    def _delete_missing(self) -> None:
        """Records of the crises in scope that were not given: deleted, each a tombstone."""
        gone: dict[str, list[tuple[str, str]]] = {}
        for (kind, record_id), (_, crisis) in sorted(self.stored.items()):
            if (kind, record_id) not in self.waiting:
                gone.setdefault(kind, []).append((record_id, crisis))
        log, current = [], []
        drafts = self._drafts([(k, i) for k, ids in gone.items() for i, _ in ids if k in r.KINDS])
        # Facts first: they refer to the rest.
        for kind in (*r.KINDS, "place", "actor", "source"):
            ids = [record_id for record_id, _ in gone.get(kind, [])]
            if kind in r.KINDS and ids:
                self.background.put(functools.partial(self._delete_facts, ids=ids))
            elif ids:
                self.background.put(functools.partial(Writer.delete_owned, kind=kind, ids=ids))
            for record_id, crisis in gone.get(kind, []):
                self._undoes((kind, record_id))
                self._touch((kind, record_id), crisis, Operation.DELETED)
                self.revision += 1
                self.outcome.changes[kind, Operation.DELETED.value] += 1
                log.append(
                    Revision(
                        revision=self.revision,
                        kind=kind,
                        record_id=record_id,
                        crisis_id=crisis,
                        operation=Operation.DELETED.value,
                        answer=None,
                        author=self.author,
                        message=self.message,
                        made_at=self.at,
                        public=(kind, record_id) not in drafts,
                    )
                )
                current.append(Current(kind, record_id, crisis, self.revision, None))
        self.batch.log.extend(log)
        self.batch.current.extend(current)

    def _drafts(self, facts: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these facts, about to be deleted, are drafts: their deletion is no more
        public than they were. Read on a cursor of its own, before any of them is deleted."""
        if not facts:
            return set()
        found = self.cursor.connection.execute(
            "SELECT kind, id FROM facts WHERE id = ANY(%s) AND review_status = %s",
            [[i for _, i in facts], ReviewStatus.DRAFT.value],
        ).fetchall()
        return {(kind, fact_id) for kind, fact_id in found}

    def _delete_facts(self, writer: Writer, ids: list[str]) -> None:
        self.keys.update(writer.delete_facts(ids))

    def _answer_pending(self) -> None:
        """Crises' and actors' revisions, now that their facts are counted."""
        log: list[Revision] = []
        for pending in self.pending:
            record = pending.record
            counts = self.fact_counts.get(record.row.id, Counter())
            built: msgspec.Struct
            if isinstance(record, r.CrisisRecord):
                built = answers.crisis(record, counts)
            else:
                built = answers.actor(record, counts)
            answer = self._stamped(built, pending.revision).decode()
            log.append(self._revision(record, pending.revision, pending.operation, answer))
        self.batch.log.extend(sorted(log))
