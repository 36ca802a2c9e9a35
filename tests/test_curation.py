"""Curators' writes of articles and actors through the API, as a curator's client makes
them: created, cited, edited against an ETag, retried, refused, and kept by an export."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service import cli, engine, keys
from service.app import create_app
from service.settings import Settings
from service.vocabulary import Role
from tests.conftest import FIXTURES, loaded_database
from tests.test_export import cells_unlike_answers
from tests.waiting import until

CRISIS = "kazakhstan-2022"
TEXT = (
    "ALMATY, 9 January (Desk) - The interior ministry said on Sunday that 5,800 people had "
    "been detained across the country.\nA ministry spokesman, Ruslan Abdiev, said order had "
    "been restored in every region.\n"
)
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "curation", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[TestClient[Litestar]]:
    settings = Settings(
        database_url=url, allowed_hosts=("testserver.local",), rate_limit_per_minute=0
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(url: str) -> dict[Role, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {role: keys.create(conn, f"{role.value}-desk", role) for role in Role}


def as_curator(tokens: dict[Role, str], **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[Role.CURATOR]}", **headers}


def new_source(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"src-api-{secrets.token_hex(3)}",
        "crisis": CRISIS,
        "title": "Kazakhstan says 5,800 detained",
        "language": "en",
        "published": "2022-01-09",
        "published_note": "Date line of the dispatch.",
        "outlet": "Desk",
        "url": "https://desk.example/kz-detained",
        "text": TEXT,
    }
    record.update(changes)
    return record


def new_actor(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"api-spokesman-{secrets.token_hex(3)}",
        "crisis": CRISIS,
        "kind": "person",
        "name": f"Ruslan Abdiev {secrets.token_hex(2)}",
        "role": "Interior ministry spokesman",
        "aliases": [{"name": f"Abdiev {secrets.token_hex(2)}", "language": "en"}],
    }
    record.update(changes)
    return record


def post(client: TestClient[Litestar], tokens: dict[Role, str], path: str, body: Any) -> Any:
    answer = client.post(path, json=body, headers=as_curator(tokens, **{"X-Edit-Summary": "New"}))
    assert answer.status_code == 201, answer.text
    return answer


class TestSources:
    def test_a_posted_article_is_served_with_its_revision_and_digest(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, "/v1/sources", new_source())
        source = created.json()
        assert created.headers["location"] == f"/v1/sources/{source['id']}"
        assert source["sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
        assert source["published"] == {"value": "2022-01-09", "precision": "day"}
        assert (source["length"], source["file_name"]) == (len(TEXT), f"{source['id']}.txt")
        read = client.get(created.headers["location"])
        assert read.json() == source and read.headers["etag"] == created.headers["etag"]
        (revision,) = client.get(f"{created.headers['location']}/revisions").json()
        assert (revision["operation"], revision["author"], revision["message"]) == (
            "created",
            "curator-desk",
            "New",
        )
        assert revision["answer"] == source
        one = client.get(f"{created.headers['location']}/revisions/{revision['revision']}")
        assert one.json() == revision
        feed = client.get("/v1/changes", params={"kind": "source", "limit": 200}).json()
        (change,) = [c for c in feed["items"] if c["id"] == source["id"]]
        assert change["answer"] == source and change["revision"] == revision["revision"]

    @pytest.mark.parametrize(
        "address", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://desk.example/a", ""]
    )
    def test_an_article_s_address_is_a_web_address(
        self, client: TestClient[Litestar], tokens: dict[Role, str], address: str
    ) -> None:
        record = new_source(url=address)
        refused = client.post("/v1/sources", json=record, headers=as_curator(tokens))
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "url" in refused.text
        assert client.get(f"/v1/sources/{record['id']}").status_code == 404

    def test_a_fact_cites_a_posted_article_by_quote(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        source = post(client, tokens, "/v1/sources", new_source()).json()
        quote = "5,800 people had been detained across the country"
        fact = post(client, tokens, "/v1/arrests", {
            "crisis": CRISIS, "id": f"arr-api-{secrets.token_hex(3)}", "confirmed": True,
            "count": 5800, "hedge": "exact",
            "citations": [{"source": source["id"], "quote": quote}],
        }).json()  # fmt: skip
        (citation,) = fact["citations"]
        assert TEXT[citation["start"] : citation["end"]] == quote
        assert citation["source"]["outlet"] == "Desk"

    def test_a_posted_article_is_found_by_search(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        word = f"zhanaozen{secrets.token_hex(3)}"
        source = post(client, tokens, "/v1/sources", new_source(text=f"{TEXT} {word}\n")).json()
        hits = client.get("/v1/search", params={"q": word}).json()["items"]
        assert [(hit["type"], hit["id"]) for hit in hits] == [("source", source["id"])]

    def test_a_publication_date_says_its_precision(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        source = post(client, tokens, "/v1/sources", new_source(published="2022-01")).json()
        assert source["published"] == {"value": "2022-01", "precision": "month"}

    def test_lines_end_as_a_loaded_file_s_do(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        text = TEXT.replace("\n", "\r\n")
        source = post(client, tokens, "/v1/sources", new_source(text=text)).json()
        assert source["sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()

    @pytest.mark.parametrize(
        ("body", "status", "named"),
        [
            (new_source(crisis="nowhere"), 422, "unknown crisis 'nowhere'"),
            (new_source(published="2022-02-31"), 422, "bad date '2022-02-31'"),
            (new_source(colour="red"), 400, "colour"),
            (new_source(language="kk"), 400, "language"),
            (new_source(title=7), 400, "title"),
            ({k: v for k, v in new_source().items() if k != "text"}, 400, "text"),
            (new_source(text=""), 400, "text"),
            (new_source(text="a\x00b"), 400, "body.text"),
            (new_source(title="\ud800"), 400, "surrogate"),
            (new_source(id="Not A Slug"), 400, "id"),
        ],
        ids=[
            "crisis",
            "date",
            "unknown-field",
            "enum",
            "wrong-type",
            "missing-text",
            "empty-text",
            "nul",
            "surrogate",
            "id",
        ],
    )
    def test_a_bad_article_is_refused_naming_why(
        self,
        client: TestClient[Litestar],
        tokens: dict[Role, str],
        body: Any,
        status: int,
        named: str,
    ) -> None:
        content = json.dumps(body).encode()  # a lone surrogate escaped, as JSON may
        headers = as_curator(tokens, **{"Content-Type": "application/json"})
        answer = client.post("/v1/sources", content=content, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.text
        assert client.get(f"/v1/sources/{body['id']}").status_code in {400, 404}, "none stored"

    def test_a_taken_id_a_wrong_type_or_no_key_is_refused(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        taken = new_source(id="src-004-security-chief-arrested")
        assert client.post("/v1/sources", json=taken, headers=as_curator(tokens)).status_code == 409
        plain = as_curator(tokens, **{"Content-Type": "text/plain"})
        assert client.post("/v1/sources", content=b"{}", headers=plain).status_code == 415
        anonymous = client.post("/v1/sources", json=new_source())
        assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers

    def test_a_count_without_its_hedge_is_refused_not_a_500(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        """The loader let an arrest's count without a hedge through; the database did not."""
        source = post(client, tokens, "/v1/sources", new_source()).json()
        fact = {
            "crisis": CRISIS, "id": f"arr-api-{secrets.token_hex(3)}", "confirmed": True,
            "count": 5800, "citations": [{"source": source["id"], "quote": "5,800 people"}],
        }  # fmt: skip
        answer = client.post("/v1/arrests", json=fact, headers=as_curator(tokens))
        assert answer.status_code == 422 and "a count needs a hedge" in answer.text

    def test_a_nul_character_is_refused_in_a_fact_too(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        """PostgreSQL text cannot hold one: it was a 500."""
        source = post(client, tokens, "/v1/sources", new_source()).json()
        fact = {
            "crisis": CRISIS, "id": f"arr-api-{secrets.token_hex(3)}", "confirmed": True,
            "count": 5800, "hedge": "exact", "note": "a\x00b",
            "citations": [{"source": source["id"], "quote": "5,800 people"}],
        }  # fmt: skip
        answer = client.post("/v1/arrests", json=fact, headers=as_curator(tokens))
        assert answer.status_code == 400 and "body.note" in answer.text

    def test_a_long_article_is_accepted(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        """An article is larger than the 16 kB any other body may be."""
        text = TEXT * 300
        source = post(client, tokens, "/v1/sources", new_source(text=text)).json()
        assert source["length"] == len(text) > 60_000

    def test_a_retried_post_replays_and_a_reused_key_is_refused(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        body = new_source()
        headers = as_curator(tokens, **{"Idempotency-Key": secrets.token_hex(8)})
        first = client.post("/v1/sources", json=body, headers=headers)
        again = client.post("/v1/sources", json=body, headers=headers)
        assert first.status_code == 201
        assert (again.status_code, again.content, again.headers["etag"]) == (
            201,
            first.content,
            first.headers["etag"],
        )
        other = client.post("/v1/sources", json={**body, "title": "Other"}, headers=headers)
        assert other.status_code == 422 and "Idempotency-Key" in other.text
        assert len(client.get(f"/v1/sources/{body['id']}/revisions").json()) == 1


class TestActors:
    def test_a_posted_actor_is_served_with_its_aliases_and_revision(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        body = new_actor()
        created = post(client, tokens, "/v1/actors", body)
        actor = created.json()
        assert actor["aliases"] == body["aliases"] and actor["fact_counts"] == {}
        read = client.get(created.headers["location"])
        assert read.json() == actor and read.headers["etag"] == created.headers["etag"]
        (revision,) = client.get(f"{created.headers['location']}/revisions").json()
        assert (revision["operation"], revision["author"]) == ("created", "curator-desk")
        assert revision["answer"] == actor

    def test_an_edit_needs_the_etag_it_was_made_against(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, "/v1/actors", new_actor())
        path, etag = created.headers["location"], created.headers["etag"]
        alias = f"R. Abdiev {secrets.token_hex(2)}"
        change: dict[str, Any] = {"role": None, "aliases": [{"name": alias}]}
        missing = client.patch(path, json=change, headers=as_curator(tokens, **MERGE))
        assert missing.status_code == 428 and missing.headers["content-type"] == (
            "application/problem+json"
        )
        edited = client.patch(
            path, json=change, headers=as_curator(tokens, **MERGE, **{"If-Match": etag})
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["role"] is None
        assert edited.json()["aliases"] == [{"name": alias, "language": None}]
        assert edited.headers["etag"] != etag
        # Each worker drops its kept answers when the write's notification reaches it.
        until(lambda: client.get(path).headers["etag"] == edited.headers["etag"])
        stale = client.patch(
            path, json={"kind": "group"}, headers=as_curator(tokens, **MERGE, **{"If-Match": etag})
        )
        assert stale.status_code == 412 and stale.headers["etag"] == edited.headers["etag"]
        history = client.get(f"{path}/revisions").json()
        assert [r["operation"] for r in history] == ["updated", "created"]
        assert history[1]["answer"]["role"] == "Interior ministry spokesman"

    def test_concurrent_edits_with_one_etag_make_exactly_one_change(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, "/v1/actors", new_actor())
        path, etag = created.headers["location"], created.headers["etag"]
        headers = as_curator(tokens, **MERGE, **{"If-Match": etag})

        def edit(n: int) -> int:
            return client.patch(path, json={"role": f"Role {n}"}, headers=headers).status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = sorted(pool.map(edit, range(16)))
        assert statuses == [200] + [412] * 15
        assert len(client.get(f"{path}/revisions").json()) == 2

    def test_a_new_name_reaches_the_facts_that_involve_the_actor(
        self, client: TestClient[Litestar], tokens: dict[Role, str], url: str
    ) -> None:
        actor = post(client, tokens, "/v1/actors", new_actor()).json()
        source = post(client, tokens, "/v1/sources", new_source()).json()
        published = {  # what every reader counts, with a key or without
            "crisis": CRISIS, "id": f"stm-api-{secrets.token_hex(3)}", "speaker": actor["id"],
            "content": "order had been restored in every region", "mode": "reported",
            "language": "en", "citations": [{"source": source["id"], "quote": "order had been "
                                             "restored in every region"}],
            "review": {"status": "published"},
        }  # fmt: skip
        editor = {"Authorization": f"Bearer {tokens[Role.EDITOR]}", "X-Edit-Summary": "New"}
        made = client.post("/v1/statements", json=published, headers=editor)
        assert made.status_code == 201, made.text
        fact = made.json()
        read = client.get(f"/v1/actors/{actor['id']}")
        assert read.json()["fact_counts"] == {"statement": 1}
        retitled = client.patch(
            f"/v1/actors/{actor['id']}",
            json={"role": "Spokesman"},
            headers=as_curator(tokens, **MERGE, **{"If-Match": read.headers["etag"]}),
        )
        assert retitled.json()["fact_counts"] == {"statement": 1}, "an edit counts its facts"
        until(lambda: client.get(f"/v1/actors/{actor['id']}").json() == retitled.json())
        (change,) = client.get(f"/v1/actors/{actor['id']}/revisions", params={"limit": 1}).json()
        assert change["answer"] == retitled.json(), "the revision's answer is the actor's"
        renamed = client.patch(
            f"/v1/actors/{actor['id']}",
            json={"name": "Ruslan Abdiyev"},
            headers=as_curator(tokens, **MERGE, **{"If-Match": retitled.headers["etag"]}),
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["fact_counts"] == {"statement": 1}
        statement = client.get(f"/v1/statements/{fact['id']}", headers=as_curator(tokens)).json()
        assert statement["speaker"]["name"] == "Ruslan Abdiyev"
        history = client.get(
            f"/v1/statements/{fact['id']}/revisions", headers=as_curator(tokens)
        ).json()
        assert [r["operation"] for r in history] == ["updated", "created"], "once: on the rename"
        history = client.get(f"/v1/actors/{actor['id']}/revisions", params={"limit": 3}).json()
        assert [r["answer"] for r in history[:2]] == [renamed.json(), retitled.json()]
        assert cells_unlike_answers(url) == [], "a CSV export has the new name too"

    @pytest.mark.parametrize(
        ("changes", "status", "named"),
        [
            (
                {"aliases": [{"name": "Tokayev"}]},
                422,
                "alias 'Tokayev' already names actor 'kassym-jomart-tokayev'",
            ),
            ({"name": "Tokayev"}, 422, "its name 'Tokayev' is an alias of 'kassym-jomart-tokayev'"),
            (
                {"aliases": [{"name": "Karim Massimov"}]},
                422,
                "actor 'karim-massimov': its name 'Karim Massimov' is an alias of",
            ),
            ({"aliases": [{"name": "Same"}, {"name": "Same"}]}, 422, "alias 'Same' already names"),
            ({"crisis": "nowhere"}, 422, "unknown crisis 'nowhere'"),
            ({"kind": "alien"}, 400, "kind"),
            ({"aliases": [{"name": "X", "language": "kk"}]}, 400, "language"),
            ({"aliases": [{"name": "X", "lang": "en"}]}, 400, "lang"),
            ({"name": None}, 400, "name"),
            ({"nickname": "X"}, 400, "nickname"),
        ],
        ids=[
            "alias-taken",
            "name-is-alias",
            "alias-is-name",
            "alias-twice",
            "crisis",
            "kind",
            "alias-language",
            "alias-unknown-field",
            "name-null",
            "unknown-field",
        ],
    )
    def test_a_bad_actor_is_refused_naming_why(
        self,
        client: TestClient[Litestar],
        tokens: dict[Role, str],
        changes: dict[str, Any],
        status: int,
        named: str,
    ) -> None:
        body = new_actor(**changes)
        answer = client.post("/v1/actors", json=body, headers=as_curator(tokens))
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.text
        assert client.get(f"/v1/actors/{body['id']}").status_code == 404, "nothing stored"

    @pytest.mark.parametrize(
        ("change", "status", "named"),
        [
            ({"aliases": [{"name": "Tokayev"}]}, 422, "already names actor"),
            ({"id": "someone-else"}, 422, "id and crisis cannot change"),
            ({"crisis": CRISIS}, 422, "id and crisis cannot change"),
            ({"kind": "alien"}, 422, "kind"),
            ({"colour": "red"}, 422, "colour"),
            ({"name": 7}, 422, "name"),
            ({"role": "a\x00b"}, 400, "body.role"),
        ],
        ids=["alias-taken", "id", "crisis", "kind", "unknown-field", "wrong-type", "nul"],
    )
    def test_a_bad_edit_is_refused_naming_why(
        self,
        client: TestClient[Litestar],
        tokens: dict[Role, str],
        change: dict[str, Any],
        status: int,
        named: str,
    ) -> None:
        created = post(client, tokens, "/v1/actors", new_actor())
        path, etag = created.headers["location"], created.headers["etag"]
        headers = as_curator(tokens, **MERGE, **{"If-Match": etag})
        answer = client.patch(path, json=change, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.text
        assert client.get(path).json() == created.json(), "nothing changed"

    def test_a_missing_actor_answers_404_and_a_taken_id_409(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        headers = as_curator(tokens, **MERGE, **{"If-Match": '"1.' + "0" * 32 + '"'})
        missing = client.patch("/v1/actors/nobody-at-all", json={"role": "x"}, headers=headers)
        assert missing.status_code == 404
        taken = client.post(
            "/v1/actors", json=new_actor(id="karim-massimov"), headers=as_curator(tokens)
        )
        assert taken.status_code == 409
        assert client.get("/v1/actors/nobody-at-all/revisions").status_code == 404

    def test_a_retried_post_replays(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        body = new_actor()
        headers = as_curator(tokens, **{"Idempotency-Key": secrets.token_hex(8)})
        first = client.post("/v1/actors", json=body, headers=headers)
        again = client.post("/v1/actors", json=body, headers=headers)
        assert (first.status_code, again.status_code, again.content) == (201, 201, first.content)
        assert client.post("/v1/actors", json=new_actor(), headers=headers).status_code == 422


def run(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    return cli.main(list(args))


@pytest.fixture
def own_url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "curexp", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


def test_an_export_keeps_posted_articles_and_actors(
    own_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A load refuses to undo them; exported, they load as 0 changes."""
    settings = Settings(database_url=own_url, allowed_hosts=("testserver.local",))
    with psycopg.connect(own_url, autocommit=True) as conn:
        tokens = {Role.CURATOR: keys.create(conn, "night-desk", Role.CURATOR)}
    with TestClient(create_app(settings)) as client:
        source = post(client, tokens, "/v1/sources", new_source(text=TEXT.replace("\n", "\r\n")))
        actor = post(client, tokens, "/v1/actors", new_actor())
        edited = client.patch(
            actor.headers["location"],
            json={"aliases": [{"name": "Abdiev", "language": "en"}], "role": None},
            headers=as_curator(tokens, **MERGE, **{"If-Match": actor.headers["etag"]}),
        )
        assert edited.status_code == 200, edited.text
        post(client, tokens, "/v1/statements", {
            "crisis": CRISIS, "id": "stm-api-exported", "speaker": actor.json()["id"],
            "content": "order had been restored", "mode": "reported", "language": "en",
            "citations": [{"source": source.json()["id"], "quote": "order had been restored"}],
        })  # fmt: skip
    assert run(own_url, monkeypatch, "load") == 2
    refused = capsys.readouterr().err
    assert f"source {source.json()['id']!r}: changed through the API by 'night-desk'" in refused
    assert f"actor {actor.json()['id']!r}: changed through the API by 'night-desk'" in refused
    assert run(own_url, monkeypatch, "export", "--crisis", CRISIS, "--out", str(tmp_path)) == 0
    assert run(own_url, monkeypatch, "load", str(tmp_path)) == 0
    assert f"{CRISIS}: 0 changes" in capsys.readouterr().out
    text = (tmp_path / "articles" / f"{source.json()['id']}.txt").read_text(encoding="utf-8")
    assert hashlib.sha256(text.encode()).hexdigest() == source.json()["sha256"]
    assert run(own_url, monkeypatch, "load", "--force") == 0, "the curated fixtures win, by force"
    assert "source 1 deleted" in capsys.readouterr().out


def test_every_operation_declares_its_security() -> None:
    """Writes name the bearer key; reads declare none, explicitly (Redocly's
    security-defined); the contract says whose it is and on what terms."""
    committed = json.loads((FIXTURES.parent / "openapi" / "v1.json").read_text("utf-8"))
    for path, item in committed["paths"].items():
        for method, operation in item.items():
            public = method == "get" and "webhook" not in path and path != "/v1/me"
            expected: list[Any] = [] if public else [{"bearer": []}]
            assert operation["security"] == expected, (method, path)
    assert committed["info"]["license"]["name"] and committed["info"]["contact"]["name"]
