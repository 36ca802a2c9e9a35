"""The contract's examples: the fixtures' answers as the app serves them (kept in
openapi/examples.json), those they cannot give (answers behind a key, revisions), and how
they are put into the document."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIResponse,
    Operation,
    Parameter,
)
from litestar.openapi.spec.base import BaseSchemaObject

from service.migrations import head
from service.settings import shipped

EXAMPLES_FILE = shipped("openapi") / "examples.json"


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


class Verbatim(BaseSchemaObject):
    """A JSON value put in the document as is: Litestar's `to_schema` drops the nulls of
    plain dicts, and an example without its nulls would not match its own schema."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def to_schema(self) -> Any:
        return self.value


def export_form(operation: Operation) -> tuple[str, str] | None:
    """The media type and description of an export's answer; None for any other operation."""
    op_id = operation.operation_id or ""
    if not op_id.startswith("Export"):
        return None
    return next((v for suffix, v in STREAMED.items() if op_id.endswith(suffix)), None)


def parameters_of(operation: Operation) -> list[Parameter]:
    return [p for p in operation.parameters or [] if isinstance(p, Parameter)]


def add_example(operation: Operation, example: Any) -> None:
    ok = (operation.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse) and ok.content:
        for media in ok.content.values():
            media.example = Verbatim(example)
    first = example[0] if isinstance(example, list) and example else example
    if not isinstance(first, dict):
        return
    ident = first.get("id", first.get("record_id"))
    for parameter in parameters_of(operation):
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


WEBHOOK_EXAMPLE = {
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
    "ListWebhooks": {"items": [WEBHOOK_EXAMPLE]},
    "GetWebhook": WEBHOOK_EXAMPLE,
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
            examples[op_id] = opening(read_text(path)) if export_form(operation) else read(path, {})
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
