"""Loading fixtures through the write path: a bad fixture is named and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from service import cli, engine
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
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
    (problem,) = info.value.problems
    assert "fixtures/facts/kazakhstan-2022/casualties.yaml" in problem
    assert "(id 'cas-test-extra')" in problem
    assert "Expected `int` >= 0" in problem and "$.count" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    append_record(root, "casualties.yaml", casualty(id="cas-a", claimant="ghost"))
    append_record(root, "casualties.yaml", casualty(id="cas-b", date="2022-02-30"))
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
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
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
    assert "say which with `occurrence`" in "\n".join(info.value.problems)


def test_unused_actor_is_refused(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    append_record(
        root, "actors.yaml", {"id": "lonely-actor", "kind": "person", "name": "Nobody Used"}
    )
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
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
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
    assert f"alias {spelling!r} already names actor" in "\n".join(info.value.problems)


def test_two_actors_of_one_crisis_with_one_name_are_refused(tmp_path: Path) -> None:
    """Regression: the database's unique name per crisis failed the load (and the API's
    POST /v1/actors with a 500) instead of a problem naming both actors."""
    root = copy_fixtures(tmp_path)
    actor = first_record(root, "actors.yaml")
    append_record(root, "actors.yaml", {"id": "namesake", "kind": "person", "name": actor["name"]})
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
    expected = f"actor 'namesake': its name {actor['name']!r} is the name of actor {actor['id']!r}"
    assert expected in "\n".join(info.value.problems)


def test_missing_fixtures_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(engine.FixtureError) as info:
        engine.read_bundle(tmp_path / "nowhere")
    assert "no such fixtures folder" in info.value.problems[0]


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    facts_file(root, "arrests.yaml").write_text("- id: [unclosed\n", "utf-8")
    with pytest.raises(engine.FixtureError) as info:
        engine.read_bundle(root)
    assert info.value.problems[0].startswith(
        "fixtures/facts/kazakhstan-2022/arrests.yaml: not valid YAML"
    )


def test_removing_an_actor_that_facts_still_name_is_refused_naming_them(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    path = facts_file(root, "actors.yaml")
    actors = yaml.safe_load(path.read_text("utf-8"))
    kept = [a for a in actors if a["id"] != "kassym-jomart-tokayev"]
    assert len(kept) == len(actors) - 1
    path.write_text(yaml.safe_dump(kept, allow_unicode=True, sort_keys=False), "utf-8")
    with pytest.raises(engine.FixtureError) as info:
        engine.records(engine.read_bundle(root))
    text = "\n".join(info.value.problems)
    assert "unknown actor 'kassym-jomart-tokayev'" in text
    assert "statements.yaml: fact 'stm-" in text
