"""The one write path: a load is a diff, every change a revision, a removal a tombstone.

Each test applies its change inside the test's transaction, rolled back afterwards; what
PostgreSQL counts as written in that transaction (`pg_stat_xact_user_tables`) shows that
nothing else was touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
import sqlalchemy as sa
import yaml
from litestar import Litestar
from litestar.testing import TestClient

from service import cli, engine, schemas
from service.app import create_app
from service.settings import Settings
from tests.conftest import FIXTURES, copy_fixtures, loaded_database, table_dump

CRISIS = "kazakhstan-2022"
EDITED = "cas-004-police-killed"


ADDED = {
    "id": "cas-test-added",
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


def facts_file(root: Path, name: str) -> Path:
    return root / "facts" / CRISIS / name


def rewrite(root: Path, name: str, change: Any) -> None:
    """Apply `change` to the list of records of one fixture file."""
    path = facts_file(root, name)
    records = yaml.safe_load(path.read_text("utf-8"))
    path.write_text(yaml.safe_dump(change(records), allow_unicode=True, sort_keys=False), "utf-8")


def shorten_quote(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edited fact cites one word fewer: still verbatim in its article."""
    for record in records:
        if record["id"] == EDITED:
            quote = record["citations"][0]["quote"]
            record["citations"][0]["quote"] = quote.rsplit(" ", 1)[0]
    return records


def counted(connection: sa.Connection) -> dict[str, int]:
    """Rows inserted, updated or deleted per table as this backend counts them so far (it
    may still hold counts of its earlier transactions that it has not reported yet)."""
    found = connection.exec_driver_sql(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
        "WHERE schemaname = 'public'"
    ).all()
    return {name: n for name, n in found}


def written(connection: sa.Connection, before: dict[str, int]) -> dict[str, int]:
    """Rows written since `before`, per table."""
    now = counted(connection)
    return {name: n - before.get(name, 0) for name, n in now.items() if n != before.get(name, 0)}


def apply(connection: sa.Connection, root: Path, message: str | None = None) -> engine.Outcome:
    return engine.apply(connection, engine.read_bundle(root), "load", message)


def answer(connection: sa.Connection, fact_id: str) -> tuple[str, bytes, int]:
    row = connection.exec_driver_sql(
        "SELECT document, digest, revision FROM fact_documents WHERE fact_id = %(id)s",
        {"id": fact_id},
    ).one()
    return str(row[0]), bytes(row[1]), int(row[2])


def revisions(connection: sa.Connection, message: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in connection.exec_driver_sql(
            "SELECT kind, record_id, operation, answer FROM revisions WHERE message = %(m)s "
            "ORDER BY revision",
            {"m": message},
        ).all()
    ]


def test_unchanged_fixtures_write_nothing(connection: sa.Connection) -> None:
    before = table_dump(connection)
    version = connection.exec_driver_sql("SELECT version FROM dataset_version").scalar_one()
    start = counted(connection)
    outcome = apply(connection, FIXTURES)
    assert outcome.summary() == "0 changes"
    assert outcome.version == version
    assert written(connection, start) == {}
    assert table_dump(connection) == before


def test_one_edited_quote_is_one_revision_of_that_fact_alone(
    connection: sa.Connection, tmp_path: Path
) -> None:
    root = copy_fixtures(tmp_path)
    rewrite(root, "casualties.yaml", shorten_quote)
    other = "stm-000-wang-supports-csto-force"
    edited_before, other_before = answer(connection, EDITED), answer(connection, other)
    start = counted(connection)

    outcome = apply(connection, root, "Quote cut to the words that say it")

    assert outcome.summary() == "1 change: casualty 1 updated"
    ((kind, record, operation, stored),) = revisions(
        connection, "Quote cut to the words that say it"
    )
    assert (kind, record, operation) == ("casualty", EDITED, "updated")
    document, digest, revision = answer(connection, EDITED)
    assert document == stored and digest != edited_before[1] and revision > edited_before[2]
    assert answer(connection, other) == other_before
    # Exactly that fact's rows: its fact, casualty, actor links, citation and answer, each
    # deleted and written again, plus its record, its revision, its key's dispute and the
    # dataset version.
    assert set(written(connection, start)) <= {
        "facts", "casualties", "fact_actors", "citations", "fact_documents",
        "records", "revisions", "disputed_quantities", "dataset_version",
    }  # fmt: skip
    assert written(connection, start)["facts"] == 2
    assert written(connection, start)["revisions"] == 1


def test_an_added_fact_is_created_and_a_removed_one_leaves_a_tombstone(
    connection: sa.Connection, tmp_path: Path
) -> None:
    root = copy_fixtures(tmp_path)
    rewrite(root, "casualties.yaml", lambda records: [*records, {**ADDED}])
    # An arrest whose actors other facts name too: removing it leaves no actor unused.
    removed = connection.exec_driver_sql(
        "SELECT f.id FROM facts f WHERE f.kind = 'arrest' AND NOT EXISTS ("
        "  SELECT FROM fact_actors a WHERE a.fact_id = f.id AND NOT EXISTS ("
        "    SELECT FROM fact_actors b WHERE b.actor_id = a.actor_id AND b.fact_id <> f.id)) "
        "ORDER BY f.id LIMIT 1"
    ).scalar_one()
    rewrite(root, "arrests.yaml", lambda records: [r for r in records if r["id"] != removed])

    outcome = apply(connection, root, "One added, one withdrawn")

    assert outcome.changes == {("casualty", "created"): 1, ("arrest", "deleted"): 1}
    logged = revisions(connection, "One added, one withdrawn")
    assert [row[:3] for row in logged] == [
        ("casualty", "cas-test-added", "created"),
        ("arrest", removed, "deleted"),
    ]
    assert logged[1][3] is None, "a tombstone has no answer"
    left = connection.exec_driver_sql(
        "SELECT (SELECT count(*) FROM facts WHERE id = %(id)s), "
        "(SELECT state FROM records WHERE kind = 'arrest' AND id = %(id)s)",
        {"id": removed},
    ).one()
    assert tuple(left) == (0, None)
    assert answer(connection, "cas-test-added")[0] == logged[0][3]


def test_a_renamed_actor_rewrites_the_answers_that_name_it(
    connection: sa.Connection, tmp_path: Path
) -> None:
    root = copy_fixtures(tmp_path)

    def rename(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for record in records:
            if record["id"] == "wang-wenbin":
                record["name"] = "Wang Wenbin (spokesman)"
        return records

    rewrite(root, "actors.yaml", rename)
    naming = connection.exec_driver_sql(
        "SELECT count(DISTINCT fact_id) FROM fact_actors WHERE actor_id = 'wang-wenbin'"
    ).scalar_one()
    outcome = apply(connection, root)
    assert outcome.changes[("actor", "updated")] == 1
    assert sum(n for (kind, _), n in outcome.changes.items() if kind != "actor") == naming > 0
    stale = connection.exec_driver_sql(
        "SELECT count(*) FROM fact_documents d JOIN fact_actors a ON a.fact_id = d.fact_id "
        "WHERE a.actor_id = 'wang-wenbin' AND strpos(d.document, %(name)s) = 0",
        {"name": "Wang Wenbin (spokesman)"},
    ).scalar_one()
    assert stale == 0


def test_a_retitled_source_rewrites_the_citations_that_show_it(
    connection: sa.Connection, tmp_path: Path
) -> None:
    """Citations embed their source's title: a new title reaches every fact and dispute
    citing it, as a renamed actor reaches the facts that name it."""
    source, title = "src-004-security-chief-arrested", "A retitled article"
    root = copy_fixtures(tmp_path)
    sources = root / "articles" / "sources.yaml"
    records = yaml.safe_load(sources.read_text("utf-8"))
    for record in records:
        if record["id"] == source:
            record["title"] = title
    sources.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")

    outcome = apply(connection, root)

    assert outcome.changes[("source", "updated")] == 1
    citing = connection.exec_driver_sql(
        "SELECT count(DISTINCT fact_id) FROM citations WHERE source_id = %(s)s", {"s": source}
    ).scalar_one()
    assert sum(n for (kind, _), n in outcome.changes.items() if kind != "source") == citing > 0
    documents = connection.exec_driver_sql(
        "SELECT document FROM fact_documents d WHERE EXISTS (SELECT FROM citations c "
        "  WHERE c.fact_id = d.fact_id AND c.source_id = %(s)s) "
        "UNION ALL SELECT document FROM disputed_quantities",
        {"s": source},
    ).scalars()
    shown = [
        citation.source.title
        for document in documents
        for citation in _citations(msgspec.json.decode(document))
        if citation.source_id == source
    ]
    assert len(shown) >= citing and set(shown) == {title}


def _citations(answer: dict[str, Any]) -> list[schemas.Citation]:
    """The citations of a stored fact's or dispute's answer."""
    if "values" in answer:
        found = [value["citation"] for value in answer["values"]]
    else:
        found = answer["citations"]
    return [msgspec.convert(c, schemas.Citation) for c in found]


def test_a_changed_figure_redecides_its_dispute(connection: sa.Connection, tmp_path: Path) -> None:
    key, fact_id, count = connection.exec_driver_sql(
        "SELECT f.quantity_key, f.id, c.count FROM facts f JOIN casualties c ON c.fact_id = f.id "
        "JOIN disputed_quantities d ON d.quantity_key = f.quantity_key ORDER BY f.id LIMIT 1"
    ).one()
    root = copy_fixtures(tmp_path)

    def change(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for record in records:
            if record["id"] == fact_id:
                record["count"] = count + 1000
        return records

    rewrite(root, "casualties.yaml", change)
    apply(connection, root)
    document = connection.exec_driver_sql(
        "SELECT document FROM disputed_quantities WHERE quantity_key = %(k)s", {"k": key}
    ).scalar_one()
    dispute = msgspec.json.decode(document, type=schemas.Dispute)
    assert {v.fact_id: v.figure.count for v in dispute.values}[fact_id] == count + 1000
    assert dispute.high is not None and dispute.high >= count + 1000


def test_every_stored_answer_is_its_struct_encoded(connection: sa.Connection) -> None:
    """One shape: a stored answer decodes into the Struct the OpenAPI shows and encodes
    back to the same bytes; its digest is its SHA-256's first 16 bytes."""
    rows = connection.exec_driver_sql("SELECT document FROM fact_documents").scalars().all()
    assert rows
    for document in rows:
        decoded = msgspec.json.decode(document, type=schemas.AnyFact)
        assert msgspec.json.encode(decoded).decode() == document
    wrong = connection.exec_driver_sql(
        "SELECT count(*) FROM fact_documents "
        "WHERE digest <> substr(sha256(convert_to(document, 'UTF8')), 1, 16)"
    ).scalar_one()
    assert wrong == 0


def test_a_refused_change_leaves_everything_as_it_was(
    connection: sa.Connection, tmp_path: Path
) -> None:
    """Writing stops at the first problem; the caller's rollback undoes what came before."""
    root = copy_fixtures(tmp_path)
    rewrite(root, "casualties.yaml", shorten_quote)  # good, and applied before the bad one
    rewrite(
        root,
        "arrests.yaml",
        lambda records: [*records, {**records[0], "id": "arr-x", "claimant": "nobody"}],
    )
    before = table_dump(connection)
    with pytest.raises(engine.FixtureError, match="unknown actor 'nobody'"):
        with connection.begin_nested():
            apply(connection, root)
    assert table_dump(connection) == before


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    """A database of the curator tests' own, loaded with the fixtures."""
    with loaded_database(server_url, "diff", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[TestClient[Litestar]]:
    settings = Settings(
        database_url=url,
        rate_limit_per_minute=0,
        answer_cache_entries=0,
        allowed_hosts=("testserver.local",),
    )
    with TestClient(create_app(settings)) as client:
        yield client


class TestAsACuratorSeesIt:
    """The CLI's loads against a database of their own, read back through the API."""

    @staticmethod
    def load(url: str, root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
        monkeypatch.setenv("DATABASE_URL", url)
        return cli.main(["load", str(root), *args])

    def test_a_second_load_says_0_changes(
        self, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        version = self.version(url)
        assert self.load(url, FIXTURES, monkeypatch) == 0
        assert "kazakhstan-2022: 0 changes" in capsys.readouterr().out
        assert self.version(url) == version

    def test_an_edit_an_addition_and_a_removal_are_three_revisions(
        self,
        url: str,
        client: TestClient[Litestar],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        edited, other = (
            f"/v1/casualties/{EDITED}",
            "/v1/statements/stm-000-wang-supports-csto-force",
        )
        etags = {path: client.get(path).headers["etag"] for path in (edited, other)}
        removed = "arr-002-nationwide-4400"
        root = copy_fixtures(tmp_path)
        rewrite(root, "casualties.yaml", shorten_quote)
        rewrite(root, "casualties.yaml", lambda records: [*records, {**ADDED}])
        rewrite(root, "arrests.yaml", lambda records: [r for r in records if r["id"] != removed])

        message = "Correction: quote cut, figure added, duplicate withdrawn"
        assert self.load(url, root, monkeypatch, "--message", message) == 0
        assert "3 changes" in capsys.readouterr().out
        with psycopg.connect(url) as conn:
            logged = conn.execute(
                "SELECT kind, record_id, operation FROM revisions WHERE message = %s "
                "ORDER BY revision",
                [message],
            ).fetchall()
        assert sorted(logged) == sorted(
            [
                ("arrest", removed, "deleted"),
                ("casualty", ADDED["id"], "created"),
                ("casualty", EDITED, "updated"),
            ]
        )
        assert client.get(edited).headers["etag"] != etags[edited]
        assert client.get(other).headers["etag"] == etags[other]
        assert client.get(f"/v1/casualties/{ADDED['id']}").status_code == 200
        gone = client.get(f"/v1/arrests/{removed}")
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert message in gone.json()["detail"]

    @staticmethod
    def version(url: str) -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT version FROM dataset_version").fetchone()
        assert row is not None
        return int(row[0])
