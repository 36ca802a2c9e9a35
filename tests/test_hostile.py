"""Hostile and careless input: every answer is a 4xx problem+json, never a 5xx or a trace."""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from service import keys
from service.api.guards import MAX_QUERY_BYTES, docs_csp
from service.app import create_app
from service.settings import Settings
from service.vocabulary import Role
from tests.test_reliability import Served

LISTS = [
    "/v1/statements",
    "/v1/casualties",
    "/v1/deployments",
    "/v1/arrests",
    "/v1/timeline",
    "/v1/crises",
    "/v1/sources",
    "/v1/actors",
    "/v1/disputes",
]
PARAMS = [
    "crisis",
    "actor",
    "source",
    "since",
    "until",
    "language",
    "verification",
    "key",
    "category",
    "victim_group",
    "status",
    "confirmed",
    "mode",
    "channel",
    "kind",
    "name",
    "limit",
    "cursor",
]
LEAKS = re.compile(r"Traceback|psycopg|SELECT |sqlalchemy|File \"|granian/\d|litestar/\d", re.I)

HOSTILE = [
    "/v1/arrests?limit=0",
    "/v1/arrests?limit=-1",
    "/v1/arrests?limit=201",
    "/v1/arrests?limit=99999999999999999999999",
    "/v1/arrests?limit=1e3",
    "/v1/arrests?cursor=" + "A" * 600,
    "/v1/arrests?cursor=eyJ4Ijoi",
    "/v1/arrests?cursor=%22%27%3B--",
    "/v1/arrests?since=2022-99-01",
    "/v1/arrests?since=2022-01-08&until=2022-01-01",
    "/v1/arrests?crisis=" + "a" * 500,
    "/v1/arrests?crisis=%ff%fe",
    "/v1/arrests?crisis=%00",
    "/v1/arrests?crisis=" + urllib.parse.quote("' OR 1=1 --"),
    "/v1/arrests?confirmed=maybe",
    "/v1/casualties?category=zombies",
    "/v1/casualties?victim_group=" + urllib.parse.quote("police'; DROP TABLE facts; --"),
    "/v1/timeline?kind=zombie",
    "/v1/search",
    "/v1/search?q=",
    "/v1/search?q=" + "x" * 201,
    "/v1/search?q=%ff",
    "/v1/search?q=%00abc",
    "/v1/search?type=nothing&q=a",
    "/v1/actors?name=%ed%a0%80",
    "/v1/arrests/%ff",
    "/v1/arrests/%00",
    "/v1/arrests/no-such-arrest",
    "/v1/sources/" + "x" * 5000,
    "/v1/nothing-here",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/v1/arrests?" + "a=1&" * (MAX_QUERY_BYTES // 4 + 10),
]


@pytest.fixture(scope="module")
def guarded(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """The app with its default guards, rate limit off for the suite's single client."""
    with TestClient(create_app(settings)) as client:
        yield client


def assert_problem(response: httpx.Response, status: int | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    if status is not None:
        assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"] and body["type"] and body["detail"]
    assert not LEAKS.search(response.text)
    assert not LEAKS.search(" ".join(f"{k}: {v}" for k, v in response.headers.items()))


@pytest.mark.parametrize("path", HOSTILE, ids=[p[:50] for p in HOSTILE])
def test_hostile_request_gets_a_4xx_problem(guarded: TestClient[Litestar], path: str) -> None:
    assert_problem(guarded.get(path))


def test_sql_looking_text_is_only_ever_data(guarded: TestClient[Litestar]) -> None:
    for path in LISTS:
        for param in ("crisis", "actor", "source", "key", "name"):
            response = guarded.get(
                f"{path}?{param}=" + urllib.parse.quote("x'); DELETE FROM facts;--")
            )
            assert response.status_code in {200, 400}
            if response.status_code == 400:
                assert_problem(response)
    assert guarded.get("/v1/arrests").json()["items"], "nothing was deleted"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(LISTS),
    param=st.sampled_from(PARAMS),
    value=st.text(min_size=0, max_size=300)
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
    | st.integers().map(str),
)
def test_any_parameter_value_is_answered_without_a_server_error(
    guarded: TestClient[Litestar], path: str, param: str, value: str
) -> None:
    response = guarded.get(f"{path}?{param}={urllib.parse.quote(value, safe='')}")
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert_problem(response)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cursor=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=1,
        max_size=120,
    )
)
def test_forged_cursors_are_refused_as_the_cursor_parameter(
    guarded: TestClient[Litestar], cursor: str
) -> None:
    response = guarded.get(f"/v1/casualties?cursor={cursor}")
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert_problem(response)
        assert "cursor" in response.json()["detail"]


def test_oversized_body_is_413(guarded: TestClient[Litestar]) -> None:
    assert_problem(guarded.request("GET", "/v1/arrests", content=b"x" * 20_000), 413)
    refused = guarded.post("/v1/arrests", content=b"x" * 20_000)
    assert_problem(refused, 413)
    assert "limited to 16384 bytes here; this one was not read" in refused.json()["detail"]


def test_methods_a_path_does_not_answer_are_405_naming_them(
    guarded: TestClient[Litestar],
) -> None:
    for path, methods in (("/v1/arrests", ("PUT", "PATCH", "DELETE")), ("/v1/crises", ("POST",))):
        for method in methods:
            response = guarded.request(method, path)
            assert_problem(response, 405)
            assert method in response.json()["detail"]
            assert "GET" in response.headers["allow"]


def test_unknown_host_is_refused(guarded: TestClient[Litestar]) -> None:
    assert_problem(guarded.get("/v1/arrests", headers={"host": "evil.example"}), 400)
    # No route, so no middleware: the 404 handler refuses it.
    assert_problem(guarded.get("/nothing-here", headers={"host": "evil.example"}), 400)
    assert guarded.get("/health", headers={"host": "localhost:8000"}).status_code == 200


def test_security_headers_on_answers_and_errors(guarded: TestClient[Litestar]) -> None:
    for path in ("/v1/arrests", "/v1/nothing", "/v1/arrests?limit=0"):
        response = guarded.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_docs_page_has_a_strict_csp_pinning_its_inline_code(
    guarded: TestClient[Litestar],
) -> None:
    response = guarded.get("/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert policy == docs_csp(response.content).decode()
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    # Only this origin: the page's assets are served here, so it works offline.
    assert "script-src 'self' 'sha256-" in policy and "https:" not in policy
    assert "frame-ancestors 'none'" in policy
    # and the page asks for nothing elsewhere (its icon included), which the policy would block
    linked = re.findall(r"(?:src|href)=['\"]([^'\"]+)", response.text)
    assert linked and all(url.startswith("/") for url in linked), linked
    for url in linked:
        assert guarded.get(url).status_code == 200, url


def test_cors_is_off_unless_origins_are_configured(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(cors_origins=()))) as client:
        response = client.get("/v1/crises", headers={"origin": "https://anywhere.example"})
        assert "access-control-allow-origin" not in response.headers
        preflight = client.options(
            "/v1/crises",
            headers={"origin": "https://anywhere.example", "access-control-request-method": "GET"},
        )
        assert preflight.headers.get("access-control-allow-origin") != "*"


def test_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(rate_limit_per_minute=5))) as client:
        statuses = [client.get("/v1/crises").status_code for _ in range(5)]
        assert statuses == [200] * 5
        response = client.get("/v1/crises")
        assert_problem(response, 429)
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["ratelimit-limit"] == "5"
        assert response.headers["ratelimit-remaining"] == "0"
        assert client.get("/health").status_code == 200, "probes are never limited"


def test_served_instance_refuses_long_query_strings_as_problems(database_url: str) -> None:
    served = Served(database_url)
    try:
        long_query = served.base + "/v1/arrests?crisis=" + "a" * 10_000
        response = httpx.get(long_query, timeout=5)
        assert_problem(response, 414)
        response = httpx.get(served.base + "/v1/arrests", headers={"x-long": "b" * 10_000})
        assert response.status_code == 200
        for path in HOSTILE[:12]:
            assert_problem(httpx.get(served.base + path, timeout=5))
    finally:
        served.close()


@pytest.mark.parametrize("path", ["/v1/crises", "/v1/arrests", "/v1/export/arrests.csv", "/"])
def test_an_accept_header_that_cannot_be_read_is_never_a_500(
    guarded: TestClient[Litestar], path: str
) -> None:
    for _ in range(2):  # the second may meet the answer the first left in the cache
        response = guarded.get(path, headers={"Accept": "a/b;q=1e999"})
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_problem(response)


@pytest.mark.parametrize("idempotency", [False, True])
def test_a_body_nested_thousands_deep_is_a_400_naming_the_body(
    guarded: TestClient[Litestar], database_url: str, idempotency: bool
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        token = keys.create(conn, f"nesting-desk-{secrets.token_hex(3)}", Role.CURATOR)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if idempotency:
        headers["Idempotency-Key"] = secrets.token_hex(8)
    body = '{"count": ' + "[" * 5000 + "]" * 5000 + "}"
    response = guarded.post("/v1/casualties", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert_problem(response, 400)
    assert [p["name"] for p in response.json()["invalid_params"]] == ["body"]
