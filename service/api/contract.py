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
  `collect_examples`), and each path id an example id that exists;
* a record's answers link to what may follow them (service/api/links.py).
"""

from __future__ import annotations

import dataclasses
import re
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
    Reference,
    Schema,
)

from service.api.examples import (
    EXAMPLES_FILE,
    FIXED_EXAMPLES,
    WEBHOOK_EXAMPLE,
    Verbatim,
    add_example,
    export_form,
    load_examples,
    parameters_of,
)
from service.api.guards import MAX_QUERY_BYTES
from service.api.links import add_links
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
    "413": "The request's body is larger than MAX_BODY_BYTES (MAX_SOURCE_BYTES for an "
    "article): it is not read.",
    "414": f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
    "401": "No API key, or not one in force; `WWW-Authenticate` says which.",
    "403": "The API key's role may not do this.",
    "409": "A record with this id exists already, or the record's review state forbids "
    "this: a retracted fact is not edited, a draft is deleted rather than retracted.",
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
WWW_AUTHENTICATE = _header('`Bearer realm="crisis-facts"`, with `error` when a token was sent.')
NEXT_CURSOR = {"ListChanges": "since"}
"""The paged operations whose next page's cursor goes in a parameter other than `cursor`."""


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
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            plain_queryparameters_of(operation)
            require_checked_headers(operation)
            document_responses(operation, method, keyed=path.startswith("/v1/"))
            if operation.security is None:
                operation.security = []  # public: declared so, not left unsaid (Redocly)
            example = examples.get(operation.operation_id or "")
            if example is not None:
                add_example(operation, example)
        if item.get is not None and item.get.operation_id == "ListWebhookDeliveries":
            for parameter in parameters_of(item.get):
                if parameter.param_in == ParamType.PATH:
                    parameter.example = WEBHOOK_EXAMPLE["id"]
    add_links(schema)


WRITE_PROBLEMS = {
    "post": {"409", "415", "422"},
    "patch": {"415", "422"},
    "delete": {"422"},
}
"""The problems only writes can meet, by method (those of If-Match: `_write_problems`)."""


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


def document_responses(operation: Operation, method: str = "get", keyed: bool = True) -> None:
    """An operation's answers: headers of its success, and every problem it can meet;
    `keyed`: a key sent with it is checked (every /v1 path), so 401 can answer a read too."""
    responses = operation.responses or {}
    ok = responses.get("201" if method == "post" else "200") or responses.get("200")
    streamed = export_form(operation)
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
        cursor = NEXT_CURSOR.get(operation.operation_id or "", "cursor")
        if any(p.name == cursor for p in parameters_of(operation)):
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
        if code == "410" and not any(p.name == "fact_id" for p in parameters_of(operation)):
            continue  # only facts leave tombstones that their URL answers
        if code == "403" and not operation.security:
            continue  # reads are public
        if code == "401" and not (operation.security or keyed):
            continue  # a probe's answer never depends on a key
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
            if not operation.security:
                description = PUBLIC_401
        responses[code] = OpenAPIResponse(
            description=description,
            headers=problem_headers or None,
            content={PROBLEM_JSON: OpenAPIMediaType(schema=ref)},
        )
    operation.responses = dict(sorted(responses.items()))


WRITES_ONLY = {"409", "412", "415", "422", "428"}
PUBLIC_401 = (
    "An API key was sent and is not one in force: a public read needs none, but a key sent "
    "is checked; `WWW-Authenticate` says why."
)


def _write_problems(operation: Operation, method: str) -> set[str]:
    """A write's problems; with If-Match (a publication, a retraction) also 412 and 428, and
    on a fact also 409."""
    problems = WRITE_PROBLEMS.get(method, set())
    if any(p.name == "If-Match" for p in parameters_of(operation)):
        problems = problems | {"412", "428"}
    if method != "get" and any(p.name == "fact_id" for p in parameters_of(operation)):
        problems = problems | {"409"}  # a review state forbids it (a retracted fact's edit)
    return problems


def require_checked_headers(operation: Operation) -> None:
    """Headers a write cannot go without, which its handler checks itself to answer 428 or
    422 naming them (not Litestar's 400): If-Match, and a deletion's X-Edit-Summary."""
    deletion = (operation.operation_id or "").startswith("Delete")
    for parameter in parameters_of(operation):
        if parameter.name == "If-Match" or (deletion and parameter.name == "X-Edit-Summary"):
            parameter.required = True


def strict_body(schema: Schema | Reference | None, required: list[str] | None = None) -> None:
    """A request body with an unknown field is refused (msgspec's forbid_unknown_fields):
    the contract says so, and generators do not invent fields. `required`: members the
    server checks itself, to answer 422 naming them rather than a decoding error."""
    if isinstance(schema, Schema):
        schema.additional_properties = False
        if required:
            schema.required = required


def plain_queryparameters_of(operation: Operation) -> None:
    """`str | None = None` becomes `string`, not `oneOf [string, null]`: absent is not null."""
    for parameter in parameters_of(operation):
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
