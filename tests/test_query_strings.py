"""Every read's query string is held to the contract the same way, whether the list decodes
it itself (service.api.querystring) or Litestar reads it: the parameters a 400 says are
accepted are exactly those the contract documents, and a repeated, 'null' or wrong value
is refused naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import Operation, Parameter

from service.settings import Settings
from tests.apiclient import CRISIS, Client, invalid, ok, serve

QUERIED = [
    "ListCrises",
    "ListSources",
    "ListActors",
    "ListStatements",
    "ListCasualties",
    "ListDeployments",
    "ListArrests",
    "ListDisputes",
    "GetTimeline",
    "Search",
]


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def by_id(app: Litestar, operation_id: str) -> tuple[str, Operation]:
    for path, item in (app.openapi_schema.paths or {}).items():
        if item.get is not None and item.get.operation_id == operation_id:
            return path, item.get
    raise AssertionError(operation_id)


def documented(operation: Operation) -> set[str]:
    return {
        p.name
        for p in operation.parameters or []
        if isinstance(p, Parameter) and p.param_in == ParamType.QUERY
    }


def required(operation_id: str) -> dict[str, str]:
    return {"q": "Tokayev"} if operation_id == "Search" else {}


@pytest.mark.parametrize("operation_id", QUERIED)
class TestEveryList:
    def test_the_accepted_parameters_are_the_documented_ones(
        self, app: Litestar, client: Client, operation_id: str
    ) -> None:
        path, operation = by_id(app, operation_id)
        names = documented(operation)
        assert {"limit", "cursor"} <= names
        body = invalid(client, path, "limt", limt="5", **required(operation_id))
        accepted = body["invalid_params"][0]["reason"].split("accepted: ", 1)[1]
        assert accepted.split(", ") == sorted(names)

    def test_every_documented_parameter_is_read(
        self, app: Litestar, client: Client, operation_id: str
    ) -> None:
        """A documented parameter the handler did not take would be refused as unknown."""
        path, operation = by_id(app, operation_id)
        for name in documented(operation) - {"q"}:
            response = client.get(path, params={**required(operation_id), name: "x" * 600})
            assert response.status_code == 400, (name, response.text)
            reason = response.json()["invalid_params"][0]["reason"]
            assert "not a parameter here" not in reason, (name, reason)

    def test_a_repeated_or_null_limit_is_refused(
        self, app: Litestar, client: Client, operation_id: str
    ) -> None:
        path, _ = by_id(app, operation_id)
        body = invalid(client, path, "limit", limit=["5", "7"], **required(operation_id))
        assert body["invalid_params"][0]["reason"] == "given more than once"
        body = invalid(client, path, "limit", limit="null", **required(operation_id))
        assert "'null' is not a value" in body["invalid_params"][0]["reason"]

    def test_a_bad_limit_names_it(self, app: Litestar, client: Client, operation_id: str) -> None:
        path, _ = by_id(app, operation_id)
        for value in ("0", "201", "ten"):
            invalid(client, path, "limit", limit=value, **required(operation_id))


def test_several_bad_values_are_each_named(client: Client) -> None:
    body = invalid(client, "/v1/casualties", "limit", limit="0", crisis="NOT AN ID")
    assert {p["name"] for p in body["invalid_params"]} == {"limit", "crisis"}


def test_filters_still_narrow(client: Client) -> None:
    """The decoded filters reach the query: every item answered matches them."""
    items = ok(client, "/v1/casualties", crisis=CRISIS, category="killed", limit=200)["items"]
    assert items and all(i["category"] == "killed" for i in items)
    dated = ok(client, "/v1/timeline", kind=["arrest"], undated="true", limit=200)["items"]
    assert dated and all(i["kind"] == "arrest" for i in dated)
