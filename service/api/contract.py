"""What the committed contract (openapi/v1.json) says beyond what Litestar infers.

`document(app)` runs once in create_app, before the document is first served, so
`/openapi.json`, `crisis-facts openapi` and the committed file are the same text:

* every operation lists the problem+json answers a client may meet, and the headers
  of its 200 (ETag, Cache-Control, Link) and its 304;
* optional query parameters are plain schemas (`string`, an enum, `boolean` ...), not
  `oneOf [X, null]`: a query parameter is absent, never null, and generators such as
  schemathesis read the plain form correctly;
* generic pages get stable names (`CasualtyPage`, not `Page_service.schemas.Casualty_`);
* each 200 carries an example from the real data (openapi/examples.json, see
  `collect_examples`), and each path id an example id that exists.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.openapi.spec.base import BaseSchemaObject

from service.api.guards import MAX_QUERY_BYTES
from service.engine.specs import (
    NEW_FACTS,
    AliasSpec,
    CitationSpec,
    CorrectionSpec,
    NewActor,
    NewSource,
    ReviewSpec,
    TranslationSpec,
)
from service.errors import PROBLEM_JSON
from service.migrations import head
from service.settings import PROJECT_ROOT

EXAMPLES_FILE = PROJECT_ROOT / "openapi" / "examples.json"

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="A URI naming the kind of problem."),
        "title": Schema(type=OpenAPIType.STRING, description="The HTTP status phrase."),
        "status": Schema(type=OpenAPIType.INTEGER, description="The HTTP status code."),
        "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, for a human."),
        "instance": Schema(type=OpenAPIType.STRING, description="The request path."),
        "invalid_params": Schema(
            type=OpenAPIType.ARRAY,
            description="Each bad parameter with the reason.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["name", "reason"],
                properties={
                    "name": Schema(type=OpenAPIType.STRING),
                    "reason": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    description="RFC 9457 problem details.",
)

PROBLEMS = {
    "400": "A parameter is invalid; `invalid_params` names it.",
    "404": "Nothing at this path or with this id.",
    "405": "This path does not answer that method; `Allow` lists those it does.",
    "410": "The record was deleted: the problem says in which revision, when and why.",
    "406": "The Accept header refuses what the path serves; the problem names it.",
    "413": "The request carries a body larger than MAX_BODY_BYTES; the API reads none.",
    "414": f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
    "401": "No API key, or not one in force; `WWW-Authenticate` says which.",
    "403": "The API key's role may not do this.",
    "409": "A record with this id exists already.",
    "412": "If-Match names an older revision; the answer's ETag is the current one.",
    "415": "The body is not of the media type this write takes.",
    "422": "The record breaks a rule of the data; the problem names the record and the rule.",
    "428": "This write needs If-Match with the ETag of the record as you last read it.",
    "429": "Too many requests; see Retry-After.",
    "500": "The server failed; the error was logged.",
    "503": "The database is unavailable; see Retry-After.",
}


def _header(description: str) -> OpenAPIHeader:
    return OpenAPIHeader(description=description, schema=Schema(type=OpenAPIType.STRING))


ETAG = _header("Strong validator of this answer; send it back in `If-None-Match`.")
CACHE_CONTROL = _header("How long shared caches may keep the answer.")
LINK = _header('`<url>; rel="next"`: the next page, when there is one.')
RETRY_AFTER = _header("Seconds to wait before retrying.")
ALLOW = _header("The methods this path answers.")
LOCATION = _header("The URL of the record written.")
DATASET_VERSION = _header("The dataset version every row of the export is a copy of.")
CONTENT_DISPOSITION = _header('`attachment; filename="<list>.csv"`.')
STREAMED = {
    "Csv": (
        "text/csv",
        "RFC 4180, UTF-8 with a byte order mark: a header row, then one row per item "
        "(columns in GET /v1/export/datapackage.json). Cells a spreadsheet would read as "
        "a formula start with `'`. A cut-off answer ends without HTTP's last chunk.",
    ),
    "Ndjson": (
        "application/x-ndjson",
        "One item a line, as the JSON list serves it; the last line is "
        '`{"complete":true,"count":N,"dataset_version":V}`: without it, the stream was cut off.',
    ),
}
"""Each export format's media type and what its answer is."""
WWW_AUTHENTICATE = _header('`Bearer realm="crisis-facts"`, with `error` when a token was sent.')


class Verbatim(BaseSchemaObject):
    """A JSON value put in the document as is: Litestar's `to_schema` drops the nulls of
    plain dicts, and an example without its nulls would not match its own schema."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def to_schema(self) -> Any:
        return self.value


def document(app: Litestar, examples_file: Path = EXAMPLES_FILE) -> None:
    """Complete the app's OpenAPI document in place (see the module docstring)."""
    schema = app.openapi_schema
    components = schema.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = PROBLEM_SCHEMA
    write_bodies(components.schemas)
    rename_pages(app)
    examples = {**FIXED_EXAMPLES, **load_examples(examples_file)}
    strict_body(components.schemas.get("NewWebhook"))
    strict_body(components.schemas.get("Retraction"), required=["reason"])
    for item in (schema.paths or {}).values():
        for method in ("get", "post", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            plain_query_parameters(operation)
            document_responses(operation, method)
            if operation.security is None:
                operation.security = []  # public: declared so, not left unsaid (Redocly)
            example = examples.get(operation.operation_id or "")
            if example is not None:
                add_example(operation, example)
        if item.get is not None and item.get.operation_id == "ListWebhookDeliveries":
            for parameter in _parameters(item.get):
                if parameter.param_in == ParamType.PATH:
                    parameter.example = _WEBHOOK["id"]


WRITE_PROBLEMS = {
    "post": {"409", "415", "422"},
    "patch": {"412", "415", "422", "428"},
    "delete": {"412", "422", "428"},
}
"""The problems only writes can meet, by method."""


def write_bodies(schemas: dict[str, Any]) -> None:
    """The facts curators post, as msgspec states their Structs: Litestar drops the
    constraints of list items (a fact's `actors` are slugs)."""
    bodies: list[type[msgspec.Struct]] = [
        *NEW_FACTS.values(),
        CitationSpec,
        ReviewSpec,
        NewSource,
        NewActor,
        AliasSpec,
        TranslationSpec,
        CorrectionSpec,
    ]
    _, generated = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}"
    )
    for body in bodies:
        schemas[body.__name__] = Verbatim(generated[body.__name__])


def document_responses(operation: Operation, method: str = "get") -> None:
    responses = operation.responses or {}
    ok = responses.get("201" if method == "post" else "200") or responses.get("200")
    streamed = _streamed(operation)
    if streamed is not None and isinstance(ok, OpenAPIResponse):
        media, description = streamed
        ok.description = description
        ok.content = {media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}
        ok.headers = {"Cache-Control": CACHE_CONTROL, "X-Dataset-Version": DATASET_VERSION}
        if media == "text/csv":
            ok.headers["Content-Disposition"] = CONTENT_DISPOSITION
    elif isinstance(ok, OpenAPIResponse):
        headers: dict[str, OpenAPIHeader | Reference] = {
            "ETag": ETAG,
            "Cache-Control": CACHE_CONTROL,
        }
        if any(p.name == "cursor" for p in _parameters(operation)):
            headers["Link"] = LINK
        if method == "post":
            headers["Location"] = LOCATION
        ok.headers = headers
        ok.description = ok.description or "OK"
    if method == "get" and streamed is None:  # an export is never answered 304
        responses["304"] = OpenAPIResponse(
            description="Not Modified: `If-None-Match` names the current ETag; the body is empty.",
            headers={"ETag": ETAG, "Cache-Control": CACHE_CONTROL},
        )
    ref = Reference(ref="#/components/schemas/Problem")
    for code, description in PROBLEMS.items():
        if code == "410" and not any(p.name == "fact_id" for p in _parameters(operation)):
            continue  # only facts leave tombstones that their URL answers
        if code in {"401", "403"} and not operation.security:
            continue  # reads are public
        if code in WRITES_ONLY and code not in _write_problems(operation, method):
            continue
        if code == "405" and method != "get":
            continue
        problem_headers: dict[str, OpenAPIHeader | Reference] = {}
        if code in {"429", "503"}:
            problem_headers["Retry-After"] = RETRY_AFTER
        if code == "405":
            problem_headers["Allow"] = ALLOW
        if code == "401":
            problem_headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        responses[code] = OpenAPIResponse(
            description=description,
            headers=problem_headers or None,
            content={PROBLEM_JSON: OpenAPIMediaType(schema=ref)},
        )
    operation.responses = dict(sorted(responses.items()))


WRITES_ONLY = {"409", "412", "415", "422", "428"}


def _write_problems(operation: Operation, method: str) -> set[str]:
    """A write's problems; with If-Match (a publication, a retraction) also 412 and 428."""
    problems = WRITE_PROBLEMS.get(method, set())
    if any(p.name == "If-Match" for p in _parameters(operation)):
        problems = problems | {"412", "428"}
    return problems


def _streamed(operation: Operation) -> tuple[str, str] | None:
    """The media type and description of an export's answer; None for any other operation."""
    op_id = operation.operation_id or ""
    if not op_id.startswith("Export"):
        return None
    return next((v for suffix, v in STREAMED.items() if op_id.endswith(suffix)), None)


def strict_body(schema: Schema | Reference | None, required: list[str] | None = None) -> None:
    """A request body with an unknown field is refused (msgspec's forbid_unknown_fields):
    the contract says so, and generators do not invent fields. `required`: members the
    server checks itself, to answer 422 naming them rather than a decoding error."""
    if isinstance(schema, Schema):
        schema.additional_properties = False
        if required:
            schema.required = required


def _parameters(operation: Operation) -> list[Parameter]:
    return [p for p in operation.parameters or [] if isinstance(p, Parameter)]


def plain_query_parameters(operation: Operation) -> None:
    """`str | None = None` becomes `string`, not `oneOf [string, null]`: absent is not null."""
    for parameter in _parameters(operation):
        schema = parameter.schema
        if not isinstance(schema, Schema) or not schema.one_of:
            continue
        kept = [
            member
            for member in schema.one_of
            if not (isinstance(member, Schema) and member.type == OpenAPIType.NULL)
        ]
        if len(kept) != 1:
            continue
        (member,) = kept
        if isinstance(member, Reference):
            # the description stays on the parameter; a $ref stands alone
            parameter.schema = member
            continue
        merged = {
            f.name: getattr(member, f.name)
            for f in dataclasses.fields(member)
            if getattr(member, f.name) is not None
        }
        parameter.schema = dataclasses.replace(schema, one_of=None, **merged)


_PAGE_NAME = re.compile(r"^Page_(?P<types>.+)_$")


def page_name(generated: str) -> str | None:
    """'Page_service.schemas.Casualty_' -> 'CasualtyPage'; the union of the four facts ->
    'FactPage'."""
    match = _PAGE_NAME.match(generated)
    if match is None:
        return None
    names = [part for part in match["types"].split("_") if part]
    names = [name.rsplit(".", 1)[-1] for name in names]
    return f"{names[0]}Page" if len(names) == 1 else "FactPage"


def rename_pages(app: Litestar) -> None:
    components = app.openapi_schema.components
    schemas = components.schemas or {}
    renames = {old: new for old in schemas if (new := page_name(old)) is not None}
    if not renames:
        return
    for old, new in renames.items():
        schema = schemas.pop(old)
        if isinstance(schema, Schema):
            schema.title = new
        schemas[new] = schema
    components.schemas = dict(sorted(schemas.items()))
    prefix = "#/components/schemas/"
    refs = {prefix + old: prefix + new for old, new in renames.items()}

    def fix(node: Any) -> None:
        if isinstance(node, Reference):
            node.ref = refs.get(node.ref, node.ref)
        elif isinstance(node, Verbatim):
            return
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                fix(getattr(node, f.name))
        elif isinstance(node, dict):
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(app.openapi_schema)


# ---------------------------------------------------------------- examples


def add_example(operation: Operation, example: Any) -> None:
    ok = (operation.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse) and ok.content:
        for media in ok.content.values():
            media.example = Verbatim(example)
    first = example[0] if isinstance(example, list) and example else example
    if not isinstance(first, dict):
        return
    ident = first.get("id", first.get("record_id"))
    for parameter in _parameters(operation):
        if parameter.param_in != ParamType.PATH:
            continue
        if parameter.name == "number":
            parameter.example = first.get("revision")
        elif ident is not None:
            parameter.example = ident


_TIMES = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
LOAD_TIME = "2026-12-03T18:10:00Z"
"""The time examples show for the load that made the fixtures' answers (`changed.at`)."""


def timeless(text: str) -> str:
    """An answer with every time in it as LOAD_TIME: a fresh load's answers say when it ran."""
    return _TIMES.sub(LOAD_TIME, text)


def revision_example(fact_id: str, number: int, many: bool) -> Any:
    """A revision of a curated fact as a fresh load makes it (its answer abridged)."""
    kind = {"stm": "statement", "cas": "casualty", "dep": "deployment", "arr": "arrest"}
    revision = {
        "revision": number,
        "kind": kind[fact_id[:3]],
        "record_id": fact_id,
        "crisis_id": "kazakhstan-2022",
        "operation": "created",
        "author": "load",
        "message": None,
        "made_at": LOAD_TIME,
        "answer": {"id": fact_id, "kind": kind[fact_id[:3]], "crisis_id": "kazakhstan-2022"},
    }
    return [revision] if many else revision


def record_revision_example(kind: str, record_id: str, number: int, many: str) -> Any:
    """A revision of an article or an actor as a fresh load makes it (its answer abridged)."""
    revision = {
        **revision_example("cas-", number, many=False),
        "kind": kind,
        "record_id": record_id,
        "answer": {"id": record_id, "crisis_id": "kazakhstan-2022"},
    }
    return [revision] if many else revision


def load_examples(path: Path = EXAMPLES_FILE) -> dict[str, Any]:
    """The committed examples, by operationId; none when the file is absent."""
    if not path.is_file():
        return {}
    examples: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    examples.setdefault("GetHealth", {"status": "ok"})
    examples.setdefault("GetReady", {"status": "ready", "revision": head(), "dataset_version": 1})
    return examples


EXAMPLE_QUERIES = {
    "ListActors": {"name": "Masimov"},
    "ListArrests": {"key": "arrests.nationwide"},
    "Search": {"q": "arrestations"},
}
"""Requests whose first item makes a telling example; every other list is asked for its
first item."""

Get = Callable[[str, dict[str, Any]], Any]


_WEBHOOK = {
    "id": "wh-3f9a6c2e8b41d07a",
    "url": "https://newsroom.example/hooks/crisis-facts",
    "kinds": ["casualty", "arrest"],
    "crisis_id": "kazakhstan-2022",
    "cursor": 412,
    "failures": 0,
    "failing_since": None,
    "next_attempt_at": "2026-12-03T20:14:07.512Z",
    "created_at": "2026-12-03T20:00:00.000Z",
    "disabled_at": None,
    "disabled_reason": None,
}
FIXED_EXAMPLES: dict[str, Any] = {
    "GetCurrentKey": {"name": "night-desk", "role": "editor"},
    "ListWebhooks": {"items": [_WEBHOOK]},
    "GetWebhook": _WEBHOOK,
    "ListWebhookDeliveries": {
        "items": [
            {
                "revision": 412,
                "message_id": "msg_wh-3f9a6c2e8b41d07a_412",
                "attempted_at": "2026-12-03T20:14:07.498Z",
                "status": 200,
                "ok": True,
                "error": None,
                "excerpt": "ok",
                "duration_ms": 14,
            }
        ]
    },
    "ListChanges": {
        "items": [
            {
                "revision": 412,
                "kind": "arrest",
                "id": "arrests.nationwide.interior",
                "crisis_id": "kazakhstan-2022",
                "operation": "deleted",
                "made_at": "2026-12-03T20:14:07.480Z",
                "author": "load",
                "message": "Retracted: the ministry withdrew the figure",
                "answer": None,
            }
        ],
        "next_cursor": "WyJjaGFuZ2VzIiw0MTJd",
    },
    **{
        f"{verb}{noun}Revision{plural}": revision_example(fact_id, number, many=bool(plural))
        for verb, plural in (("List", "s"), ("Get", ""))
        for noun, fact_id, number in (
            ("Statement", "stm-000-wang-supports-csto-force", 74),
            ("Casualty", "cas-001-dozens-killed", 119),
            ("Deployment", "dep-000-kyrgyzstan-announced-150", 130),
            ("Arrest", "arr-000-almaty-province-village", 140),
        )
    },
    **{
        f"{verb}{noun}Revision{plural}": record_revision_example(kind, ident, number, plural)
        for verb, plural in (("List", "s"), ("Get", ""))
        for noun, kind, ident, number in (
            ("Source", "source", "src-000-derniers-developpements", 2),
            ("Actor", "actor", "karim-massimov", 7),
        )
    },
}
"""Examples the fixtures' answers cannot give: answers that need a key, and revisions,
which carry the time of the load that made them (the numbers are those of a fresh load)."""


def collect_examples(app: Litestar, get: Get, get_text: Callable[[str], str]) -> dict[str, Any]:
    """One real answer per data operation, fetched with `get(path, params)` (a test client
    over the loaded fixtures): the first item of each list, and that item for its detail;
    an export's opening, fetched as text with `get_text(path)`. Times are `timeless`."""

    def read(path: str, params: dict[str, Any]) -> Any:
        return json.loads(timeless(json.dumps(get(path, params))))

    def read_text(path: str) -> str:
        return timeless(get_text(path))

    examples: dict[str, Any] = {}
    first_ids: dict[str, str] = {}
    paths = app.openapi_schema.paths or {}
    for path, item in sorted(paths.items()):
        operation = item.get
        if (
            operation is None
            or "{" in path
            or not path.startswith("/v1/")
            or operation.security
            or (operation.operation_id or "") in FIXED_EXAMPLES
        ):
            continue
        op_id = operation.operation_id or path
        if "export" in (operation.tags or []):
            examples[op_id] = opening(read_text(path)) if _streamed(operation) else read(path, {})
            continue
        page = read(path, {**EXAMPLE_QUERIES.get(op_id, {}), "limit": 1})
        examples[op_id] = page
        if page["items"] and "id" in page["items"][0]:
            first_ids[path] = page["items"][0]["id"]
    for path, item in sorted(paths.items()):
        operation = item.get
        if operation is None or "{" not in path:
            continue
        parent = path.rsplit("/", 1)[0]
        if parent in first_ids and (operation.operation_id or "") not in FIXED_EXAMPLES:
            examples[operation.operation_id or path] = read(f"{parent}/{first_ids[parent]}", {})
    return examples


def opening(text: str) -> str:
    """An export's first record (after a CSV's header): enough to show its shape."""
    if text.startswith("\ufeff"):  # CSV
        rows = list(csv.reader(io.StringIO(text)))[:2]
        written = io.StringIO()
        csv.writer(written, lineterminator="\r\n").writerows(rows)
        return written.getvalue()
    return text.split("\n", 1)[0] + "\n"


def write_examples(examples: dict[str, Any], path: Path = EXAMPLES_FILE) -> None:
    path.write_text(dump(examples), encoding="utf-8")


def dump(document: Any) -> str:
    """The committed text form of a JSON document (openapi/v1.json and examples.json)."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
