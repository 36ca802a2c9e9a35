"""The committed contract, openapi/v1.json: what the app serves, complete, with real
examples, and kept by the app under schemathesis' generated requests."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import schemathesis
from litestar import Litestar
from litestar.openapi.spec import Operation, Parameter
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service import cli, keys
from service.api import examples as examples_
from service.app import create_app
from service.settings import PROJECT_ROOT, Settings
from service.vocabulary import Role
from tests.apiclient import Client, ok, serve, unlimited
from tests.contract_rules import refused_by_design

SPEC = PROJECT_ROOT / "openapi" / "v1.json"
STALE = "openapi/v1.json differs from what the app serves: run `make openapi` and commit it"


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return document


def committed_reads() -> list[tuple[str, dict[str, Any]]]:
    """(path, GET operation) of every path that has one (a fact's publication and
    retraction are POST only)."""
    return [(path, item["get"]) for path, item in committed()["paths"].items() if "get" in item]


def get_operations(app: Litestar) -> list[tuple[str, Operation]]:
    paths = app.openapi_schema.paths or {}
    return [(path, item.get) for path, item in sorted(paths.items()) if item.get is not None]


class TestCommittedContract:
    def test_equals_what_the_app_serves(self, client: Client) -> None:
        served = client.get("/openapi.json")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        assert served.json() == committed(), STALE

    def test_docs_page_reads_the_same_contract(self, client: Client) -> None:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert client.get("/docs/openapi.json").json() == committed(), STALE

    def test_equals_what_the_cli_writes(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main(["openapi"]) == 0
        assert capsys.readouterr().out == SPEC.read_text(encoding="utf-8"), STALE

    def test_is_the_same_whatever_the_settings(self, settings: Settings) -> None:
        other = settings.replace(cors_origins=(), cache_max_age=1)
        assert create_app(other).openapi_schema.to_schema() == committed(), STALE


class TestEveryOperationIsDocumented:
    def test_ids_summaries_tags_and_parameter_descriptions(self, app: Litestar) -> None:
        operations = get_operations(app)
        assert len(operations) >= 19
        ids = [op.operation_id for _, op in operations]
        assert len(set(ids)) == len(ids)
        for path, op in operations:
            assert op.operation_id and op.operation_id[0].isupper(), path
            assert op.summary, path
            assert op.description, path
            assert op.tags and len(op.tags) == 1, path
            for parameter in op.parameters or []:
                assert isinstance(parameter, Parameter)
                assert parameter.description, f"{path}: {parameter.name}"

    def test_tags_are_declared(self, app: Litestar) -> None:
        declared = {tag.name for tag in app.openapi_schema.tags or []}
        used = {tag for _, op in get_operations(app) for tag in op.tags or []}
        assert used <= declared

    def test_optional_query_parameters_are_plain(self) -> None:
        """A query parameter is absent or a value, never null: `oneOf [X, null]` misleads
        client generators and fuzzers alike."""
        for path, read in committed_reads():
            for parameter in read.get("parameters", []):
                schema = parameter["schema"]
                assert "oneOf" not in schema and "anyOf" not in schema, (path, parameter["name"])
                assert schema.get("type") != "null", (path, parameter["name"])

    def test_a_read_says_a_key_sent_with_it_is_checked(self) -> None:
        """Reads are public, yet a key sent with one must be in force: 401 is in the
        contract of every /v1 read (and of no probe, which never looks at a key)."""
        for path, read in committed_reads():
            assert ("401" in read["responses"]) == path.startswith("/v1/"), path

    def test_every_error_status_is_a_problem(self) -> None:
        for path, read in committed_reads():
            responses = read["responses"]
            assert {"200", "400", "404", "405", "406", "500", "503"} <= set(responses), path
            # an export streams what it reads: no ETag, so no 304
            assert ("304" in responses) != path.startswith("/v1/export/") or path.endswith(
                ".json"
            ), path
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], path

    def test_pages_have_stable_names(self) -> None:
        names = set(committed()["components"]["schemas"])
        assert {"CasualtyPage", "FactPage", "DisputePage", "SearchHitPage"} <= names
        assert not [name for name in names if "service." in name or "_" in name]


class TestExamples:
    """Every 200 carries an example from the real data; openapi/examples.json is what the
    API answers over the curated fixtures."""

    def test_every_answer_has_an_example(self) -> None:
        for path, read in committed_reads():
            content = read["responses"]["200"]["content"]
            assert all("example" in media for media in content.values()), path
            for parameter in read.get("parameters", []):
                if parameter["in"] == "path":
                    assert "example" in parameter, (path, parameter["name"])

    def test_examples_are_the_answers_of_the_data(self, app: Litestar, client: Client) -> None:
        def get(path: str, params: dict[str, Any]) -> Any:
            return ok(client, path, **params)

        def get_text(path: str) -> str:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            return response.text

        examples = examples_.collect_examples(app, get, get_text)
        if os.environ.get("CRISIS_FACTS_WRITE_EXAMPLES"):
            examples_.write_examples(examples)
        assert examples == json.loads(examples_.EXAMPLES_FILE.read_text(encoding="utf-8")), (
            "openapi/examples.json is stale: run `CRISIS_FACTS_WRITE_EXAMPLES=1 "
            "pytest tests/test_contract.py -k examples`, then `make openapi`"
        )

    def test_path_examples_name_real_items(self, client: Client) -> None:
        for path, read in committed_reads():
            if read.get("security"):
                continue  # examples of keyed answers are hand-written (FIXED_EXAMPLES)
            url, ident = path, None
            for parameter in read.get("parameters", []):
                if parameter["in"] == "path":
                    url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
                    ident = ident or parameter["example"]
            if ident is None:
                continue
            answer = ok(client, url)
            first = answer[0] if isinstance(answer, list) else answer
            assert first.get("id", first.get("record_id")) == ident, url


# ---------------------------------------------------------------- schemathesis

CONFIG = schemathesis.Config.from_dict(
    {
        # positive and negative (invalid input) cases, a few dozen per operation
        "generation": {"mode": "all", "max-examples": 25},
        # 413 and 414 (body, query string too long) reject invalid input as well as 400
        # does: a body of invalid members may also be longer than the guard reads
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "404",
                    "405",
                    "409",
                    "412",
                    "413",
                    "414",
                    "415",
                    "422",
                    "428",
                    "429",
                ],
            },
        },
        # nothing written into the working tree
        "cache": {"enabled": False},
    }
)


class LateApp:
    """The ASGI app schemathesis calls. Its operations are bound when this module is
    imported, the app only once the session's database exists: this forwards to it."""

    def __init__(self) -> None:
        self.app: Litestar | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "schema_app fixture not active"
        await self.app(scope, receive, send)


late_app = LateApp()
schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)
schema.config.update(base_url="http://testserver")  # the file names no server
schema.app = late_app


@pytest.fixture(scope="module", autouse=True)
def schema_app(settings: Settings) -> Iterator[None]:
    """An app of its own: schemathesis runs its lifespan on its own event loop."""
    # Schemathesis sends bad credentials to every secured operation, more than the ten a
    # minute one address may fail with before it gets 429 (tested in test_keys.py); the
    # count is the database's, kept across the lifespans schemathesis starts.
    late_app.app = create_app(unlimited(settings).replace(auth_failures_per_minute=10**6))
    yield
    late_app.app = None


@pytest.fixture(scope="module")
def admin_token(settings: Settings) -> Iterator[str]:
    """A key that may do everything, for the operations that need one."""
    name = f"schemathesis-{uuid.uuid4().hex[:8]}"
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        token = keys.create(conn, name, Role.ADMIN)
        yield token
        conn.execute("DELETE FROM api_keys WHERE name = %s", [name])


@schema.parametrize()
def test_the_app_keeps_the_contract(case: schemathesis.Case[Any], admin_token: str) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    secured = bool(case.operation.definition.raw.get("security"))
    # A valid request to an operation that needs a key carries one; an invalid one may lack it.
    headers = {"Authorization": f"Bearer {admin_token}"} if secured and positive else None
    if positive and case.operation.path == "/v1/changes" and case.query and "wait" in case.query:
        case.query["wait"] = 0  # held requests are tested in test_changes.py, not 30 s each
    response = case.call(headers=headers)
    reasons = refused_by_design(case, response)
    by_design = bool(reasons) and positive
    case.validate_response(
        response, excluded_checks=[positive_data_acceptance] if by_design else None
    )
    if by_design and "query string" in reasons:
        assert response.status_code == 414, response.text
    elif by_design and "body" in reasons:
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == ["application/problem+json"], response.text
    elif by_design and reasons & {"data", "deleted"}:
        assert response.headers["content-type"] == ["application/problem+json"], response.text
    elif by_design:
        assert response.status_code == 400, response.text
        assert reasons & {p["name"] for p in response.json()["invalid_params"]}, response.text
