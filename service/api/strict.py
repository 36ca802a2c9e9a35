"""Strict query strings for the operations that let Litestar read their parameters: a
misspelt, repeated or 'null' parameter is refused, never ignored. The lists decode their
own (service.api.querystring) with the same rules and the same words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.enums import ParamType
from litestar.openapi import spec

from service.api.querystring import DECODED
from service.errors import invalid_parameter


def strict_query() -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A before_request hook: a misspelt parameter (`?limt=5`) would otherwise be ignored and
    answer everything; and Litestar reads `?language=fr&language=en` as one of the two and
    `?language=null` as no language at all, a mistake the contract does not allow; say so."""
    accepted: dict[str, Accepted] = {}

    # Async: Litestar would run a sync hook in a worker thread, which costs more than the check.
    async def hook(request: Request[Any, Any, Any]) -> None:
        if not request.scope["query_string"] or DECODED in request.route_handler.opt:
            return  # nothing to check, or the handler's decoder checks it
        if not accepted:
            accepted.update(query_parameters(request.app.openapi_schema))
        operation = request.route_handler.operation_id
        if callable(operation):  # one handler on several paths: an id per path
            parts: list[Any] = request.scope["path"].split("/")
            operation = operation(request.route_handler, request.method, parts)
        known = accepted.get(operation) if isinstance(operation, str) else None
        if known is None:
            return  # not an operation of the contract (the docs pages)
        seen: set[str] = set()
        for name, value in request.query_params.multi_items():
            if name not in known.names:
                listed = ", ".join(sorted(known.names)) or "none"
                raise invalid_parameter(name, f"not a parameter here; accepted: {listed}")
            allowed = known.enums.get(name)
            if allowed and value not in allowed and value != "null":
                raise invalid_parameter(name, f"{value!r} is not one of {', '.join(allowed)}")
            literal = known.single.get(name)
            if literal is None:
                continue
            if name in seen:
                raise invalid_parameter(name, "given more than once")
            seen.add(name)
            if value == "null" and not literal:
                raise invalid_parameter(name, "'null' is not a value: leave the parameter out")

    return hook


@dataclass(frozen=True, slots=True)
class Accepted:
    """An operation's query parameters: every name, the single-valued ones each with
    whether 'null' is one of its values (plain text), and the values of enumerations."""

    names: frozenset[str]
    single: dict[str, bool]
    enums: dict[str, tuple[str, ...]]


def query_parameters(document: spec.OpenAPI) -> dict[str, Accepted]:
    """Per operation id, its query parameters, read from the OpenAPI document the app serves."""
    operations: dict[str, Accepted] = {}
    for item in (document.paths or {}).values():
        if item.get is None or item.get.operation_id is None:
            continue
        names: set[str] = set()
        single: dict[str, bool] = {}
        enums: dict[str, tuple[str, ...]] = {}
        for parameter in item.get.parameters or []:
            if not isinstance(parameter, spec.Parameter) or parameter.param_in != ParamType.QUERY:
                continue
            names.add(parameter.name)
            values = _enum_values(document, parameter.schema)
            if values:
                enums[parameter.name] = values
            schema = parameter.schema
            members = (schema.one_of or [schema]) if isinstance(schema, spec.Schema) else [schema]
            kinds = [m.type for m in members if isinstance(m, spec.Schema)]
            if spec.OpenAPIType.ARRAY in kinds:
                continue
            single[parameter.name] = all(
                isinstance(m, spec.Schema)
                and m.type in (spec.OpenAPIType.STRING, spec.OpenAPIType.NULL)
                and m.format is None
                and m.enum is None
                for m in members
            )
        operations[item.get.operation_id] = Accepted(frozenset(names), single, enums)
    return operations


def _enum_values(document: spec.OpenAPI, schema: Any) -> tuple[str, ...]:
    """The values an enumerated parameter takes (also of a list of them, or one or null)."""
    if isinstance(schema, spec.Reference):
        components = document.components.schemas or {}
        schema = components.get(schema.ref.rsplit("/", 1)[-1])
    if not isinstance(schema, spec.Schema):
        return ()
    if schema.enum:
        return tuple(str(value) for value in schema.enum)
    for member in [*(schema.one_of or []), *(schema.any_of or []), schema.items]:
        values = _enum_values(document, member)
        if values:
            return values
    return ()
