"""Why a request valid by the contract's schemas may still be refused: rules OpenAPI
cannot state. Shared by the stateless and the stateful schemathesis tests."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

import schemathesis

from service.api.guards import MAX_QUERY_BYTES
from service.api.params import date_range
from service.errors import Problem


def refused_by_design(case: schemathesis.Case[Any], response: schemathesis.Response) -> set[str]:
    """Why a valid-by-schema request got a 4xx, by design: an opaque cursor the API did not
    issue; a date its pattern allows that the calendar does not (`2022-02-31`), or `until`
    before `since` (rules OpenAPI cannot state); a query string longer than the guard reads
    (each parameter has a maximum length, not their sum), or a body longer than it reads;
    a NUL character in a body, which PostgreSQL text cannot hold; a write that breaks a rule
    of the data; a fact deleted by an earlier step."""
    if response.status_code < 400:
        return set()  # accepted: schemathesis may reuse a real cursor it read in an answer
    query = case.query or {}
    reasons = {"cursor"} if "cursor" in query else set()
    if case.operation.path == "/v1/changes" and "since" in query:
        reasons.add("since")  # there, a cursor
    if case.method == "POST" and response.status_code == 400:
        named = {p["name"] for p in response.json().get("invalid_params", [])}
        reasons |= named & {"url"}  # a URL naming no public host is refused
    if case.method in {"POST", "PATCH"} and response.status_code == 400:
        # PostgreSQL text cannot hold a NUL character (U+0000): refused wherever it is.
        problems = response.json().get("invalid_params", [])
        reasons |= {p["name"] for p in problems if p["reason"] == "contains a NUL character"}
    ranges: dict[str, tuple[dt.date, dt.date]] = {}
    for name in ("since", "until"):
        if isinstance(value := query.get(name), str):
            try:
                ranges[name] = date_range(name, value)
            except Problem:
                reasons.add(name)
    if "since" in ranges and "until" in ranges and ranges["since"][0] > ranges["until"][1]:
        reasons.add("until")
    if len(urlsplit(response.request.url or "").query) > MAX_QUERY_BYTES:
        reasons.add("query string")
    if response.status_code == 413:
        # A body longer than the guard reads (each member has a maximum, not their sum).
        limit = re.search(r"limited to (\d+) bytes", response.json().get("detail", ""))
        sent = response.request.body
        if isinstance(sent, str):
            sent = sent.encode()
        size = len(sent) if isinstance(sent, bytes) else 0
        if limit is not None and size > int(limit.group(1)):
            reasons.add("body")
    if response.status_code == 410:
        reasons.add("deleted")  # a deleted fact's URL answers its tombstone, not a 404
    if case.method != "GET" and response.status_code in {409, 412, 422, 428}:
        # A write that names no stored crisis, actor or article, quotes words its article
        # does not hold, or lacks If-Match: rules of the data, not of the schema.
        reasons.add("data")
    return reasons
