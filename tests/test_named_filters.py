"""Filters that name an item (issue 23, stumbles 6 and 7): an id that names nothing is a
404 naming the parameter and the ids it may have meant, not an empty list; `speaker`,
`claimant` and `sender` ask for an actor in one role where `actor` takes any."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator

import pytest

from service.settings import Settings
from tests.apiclient import CRISIS, Client, Item, ok, problem, serve, walk

CRISIS_LISTS = [
    "/v1/statements",
    "/v1/casualties",
    "/v1/deployments",
    "/v1/arrests",
    "/v1/timeline",
    "/v1/sources",
    "/v1/actors",
    "/v1/disputes",
    "/v1/search",
]


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def misspelt(ident: str) -> str:
    """The id with one letter dropped, as a hurried hand types it."""
    index = next(i for i, c in enumerate(ident) if c.isalpha() and i > 2)
    return ident[:index] + ident[index + 1 :]


def suggested(body: Item, name: str) -> str:
    (reason,) = [p["reason"] for p in body["invalid_params"] if p["name"] == name]
    assert name in body["detail"]
    return str(reason)


class TestAnIdThatNamesNothing:
    @pytest.mark.parametrize("path", CRISIS_LISTS)
    def test_a_misspelt_crisis_is_a_404_suggesting_it(self, client: Client, path: str) -> None:
        wrong = misspelt(CRISIS)
        params = {"crisis": wrong, **({"q": "Kazakhstan"} if path == "/v1/search" else {})}
        body = problem(client, path, 404, **params)
        reason = suggested(body, "crisis")
        assert repr(wrong) in reason and CRISIS in reason

    def test_an_actor_by_one_of_its_names_is_suggested_by_id(self, client: Client) -> None:
        """`actor=tokayev` names nobody; the actor known by that name is suggested."""
        actors = walk(client, "/v1/actors")
        person = next(a for a in actors if a["kind"] == "person" and "-" in a["id"])
        surname = person["id"].rsplit("-", 1)[1]
        assert not any(a["id"] == surname for a in actors)
        for name in ("actor", "speaker", "claimant"):
            body = problem(client, "/v1/statements", 404, **{name: surname})
            assert person["id"] in suggested(body, name)
        body = problem(client, "/v1/deployments", 404, sender=surname)
        assert person["id"] in suggested(body, "sender")

    def test_accents_and_case_aside(self, client: Client) -> None:
        actors = walk(client, "/v1/actors")
        accented = next(
            (a, al["name"])
            for a in actors
            for al in a["aliases"]
            if any(ord(c) > 127 and c.isalpha() for c in al["name"]) and " " not in al["name"]
        )
        actor, alias = accented
        plain = unicodedata.normalize("NFKD", alias.lower())
        folded = "".join(c for c in plain if not unicodedata.combining(c))
        assert folded != alias
        body = problem(client, "/v1/statements", 404, actor=folded)
        assert actor["id"] in suggested(body, "actor")

    def test_a_misspelt_source(self, client: Client) -> None:
        source = walk(client, "/v1/sources")[0]["id"]
        body = problem(client, "/v1/casualties", 404, source=misspelt(source))
        assert source in suggested(body, "source")

    def test_a_real_id_that_matches_nothing_is_an_empty_list(self, client: Client) -> None:
        actor = next(a for a in walk(client, "/v1/actors") if "deployment" not in a["fact_counts"])
        assert ok(client, "/v1/deployments", actor=actor["id"])["items"] == []


class TestAnActorInOneRole:
    def test_speaker_is_who_spoke_not_who_is_mentioned(self, client: Client) -> None:
        statements = walk(client, "/v1/statements")
        speakers = {s["speaker"]["id"] for s in statements}
        widest = max(
            speakers,
            key=lambda a: (
                len(walk(client, "/v1/statements", actor=a))
                - len([s for s in statements if s["speaker"]["id"] == a])
            ),
        )
        spoke = [s["id"] for s in statements if s["speaker"]["id"] == widest]
        assert [s["id"] for s in walk(client, "/v1/statements", speaker=widest)] == spoke
        assert len(walk(client, "/v1/statements", actor=widest)) > len(spoke)

    @pytest.mark.parametrize("path", ["/v1/casualties", "/v1/arrests", "/v1/statements"])
    def test_claimant(self, client: Client, path: str) -> None:
        facts = walk(client, path)
        claimants = {f["claimant"]["id"] for f in facts if f["claimant"]}
        assert claimants
        for actor in claimants:
            expected = [f["id"] for f in facts if f["claimant"] and f["claimant"]["id"] == actor]
            assert [f["id"] for f in walk(client, path, claimant=actor)] == expected

    def test_claimant_on_the_timeline(self, client: Client) -> None:
        timeline = walk(client, "/v1/timeline")
        actor = next(f["claimant"]["id"] for f in timeline if f["claimant"])
        expected = [f["id"] for f in timeline if f["claimant"] and f["claimant"]["id"] == actor]
        assert [f["id"] for f in walk(client, "/v1/timeline", claimant=actor)] == expected

    def test_sender(self, client: Client) -> None:
        deployments = walk(client, "/v1/deployments")
        for actor in {d["sender"]["id"] for d in deployments}:
            expected = [d["id"] for d in deployments if d["sender"]["id"] == actor]
            assert [d["id"] for d in walk(client, "/v1/deployments", sender=actor)] == expected

    def test_exports_take_them_too(self, client: Client) -> None:
        deployments = walk(client, "/v1/deployments")
        actor = deployments[0]["sender"]["id"]
        lines = client.get("/v1/export/deployments.ndjson", params={"sender": actor}).text
        exported = [json.loads(line) for line in lines.splitlines()][:-1]
        assert [d["id"] for d in exported] == [
            d["id"] for d in deployments if d["sender"]["id"] == actor
        ]

    def test_a_role_a_kind_does_not_have_is_refused(self, client: Client) -> None:
        body = problem(client, "/v1/casualties", 400, speaker="someone")
        assert "speaker" in body["detail"]
