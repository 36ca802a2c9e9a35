"""The loader: a bad fixture is named and changes nothing; a good one replaces atomically."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import yaml

from service import cli, loader, synth
from service.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, copy_fixtures, table_dump

CRISIS = "kazakhstan-2022"


def facts_file(root: Path, name: str) -> Path:
    return root / "facts" / CRISIS / name


def first_record(root: Path, name: str) -> dict[str, Any]:
    records = yaml.safe_load(facts_file(root, name).read_text(encoding="utf-8"))
    assert records, f"{name} holds records"
    record: dict[str, Any] = records[0]
    return record


def append_record(root: Path, name: str, record: dict[str, Any]) -> None:
    path = facts_file(root, name)
    records = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    records.append(record)
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")


def casualty(**changes: Any) -> dict[str, Any]:
    """A valid casualty figure quoting the curated English article."""
    record: dict[str, Any] = {
        "id": "cas-test-extra",
        "category": "killed",
        "victim_group": "police",
        "count": 18,
        "hedge": "exact",
        "citations": [
            {
                "source": source_id_of("004_d32f03c80d27b2d2.txt"),
                "quote": "the police also reporting 18 killed and 748 wounded in their ranks",
            }
        ],
    }
    record.update(changes)
    return record


def source_id_of(file_name: str) -> str:
    sources = yaml.safe_load((FIXTURES / "articles" / "sources.yaml").read_text("utf-8"))
    return next(str(s["id"]) for s in sources if s["file"] == file_name)


def run_load(root: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return cli.main(["load", str(root)])


BAD_FIXTURES = [
    pytest.param(
        lambda root: append_record(root, "casualties.yaml", casualty(claimant="nobody-at-all")),
        "casualties.yaml: fact 'cas-test-extra': unknown actor 'nobody-at-all'",
        id="unknown-actor",
    ),
    pytest.param(
        lambda root: append_record(
            root,
            "casualties.yaml",
            casualty(
                citations=[
                    {
                        "source": source_id_of("004_d32f03c80d27b2d2.txt"),
                        "quote": "nineteen police officers were killed",
                    }
                ]
            ),
        ),
        "casualties.yaml: fact 'cas-test-extra': citation 1 (",
        id="quote-not-in-article",
    ),
    pytest.param(
        lambda root: append_record(
            root, "casualties.yaml", casualty(id=first_record(root, "casualties.yaml")["id"])
        ),
        "duplicate id",
        id="duplicate-id",
    ),
    pytest.param(
        lambda root: append_record(root, "casualties.yaml", casualty(count=-18)),
        "casualties.yaml: record",
        id="negative-count",
    ),
    pytest.param(
        lambda root: append_record(root, "casualties.yaml", casualty(date="2022-13-45")),
        "casualties.yaml: fact 'cas-test-extra': bad date '2022-13-45'",
        id="bad-date",
    ),
    pytest.param(
        lambda root: append_record(root, "casualties.yaml", casualty(colour="red")),
        "unknown field `colour`",
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("breakage", "expected"), BAD_FIXTURES)
def test_bad_fixture_is_named_and_changes_nothing(
    breakage: Any,
    expected: str,
    tmp_path: Path,
    database_url: str,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_fixtures(tmp_path)
    breakage(root)
    with engine.connect() as conn:
        before = table_dump(conn)

    code = run_load(root, database_url, monkeypatch)

    err = capsys.readouterr().err
    assert code == 2
    assert "load refused, nothing was changed" in err
    assert expected in err
    assert "cas-test-extra" in err or "duplicate id" in err
    with engine.connect() as conn:
        assert table_dump(conn) == before


def test_negative_count_message_names_field_and_reason(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    append_record(root, "casualties.yaml", casualty(count=-18))
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    (problem,) = info.value.problems
    assert "fixtures/facts/kazakhstan-2022/casualties.yaml" in problem
    assert "(id 'cas-test-extra')" in problem
    assert "Expected `int` >= 0" in problem and "$.count" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    append_record(root, "casualties.yaml", casualty(id="cas-a", claimant="ghost"))
    append_record(root, "casualties.yaml", casualty(id="cas-b", date="2022-02-30"))
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    text = "\n".join(info.value.problems)
    assert "'cas-a': unknown actor 'ghost'" in text
    assert "'cas-b': bad date '2022-02-30'" in text


def test_quote_occurring_twice_needs_an_occurrence(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    src = source_id_of("000_fd5757eb49514937.txt")
    append_record(
        root,
        "casualties.yaml",
        casualty(citations=[{"source": src, "quote": "4266 personnes"}]),
    )
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    assert "say which with `occurrence`" in "\n".join(info.value.problems)


def test_unused_actor_is_refused(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    append_record(
        root, "actors.yaml", {"id": "lonely-actor", "kind": "person", "name": "Nobody Used"}
    )
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    assert "actor 'lonely-actor': used by no fact" in "\n".join(info.value.problems)


def test_alias_naming_two_actors_is_refused(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    actor = first_record(root, "actors.yaml")
    spelling = actor["aliases"][0]["name"] if actor.get("aliases") else actor["name"]
    append_record(
        root,
        "actors.yaml",
        {"id": "copycat", "kind": "person", "name": "Copy Cat", "aliases": [{"name": spelling}]},
    )
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    assert f"alias {spelling!r} already names actor" in "\n".join(info.value.problems)


def test_loading_twice_yields_the_same_database(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        before = table_dump(conn)
        version_before = conn.exec_driver_sql("SELECT version FROM dataset_version").scalar_one()
    loader.load(engine, FIXTURES)
    loader.load(engine, FIXTURES)
    with engine.connect() as conn:
        assert table_dump(conn) == before
        version_after = conn.exec_driver_sql("SELECT version FROM dataset_version").scalar_one()
    assert version_after == version_before + 2


def test_replacement_is_atomic_for_readers(
    tmp_path: Path, engine: sa.Engine, connection: sa.Connection
) -> None:
    """Inside the loader's transaction the new data is there; readers still see the old."""
    root = copy_fixtures(tmp_path)
    crisis_file = root / "facts" / CRISIS / "crisis.yaml"
    crisis = yaml.safe_load(crisis_file.read_text("utf-8"))
    crisis["name"] = "Renamed during the test"
    crisis_file.write_text(yaml.safe_dump(crisis, allow_unicode=True), "utf-8")

    loader.write(connection, loader.read(root))

    inside = connection.exec_driver_sql(f"SELECT name FROM crises WHERE id = '{CRISIS}'")
    assert inside.scalar_one() == "Renamed during the test"
    with engine.connect() as reader:
        outside = reader.exec_driver_sql(f"SELECT name FROM crises WHERE id = '{CRISIS}'")
        assert outside.scalar_one() != "Renamed during the test"
        facts = reader.exec_driver_sql("SELECT count(*) FROM facts").scalar_one()
        assert facts > 0


def sql_built_answers() -> str:
    """The query that built every fact's answer before loads built them in Python, as
    migration 1dde7b88281a keeps it."""
    path = next((PROJECT_ROOT / "alembic" / "versions").glob("*_1dde7b88281a.py"))
    spec = importlib.util.spec_from_file_location("fact_documents_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FACT_DOCUMENTS)


def test_answers_are_byte_for_byte_those_the_sql_built(connection: sa.Connection) -> None:
    """Pages send stored answers as they are: built in Python, they must keep the layout,
    escaping, key order and nulls that PostgreSQL gave them and clients have seen. The
    curated crisis comes through `write`, the synthetic one through `load_bundle`."""
    loader.load_bundle(connection, synth.generate(2000, seed=3))
    stored = "SELECT fact_id, document FROM fact_documents"
    built = sql_built_answers()
    differing = connection.exec_driver_sql(
        f"({stored} EXCEPT ({built})) UNION ALL (({built}) EXCEPT {stored})"
    ).all()
    assert differing == []
    counts = connection.exec_driver_sql(
        "SELECT (SELECT count(*) FROM facts), (SELECT count(*) FROM fact_documents)"
    ).one()
    assert counts[0] == counts[1] > 2000
    # ETags of fact answers are made from these digests: each must be its document's.
    wrong = connection.exec_driver_sql(
        "SELECT count(*) FROM fact_documents "
        "WHERE digest <> substr(sha256(convert_to(document, 'UTF8')), 1, 16)"
    ).scalar_one()
    assert wrong == 0


def test_missing_fixtures_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(loader.FixtureError) as info:
        loader.read(tmp_path / "nowhere")
    assert "no such fixtures folder" in info.value.problems[0]


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    facts_file(root, "arrests.yaml").write_text("- id: [unclosed\n", "utf-8")
    with pytest.raises(loader.FixtureError) as info:
        loader.read(root)
    assert info.value.problems[0].startswith(
        "fixtures/facts/kazakhstan-2022/arrests.yaml: not valid YAML"
    )


def test_a_bulk_load_checks_the_references_it_copied_unchecked(connection: sa.Connection) -> None:
    """Bulk loads copy rows with PostgreSQL's per-row foreign-key checks off; a row whose
    reference leads nowhere must still stop the load, named."""
    source, length = connection.exec_driver_sql(
        "SELECT id, text_length FROM sources ORDER BY id LIMIT 1"
    ).one()
    with loader._raw(connection).cursor() as cursor:
        writer = loader._Writer(cursor, None)
        writer.replace(["no-such-crisis"])
        writer.defer_references()
        assert writer.deferred, "the tests' role may set session_replication_role"
        writer.copy("citations", [("no-such-fact", 0, source, length, "x", 0, 1)])
        with pytest.raises(loader.FixtureError) as info:
            writer.finish()
    assert info.value.problems == [
        "citations row with fact_id='no-such-fact': no such row in facts"
    ]


def test_a_bulk_load_defers_then_checks_its_references(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load of at least a full chunk of facts copies them unchecked, checks every key
    before it commits, and leaves the session as it found it; a smaller one does not defer."""
    checked: list[int] = []
    check = loader._Writer._check_references

    def spy(writer: loader._Writer) -> None:
        checked.append(writer.counts["facts"])
        check(writer)

    monkeypatch.setattr(loader._Writer, "_check_references", spy)
    loader.load_bundle(connection, synth.generate(300, seed=5))
    assert checked == []
    monkeypatch.setattr(loader, "CHUNK", 200)
    counts, _ = loader.load_bundle(connection, synth.generate(500, seed=5))
    assert checked == [counts["facts"]] == [500]
    setting = connection.exec_driver_sql("SHOW session_replication_role").scalar_one()
    assert setting == "origin"


def _crisis_rows(connection: sa.Connection, crisis: str) -> dict[str, int]:
    """Rows of every table that belong to `crisis`, directly or through its facts or articles."""
    owned = {"crises": "SELECT count(*) FROM crises WHERE id = %(c)s"}
    for table in ("sources", "actors", "actor_aliases", "places", "facts", "disputed_quantities"):
        owned[table] = f"SELECT count(*) FROM {table} WHERE crisis_id = %(c)s"
    owned["source_passages"] = (
        "SELECT count(*) FROM source_passages p JOIN sources s ON s.id = p.source_id "
        "WHERE s.crisis_id = %(c)s"
    )
    for table in ("fact_documents", "citations", "fact_actors", *loader.KIND_TABLE.values()):
        owned[table] = (
            f"SELECT count(*) FROM {table} t JOIN facts f ON f.id = t.fact_id "
            "WHERE f.crisis_id = %(c)s"
        )
    return {
        table: connection.exec_driver_sql(query, {"c": crisis}).scalar_one()
        for table, query in owned.items()
    }


def test_a_bulk_replacement_deletes_the_old_crisis_whole(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replacing a crisis of a chunk of facts or more deletes it with the foreign-key
    triggers off: every table must still be emptied of it by its own statement (a row left
    behind would collide with the new one or linger), and other crises keep theirs."""
    monkeypatch.setattr(loader, "CHUNK", 200)
    bundle = synth.generate(500, seed=5)
    crisis = synth.crisis_id(500)
    loader.load_bundle(connection, bundle)
    first = _crisis_rows(connection, crisis)
    assert all(first.values()), first
    curated = _crisis_rows(connection, CRISIS)
    with loader._raw(connection).cursor() as cursor:
        writer = loader._Writer(cursor, None)
        writer.replace([crisis])
        assert writer.deferred
        assert set(_crisis_rows(connection, crisis).values()) == {0}
        writer.finish()
    assert _crisis_rows(connection, CRISIS) == curated
    loader.load_bundle(connection, synth.generate(500, seed=5))
    assert _crisis_rows(connection, crisis) == first


def test_a_bulk_replacement_finds_what_referenced_the_deleted_rows(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no trigger to refuse it, deleting an actor that another crisis's fact names
    must still stop the load, naming the row left pointing nowhere."""
    monkeypatch.setattr(loader, "CHUNK", 200)
    crisis = synth.crisis_id(500)
    loader.load_bundle(connection, synth.generate(500, seed=5))
    actor = connection.exec_driver_sql(
        "SELECT id FROM actors WHERE crisis_id = %(c)s ORDER BY id LIMIT 1", {"c": crisis}
    ).scalar_one()
    fact = connection.exec_driver_sql(
        "SELECT id FROM facts WHERE crisis_id = %(c)s AND claimant_id IS NULL ORDER BY id LIMIT 1",
        {"c": CRISIS},
    ).scalar_one()
    connection.exec_driver_sql(
        "UPDATE facts SET claimant_id = %(a)s WHERE id = %(f)s", {"a": actor, "f": fact}
    )
    with loader._raw(connection).cursor() as cursor:
        writer = loader._Writer(cursor, None)
        writer.replace([crisis])
        with pytest.raises(loader.FixtureError) as info:
            writer.finish()
    assert info.value.problems == [f"facts row with claimant_id={actor!r}: no such row in actors"]


def test_a_role_that_may_not_defer_has_every_row_checked(connection: sa.Connection) -> None:
    """A loader role without the privilege over session_replication_role (not a superuser)
    cannot defer: PostgreSQL checks every row as it is copied."""
    role = f"crisis_facts_loader_{uuid.uuid4().hex[:8]}"
    connection.exec_driver_sql(f"CREATE ROLE {role} NOSUPERUSER")  # gone with the rollback
    connection.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    connection.exec_driver_sql(f"SET LOCAL ROLE {role}")
    with loader._raw(connection).cursor() as cursor:
        writer = loader._Writer(cursor, None)
        writer.defer_references()
        assert not writer.deferred
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            orphan = ("no-such-fact", "no-such-actor", "person", "arrest", None)
            writer.copy("fact_actors", [orphan])
