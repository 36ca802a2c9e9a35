"""Bulk writes: a chunk of facts or more is copied with row-by-row foreign-key checks off,
and every reference is still checked, once, before the transaction can commit."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from service import engine, synth
from service.engine import diff, disputes
from service.engine.rows import KINDS, CitationRow, FactActorRow
from service.engine.write import Writer

CRISIS = "kazakhstan-2022"


def raw(connection: sa.Connection) -> psycopg.Connection[tuple[Any, ...]]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def crisis_rows(connection: sa.Connection, crisis: str) -> dict[str, int]:
    """Rows of every table that belong to `crisis`, directly or through its facts or articles."""
    owned = {"crises": "SELECT count(*) FROM crises WHERE id = %(c)s"}
    for table in ("sources", "actors", "actor_aliases", "places", "facts", "disputed_quantities"):
        owned[table] = f"SELECT count(*) FROM {table} WHERE crisis_id = %(c)s"
    owned["source_passages"] = (
        "SELECT count(*) FROM source_passages p JOIN sources s ON s.id = p.source_id "
        "WHERE s.crisis_id = %(c)s"
    )
    for table in (
        "fact_documents",
        "citations",
        "fact_actors",
        *(kind.table for kind in KINDS.values()),
    ):
        owned[table] = (
            f"SELECT count(*) FROM {table} t JOIN facts f ON f.id = t.fact_id "
            "WHERE f.crisis_id = %(c)s"
        )
    return {
        table: connection.exec_driver_sql(query, {"c": crisis}).scalar_one()
        for table, query in owned.items()
    }


def test_a_bulk_write_defers_then_checks_its_references(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full chunk of facts is copied unchecked and every key checked before commit, and
    the session is left as it was; a smaller write does not defer."""
    deferred: list[bool] = []
    check = Writer.check_references

    def spy(writer: Writer) -> None:
        deferred.append(writer.deferred)
        check(writer)

    monkeypatch.setattr(Writer, "check_references", spy)
    engine.apply(connection, synth.generate(300, seed=5), "synth")
    assert deferred == [False]
    monkeypatch.setattr(diff, "CHUNK", 200)
    outcome = engine.apply(connection, synth.generate(500, seed=5), "synth")
    assert deferred == [False, True]
    assert outcome.rows["facts"] == 500
    setting = connection.exec_driver_sql("SHOW session_replication_role").scalar_one()
    assert setting == "origin"


def test_a_deferred_write_finds_a_row_that_refers_nowhere(connection: sa.Connection) -> None:
    source, length = connection.exec_driver_sql(
        "SELECT id, text_length FROM sources ORDER BY id LIMIT 1"
    ).one()
    with raw(connection).cursor() as cursor:
        writer = Writer(cursor)
        writer.defer_references()
        assert writer.deferred, "the tests' role may set session_replication_role"
        row = CitationRow(
            fact_id="no-such-fact",
            position=0,
            source_id=source,
            source_length=length,
            quote="x",
            start_offset=0,
            end_offset=1,
        )
        writer.copy("citations", [row])
        with pytest.raises(engine.FixtureError) as info:
            writer.check_references()
    assert info.value.problems == [
        "citations row with fact_id='no-such-fact': no such row in facts"
    ]


def test_a_deferred_delete_finds_what_still_referred_to_the_row(
    connection: sa.Connection,
) -> None:
    """With no trigger to refuse it, deleting an actor that a fact names must still stop
    the write, naming the row left pointing nowhere."""
    actor = connection.exec_driver_sql(
        "SELECT claimant_id FROM facts WHERE claimant_id IS NOT NULL ORDER BY id LIMIT 1"
    ).scalar_one()
    with raw(connection).cursor() as cursor:
        writer = Writer(cursor)
        writer.defer_references()
        writer.delete_owned("actor", [actor])
        with pytest.raises(engine.FixtureError) as info:
            writer.check_references()
    assert f"claimant_id={actor!r}: no such row in actors" in info.value.problems[0]


def test_a_bulk_rewrite_of_a_crisis_leaves_it_whole(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another seed rewrites most of a crisis in bulk (triggers off): every table is
    rewritten by its own statements, nothing lingers, other crises keep theirs, and the
    first seed again gives the first rows back."""
    monkeypatch.setattr(diff, "CHUNK", 200)
    crisis = synth.crisis_id(500)
    curated = crisis_rows(connection, CRISIS)
    engine.apply(connection, synth.generate(500, seed=5), "synth")
    first = crisis_rows(connection, crisis)
    assert all(first.values()), first
    outcome = engine.apply(connection, synth.generate(500, seed=6), "synth")
    assert outcome.changes[("casualty", "updated")] > 0
    assert crisis_rows(connection, crisis)["facts"] == 500
    engine.apply(connection, synth.generate(500, seed=5), "synth")
    assert crisis_rows(connection, crisis) == first
    assert crisis_rows(connection, CRISIS) == curated


def test_a_role_that_may_not_defer_has_every_row_checked(connection: sa.Connection) -> None:
    """A writer role without the privilege over session_replication_role (not a superuser)
    cannot defer: PostgreSQL checks every row as it is copied."""
    role = f"crisis_facts_loader_{uuid.uuid4().hex[:8]}"
    connection.exec_driver_sql(f"CREATE ROLE {role} NOSUPERUSER")  # gone with the rollback
    connection.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    connection.exec_driver_sql(f"SET LOCAL ROLE {role}")
    with raw(connection).cursor() as cursor:
        writer = Writer(cursor)
        writer.defer_references()
        assert not writer.deferred
        orphan = FactActorRow(
            fact_id="no-such-fact",
            actor_id="no-such-actor",
            role="person",
            kind="arrest",
            occurred_on=None,
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            writer.copy("fact_actors", [orphan])


def test_a_bulk_load_copies_its_disputes_a_few_at_a_time_and_keeps_each_once(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk change's disputes are read a fetch at a time and copied a few at a time between
    fetches, so they never all sit in memory: each is stored once, as finding them all in
    one round gives them."""
    monkeypatch.setattr(disputes, "BY_CRISIS_FROM", 1)  # the bulk path, a server-side cursor
    monkeypatch.setattr(disputes, "FIGURES_PER_FETCH", 50)
    monkeypatch.setattr(disputes, "COPY_EVERY", 7)
    crisis = synth.crisis_id(2000)
    engine.apply(connection, synth.generate(2000, seed=7), "synth")
    stored = "SELECT * FROM disputed_quantities WHERE crisis_id = %(c)s ORDER BY 1, 2, 5"
    rounds = connection.exec_driver_sql(stored, {"c": crisis}).all()
    assert len(rounds) > 20 * 7
    monkeypatch.setattr(disputes, "FIGURES_PER_FETCH", 100_000)
    monkeypatch.setattr(disputes, "COPY_EVERY", 100_000)
    keys = connection.exec_driver_sql(
        "SELECT DISTINCT crisis_id, quantity_key FROM facts "
        "WHERE crisis_id = %(c)s AND quantity_key IS NOT NULL",
        {"c": crisis},
    ).all()
    with raw(connection).cursor() as cursor:
        disputes.refresh(cursor, [(c, k) for c, k in keys])
    # A dispute missed or stored twice by the rounds would now differ.
    assert connection.exec_driver_sql(stored, {"c": crisis}).all() == rounds
