"""Every error has the same shape: RFC 9457 problem+json, status in the body equal to the
HTTP status, and never a traceback or SQL — for every operation of the contract."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg_pool
import pytest
from litestar import Litestar
from litestar.openapi.spec import Operation, Parameter

from service import queries
from service.settings import Settings
from tests.apiclient import Client, serve

LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|psycopg|sqlalchemy|SELECT|FROM\s|WHERE\s|"
    r"json_build_object|Exception|Error\(",
)

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


def operations(app: Litestar) -> list[tuple[str, Operation]]:
    """The public reads: those that need a key answer 401 first (tests/test_keys.py)."""
    found = []
    for path, item in sorted((app.openapi_schema.paths or {}).items()):
        if item.get is not None and not item.get.security:
            found.append((path, item.get))
    assert len(found) >= 19
    return found


OPERATION_IDS = [
    "ListCrises",
    "GetCrisis",
    "ListSources",
    "GetSource",
    "ListActors",
    "GetActor",
    "ListStatements",
    "GetStatement",
    "ListCasualties",
    "GetCasualty",
    "ListDeployments",
    "GetDeployment",
    "ListArrests",
    "GetArrest",
    "ListDisputes",
    "GetTimeline",
    "Search",
    "ListChanges",
    "GetHealth",
    "GetReady",
    "GetDataPackage",
    *(f"{verb}{noun}Revision{s}" for noun in ("Statement", "Casualty", "Deployment", "Arrest")
      for verb, s in (("List", "s"), ("Get", ""))),
    *(f"{verb}{noun}Revision{s}" for noun in ("Source", "Actor")
      for verb, s in (("List", "s"), ("Get", ""))),
    *(
        f"Export{name}{suffix}"
        for name in [
            "Statements",
            "Casualties",
            "Deployments",
            "Arrests",
            "Timeline",
            "Actors",
            "Sources",
            "Disputes",
        ]
        for suffix in ["Csv", "Ndjson"]
    ),
]  # fmt: skip


def by_id(app: Litestar, operation_id: str) -> tuple[str, Operation]:
    return next((p, op) for p, op in operations(app) if op.operation_id == operation_id)


def path_params(operation: Operation) -> list[str]:
    return [
        p.name
        for p in operation.parameters or []
        if isinstance(p, Parameter) and p.param_in == "path"
    ]


def has_param(operation: Operation, name: str) -> bool:
    return any(isinstance(p, Parameter) and p.name == name for p in operation.parameters or [])


def fill(path: str, operation: Operation, value: str) -> str:
    """`value` for every path parameter but a revision's number, which is 1."""
    for name in path_params(operation):
        path = path.replace("{" + name + "}", "1" if name == "number" else value)
    return path


def required_query(operation: Operation) -> dict[str, Any]:
    return {"q": "Kazakhstan"} if has_param(operation, "q") else {}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    assert isinstance(body["type"], str) and ":" in body["type"]  # a URI
    assert body["title"] and body["detail"]
    assert not LEAKS.search(response.text), response.text
    return body


def test_the_contract_has_every_operation(app: Litestar) -> None:
    """Every public read; those that need a key answer 401 first (tests/test_keys.py,
    tests/test_webhooks.py)."""
    public = [op.operation_id or "" for _, op in operations(app) if not op.security]
    assert sorted(public) == sorted(OPERATION_IDS)


# They take no parameter a client could get wrong (an unknown one: test_newcomer.py).
PROBES = {"GetHealth", "GetReady", "GetDataPackage"}


@pytest.mark.parametrize("operation_id", sorted(set(OPERATION_IDS) - PROBES))
def test_400_names_the_parameter(app: Litestar, client: Client, operation_id: str) -> None:
    path, operation = by_id(app, operation_id)
    if has_param(operation, "limit"):
        url, params = fill(path, operation, "x"), {**required_query(operation), "limit": 0}
        name = "limit"
    elif not path_params(operation):  # an export: every filter, no paging
        url, params, name = path, {"crisis": "NOT AN ID"}, "crisis"
    else:
        assert path_params(operation), f"{operation_id} has a limit or a path id"
        name = path_params(operation)[0]
        url, params = fill(path, operation, "NOT%20AN%20ID"), {}
    body = assert_problem(client.get(url, params=params), 400)
    assert name in {p["name"] for p in body["invalid_params"]}
    assert name in body["detail"]


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
class TestEveryOperation:
    def test_404(self, app: Litestar, client: Client, operation_id: str) -> None:
        path, operation = by_id(app, operation_id)
        if path_params(operation):
            url = fill(path, operation, "no-such-thing")
        else:
            url = path + "/no/such/thing"
        body = assert_problem(client.get(url, params=required_query(operation)), 404)
        assert body["instance"] == url

    def test_405(self, app: Litestar, client: Client, operation_id: str) -> None:
        path, operation = by_id(app, operation_id)
        url = fill(path, operation, "no-such-thing")
        item = (app.openapi_schema.paths or {})[path]
        refused = [
            m for m in ("POST", "PUT", "PATCH", "DELETE") if getattr(item, m.lower()) is None
        ]
        assert "PUT" in refused
        for method in refused:
            response = client.request(method, url, params=required_query(operation))
            body = assert_problem(response, 405)
            assert "GET" in response.headers["allow"]
            assert method in body["detail"]
            allowed = response.headers["allow"].split(", ")
            assert body["detail"].endswith(f"it answers {', '.join(allowed)}."), body["detail"]


@pytest.mark.parametrize(
    "url", ["/nope", "/v2/crises", "/v1", "/v1/crises/kazakhstan-2022/x", "/docs/redoc"]
)
def test_unknown_route(client: Client, url: str) -> None:
    body = assert_problem(client.get(url), 404)
    assert body["instance"] == url


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/v1/casualties?category=zombies", "category"),
        ("/v1/casualties?victim_group=aliens", "victim_group"),
        ("/v1/deployments?status=teleported", "status"),
        ("/v1/statements?mode=sung", "mode"),
        ("/v1/statements?channel=pigeon", "channel"),
        ("/v1/arrests?confirmed=perhaps", "confirmed"),
        ("/v1/timeline?kind=rumour", "kind"),
        ("/v1/search?q=x&type=video", "type"),
        ("/v1/sources?language=kk", "language"),
        ("/v1/arrests?verification=vibes", "verification"),
        ("/v1/statements?since=yesterday", "since"),
        ("/v1/statements?until=2022-02-30", "until"),
    ],
)
def test_bad_values_name_their_parameter(client: Client, url: str, name: str) -> None:
    body = assert_problem(client.get(url), 400)
    assert body["invalid_params"][0]["name"] == name
    assert body["type"] == "urn:crisis-facts:problem:invalid-parameter"


def test_missing_required_parameter(client: Client) -> None:
    body = assert_problem(client.get("/v1/search"), 400)
    assert body["type"] == "urn:crisis-facts:problem:invalid-parameter"
    assert body["invalid_params"] == [{"name": "q", "reason": "a required parameter is missing"}]


NOT_UTF8 = "once percent-decoded); the query string must be UTF-8"


@pytest.mark.parametrize(
    ("url", "name", "reason"),
    [
        ("/v1/search?q=%00", "q", "contains a NUL character"),
        ("/v1/search?q=Massimov%00", "q", "contains a NUL character"),
        ("/v1/arrests?limit=1%00", "limit", "contains a NUL character"),
        ("/v1/arrests?crisis=%ff%fe", "crisis", "byte 0xff at position 0"),
        ("/v1/search?q=caf%C3%A9%ff", "q", "byte 0xff at position 5"),
        # a name that is not text is named as sent
        ("/v1/arrests?%ff=1", "%ff", f"its name is not UTF-8 (byte 0xff at position 0, {NOT_UTF8}"),
        (
            "/v1/arrests?limit=5&ab%ff=1",
            "ab%ff",
            f"its name is not UTF-8 (byte 0xff at position 2, {NOT_UTF8}",
        ),
        ("/v1/arrests?a%00b=1", "a%00b", "its name contains a NUL character"),
    ],
)
def test_what_is_not_text_in_a_query_names_its_parameter(
    client: Client, url: str, name: str, reason: str
) -> None:
    """Regression: the guard refused them before parsing, as `about:blank` naming nothing."""
    body = assert_problem(client.get(url), 400)
    assert body["type"] == "urn:crisis-facts:problem:invalid-parameter"
    assert [p["name"] for p in body["invalid_params"]] == [name]
    assert reason in body["invalid_params"][0]["reason"]


class TestServerSideFailures:
    """What a client sees when the server or the database fails: the same shape, no detail
    of the failure."""

    @pytest.fixture
    def fresh(self, settings: Settings) -> Iterator[Client]:
        # an app of its own: nothing it answers may come from an earlier answer
        with serve(settings) as client:
            yield client

    def broken(self, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise exc

        monkeypatch.setattr(queries, "list_crises", fail)

    def test_500(self, fresh: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        self.broken(monkeypatch, RuntimeError("SELECT secret FROM passwords"))
        body = assert_problem(fresh.get("/v1/crises"), 500)
        assert "secret" not in body["detail"]

    @pytest.mark.parametrize(
        "exc",
        [psycopg.OperationalError("connection refused"), psycopg_pool.PoolTimeout("no connection")],
    )
    def test_503(self, fresh: Client, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
        self.broken(monkeypatch, exc)
        response = fresh.get("/v1/crises")
        body = assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
        assert "refused" not in body["detail"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/v1/sources?language=fr&language=en", "language"),
        ("/v1/statements?limit=5&limit=7", "limit"),
        ("/v1/arrests?crisis=kazakhstan-2022&crisis=other", "crisis"),
        ("/v1/sources?language=null", "language"),
        ("/v1/arrests?confirmed=null", "confirmed"),
        ("/v1/statements?since=null", "since"),
    ],
)
def test_ambiguous_queries_are_refused(client: Client, url: str, name: str) -> None:
    """Regression: Litestar answered `?x=a&x=b` with one of the two and read `?x=null` as
    no filter at all, so a client's mistake silently changed what it got."""
    body = assert_problem(client.get(url), 400)
    assert body["invalid_params"][0]["name"] == name


def test_repeatable_parameters_may_repeat(client: Client) -> None:
    assert client.get("/v1/timeline?kind=arrest&kind=casualty").status_code == 200
    assert client.get("/v1/search?q=Massimov&type=source&type=arrest").status_code == 200
