"""CSV columns flattened from the Structs of service.schemas, so a CSV and its Table Schema
follow the JSON shape instead of copying it: a nested Struct becomes `field_subfield`
columns, a list or dict one JSON column, and a fact gains its first citation's columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import msgspec
from msgspec import inspect

from service import schemas

Getter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its name, its Table Schema type and constraints, and its value."""

    name: str
    type: str
    get: Getter
    required: bool
    enum: tuple[str, ...] | None = None
    description: str | None = None

    def field(self) -> dict[str, Any]:
        """This column as a Table Schema field descriptor."""
        described: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "array" or self.type == "object":
            described["format"] = "default"
        if self.description:
            described["description"] = self.description
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.enum is not None:
            constraints["enum"] = list(self.enum)
        if constraints:
            described["constraints"] = constraints
        return described


_SCALARS: dict[type[inspect.Type], str] = {
    inspect.StrType: "string",
    inspect.IntType: "integer",
    inspect.FloatType: "number",
    inspect.BoolType: "boolean",
    inspect.DateType: "date",
    inspect.DateTimeType: "datetime",
}


def _chain(outer: Getter, name: str) -> Getter:
    """`outer(item).name`, or None when `outer(item)` is None."""

    def get(item: Any) -> Any:
        value = outer(item)
        return None if value is None else getattr(value, name)

    return get


def _attr(name: str) -> Getter:
    def get(item: Any) -> Any:
        return getattr(item, name)

    return get


def struct_columns(
    info: inspect.StructType, prefix: str = "", get: Getter | None = None, required: bool = True
) -> list[Column]:
    """The columns of a Struct: scalars as they are, nested Structs flattened under their
    field's name, lists and dicts as JSON."""
    columns: list[Column] = []
    for f in info.fields:
        name = prefix + f.name
        field_get = _attr(f.name) if get is None else _chain(get, f.name)
        kind, optional = _bare(f.type), False
        if isinstance(kind, inspect.UnionType):
            members = [_bare(t) for t in kind.types if not isinstance(t, inspect.NoneType)]
            optional = len(members) < len(kind.types)
            (kind,) = members
        needed = required and not optional
        if isinstance(kind, inspect.StructType):
            columns += struct_columns(kind, name + "_", field_get, needed)
        elif isinstance(kind, inspect.ListType):
            columns.append(Column(name, "array", field_get, needed))
        elif isinstance(kind, inspect.DictType):
            columns.append(Column(name, "object", field_get, needed))
        elif isinstance(kind, inspect.EnumType):
            values = tuple(str(member.value) for member in kind.cls)
            columns.append(Column(name, "string", field_get, needed, enum=values))
        else:
            columns.append(Column(name, _SCALARS[type(kind)], field_get, needed))
    return columns


def _bare(kind: inspect.Type) -> inspect.Type:
    """The type under its constraints (`Count` is an int)."""
    return kind.type if isinstance(kind, inspect.Metadata) else kind


def _first_citation(fact: Any) -> Any:
    return fact.citations[0] if fact.citations else None


def fact_columns(shapes: Sequence[type[schemas.Fact]]) -> list[Column]:
    """One row per fact: `kind`, the fields of its Struct (of every kind in `shapes`, a
    kind's own fields empty on another kind's row), then its first citation flattened (with
    what it shows of its source), and how many citations it has."""
    columns: list[Column] = [
        Column(
            "kind",
            "string",
            lambda fact: type(fact).__struct_config__.tag,
            True,
            enum=tuple(str(s.__struct_config__.tag) for s in shapes),
        )
    ]
    seen = {"kind"}
    for shape in shapes:
        for column in struct_columns(inspect.type_info(shape)):  # type: ignore[arg-type]
            if column.name in seen:
                continue
            seen.add(column.name)
            if len(shapes) > 1 and not all(column.name in _names(s) for s in shapes):
                column = replace(column, get=_lenient(column.get), required=False)
            columns.append(column)
    citation = struct_columns(
        inspect.type_info(schemas.Citation),  # type: ignore[arg-type]
        prefix="citation_",
        get=_first_citation,
        required=False,
    )
    # A citation names its source twice (`source_id`, and `source.id` with the rest of
    # what it shows of the article): one column.
    for column in citation:
        if column.name not in seen:
            seen.add(column.name)
            columns.append(column)
    columns.append(
        Column(
            "citation_count",
            "integer",
            lambda fact: len(fact.citations),
            True,
            description="How many citations the fact has; all of them are in `citations`.",
        )
    )
    return columns


def _names(shape: type[schemas.Fact]) -> set[str]:
    return {c.name for c in struct_columns(inspect.type_info(shape))}  # type: ignore[arg-type]


def _lenient(get: Getter) -> Getter:
    """A getter of a field only some kinds have: empty on the others."""

    def lenient(item: Any) -> Any:
        try:
            return get(item)
        except AttributeError:
            return None

    return lenient


def plain_columns(shape: type[msgspec.Struct]) -> list[Column]:
    """The columns of a shape other than a fact's."""
    return struct_columns(inspect.type_info(shape))  # type: ignore[arg-type]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for a formula at the start of a cell (OWASP, CSV injection)."""

_encode = msgspec.json.Encoder(order="deterministic").encode


def cell(value: Any) -> Any:
    """A value as its CSV cell: text that a spreadsheet would run as a formula is prefixed
    with `'`, lists and Structs are JSON, dates ISO 8601, booleans `true`/`false`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    return _encode(value).decode()
