"""Curators' writes through the API, as a curator's client makes them."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service import engine, keys
from service.app import create_app
from service.settings import Settings
from service.vocabulary import Role
from tests.conftest import FIXTURES, loaded_database
from tests.test_export import cells_unlike_answers

CRISIS = "kazakhstan-2022"
QUOTE = "the police also reporting 18 killed and 748 wounded in their ranks"
SOURCE = "src-004-security-chief-arrested"


@pytest.fixture(scope="module")
def url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "writes", lambda db: engine.load(db, FIXTURES)) as url:
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


def as_(tokens: dict[Role, str], role: Role, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}", **headers}


def new_casualty(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "crisis": CRISIS,
        "id": f"cas-api-{secrets.token_hex(3)}",
        "category": "killed",
        "victim_group": "police",
        "count": 18,
        "citations": [{"source": SOURCE, "quote": QUOTE}],
    }
    record.update(changes)
    return record


TRANSLATION = {
    "citation": 1,
    "language": "fr",
    "text": "la police faisant aussi état de 18 tués et 748 blessés dans ses rangs",
    "translator": "night-desk",
}


def test_a_fact_is_posted_with_its_translation(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    fact = create(client, tokens, translations=[TRANSLATION]).json()
    assert fact["translations"] == [{"of": "quote", "reviewed": False, **TRANSLATION}]
    read = client.get(f"/v1/casualties/{fact['id']}", headers=as_(tokens, Role.CURATOR))
    assert read.json()["translations"] == fact["translations"]


def create(client: TestClient[Litestar], tokens: dict[Role, str], **changes: Any) -> Any:
    answer = client.post(
        "/v1/casualties",
        json=new_casualty(**changes),
        headers=as_(tokens, Role.CURATOR, **{"X-Edit-Summary": "From the police"}),
    )
    assert answer.status_code == 201, answer.text
    return answer


def test_a_created_fact_is_served_with_its_revision(
    client: TestClient[Litestar], tokens: dict[Role, str], url: str
) -> None:
    created = create(client, tokens)
    fact = created.json()
    assert created.headers["location"] == f"/v1/casualties/{fact['id']}"
    # A curator's fact is a draft: read with a key (tests/test_review.py has the rest).
    keyed = as_(tokens, Role.CURATOR)
    read = client.get(created.headers["location"], headers=keyed)
    assert read.json() == fact and read.headers["etag"] == created.headers["etag"]
    assert fact["citations"][0]["start"] >= 0 and fact["figure"]["count"] == 18
    (revision,) = client.get(f"{created.headers['location']}/revisions", headers=keyed).json()
    assert (revision["operation"], revision["author"], revision["message"]) == (
        "created",
        "curator-desk",
        "From the police",
    )
    assert revision["answer"] == fact
    assert cells_unlike_answers(url) == [], "a CSV export has the fact as it is served"


def test_an_edit_needs_the_etag_it_was_made_against(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    created = create(client, tokens, note="First note.")
    path, etag = created.headers["location"], created.headers["etag"]
    patch = {"note": None, "count": 19}
    merge = {"Content-Type": "application/merge-patch+json"}
    missing = client.patch(
        path, content=b'{"count": 19}', headers=as_(tokens, Role.CURATOR, **merge)
    )
    assert missing.status_code == 428
    edited = client.patch(
        path, json=patch, headers=as_(tokens, Role.CURATOR, **merge, **{"If-Match": etag})
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["figure"]["count"] == 19 and edited.json()["note"] is None
    assert edited.headers["etag"] != etag
    stale = client.patch(
        path, json={"count": 20}, headers=as_(tokens, Role.CURATOR, **merge, **{"If-Match": etag})
    )
    assert stale.status_code == 412
    assert stale.headers["etag"] == edited.headers["etag"]
    keyed = as_(tokens, Role.CURATOR)
    first = client.get(f"{path}/revisions", headers=keyed).json()[-1]["revision"]
    older = client.get(f"{path}/revisions/{first}", headers=keyed)
    assert older.json()["answer"]["note"] == "First note."


def test_concurrent_edits_with_one_etag_make_exactly_one_change(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    headers = as_(
        tokens, Role.CURATOR, **{"Content-Type": "application/merge-patch+json", "If-Match": etag}
    )

    def edit(count: int) -> int:
        return client.patch(path, json={"count": count}, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(edit, range(100, 116)))
    assert statuses == [200] + [412] * 15
    history = client.get(f"{path}/revisions", headers=as_(tokens, Role.CURATOR)).json()
    assert len(history) == 2, "created, then one edit: none lost"


def test_a_deleted_fact_answers_410_with_why(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    why = {"If-Match": etag, "X-Edit-Summary": "Duplicate of cas-004-police-killed"}
    assert client.delete(path, headers=as_(tokens, Role.CURATOR, **why)).status_code == 403
    deleted = client.delete(path, headers=as_(tokens, Role.EDITOR, **why))
    assert deleted.status_code == 200 and deleted.json()["operation"] == "deleted"
    gone = client.get(path, headers=as_(tokens, Role.CURATOR))
    assert gone.status_code == 410 and "Duplicate of cas-004-police-killed" in gone.json()["detail"]


def test_a_retried_post_replays_and_a_reused_key_is_refused(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    body = new_casualty()
    headers = as_(tokens, Role.CURATOR, **{"Idempotency-Key": secrets.token_hex(8)})
    first = client.post("/v1/casualties", json=body, headers=headers)
    again = client.post("/v1/casualties", json=body, headers=headers)
    assert (again.status_code, again.content, again.headers["etag"]) == (
        first.status_code,
        first.content,
        first.headers["etag"],
    )
    other = client.post("/v1/casualties", json={**body, "count": 3}, headers=headers)
    assert other.status_code == 422
    history = client.get(f"/v1/casualties/{body['id']}/revisions", headers=headers).json()
    assert len(history) == 1


def test_a_retry_is_the_same_request_however_its_json_is_spelled(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    body = new_casualty()
    headers = as_(tokens, Role.CURATOR, **{"Idempotency-Key": secrets.token_hex(8)})
    headers["Content-Type"] = "application/json"
    first = client.post("/v1/casualties", content=json.dumps(body), headers=headers)
    assert first.status_code == 201, first.text
    respelled = json.dumps(dict(reversed(body.items())), indent=2)
    again = client.post("/v1/casualties", content=respelled, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)


def test_posts_racing_with_one_idempotency_key_make_one_fact(
    client: TestClient[Litestar], tokens: dict[Role, str], url: str
) -> None:
    """Eight clients send one Idempotency-Key at once with eight different bodies: one is
    stored, every other is refused as a reused key, never a 500 and never a second fact.
    (Fails without the lock on the key: two writes of facts run side by side, both find the
    key unused, and the second's keeping of its answer collides with the first's.)"""
    headers = as_(tokens, Role.CURATOR, **{"Idempotency-Key": secrets.token_hex(8)})
    bodies = [new_casualty() for _ in range(8)]

    def post(body: dict[str, Any]) -> int:
        return client.post("/v1/casualties", json=body, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, bodies))
    assert statuses == [201] + [422] * 7
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM facts WHERE id = ANY(%s)", [[b["id"] for b in bodies]]
        ).fetchone()
    assert found == (1,)


def test_reviews_and_edits_of_one_dispute_at_once_all_succeed(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """An editor retracts and publishes again one figure of a quantity key while a curator
    edits another figure of the same key, over and over at once: every write succeeds.
    (Fails when a review takes its time, and so the numbering lock, before the key's lock:
    the two writers then wait for each other until PostgreSQL breaks the deadlock.)"""
    key = f"police-killed-{secrets.token_hex(3)}"
    editor = as_(tokens, Role.EDITOR, **{"X-Edit-Summary": "Checked"})
    made = [
        client.post(
            "/v1/casualties",
            json=new_casualty(key=key, count=count, review={"status": "published"}),
            headers=editor,
        )
        for count in (18, 20)
    ]
    assert [answer.status_code for answer in made] == [201, 201]
    (reviewed, reviewed_etag), (edited, edited_etag) = [
        (answer.headers["location"], answer.headers["etag"]) for answer in made
    ]

    def review(round: int, etag: str) -> Any:
        if round % 2 == 0:
            return client.post(
                f"{reviewed}/retraction", json={"reason": "Unsourced"},
                headers={**editor, "If-Match": etag},
            )  # fmt: skip
        return client.post(f"{reviewed}/publication", headers={**editor, "If-Match": etag})

    def edit(round: int, etag: str) -> Any:
        headers = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
        return client.patch(
            edited, json={"count": 30 + round}, headers=as_(tokens, Role.CURATOR, **headers)
        )

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for round in range(12):
            moved = pool.submit(review, round, reviewed_etag)
            patched = pool.submit(edit, round, edited_etag)
            answers = [moved.result(), patched.result()]
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            reviewed_etag, edited_etag = (a.headers["etag"] for a in answers)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (
            new_casualty(citations=[{"source": SOURCE, "quote": "nineteen officers were killed"}]),
            422,
            "quote not found verbatim",
        ),
        (new_casualty(claimant="nobody-at-all"), 422, "unknown actor 'nobody-at-all'"),
        (new_casualty(colour="red"), 400, "colour"),
        (new_casualty(count="many"), 400, "count"),
        ({k: v for k, v in new_casualty().items() if k != "category"}, 400, "category"),
        (new_casualty(crisis="nowhere"), 422, "unknown crisis 'nowhere'"),
        (
            new_casualty(translations=[{**TRANSLATION, "language": "en"}]),
            422,
            "translation 1: in en, the language of the original",
        ),
        (
            new_casualty(translations=[{**TRANSLATION, "citation": 2}]),
            422,
            "translation 1: names no quote or statement of the record (no citation 2)",
        ),
    ],
    ids=[
        "quote",
        "actor",
        "unknown-field",
        "wrong-type",
        "missing-field",
        "crisis",
        "translation-language",
        "translation-of-nothing",
    ],
)
def test_a_bad_fact_is_refused_naming_why(
    client: TestClient[Litestar], tokens: dict[Role, str], body: Any, status: int, named: str
) -> None:
    answer = client.post("/v1/casualties", json=body, headers=as_(tokens, Role.CURATOR))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert named in answer.text
    assert client.get(f"/v1/casualties/{body['id']}").status_code == 404, "nothing stored"


def test_bodies_of_another_type_or_not_utf8_are_refused(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    headers = as_(tokens, Role.CURATOR, **{"Content-Type": "text/plain"})
    assert client.post("/v1/casualties", content=b"{}", headers=headers).status_code == 415
    headers = as_(tokens, Role.CURATOR, **{"Content-Type": "application/json"})
    broken = client.post("/v1/casualties", content=b'{"id": "\xff"}', headers=headers)
    assert (
        broken.status_code == 400 and broken.headers["content-type"] == "application/problem+json"
    )
    existing = create(client, tokens).json()["id"]
    again = client.post(
        "/v1/casualties", json=new_casualty(id=existing), headers=as_(tokens, Role.CURATOR)
    )
    assert again.status_code == 409


def test_the_etag_of_the_gzipped_answer_is_as_good_as_any(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """A client that reads with gzip (most do) edits with the ETag it was given."""
    created = create(client, tokens, note="A note long enough to be sent gzipped. " * 40)
    path = created.headers["location"]
    read = client.get(path, headers=as_(tokens, Role.CURATOR, **{"Accept-Encoding": "gzip"}))
    assert read.headers["content-encoding"] == "gzip" and read.headers["etag"].endswith('-gzip"')
    headers = {"Content-Type": "application/merge-patch+json", "If-Match": read.headers["etag"]}
    edited = client.patch(path, json={"count": 19}, headers=as_(tokens, Role.CURATOR, **headers))
    assert edited.status_code == 200, edited.text


def test_a_write_answer_is_gzipped_when_asked(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """A write's answer is the record written: as large as a read's, and zipped as one."""
    note = "A note long enough to be sent gzipped. " * 40
    zipped = create(client, tokens, note=note)
    headers = as_(tokens, Role.CURATOR, **{"Accept-Encoding": "identity"})
    plain = client.post("/v1/casualties", json=new_casualty(note=note), headers=headers)
    assert zipped.status_code == plain.status_code == 201
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert zipped.json()["note"] == plain.json()["note"] == note


def test_a_redated_fact_moves_in_the_timeline_export(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    # The export reads answers in the order of their own copy of the date: an edit moves both.
    created = create(client, tokens, date="2022-01-06")
    path, etag = created.headers["location"], created.headers["etag"]
    merge = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
    edited = client.patch(
        path, json={"date": "2022-01-09"}, headers=as_(tokens, Role.CURATOR, **merge)
    )
    assert edited.status_code == 200, edited.text
    export = client.get("/v1/export/timeline.ndjson", headers=as_(tokens, Role.CURATOR))
    items = [json.loads(line) for line in export.content.splitlines()][:-1]
    placed = [(_first_day(i["date"]["value"]), i["id"]) for i in items]
    assert placed == sorted(placed)
    assert ("2022-01-09", created.json()["id"]) in placed


def _first_day(value: str) -> str:
    """A partial date's place on the timeline: `2022-01` stands on 2022-01-01."""
    return value + "-01" * (2 - value.count("-"))


def refused_naming(answer: Any, status: int, name: str) -> dict[str, Any]:
    """A problem+json answer of `status` whose `invalid_params` names `name`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert name in {p["name"] for p in problem.get("invalid_params", [])}, problem
    return problem


TOKAYEV = "kassym-jomart-tokayev"
FACT_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "casualties": ({"category": "killed", "victim_group": "police", "count": "1"}, "count"),
    "arrests": ({"confirmed": "true"}, "confirmed"),
    "deployments": ({"sender": TOKAYEV, "status": "announced", "count": "5"}, "count"),
    "statements": (
        {
            "speaker": TOKAYEV, "content": QUOTE, "mode": "direct", "language": "en",
            "translations": [{**TRANSLATION, "citation": "1"}],
        },
        "translations[0].citation",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kinds", FACT_BODIES)
def test_a_posted_fact_of_the_wrong_type_is_refused_not_coerced(
    client: TestClient[Litestar], tokens: dict[Role, str], kinds: str
) -> None:
    """Regression: POST read `"count": "1"` as 1 (and `"true"` as true), where the fixture
    format and PATCH refuse a string for a number."""
    members, name = FACT_BODIES[kinds]
    base = new_casualty()
    body = {k: base[k] for k in ("crisis", "id", "citations")} | members
    answer = client.post(f"/v1/{kinds}", json=body, headers=as_(tokens, Role.EDITOR))
    problem = refused_naming(answer, 400, name)
    assert "got `str`" in problem["detail"]
    read = client.get(f"/v1/{kinds}/{body['id']}", headers=as_(tokens, Role.EDITOR))
    assert read.status_code == 404, "nothing stored"


def test_a_whole_number_written_with_a_fraction_is_a_number(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """JSON has one kind of number: 18.0 is the integer the contract asks for."""
    assert create(client, tokens, count=18.0).json()["figure"]["count"] == 18


def test_a_source_an_actor_or_a_webhook_of_the_wrong_type_is_refused(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    headers = as_(tokens, Role.CURATOR)
    actor = {"crisis": CRISIS, "id": "strict-actor", "kind": "person", "name": 7}
    refused_naming(client.post("/v1/actors", json=actor, headers=headers), 400, "name")
    source = {"crisis": CRISIS, "id": "strict-source", "title": ["A", "list"]}
    refused_naming(client.post("/v1/sources", json=source, headers=headers), 400, "title")
    hook = {"url": "https://example.org/hook", "kinds": "casualty"}
    answer = client.post("/v1/webhooks", json=hook, headers=as_(tokens, Role.ADMIN))
    refused_naming(answer, 400, "kinds")


def test_a_retraction_or_publication_body_is_checked_like_any_other(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """Regression: a retraction sent as text/plain retracted, and a publication's body was
    never read, so `{"foo": 1}` published silently."""
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    plain = as_(tokens, Role.EDITOR, **{"If-Match": etag, "Content-Type": "text/plain"})
    for to in ("publication", "retraction"):
        answer = client.post(f"{path}/{to}", content=b'{"reason": "x y"}', headers=plain)
        assert answer.status_code == 415, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    keyed = as_(tokens, Role.EDITOR, **{"If-Match": etag})
    unknown = client.post(f"{path}/publication", json={"foo": 1}, headers=keyed)
    assert "unknown field `foo`" in refused_naming(unknown, 400, "foo")["detail"]
    assert client.get(path, headers=keyed).json()["review"]["status"] == "draft"
    published = client.post(f"{path}/publication", json={}, headers=keyed)
    assert published.status_code == 200, published.text


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "the body is empty; it must be a JSON object (a JSON Merge Patch)"),
        (b"[1, 2]", "the body must be a JSON object (a JSON Merge Patch), not `array`"),
        (b'{"count": ', "the body is not valid JSON"),
    ],
    ids=["empty", "array", "malformed"],
)
def test_a_patch_body_that_is_no_merge_patch_says_so(
    client: TestClient[Litestar], tokens: dict[Role, str], body: bytes, said: str
) -> None:
    """Regression: these answered "Invalid parameter 'data': 'data'" or Litestar's
    "Input data was truncated" with no kind, naming nothing a client sent."""
    created = create(client, tokens)
    headers = {"Content-Type": "application/merge-patch+json", "If-Match": created.headers["etag"]}
    answer = client.patch(
        created.headers["location"], content=body, headers=as_(tokens, Role.CURATOR, **headers)
    )
    problem = refused_naming(answer, 400, "body")
    assert problem["type"] == "urn:crisis-facts:problem:invalid-body"
    assert said in problem["detail"]


def test_a_deletion_names_the_summary_header_it_needs(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    without = client.delete(path, headers=as_(tokens, Role.EDITOR, **{"If-Match": etag}))
    refused_naming(without, 422, "X-Edit-Summary")
    long = as_(tokens, Role.EDITOR, **{"If-Match": etag, "X-Edit-Summary": "why " * 200})
    problem = refused_naming(client.delete(path, headers=long), 400, "X-Edit-Summary")
    assert "summary" not in {p["name"] for p in problem["invalid_params"]}
    assert client.get(path, headers=as_(tokens, Role.EDITOR)).status_code == 200


def test_a_weak_etag_or_a_star_never_stands_for_a_revision(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    """If-Match compares strongly (RFC 9110): `W/"..."` never matches. `*` would match any
    revision, so it cannot guard against undoing an unseen change: refused with 428."""
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    patched = {"Content-Type": "application/merge-patch+json"}
    weak = as_(tokens, Role.CURATOR, **patched, **{"If-Match": f"W/{etag}"})
    answer = client.patch(path, json={"count": 19}, headers=weak)
    assert answer.status_code == 412 and "weak ETag" in answer.json()["detail"], answer.text
    star = as_(tokens, Role.CURATOR, **patched, **{"If-Match": "*"})
    answer = client.patch(path, json={"count": 19}, headers=star)
    assert answer.status_code == 428 and "*" in answer.json()["detail"], answer.text
    read = client.get(path, headers=as_(tokens, Role.CURATOR))
    assert read.json()["figure"]["count"] == 18 and read.headers["etag"] == etag


@pytest.mark.parametrize("if_match", [None, "*", '"1.00000000000000000000000000000000"'])
def test_a_write_to_a_fact_that_is_not_there_answers_404_or_410(
    client: TestClient[Litestar], tokens: dict[Role, str], if_match: str | None
) -> None:
    """Regression: whatever If-Match said came first: 412 "If-Match names no revision"
    for a fact that never existed, which sent a client looking for the wrong mistake."""
    created = create(client, tokens)
    path, etag = created.headers["location"], created.headers["etag"]
    why = {"If-Match": etag, "X-Edit-Summary": "Duplicate"}
    assert client.delete(path, headers=as_(tokens, Role.EDITOR, **why)).status_code == 200
    sent = {"X-Edit-Summary": "why"} | ({} if if_match is None else {"If-Match": if_match})
    patched = {"Content-Type": "application/merge-patch+json"}
    for where, status in (("/v1/casualties/cas-never-was", 404), (path, 410)):
        headers = as_(tokens, Role.EDITOR, **sent)
        answers = [
            client.patch(where, json={"count": 2}, headers={**headers, **patched}),
            client.delete(where, headers=headers),
            client.post(f"{where}/publication", headers=headers),
            client.post(f"{where}/retraction", json={"reason": "x"}, headers=headers),
        ]
        for answer in answers:
            assert answer.status_code == status, (answer.request.method, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("if_match", [None, "*", 'W/"1.00000000000000000000000000000000"'])
def test_an_edit_of_an_actor_that_is_not_there_answers_404(
    client: TestClient[Litestar], tokens: dict[Role, str], if_match: str | None
) -> None:
    headers = {"Content-Type": "application/merge-patch+json"}
    if if_match is not None:
        headers["If-Match"] = if_match
    answer = client.patch(
        "/v1/actors/nobody-ever", json={"role": "x"}, headers=as_(tokens, Role.CURATOR, **headers)
    )
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_an_edit_of_the_wrong_type_names_the_member(
    client: TestClient[Litestar], tokens: dict[Role, str]
) -> None:
    created = create(client, tokens)
    headers = {"Content-Type": "application/merge-patch+json", "If-Match": created.headers["etag"]}
    answer = client.patch(
        created.headers["location"],
        json={"count": "44"},
        headers=as_(tokens, Role.CURATOR, **headers),
    )
    assert "Expected `int`, got `str`" in refused_naming(answer, 422, "count")["detail"]
