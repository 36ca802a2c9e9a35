"""Review states: a curator's fact is a draft, seen only with a key, until an editor
publishes it; an editor retracts a published fact, saying why, and it leaves every list
unless `include=retracted`, staying readable at its URL."""

from __future__ import annotations

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
from service.engine.rows import KINDS
from service.settings import Settings
from service.vocabulary import Role
from tests.conftest import FIXTURES, loaded_database
from tests.waiting import until

CRISIS = "kazakhstan-2022"
SOURCE = "src-004-security-chief-arrested"
QUOTE = "the police also reporting 18 killed and 748 wounded in their ranks"
MERGE = "application/merge-patch+json"


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "review", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


def client_of(url: str) -> TestClient[Litestar]:
    settings = Settings(
        database_url=url, allowed_hosts=("testserver.local",), rate_limit_per_minute=0
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[TestClient[Litestar]]:
    with client_of(url) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(url: str) -> dict[Role, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {role: keys.create(conn, f"{role.value}-desk", role) for role in Role}


def as_(tokens: dict[Role, str], role: Role, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}", **headers}


def new_casualty(**changes: Any) -> dict[str, Any]:
    word = f"zq{secrets.token_hex(4)}"  # a word no other fact holds, to search for
    record: dict[str, Any] = {
        "crisis": CRISIS,
        "id": f"cas-review-{secrets.token_hex(3)}",
        "category": "killed",
        "victim_group": "soldiers",
        "count": 99,
        "key": "killed.soldiers",  # one published fact gives another figure: a dispute
        "date": "2022-01-06",
        "claimant": "kz-police",
        "note": f"Draft figure {word}.",
        "citations": [{"source": SOURCE, "quote": QUOTE}],
    }
    record.update(changes)
    return record


def post(client: TestClient[Litestar], tokens: dict[Role, str], role: Role, body: Any) -> Any:
    answer = client.post("/v1/casualties", json=body, headers=as_(tokens, role))
    assert answer.status_code == 201, answer.text
    return answer


def move(
    client: TestClient[Litestar],
    tokens: dict[Role, str],
    path: str,
    to: str,
    etag: str,
    role: Role = Role.EDITOR,
    **body: Any,
) -> Any:
    """POST .../publication or .../retraction with If-Match."""
    headers = as_(tokens, role, **{"If-Match": etag})
    return client.post(f"{path}/{to}", json=body or None, headers=headers)


def ids(answer: Any) -> list[str]:
    """The ids of a list's items, a search's hits, or a dispute page's values."""
    assert answer.status_code == 200, answer.text
    found = []
    for item in answer.json()["items"]:
        found.append(item["id"] if "id" in item else item["key"])
        found.extend(value["fact_id"] for value in item.get("values", []))
    return found


def surfaces(fact: dict[str, Any]) -> dict[str, str]:
    """Every public answer a fact can appear in, by what it is."""
    word, key = fact["note"].split()[-1].rstrip("."), fact["quantity_key"]
    return {
        "list": "/v1/casualties?limit=200",
        "list by key": f"/v1/casualties?key={key}",
        "list by actor": "/v1/casualties?actor=kz-police&limit=200",
        "timeline": f"/v1/timeline?key={key}",
        "search": f"/v1/search?q={word}",
        "disputes": f"/v1/disputes?key={key}",
    }


def changes_of(client: TestClient[Litestar], record_id: str, **headers: str) -> list[Any]:
    items, since = [], None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"since": since} if since else {})}
        page = client.get("/v1/changes", params=params, headers=headers).json()
        items += [(c["operation"], c["author"]) for c in page["items"] if c["id"] == record_id]
        if not page["items"]:
            return items
        since = page["next_cursor"]


class TestDrafts:
    def test_a_curators_fact_is_a_draft_seen_only_with_a_key(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        body = new_casualty()
        created = post(client, tokens, Role.CURATOR, body)
        fact, path = created.json(), created.headers["location"]
        assert fact["review"] == {"status": "draft", "reason": None, "by": None, "at": None}
        keyed = as_(tokens, Role.CURATOR)
        for what, url in surfaces(fact).items():
            assert fact["id"] in ids(client.get(url, headers=keyed)), what
            assert fact["id"] not in ids(client.get(url)), f"{what}: a draft shown to the public"
            retracted_too = f"{url}&include=retracted"
            assert fact["id"] not in ids(client.get(retracted_too)), what
        assert client.get(path).status_code == 404
        assert client.get(path, headers=keyed).json() == fact
        assert client.get(f"{path}/revisions").status_code == 404
        assert client.get(f"{path}/revisions", headers=keyed).status_code == 200
        assert changes_of(client, fact["id"]) == []
        assert changes_of(client, fact["id"], **keyed) == [("created", "curator-desk")]
        exported = client.get("/v1/export/casualties.ndjson").text
        assert (
            fact["id"] not in exported
            and fact["id"] in client.get("/v1/export/casualties.ndjson", headers=keyed).text
        )

    def test_a_draft_edited_and_deleted_stays_out_of_sight(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        path, etag = created.headers["location"], created.headers["etag"]
        headers = as_(tokens, Role.CURATOR, **{"If-Match": etag, "Content-Type": MERGE})
        edited = client.patch(path, json={"count": 98}, headers=headers)
        assert edited.status_code == 200 and edited.json()["review"]["status"] == "draft"
        why = {"If-Match": edited.headers["etag"], "X-Edit-Summary": "Abandoned draft"}
        assert client.delete(path, headers=as_(tokens, Role.EDITOR, **why)).status_code == 200
        assert client.get(path).status_code == 404, "a deleted draft was never public"
        assert client.get(path, headers=as_(tokens, Role.CURATOR)).status_code == 410
        assert changes_of(client, created.json()["id"]) == []

    def test_a_read_with_a_key_that_is_not_valid_is_refused(
        self, client: TestClient[Litestar]
    ) -> None:
        answer = client.get("/v1/casualties", headers={"Authorization": "Bearer cfk_forged"})
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"

    def test_a_read_with_a_key_is_never_kept_for_the_public(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        url = surfaces(created.json())["list by key"]
        keyed = client.get(url, headers=as_(tokens, Role.CURATOR))
        assert keyed.headers["cache-control"] == "private, no-store"
        assert created.json()["id"] not in ids(client.get(url))


class TestWhoMay:
    def test_a_curator_may_not_publish_or_retract(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        path, etag = created.headers["location"], created.headers["etag"]
        assert move(client, tokens, path, "publication", etag, Role.CURATOR).status_code == 403
        published = client.get("/v1/casualties/cas-003-police-killed")
        assert published.status_code == 200
        retraction = move(
            client, tokens, "/v1/casualties/cas-003-police-killed", "retraction",
            published.headers["etag"], Role.CURATOR, reason="Wrong",
        )  # fmt: skip
        assert retraction.status_code == 403
        body = new_casualty(review={"status": "published"})
        refused = client.post("/v1/casualties", json=body, headers=as_(tokens, Role.CURATOR))
        assert refused.status_code == 403 and "editor" in refused.json()["detail"]
        assert client.get(f"/v1/casualties/{body['id']}").status_code == 404

    def test_an_editor_may_create_a_fact_published(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.EDITOR, new_casualty(review={"status": "published"}))
        fact = created.json()
        assert (fact["review"]["status"], fact["review"]["by"]) == ("published", "editor-desk")
        assert client.get(created.headers["location"]).json() == fact
        assert fact["id"] in ids(client.get(surfaces(fact)["list by key"]))

    def test_an_editors_post_without_review_is_a_draft_too(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.EDITOR, new_casualty())
        assert created.json()["review"]["status"] == "draft"
        assert client.get(created.headers["location"]).status_code == 404

    @pytest.mark.parametrize(
        "review",
        [{"status": "retracted", "reason": "x"}, {"status": "published", "by": "someone"}],
        ids=["created-retracted", "server-fields"],
    )
    def test_a_review_a_post_cannot_set_is_refused(
        self, client: TestClient[Litestar], tokens: dict[Role, str], review: Any
    ) -> None:
        body = new_casualty(review=review)
        refused = client.post("/v1/casualties", json=body, headers=as_(tokens, Role.EDITOR))
        assert refused.status_code == 422 and refused.json()["invalid_params"][0]["name"] == (
            "review"
        )


class TestPublication:
    def test_an_editor_publishes_a_draft_and_it_is_public_everywhere(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        path, fact = created.headers["location"], created.json()
        headers = as_(tokens, Role.EDITOR, **{"X-Edit-Summary": "Checked against AFP"})
        published = client.post(
            f"{path}/publication", headers={**headers, "If-Match": created.headers["etag"]}
        )
        assert published.status_code == 200, published.text
        review = published.json()["review"]
        assert (review["status"], review["by"], review["reason"]) == (
            "published", "editor-desk", None,
        )  # fmt: skip
        assert published.headers["etag"] != created.headers["etag"]
        assert client.get(path).json() == published.json()
        for what, url in surfaces(fact).items():
            assert fact["id"] in ids(client.get(url)), what
        history = client.get(f"{path}/revisions").json()
        assert [(r["operation"], r["author"], r["message"]) for r in history] == [
            ("published", "editor-desk", "Checked against AFP")
        ], "the public history starts at publication"
        assert review["at"] == history[0]["made_at"]
        keyed = client.get(f"{path}/revisions", headers=as_(tokens, Role.CURATOR)).json()
        assert [r["operation"] for r in keyed] == ["published", "created"]
        assert changes_of(client, fact["id"]) == [("published", "editor-desk")]

    def test_a_curators_edit_of_a_published_fact_applies_at_once(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.EDITOR, new_casualty(review={"status": "published"}))
        path = created.headers["location"]
        headers = as_(
            tokens, Role.CURATOR, **{"If-Match": created.headers["etag"], "Content-Type": MERGE}
        )
        edited = client.patch(path, json={"count": 97}, headers=headers)
        assert edited.status_code == 200, edited.text
        public = client.get(path).json()
        assert public["figure"]["count"] == 97
        assert public["review"] == created.json()["review"], "still published, as the editor did"
        assert changes_of(client, public["id"])[-1] == ("updated", "curator-desk")

    def test_a_patch_does_not_change_a_review(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        headers = as_(
            tokens, Role.EDITOR, **{"If-Match": created.headers["etag"], "Content-Type": MERGE}
        )
        patched = client.patch(
            created.headers["location"], json={"review": {"status": "published"}}, headers=headers
        )
        assert patched.status_code == 422 and "publication" in patched.json()["detail"]

    def test_publishing_a_published_fact_is_a_conflict(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        path = "/v1/casualties/cas-002-police-seriously-injured"
        etag = client.get(path).headers["etag"]
        again = move(client, tokens, path, "publication", etag)
        assert again.status_code == 409 and "published already" in again.json()["detail"]

    def test_a_transition_needs_the_current_etag(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        path, etag = created.headers["location"], created.headers["etag"]
        missing = client.post(f"{path}/publication", headers=as_(tokens, Role.EDITOR))
        assert missing.status_code == 428
        edit = as_(tokens, Role.CURATOR, **{"If-Match": etag, "Content-Type": MERGE})
        edited = client.patch(path, json={"count": 96}, headers=edit)
        stale = move(client, tokens, path, "publication", etag)
        assert stale.status_code == 412 and stale.headers["etag"] == edited.headers["etag"]
        assert client.get(path).status_code == 404, "still a draft"


class TestRetraction:
    def test_a_retracted_fact_stays_at_its_url_and_leaves_every_list(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        # cas-003 gives 8 police killed, cas-004 gives 18: a dispute until one is retracted.
        path = "/v1/casualties/cas-003-police-killed"
        before = client.get(path)
        fact = before.json()
        lists = {
            "list": "/v1/casualties?limit=200",
            "list by key": "/v1/casualties?key=killed.police",
            "list by actor": "/v1/casualties?actor=kazakh-authorities&limit=200",
            "timeline": "/v1/timeline?key=killed.police",
            "search": "/v1/search?q=policiers&type=casualty&limit=200",
            "disputes": "/v1/disputes?key=killed.police",
        }
        for what, url in lists.items():
            assert fact["id"] in ids(client.get(url)), what
        reason = "The toll was the EVZ's misreading of the police figure"
        retracted = move(client, tokens, path, "retraction", before.headers["etag"], reason=reason)
        assert retracted.status_code == 200, retracted.text
        review = retracted.json()["review"]
        assert (review["status"], review["reason"], review["by"]) == (
            "retracted", reason, "editor-desk",
        )  # fmt: skip
        now = client.get(path)
        assert now.status_code == 200 and now.json() == retracted.json()
        for what, url in lists.items():
            assert fact["id"] not in ids(client.get(url)), f"{what}: a retracted fact listed"
            included = f"{url}&include=retracted"
            assert fact["id"] in ids(client.get(included)), f"{what} with include=retracted"
        assert client.get("/v1/disputes?key=killed.police").json()["items"] == [], (
            "one figure left: no dispute"
        )
        (latest, *_) = client.get(f"{path}/revisions").json()
        assert (latest["operation"], latest["message"], latest["author"]) == (
            "retracted", reason, "editor-desk",
        )  # fmt: skip
        assert latest["answer"] == now.json() and review["at"] == latest["made_at"]
        assert changes_of(client, fact["id"])[-1] == ("retracted", "editor-desk")
        assert fact["id"] not in client.get("/v1/export/casualties.ndjson").text
        # Edits wait until it is published again, which brings it back.
        headers = as_(
            tokens, Role.CURATOR, **{"If-Match": now.headers["etag"], "Content-Type": MERGE}
        )
        frozen = client.patch(path, json={"count": 9}, headers=headers)
        assert frozen.status_code == 409 and "retracted" in frozen.json()["detail"]
        again = move(client, tokens, path, "publication", now.headers["etag"])
        assert again.status_code == 200 and again.json()["review"]["reason"] is None
        for what, url in lists.items():
            assert fact["id"] in ids(client.get(url)), f"{what}: published again"

    @pytest.mark.parametrize(
        "body", [None, {}, {"reason": "  "}], ids=["no-body", "no-reason", "blank"]
    )
    def test_a_retraction_needs_a_reason(
        self, client: TestClient[Litestar], tokens: dict[Role, str], body: Any
    ) -> None:
        path = "/v1/casualties/cas-004-police-killed"
        before = client.get(path)
        headers = as_(tokens, Role.EDITOR, **{"If-Match": before.headers["etag"]})
        refused = client.post(f"{path}/retraction", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["invalid_params"][0]["name"] == "reason"
        assert client.get(path).headers["etag"] == before.headers["etag"], "nothing changed"

    def test_a_draft_is_deleted_not_retracted(
        self, client: TestClient[Litestar], tokens: dict[Role, str]
    ) -> None:
        created = post(client, tokens, Role.CURATOR, new_casualty())
        path, etag = created.headers["location"], created.headers["etag"]
        refused = move(client, tokens, path, "retraction", etag, reason="Never mind")
        assert refused.status_code == 409 and "Delete it" in refused.json()["detail"]


def test_a_load_does_not_undo_a_retraction_and_an_export_keeps_it(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`crisis-facts load` would publish the fact again (the fixtures have no review): it
    refuses, naming the retraction, until the crisis is exported."""
    with loaded_database(server_url, "review_load", lambda db: engine.load(db, FIXTURES)) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            token = keys.create(conn, "editor-desk", Role.EDITOR)
        path = "/v1/casualties/cas-004-police-injured"
        with client_of(url) as client:
            etag = client.get(path).headers["etag"]
            headers = {"Authorization": f"Bearer {token}", "If-Match": etag}
            reason = {"reason": "Police figure, not the wounded toll"}
            assert client.post(f"{path}/retraction", json=reason, headers=headers).is_success
            retracted = client.get(path).json()
        monkeypatch.setenv("DATABASE_URL", url)
        assert cli.main(["load"]) == 2
        refused = capsys.readouterr().err
        assert "casualty 'cas-004-police-injured': changed through the API by 'editor-desk'" in (
            refused
        )
        assert cli.main(["export", "--crisis", CRISIS, "--out", str(tmp_path)]) == 0
        assert cli.main(["load", str(tmp_path)]) == 0
        assert f"{CRISIS}: 0 changes" in capsys.readouterr().out
        with client_of(url) as client:
            assert client.get(path).json() == retracted, "the retraction survives the round trip"


def test_a_writer_reads_its_write_at_once(url: str, tokens: dict[Role, str]) -> None:
    """Regression: a retraction read back at once still found the fact in a list this worker
    had kept, until the dataset's notification came (a suite under load caught it). The
    worker that writes drops its answers as the write commits, notification or not."""
    with client_of(url) as client:
        cache = client.app.state.answer_cache
        until(lambda: cache.live, what="the worker follows the dataset")
        client.blocking_portal.call(_cancel, client.app.state.listener)  # no notification
        created = post(client, tokens, Role.EDITOR, new_casualty(review={"status": "published"}))
        fact, path = created.json(), created.headers["location"]
        listed = surfaces(fact)["list by key"]
        assert fact["id"] in ids(client.get(listed)) and cache.entries, "kept for the next"
        etag = client.get(path).headers["etag"]
        assert move(client, tokens, path, "retraction", etag, reason="Misread").is_success
        assert fact["id"] not in ids(client.get(listed))


async def _cancel(task: Any) -> None:
    task.cancel()


def listed(client: TestClient[Litestar], path: str, **headers: str) -> int:
    """How many facts of the crisis a list shows, every page of it."""
    seen, cursor = 0, None
    while True:
        params: dict[str, Any] = {"crisis": CRISIS, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = client.get(path, params=params, headers=headers).json()
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_a_crisis_counts_what_its_reader_lists_show(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """A draft counts only for a reader with a key, a retracted fact for no one: the counts
    of a crisis and of the list of crises are those of the facts its reader's lists show."""
    post(client, tokens, Role.CURATOR, new_casualty())
    created = post(client, tokens, Role.EDITOR, new_casualty(review={"status": "published"}))
    path = created.headers["location"]
    retracted = move(client, tokens, path, "retraction", created.headers["etag"], reason="Wrong")
    assert retracted.status_code == 200, retracted.text
    for headers in ({}, as_(tokens, Role.CURATOR)):
        counts = client.get(f"/v1/crises/{CRISIS}", headers=headers).json()["counts"]
        shown = {kind.value: listed(client, info.path, **headers) for kind, info in KINDS.items()}
        assert counts == {kind: n for kind, n in shown.items() if n}, headers or "public"
        crises = client.get("/v1/crises", headers=headers).json()["items"]
        assert next(c for c in crises if c["id"] == CRISIS)["counts"] == counts


def test_an_actor_counts_the_facts_its_reader_lists_show(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """An actor's fact counts, like a crisis's: a draft counts only for a reader with a key,
    a retracted fact for no one, on the actor's URL and in the list of actors."""
    keyed = as_(tokens, Role.CURATOR)

    def casualties(headers: dict[str, str]) -> int:
        actor = client.get("/v1/actors/kz-police", headers=headers).json()
        items = client.get("/v1/actors", params={"crisis": CRISIS, "limit": 200}, headers=headers)
        listed = next(a for a in items.json()["items"] if a["id"] == "kz-police")
        assert listed["fact_counts"] == actor["fact_counts"]
        count: int = actor["fact_counts"].get("casualty", 0)
        return count

    public, seen = casualties({}), casualties(keyed)
    post(client, tokens, Role.CURATOR, new_casualty())
    created = post(client, tokens, Role.EDITOR, new_casualty(review={"status": "published"}))
    assert (casualties({}), casualties(keyed)) == (public + 1, seen + 2)
    path = created.headers["location"]
    retracted = move(client, tokens, path, "retraction", created.headers["etag"], reason="Wrong")
    assert retracted.status_code == 200, retracted.text
    assert (casualties({}), casualties(keyed)) == (public, seen + 1)


def test_an_actor_s_change_counts_no_draft(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """The answer an actor's edit stores (its history, the changes feed) counts what its URL
    shows the public: published facts, not drafts."""
    post(client, tokens, Role.CURATOR, new_casualty())
    read = client.get("/v1/actors/kz-police")
    headers = as_(tokens, Role.CURATOR, **{"If-Match": read.headers["etag"]})
    headers["Content-Type"] = "application/merge-patch+json"
    role = f"Police of Kazakhstan ({secrets.token_hex(2)})"
    edited = client.patch("/v1/actors/kz-police", json={"role": role}, headers=headers)
    assert edited.status_code == 200, edited.text
    (newest, *_) = client.get("/v1/actors/kz-police/revisions").json()
    assert newest["answer"]["role"] == role
    public = client.get("/v1/actors/kz-police").json()["fact_counts"]
    assert newest["answer"]["fact_counts"] == public
    as_read = client.get("/v1/actors/kz-police", headers=as_(tokens, Role.CURATOR))
    assert edited.json() == as_read.json(), "the writer's answer is what it reads next"
    assert edited.json()["fact_counts"] != public, "a draft counts for the writer alone"
