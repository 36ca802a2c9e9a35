"""`crisis-facts export`: a crisis written back as fixtures, so that loading them changes
nothing, and curators' changes through the API are kept by the next load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from service import cli, engine
from service.engine.curated import write_actor
from service.engine.specs import ActorSpec, CasualtySpec, convert
from tests.conftest import FIXTURES, loaded_database

CRISIS = "kazakhstan-2022"
ADDED = {
    "id": "cas-api-exported",
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


@pytest.fixture
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "export", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


def run(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    return cli.main(list(args))


def test_an_export_loads_as_0_changes(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert run(url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(tmp_path)) == 0
    assert run(url, monkeypatch, "load", str(tmp_path)) == 0
    assert f"{CRISIS}: 0 changes" in capsys.readouterr().out
    exported = yaml.safe_load((tmp_path / "facts" / CRISIS / "casualties.yaml").read_text("utf-8"))
    curated = yaml.safe_load((FIXTURES / "facts" / CRISIS / "casualties.yaml").read_text("utf-8"))
    assert sorted(f["id"] for f in exported) == sorted(f["id"] for f in curated)


def test_an_api_change_blocks_a_load_until_it_is_exported(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    with psycopg.connect(url) as conn:
        engine.change(conn, [(CRISIS, convert(ADDED, CasualtySpec))], [], "night-desk", "AFP")
    assert run(url, monkeypatch, "load") == 2
    refused = capsys.readouterr().err
    assert "casualty 'cas-api-exported': changed through the API by 'night-desk'" in refused
    assert run(url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(tmp_path)) == 0
    assert run(url, monkeypatch, "load", str(tmp_path), "--message", "Exported") == 0
    assert "0 changes" in capsys.readouterr().out
    casualties = (tmp_path / "facts" / CRISIS / "casualties.yaml").read_text("utf-8")
    assert "cas-api-exported" in casualties
    assert run(url, monkeypatch, "load", "--force") == 0, "the curated fixtures win, by force"
    assert "casualty 1 deleted" in capsys.readouterr().out


def test_an_actor_no_fact_involves_waits_out_of_the_export_and_the_load(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A new actor is exported once a fact involves it: until then the export leaves it out
    and a load of the export keeps it, changing nothing."""
    actor = convert({"id": "tester-person", "kind": "person", "name": "Tester"}, ActorSpec)
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        write_actor(cursor, CRISIS, actor, "night-desk", "Before any fact")
    out = tmp_path / "out"
    assert run(url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(out)) == 0
    assert "tester-person" not in (out / "facts" / CRISIS / "actors.yaml").read_text("utf-8")
    capsys.readouterr()
    assert run(url, monkeypatch, "load", str(out)) == 0, capsys.readouterr().err
    assert f"{CRISIS}: 0 changes" in capsys.readouterr().out
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1 FROM actors WHERE id = 'tester-person'").fetchone()


def test_a_load_names_the_files_of_the_folder_it_was_given(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = tmp_path / "exported"
    assert run(url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(out)) == 0
    actors = out / "facts" / CRISIS / "actors.yaml"
    unused = {"id": "tester-person", "kind": "person", "name": "Tester"}
    actors.write_text(actors.read_text("utf-8") + yaml.safe_dump([unused]), "utf-8")
    capsys.readouterr()
    assert run(url, monkeypatch, "load", str(out)) == 2
    refused = capsys.readouterr().err
    assert f"exported/facts/{CRISIS}/actors.yaml: actor 'tester-person': used by no fact" in (
        refused
    )


def test_a_crisis_change_counts_no_draft(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The crisis as /v1/changes shows it after a load counts what its URL shows the
    public: published facts, not drafts."""
    draft = convert({**ADDED, "review": {"status": "draft"}}, CasualtySpec)
    with psycopg.connect(url) as conn:
        engine.change(conn, [(CRISIS, draft)], [], "night-desk", "AFP")
    assert run(url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(tmp_path)) == 0
    crisis = tmp_path / "facts" / CRISIS / "crisis.yaml"
    crisis.write_text(crisis.read_text("utf-8").replace("summary: ", "summary: Revised. "))
    assert run(url, monkeypatch, "load", str(tmp_path)) == 0, capsys.readouterr().err
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT answer::json FROM revisions WHERE kind = 'crisis' "
            " AND record_id = %(c)s ORDER BY revision DESC LIMIT 1), "
            "(SELECT count(*) FROM facts WHERE crisis_id = "
            " %(c)s AND kind = 'casualty' AND review_status = 'published')",
            {"c": CRISIS},
        ).fetchone()
    assert row is not None
    answer, published = row
    assert "Revised." in answer["summary"]
    assert answer["counts"]["casualty"] == published
