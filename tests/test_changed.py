"""Every answer says when its record last changed (`changed`: revision and time), the same
revision and time as the change log's: after a load, after an edit (read back at once), and
for disputes, which change when what they show of their facts does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from alembic.script import ScriptDirectory
from litestar import Litestar
from litestar.testing import TestClient

from service import engine, keys, migrations
from service.app import create_app
from service.database import make_engine
from service.settings import Settings
from service.vocabulary import Role
from tests.apiclient import FACT_LISTS, ok
from tests.conftest import FIXTURES, copy_fixtures, loaded_database

Client = TestClient[Litestar]
Item = dict[str, Any]
CRISIS = "kazakhstan-2022"
SOURCE = "src-004-security-chief-arrested"
QUOTE = "the police also reporting 18 killed and 748 wounded in their ranks"
LISTS = {
    **FACT_LISTS,
    "actor": "/v1/actors",
    "source": "/v1/sources",
    "crisis": "/v1/crises",
}
MERGE = {"Content-Type": "application/merge-patch+json"}
STAMPING = "c4e7a1d95b20"
"""The migration that stamps answers stored before `changed`."""


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    """A database of its own: these tests commit changes."""
    with loaded_database(server_url, "changed", lambda db: engine.load(db, FIXTURES)) as url:
        yield url


def app_client(url: str) -> TestClient[Litestar]:
    settings = Settings(
        database_url=url, allowed_hosts=("testserver.local",), rate_limit_per_minute=0
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[Client]:
    with app_client(url) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(url: str) -> dict[Role, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {role: keys.create(conn, f"{role.value}-desk", role) for role in Role}


def as_(tokens: dict[Role, str], role: Role, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}", **headers}


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def latest_changes(client: Client) -> dict[tuple[str, str], Item]:
    """The last change of every record, from the whole feed."""
    latest: dict[tuple[str, str], Item] = {}
    since: dict[str, str] = {}
    while True:
        page = ok(client, "/v1/changes", limit=200, **since)
        for change in page["items"]:
            latest[change["kind"], change["id"]] = change
        if len(page["items"]) < 200:
            return latest
        since = {"since": page["next_cursor"]}


def every_item(client: Client, path: str, **params: Any) -> list[Item]:
    items: list[Item] = []
    cursor: dict[str, str] = {}
    while True:
        page = ok(client, path, limit=200, **params, **cursor)
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        cursor = {"cursor": page["next_cursor"]}


def changed_as_logged(answer: Item, change: Item) -> tuple[int, dt.datetime]:
    """The answer's `changed`, checked to be the same revision and time as `change`'s."""
    shown = answer["changed"]
    assert shown["revision"] == change["revision"], (answer["id"], shown, change["revision"])
    assert when(shown["at"]) == when(change["made_at"]), (answer["id"], shown, change["made_at"])
    return shown["revision"], when(shown["at"])


def new_casualty(key: str, count: int, **changes: Any) -> Item:
    return {
        "crisis": CRISIS,
        "id": f"cas-changed-{secrets.token_hex(3)}",
        "category": "killed",
        "victim_group": "police",
        "count": count,
        "key": key,
        "citations": [{"source": SOURCE, "quote": QUOTE}],
        **changes,
    }


def create(client: Client, tokens: dict[Role, str], record: Item) -> Any:
    """`record` made and published at once (by an editor), so anyone reads it."""
    published = {**record, "review": {"status": "published"}}
    made = client.post("/v1/casualties", json=published, headers=as_(tokens, Role.EDITOR))
    assert made.status_code == 201, made.text
    return made


def edit(client: Client, tokens: dict[Role, str], path: str, patch: Item) -> Any:
    etag = client.get(path).headers["etag"]
    headers = as_(tokens, Role.CURATOR, **MERGE, **{"If-Match": etag})
    edited = client.patch(path, json=patch, headers=headers)
    assert edited.status_code == 200, edited.text
    return edited


def dispute(client: Client, key: str) -> Item:
    (found,) = ok(client, "/v1/disputes", key=key)["items"]
    item: Item = found
    return item


def reload(url: str, root: Path) -> None:
    """Load the fixtures at `root` into the database at `url`, as `crisis-facts load` does."""
    db = make_engine(url)
    try:
        engine.load(db, root)
    finally:
        db.dispose()


def last_revision(client: Client) -> int:
    return max(int(change["revision"]) for change in latest_changes(client).values())


class TestEveryAnswer:
    def test_each_record_shows_its_last_change_in_lists_and_on_its_own(
        self, client: Client
    ) -> None:
        latest = latest_changes(client)
        for kind, path in LISTS.items():
            items = every_item(client, path)
            assert items, path
            for item in items:
                change = latest[kind, item["id"]]
                changed_as_logged(item, change)
                changed_as_logged(ok(client, f"{path}/{item['id']}"), change)
        for item in every_item(client, "/v1/timeline"):
            changed_as_logged(item, latest[item["kind"], item["id"]])

    def test_a_dispute_changed_with_the_last_of_its_facts(self, client: Client) -> None:
        latest = latest_changes(client)
        revisions = {c["revision"]: c for c in latest.values()}
        disputes = every_item(client, "/v1/disputes")
        assert disputes
        for found in disputes:
            facts = [latest[v["kind"], v["fact_id"]]["revision"] for v in found["values"]]
            assert found["changed"]["revision"] >= max(facts), found["key"]
            logged = revisions.get(found["changed"]["revision"])
            if logged is not None:
                assert when(found["changed"]["at"]) == when(logged["made_at"])

    def test_a_change_in_the_feed_carries_the_answer_of_its_revision(self, client: Client) -> None:
        for change in latest_changes(client).values():
            if change["answer"] is not None:
                changed_as_logged(change["answer"], change)


class TestAfterAnEdit:
    def test_the_next_read_shows_the_edit_s_revision(
        self, client: Client, tokens: dict[Role, str]
    ) -> None:
        made = create(client, tokens, new_casualty(f"killed.changed-{secrets.token_hex(3)}", 18))
        path, fact_id = made.headers["location"], made.json()["id"]
        read = client.get(path)
        first = read.json()["changed"]
        assert first["revision"] == last_revision(client)
        listed = [i for i in every_item(client, "/v1/casualties") if i["id"] == fact_id]
        assert listed == [read.json()], "read, and kept, by the list as by the detail"

        edited = edit(client, tokens, path, {"count": 19})
        now = edited.json()["changed"]
        assert now["revision"] > first["revision"] and when(now["at"]) >= when(first["at"])
        assert edited.headers["etag"].startswith(f'"{now["revision"]}.')
        again = client.get(path)
        assert again.json() == edited.json(), "read back at once, not the answer kept before"
        assert again.headers["etag"] == edited.headers["etag"]
        listed = [i for i in every_item(client, "/v1/casualties") if i["id"] == fact_id]
        assert listed == [edited.json()]
        changed_as_logged(again.json(), latest_changes(client)["casualty", fact_id])
        assert client.get(path, headers={"If-None-Match": read.headers["etag"]}).status_code == 200
        assert client.get(path, headers={"If-None-Match": again.headers["etag"]}).status_code == 304

    def test_times_follow_revisions(self, client: Client, tokens: dict[Role, str]) -> None:
        key = f"killed.changed-{secrets.token_hex(3)}"
        for count in (20, 21, 22):
            create(client, tokens, new_casualty(key, count))
        changes = sorted(latest_changes(client).values(), key=lambda c: c["revision"])
        times = [when(c["made_at"]) for c in changes]
        assert times == sorted(times)


class TestDisputes:
    def test_a_dispute_changes_when_what_it_shows_changes(
        self, client: Client, tokens: dict[Role, str]
    ) -> None:
        key = f"killed.changed-{secrets.token_hex(3)}"
        low = create(client, tokens, new_casualty(key, 18)).headers["location"]
        high = create(client, tokens, new_casualty(key, 30)).headers["location"]
        opened = dispute(client, key)["changed"]
        assert (
            opened["revision"]
            == last_revision(client)
            == client.get(high).json()["changed"]["revision"]
        )

        noted = edit(client, tokens, low, {"note": "Not shown by the dispute."})
        assert noted.json()["changed"]["revision"] > opened["revision"]
        assert dispute(client, key)["changed"] == opened, "a note is not part of the dispute"

        raised = edit(client, tokens, low, {"count": 25}).json()["changed"]
        assert dispute(client, key)["changed"] == raised

        third = create(client, tokens, new_casualty(key, 40))
        assert dispute(client, key)["changed"] == third.json()["changed"]
        why = {"If-Match": third.headers["etag"], "X-Edit-Summary": "Duplicate"}
        deleted = client.delete(third.headers["location"], headers=as_(tokens, Role.EDITOR, **why))
        assert deleted.status_code == 200, deleted.text
        left = dispute(client, key)
        assert left["changed"]["revision"] == deleted.json()["revision"], "a fact left it"
        assert len(left["values"]) == 2


def rename_actor(root: Path, actor_id: str, name: str) -> None:
    path = root / "facts" / CRISIS / "actors.yaml"
    records = yaml.safe_load(path.read_text("utf-8"))
    for record in records:
        if record["id"] == actor_id:
            record["name"] = name
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")


def test_a_load_moves_what_it_changed_and_nothing_else(server_url: str, tmp_path: Path) -> None:
    """An actor renamed by a load: it and the facts that show its name are at the load's
    revisions; everything else keeps the revision it had."""
    with loaded_database(server_url, "rename", lambda db: engine.load(db, FIXTURES)) as url:
        root = copy_fixtures(tmp_path)
        rename_actor(root, "bbc", "British Broadcasting Corporation")
        with app_client(url) as client:
            before = latest_changes(client)
            showing = {
                (kind, fact["id"])
                for kind, path in FACT_LISTS.items()
                for fact in every_item(client, path)
                if "bbc" in {a["id"] for a in fact["actors"]}
            }
            reload(url, root)
            after = latest_changes(client)
            moved = {key for key in after if after[key]["revision"] != before[key]["revision"]}
            assert showing and moved == {("actor", "bbc"), *showing}
            actor = ok(client, "/v1/actors/bbc")
            assert actor["name"] == "British Broadcasting Corporation"
            changed_as_logged(actor, after["actor", "bbc"])
            for kind, fact_id in showing:
                changed_as_logged(ok(client, f"{LISTS[kind]}/{fact_id}"), after[kind, fact_id])
            crisis = ok(client, f"/v1/crises/{CRISIS}")
            changed_as_logged(crisis, before["crisis", CRISIS])


def add_draft(root: Path, fact_id: str, count: int) -> None:
    """A curator's draft, loaded last, giving another figure for a disputed key."""
    path = root / "facts" / CRISIS / "casualties.yaml"
    records = yaml.safe_load(path.read_text("utf-8"))
    (like,) = [record for record in records if record["id"] == "cas-004-police-killed"]
    draft = {**like, "id": fact_id, "count": count, "review": {"status": "draft"}}
    path.write_text(yaml.safe_dump([*records, draft], allow_unicode=True, sort_keys=False), "utf-8")


def test_a_first_load_stamps_each_dispute_with_the_last_of_its_facts(
    server_url: str, tmp_path: Path
) -> None:
    """Regression: a load stamped every dispute with its last revision (an unrelated arrest's),
    not with the newest of the facts the dispute shows, as each kind of reader sees them."""
    root = copy_fixtures(tmp_path)
    add_draft(root, "cas-zz-police-killed-draft", 19)
    with loaded_database(server_url, "disputed", lambda db: engine.load(db, root)) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            token = keys.create(conn, "curator-desk", Role.CURATOR)
        with app_client(url) as public, app_client(url) as curator:
            curator.headers["Authorization"] = f"Bearer {token}"
            shown = {}
            for client in (public, curator):
                latest = latest_changes(client)
                made_at = {c["revision"]: c["made_at"] for c in latest.values()}
                found = every_item(client, "/v1/disputes")
                assert found
                for item in found:
                    revision = max(
                        latest[v["kind"], v["fact_id"]]["revision"] for v in item["values"]
                    )
                    assert item["changed"]["revision"] == revision, item["key"]
                    assert when(item["changed"]["at"]) == when(made_at[revision]), item["key"]
                    if item["key"] == "killed.police":
                        shown[client] = {v["fact_id"] for v in item["values"]}
            assert "cas-zz-police-killed-draft" in shown[curator].difference(shown[public])


def stamp(change: Item) -> Item:
    """The `changed` an answer shows for `change`, as the API writes it."""
    return {"revision": change["revision"], "at": change["made_at"]}


def edit_fixtures(root: Path, name: str, edit: Any) -> None:
    """Rewrite a fixtures file of the crisis: `edit` takes its records and gives them back."""
    path = root / "facts" / CRISIS / name
    records = edit(yaml.safe_load(path.read_text("utf-8")))
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), "utf-8")


def test_a_later_load_stamps_a_dispute_with_the_change_that_altered_it(
    server_url: str, tmp_path: Path
) -> None:
    """A figure changed, a fact taken out, a note (which no dispute shows) changed: each
    dispute says the change that altered it, not the load's last, or keeps its own."""
    root = copy_fixtures(tmp_path)

    def casualties(records: list[Item]) -> list[Item]:
        for record in records:
            if record["id"] == "cas-003-police-killed":
                record["count"] = 9
            if record["id"] == "cas-002-jihadists-killed":
                record["note"] = "A note no dispute shows."
        return records

    edit_fixtures(root, "casualties.yaml", casualties)
    edit_fixtures(
        root, "arrests.yaml", lambda rs: [r for r in rs if r["id"] != "arr-000-nationwide-4266"]
    )
    with loaded_database(server_url, "reloaded", lambda db: engine.load(db, FIXTURES)) as url:
        with app_client(url) as client:
            militants = dispute(client, "killed.militants")["changed"]
            reload(url, root)
            after = latest_changes(client)
            raised = after["casualty", "cas-003-police-killed"]
            assert dispute(client, "killed.police")["changed"] == stamp(raised)
            left = dispute(client, "arrests.nationwide")
            assert left["changed"] == stamp(after["arrest", "arr-000-nationwide-4266"])
            assert len(left["values"]) == 2
            assert after["casualty", "cas-002-jihadists-killed"]["revision"] > militants["revision"]
            assert dispute(client, "killed.militants")["changed"] == militants


def stored_answers(url: str) -> dict[tuple[str, str], Item]:
    """Facts' and disputes' stored answers, decoded; a fact's digest is checked on the way."""
    found: dict[tuple[str, str], Item] = {}
    with psycopg.connect(url) as conn:
        for fact_id, document, digest in conn.execute(
            "SELECT fact_id, document, digest FROM fact_documents"
        ):
            assert bytes(digest) == hashlib.sha256(document.encode()).digest()[:16]
            found["fact", fact_id] = json.loads(document)
        for key, document in conn.execute("SELECT quantity_key, document FROM disputed_quantities"):
            found["dispute", key] = json.loads(document)
    return found


def test_answers_stored_before_are_stamped_by_their_migration(server_url: str) -> None:
    """A database from before `changed` (its migration undone) gets it from the change log."""
    with loaded_database(server_url, "stamped", lambda db: engine.load(db, FIXTURES)) as url:
        written = stored_answers(url)
        below = ScriptDirectory.from_config(migrations.alembic_config()).get_revision(STAMPING)
        assert below is not None and isinstance(below.down_revision, str)
        migrations.downgrade(url, below.down_revision)
        assert all("changed" not in answer for answer in stored_answers(url).values())
        migrations.upgrade(url)
        stamped = stored_answers(url)
        assert stamped.keys() == written.keys()
        for key, answer in written.items():
            if key[0] == "fact":
                assert stamped[key] == answer, key
                continue
            facts = [written["fact", value["fact_id"]]["changed"] for value in answer["values"]]
            assert stamped[key] == {**answer, "changed": max(facts, key=lambda c: c["revision"])}
