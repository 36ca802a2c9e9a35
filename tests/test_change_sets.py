"""Change sets through the write path: a few named records, checked against what is stored."""

from __future__ import annotations

from typing import Any

import msgspec
import psycopg
import pytest
import sqlalchemy as sa

from service import engine
from service.engine import store
from service.engine.specs import CasualtySpec, convert
from service.vocabulary import FactKind
from tests.conftest import FIXTURES

CRISIS = "kazakhstan-2022"
FACT_ID = "cas-api-police-killed"
NEW = {
    "id": FACT_ID,
    "category": "killed",
    "victim_group": "police",
    "count": 18,
    "citations": [
        {
            "source": "src-004-security-chief-arrested",
            "quote": "the police also reporting 18 killed and 748 wounded in their ranks",
        }
    ],
}


def raw(connection: sa.Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def revisions_of(conn: psycopg.Connection[Any], record_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT operation, author, message FROM revisions WHERE record_id = %s ORDER BY revision",
        [record_id],
    ).fetchall()


def test_a_new_fact_an_edit_and_a_deletion_are_three_revisions(connection: sa.Connection) -> None:
    conn = raw(connection)
    spec = convert(NEW, CasualtySpec)
    created = engine.change(conn, [(CRISIS, spec)], [], "desk", "Figure from the police")
    assert created.summary() == "1 change: casualty 1 created"

    crisis, stored = store.fact_spec(conn.cursor(), FactKind.CASUALTY, FACT_ID) or ("", None)
    assert crisis == CRISIS and stored == spec, "the stored fact reads back as its spec"
    edited = msgspec.structs.replace(spec, note="Police figure, not confirmed elsewhere.")
    revision = conn.execute("SELECT revision FROM records WHERE id = %s", [FACT_ID]).fetchone()
    assert revision is not None
    expect = {("casualty", FACT_ID): revision[0]}
    assert engine.change(conn, [(CRISIS, edited)], [], "desk", "Note", expect).total == 1
    with pytest.raises(engine.Stale) as stale:
        engine.change(conn, [(CRISIS, spec)], [], "desk", "Made against the first", expect)
    assert stale.value.revision is not None and stale.value.revision > revision[0]

    engine.change(conn, [], [("casualty", FACT_ID)], "desk", "Duplicate of cas-004")
    assert revisions_of(conn, FACT_ID) == [
        ("created", "desk", "Figure from the police"),
        ("updated", "desk", "Note"),
        ("deleted", "desk", "Duplicate of cas-004"),
    ]


def test_an_unchanged_fact_is_no_change(connection: sa.Connection) -> None:
    conn = raw(connection)
    crisis, spec = store.fact_spec(conn.cursor(), FactKind.CASUALTY, "cas-004-police-killed") or (
        "",
        None,
    )
    assert spec is not None
    assert engine.change(conn, [(crisis, spec)], [], "desk").summary() == "0 changes"


def test_a_change_set_is_checked_with_the_loaders_words(connection: sa.Connection) -> None:
    bad = convert({**NEW, "claimant": "nobody", "count_max": 3}, CasualtySpec)
    with pytest.raises(engine.FixtureError) as refused:
        engine.change(raw(connection), [(CRISIS, bad)], [], "desk")
    assert refused.value.problems == [
        "fact 'cas-api-police-killed': unknown actor 'nobody' (as claimant)",
        "fact 'cas-api-police-killed': a range needs count_max and count_max needs hedge 'range'",
    ]
    with pytest.raises(engine.FixtureError, match="unknown crisis 'nowhere'"):
        engine.change(raw(connection), [("nowhere", convert(NEW, CasualtySpec))], [], "desk")


def test_a_load_refuses_to_undo_what_a_curator_changed_through_the_api(
    connection: sa.Connection,
) -> None:
    conn = raw(connection)
    engine.change(conn, [(CRISIS, convert(NEW, CasualtySpec))], [], "night-desk", "New figure")
    bundle = engine.read_bundle(FIXTURES)
    with pytest.raises(engine.FixtureError) as refused:
        with connection.begin_nested():
            engine.apply(connection, bundle, "load")
    assert refused.value.problems[0] == (
        f"casualty {FACT_ID!r}: changed through the API by 'night-desk' in revision "
        f"{revision_of(conn, FACT_ID)}, after the last load"
    )
    assert "--force" in refused.value.problems[-1]
    assert revision_of(conn, FACT_ID) is not None, "the curator's fact is still there"
    forced = engine.apply(connection, engine.read_bundle(FIXTURES), "load", force=True)
    assert forced.changes == {("casualty", "deleted"): 1}


def revision_of(conn: psycopg.Connection[Any], fact_id: str) -> int | None:
    row = conn.execute(
        "SELECT revision FROM records WHERE id = %s AND state IS NOT NULL", [fact_id]
    ).fetchone()
    return None if row is None else int(row[0])
