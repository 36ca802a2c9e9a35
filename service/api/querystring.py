"""A list's query string, decoded by one msgspec Struct in one call instead of a Litestar
dependency per parameter (bench/RESULTS.md, issue 26), and documented from that Struct.

The Struct's fields are the parameters: their Meta says the constraints msgspec checks
and what the contract shows, so the two cannot drift. The rules of service.api.strict
hold with its words: an unknown name is refused listing those accepted, an enumeration's
wrong value listing the allowed ones, a single parameter given twice or as 'null' (but
for text, where 'null' is a value) is refused.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.enums import ParamType
from litestar.openapi.spec import (
    Example,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)

from service.errors import InvalidParam, Problem, invalid_parameter, invalid_parameters

Q = TypeVar("Q", bound=msgspec.Struct)

DECODED = "query"
"""The `opt` key of a handler that decodes its own query string: the Struct it takes."""


@dataclass(frozen=True, slots=True)
class Rules:
    """What a Struct's query string may hold, read once from its fields."""

    names: frozenset[str]
    accepted: str
    enums: dict[str, tuple[str, ...]]
    repeated: frozenset[str]
    """List fields: the parameter may be given several times."""
    text: frozenset[str]
    """Plain text fields, where 'null' is a value like any other."""


def _inner(info: Any) -> Any:
    """A field's type without `| None` and without its Meta."""
    if isinstance(info, msgspec.inspect.UnionType):
        (info,) = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
    return info.type if isinstance(info, msgspec.inspect.Metadata) else info


@functools.cache
def rules(query: type[msgspec.Struct]) -> Rules:
    fields = msgspec.inspect.type_info(query).fields  # type: ignore[attr-defined]
    enums: dict[str, tuple[str, ...]] = {}
    repeated, text = set(), set()
    for field in fields:
        kind = _inner(field.type)
        if isinstance(kind, msgspec.inspect.ListType):
            repeated.add(field.name)
            kind = kind.item_type
        if isinstance(kind, msgspec.inspect.EnumType):
            enums[field.name] = tuple(str(member.value) for member in kind.cls)
        elif isinstance(kind, msgspec.inspect.StrType) and field.name not in repeated:
            text.add(field.name)
    names = frozenset(field.name for field in fields)
    return Rules(names, ", ".join(sorted(names)), enums, frozenset(repeated), frozenset(text))


def decode(request: Request[Any, Any, Any], query: type[Q]) -> Q:
    """The request's query string as `query`, or a 400 problem naming the parameter."""
    given: dict[str, Any] = {}
    if request.scope["query_string"]:
        known = rules(query)
        for name, value in request.query_params.multi_items():
            if name not in known.names:
                raise invalid_parameter(name, f"not a parameter here; accepted: {known.accepted}")
            allowed = known.enums.get(name)
            if allowed is not None and value not in allowed and value != "null":
                raise invalid_parameter(name, f"{value!r} is not one of {', '.join(allowed)}")
            if name in known.repeated:
                given.setdefault(name, []).append(value)
                continue
            if name in given:
                raise invalid_parameter(name, "given more than once")
            if value == "null" and name not in known.text:
                raise invalid_parameter(name, "'null' is not a value: leave the parameter out")
            given[name] = value
    try:
        return msgspec.convert(given, query, strict=False)
    except msgspec.ValidationError:
        raise _invalid(given, query) from None


def _invalid(given: dict[str, Any], query: type[msgspec.Struct]) -> Problem:
    """Every parameter msgspec refuses, each with msgspec's reason, as Litestar said them."""
    invalid = []
    for name, value in given.items():
        try:
            msgspec.convert({name: value}, query, strict=False)
        except msgspec.ValidationError as error:
            invalid.append(InvalidParam(name, str(error).split(" - ", 1)[0]))
    for field in msgspec.structs.fields(query):
        if field.required and field.name not in given:
            invalid.append(InvalidParam(field.name, "a required parameter is missing"))
    return invalid_parameters(invalid)


# ---------------------------------------------------------------- the contract


def takes(query: type[msgspec.Struct]) -> dict[str, Any]:
    """The route handler arguments of a handler that decodes `query` itself: the contract
    documents its fields as the operation's query parameters."""
    return {"operation_class": _documented(query), "opt": {DECODED: query}}


def _documented(query: type[msgspec.Struct]) -> type[Operation]:
    parameters = [_parameter(f) for f in msgspec.inspect.type_info(query).fields]  # type: ignore[attr-defined]

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            # a copy per document: the contract completes its parameters in place
            self.parameters = [*(self.parameters or []), *copy.deepcopy(parameters)]

    return Documented


def _reference(kind: Any) -> Reference:
    return Reference(ref=f"#/components/schemas/{kind.cls.__name__}")


def _parameter(field: Any) -> Parameter:
    """One field as Litestar documents a parameter declared with the same constraints."""
    info = field.type
    if isinstance(info, msgspec.inspect.UnionType):
        (info,) = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
    extra: dict[str, Any] = dict(info.extra_json_schema or {})
    description = extra.get("description")
    kind = info.type
    default = None if field.default in (None, msgspec.NODEFAULT) else field.default
    schema: Schema | Reference
    if isinstance(kind, msgspec.inspect.EnumType):
        schema = _reference(kind)
    elif isinstance(kind, msgspec.inspect.ListType):
        items = kind.item_type
        assert isinstance(items, msgspec.inspect.EnumType), field.name
        schema = Schema(type=OpenAPIType.ARRAY, items=_reference(items), description=description)
    elif isinstance(kind, msgspec.inspect.StrType):
        schema = Schema(
            type=OpenAPIType.STRING,
            description=description,
            min_length=kind.min_length,
            max_length=kind.max_length,
            pattern=kind.pattern or extra.get("pattern"),
            examples=extra.get("examples"),
        )
    elif isinstance(kind, msgspec.inspect.IntType):
        schema = Schema(
            type=OpenAPIType.INTEGER,
            description=description,
            minimum=None if kind.ge is None else float(kind.ge),
            maximum=None if kind.le is None else float(kind.le),
            default=default,
        )
    else:
        assert isinstance(kind, msgspec.inspect.BoolType), field.name
        schema = Schema(type=OpenAPIType.BOOLEAN, description=description, default=default)
    examples = {
        f"{field.name}-example-{n}": Example(value=value)
        for n, value in enumerate(extra.get("examples") or [], 1)
    }
    return Parameter(
        name=field.name,
        param_in=ParamType.QUERY,
        required=field.required,
        description=description,
        schema=schema,
        examples=examples or None,
    )


def meta_of(alias: Any) -> msgspec.Meta:
    """The Meta of an `Annotated[T, Meta(...)]` alias."""
    (meta,) = [m for m in alias.__metadata__ if isinstance(m, msgspec.Meta)]
    return meta
