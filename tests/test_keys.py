"""API keys: made once by the CLI, checked on every request that needs one, revocable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service import cli
from service.app import create_app
from service.settings import Settings

ME = "/v1/me"


def make_key(
    url: str, name: str, role: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, *more: str
) -> str:
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["keys", "create", "--name", name, "--role", role, *more]) == 0
    out = capsys.readouterr()
    token: str = out.out.strip()
    assert token.startswith("cfk_") and token not in out.err
    return token


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Litestar]]:
    """An app with failed authentications counted, from none: the counts are the database's
    (shared by every app on it), so an earlier test's failures are forgotten first."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_counts")
    settings = Settings(
        database_url=database_url,
        allowed_hosts=("testserver.local",),
        rate_limit_per_minute=0,
        auth_failures_per_minute=10,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def key_name(database_url: str) -> Iterator[str]:
    name = f"test-{secrets.token_hex(4)}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM api_keys WHERE name LIKE %s", [f"{name}%"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_key_is_shown_once_and_stored_as_a_hash(
    database_url: str, key_name: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    token = make_key(database_url, key_name, "curator", monkeypatch, capsys)
    assert cli.main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key_name in listed and "curator" in listed and token not in listed
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT * FROM api_keys WHERE name = %s", [key_name]).fetchone()
    assert stored is not None and token not in repr(stored)
    assert cli.main(["keys", "create", "--name", key_name, "--role", "admin"]) == 2


def test_the_key_of_a_request_is_named_with_its_role(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    token = make_key(database_url, key_name, "editor", monkeypatch, capsys)
    answer = client.get(ME, headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json() == {"name": key_name, "role": "editor"}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request"),
        ({"Authorization": "Bearer"}, "invalid_request"),
        ({"Authorization": "Bearer cfk_0123abcd_" + "A" * 43}, "invalid_token"),
    ],
    ids=["missing", "other-scheme", "empty", "unknown"],
)
def test_no_key_is_401_with_a_challenge(
    client: TestClient[Litestar], headers: dict[str, str], error: str | None
) -> None:
    answer = client.get(ME, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="crisis-facts"')
    assert (f'error="{error}"' in challenge) if error else ("error" not in challenge)


def test_a_revoked_key_is_refused_on_the_next_request(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    token = make_key(database_url, key_name, "admin", monkeypatch, capsys)
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert cli.main(["keys", "revoke", key_name]) == 0
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert cli.main(["keys", "revoke", key_name]) == 2, "revoked already"


def expire(url: str, name: str) -> None:
    """The key's expiry moved to a second ago, as if its days had passed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = %s", [name]
        )


def test_a_key_made_to_expire_is_refused_once_it_has(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    token = make_key(database_url, key_name, "curator", monkeypatch, capsys, "--expires-in", "2")
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert cli.main(["keys", "list"]) == 0
    assert f"{key_name}\tcurator" in (listed := capsys.readouterr().out)
    assert "in force until" in listed.split(key_name)[1].splitlines()[0]
    expire(database_url, key_name)
    refused = client.get(ME, headers=bearer(token))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert cli.main(["keys", "list"]) == 0
    assert "expired" in capsys.readouterr().out.split(key_name)[1].splitlines()[0]
    with pytest.raises(SystemExit):
        cli.main(
            ["keys", "create", "--name", key_name + "x", "--role", "admin", "--expires-in", "0"]
        )


def test_forged_truncated_expired_and_revoked_tokens_never_write(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    """1,000 tokens near real ones try to create an actor; failures past the limit are 429."""
    token = make_key(database_url, key_name, "admin", monkeypatch, capsys)
    expired = make_key(
        database_url, f"{key_name}-e", "admin", monkeypatch, capsys, "--expires-in", "1"
    )
    prefix, secret = token[:13], token[13:]
    forged = [token, expired]  # revoked and expired below; first, before failures are 429
    forged += [prefix + secrets.token_urlsafe(32) for _ in range(498)]  # right key, bad secret
    forged += [token[:n] for n in range(1, len(token))]  # truncated
    forged += [token + "A", token.upper(), token.replace("cfk_", "cfk-"), f"{prefix}{secret[::-1]}"]
    forged = forged[:1000]
    assert cli.main(["keys", "revoke", key_name]) == 0
    expire(database_url, f"{key_name}-e")
    actor = {"id": f"forged-{key_name}", "crisis": "kazakhstan-2022", "kind": "person"}
    statuses = {
        client.post(
            "/v1/actors", json={**actor, "name": f"Forged {n}"}, headers=bearer(f)
        ).status_code
        for n, f in enumerate(forged)
    }
    assert statuses == {401, 429}
    assert client.get(f"/v1/actors/{actor['id']}").status_code == 404
    blocked = client.get(ME, headers=bearer(token))
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1


def test_an_answer_to_a_key_is_never_kept_or_shared(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    token = make_key(database_url, key_name, "curator", monkeypatch, capsys)
    mine = client.get(ME, headers=bearer(token))
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert client.get(ME).status_code == 401, "served from no cache to a request without it"


READS = [
    "/v1/crises",
    "/v1/crises/kazakhstan-2022",
    "/v1/actors",
    "/v1/actors/karim-massimov",
    "/v1/actors/karim-massimov/revisions",
    "/v1/sources",
    "/v1/sources/src-003-evz",
    "/v1/sources/src-003-evz/revisions",
    "/v1/export/actors.csv",
    "/v1/export/sources.ndjson",
    "/v1/export/datapackage.json",
    "/v1/casualties",
    "/v1/timeline",
    "/v1/changes",
    "/v1/disputes",
    "/v1/search?q=arrestations",
]
"""Reads that show drafts to a key, and reads that show everyone the same (whose answers a
key does not change): a key that is not valid is refused on both."""

UNKNOWN = "cfk_0123abcd_" + "A" * 43


@pytest.mark.parametrize("path", READS)
def test_every_read_refuses_a_key_that_is_not_valid(
    client: TestClient[Litestar],
    database_url: str,
    key_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    path: str,
) -> None:
    """Reads of crises, actors and sources answered a revoked or unknown key with the public
    answer, where the fact lists said 401: a client never learnt its key had stopped working."""
    token = make_key(database_url, key_name, "curator", monkeypatch, capsys)
    assert client.get(path).status_code == 200
    assert client.get(path, headers=bearer(token)).status_code == 200
    assert cli.main(["keys", "revoke", key_name]) == 0
    sent = [(bearer(token), "invalid_token"), (bearer(UNKNOWN), "invalid_token")]
    sent += [({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request")]
    for headers, error in sent:
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["content-type"] == "application/problem+json"
        assert f'error="{error}"' in refused.headers["www-authenticate"]
    assert client.get(path).status_code == 200, "without a key, the public answer"
