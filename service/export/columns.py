"""CSV columns flattened from the Structs of service.schemas, so a CSV and its Table Schema
follow the JSON shape instead of copying it: a nested Struct becomes `field_subfield`
columns, a list or dict one JSON column, and a fact gains its first citation's columns.

Rows are made by a function compiled once per shape from its columns (`flattener`): the
columns are known before the first row, so no row pays for walking them."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import msgspec
from msgspec import inspect

from service import schemas

FIRST = 0
"""A path step that takes a list's first item (a fact's first citation)."""

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its name, its Table Schema type and constraints, and where its value
    lies in the item (attribute names; `FIRST`, a list's first item)."""

    name: str
    type: str
    path: Path
    required: bool
    enum: tuple[str, ...] | None = None
    description: str | None = None
    length: bool = False
    """The cell is the length of the list at `path`, not the list."""

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


def struct_columns(
    info: inspect.StructType, prefix: str = "", path: Path = (), required: bool = True
) -> list[Column]:
    """The columns of a Struct: scalars as they are, nested Structs flattened under their
    field's name, lists and dicts as JSON."""
    columns: list[Column] = []
    for f in info.fields:
        name, at = prefix + f.name, (*path, f.name)
        kind, may_be_none = _bare(f.type), False
        if isinstance(kind, inspect.UnionType):
            members = [_bare(t) for t in kind.types if not isinstance(t, inspect.NoneType)]
            may_be_none = len(members) < len(kind.types)
            (kind,) = members
        needed = required and not may_be_none
        if isinstance(kind, inspect.StructType):
            columns += struct_columns(kind, name + "_", at, needed)
        elif isinstance(kind, inspect.ListType):
            columns.append(Column(name, "array", at, needed))
        elif isinstance(kind, inspect.DictType):
            columns.append(Column(name, "object", at, needed))
        elif isinstance(kind, inspect.EnumType):
            values = tuple(str(member.value) for member in kind.cls)
            columns.append(Column(name, "string", at, needed, enum=values))
        else:
            columns.append(Column(name, _SCALARS[type(kind)], at, needed))
    return columns


def _bare(kind: inspect.Type) -> inspect.Type:
    """The type under its constraints (`Count` is an int)."""
    return kind.type if isinstance(kind, inspect.Metadata) else kind


@functools.cache
def _info(shape: type[msgspec.Struct]) -> inspect.StructType:
    """msgspec's description of a shape: looked up once, as it takes milliseconds."""
    info = inspect.type_info(shape)
    assert isinstance(info, inspect.StructType)
    return info


def fact_columns(shapes: Sequence[type[schemas.Fact]]) -> list[Column]:
    """One row per fact: `kind`, the fields of its Struct (of every kind in `shapes`, a
    kind's own fields empty on another kind's row), then its first citation flattened (with
    what it shows of its source), and how many citations it has."""
    tags = tuple(str(s.__struct_config__.tag) for s in shapes)
    columns = [Column("kind", "string", ("kind",), True, enum=tags)]
    seen = {"kind"}
    for shape in shapes:
        for column in _own(shape):
            if column.name in seen:
                continue
            seen.add(column.name)
            if len(shapes) > 1 and not all(column.name in _names(s) for s in shapes):
                column = replace(column, required=False)
            columns.append(column)
    citation = _citation()
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
            ("citations",),
            True,
            description="How many citations the fact has; all of them are in `citations`.",
            length=True,
        )
    )
    return columns


@functools.cache
def _own(shape: type[schemas.Fact]) -> tuple[Column, ...]:
    """A fact shape's own columns, made once: exports and the write path ask often."""
    return tuple(struct_columns(_info(shape)))


@functools.cache
def _citation() -> tuple[Column, ...]:
    return tuple(struct_columns(_info(schemas.Citation), "citation_", ("citations", FIRST), False))


@functools.cache
def _names(shape: type[schemas.Fact]) -> frozenset[str]:
    return frozenset(c.name for c in _own(shape))


def plain_columns(shape: type[msgspec.Struct]) -> list[Column]:
    """The columns of a shape other than a fact's."""
    return struct_columns(_info(shape))


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


Flatten = Callable[[Any], tuple[Any, ...]]


def flattener(shape: type[msgspec.Struct], columns: Sequence[Column]) -> Flatten:
    """A function from an item of `shape` to its row of `columns`, compiled once: each step
    of each path read once, each cell made by `cell`; a column `shape` lacks is empty."""
    flatten: Flatten = _compiled(shape, columns, lambda column, value: f"cell({value})", None)
    return flatten


def texts(
    shape: type[msgspec.Struct], columns: Sequence[Column], runs: Sequence[tuple[int, int]]
) -> Callable[[Any], list[str]]:
    """A function from an item of `shape` to its cells as the csv module writes them in a
    row of `columns` (`cell`, then quoted where RFC 4180 needs it), the cells of each of
    `runs` (`[start, end)`) joined by `,`, compiled once."""
    cells: Callable[[Any], list[str]] = _compiled(shape, columns, _text_of, runs)
    return cells


def quoted(text: str) -> str:
    """A text cell as the csv module writes it: quoted, `"` doubled, when it holds the
    delimiter, a quote or a line break."""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _neutral(value: str | None) -> str:
    if value is None:
        return ""
    return quoted("'" + value if value.startswith(FORMULA_STARTS) else str(value))


def _json(value: Any) -> str:
    return "" if value is None else quoted(_encode(value).decode())


def _text_of(column: Column, value: str) -> str:
    """Python making `column`'s text cell from the variable `value`, as `cell` and the csv
    module make it, without asking each value its type."""
    if column.type == "string" and column.enum is None:
        return f"_neutral({value})"
    if column.type in ("array", "object"):
        return f"_json({value})"
    if column.enum is not None:
        # a vocabulary word: nothing to neutralise or quote
        assert all(quoted(v) == v and not v.startswith(FORMULA_STARTS) for v in column.enum)
    if column.type == "boolean":
        return f"('' if {value} is None else 'true' if {value} else 'false')"
    if column.type in ("date", "datetime"):
        return f"('' if {value} is None else {value}.isoformat())"
    return f"('' if {value} is None else str({value}))"


def _compiled(
    shape: type[msgspec.Struct],
    columns: Sequence[Column],
    make: Callable[[Column, str], str],
    runs: Sequence[tuple[int, int]] | None,
) -> Any:
    """Compile a function from an item of `shape` to its row (a tuple) of `columns`, or
    with `runs` to the texts of its cells joined by run, each cell made by
    `make(column, variable)`: each step of each path read once."""
    config = shape.__struct_config__
    fields = set(shape.__struct_fields__)
    lines: list[str] = []
    names: dict[Path, str] = {(): "item"}

    def reach(path: Path) -> str:
        """The local variable holding the value at `path`; None past a missing step."""
        if path not in names:
            parent, step = reach(path[:-1]), path[-1]
            got = f"({parent}[0] if {parent} else None)" if step == FIRST else f"{parent}.{step}"
            if parent != "item":
                got = f"None if {parent} is None else {got}"
            names[path] = f"v{len(names)}"
            lines.append(f"    {names[path]} = {got}")
        return names[path]

    cells: list[str] = []
    for column in columns:
        if config.tag_field is not None and column.path == (config.tag_field,):
            cells.append(repr(config.tag))
        elif column.path[0] not in fields:
            cells.append("''")
        elif column.length:
            length = f"len({reach(column.path)})"
            cells.append(length if runs is None else f"str({length})")
        else:
            cells.append(make(column, reach(column.path)))
    if runs is None:
        made, result = f"({', '.join(cells)},)", "row"
    else:
        joined = (f"','.join(({', '.join(cells[a:b])},))" for a, b in runs)
        made, result = f"[{', '.join(joined)}]", "cells"
    source = "def flatten(item):\n" + "\n".join(lines) + f"\n    return {made}\n"
    namespace: dict[str, Any] = {"cell": cell, "_neutral": _neutral, "_json": _json}
    exec(compile(source, f"<CSV {result} of {shape.__name__}>", "exec"), namespace)
    return namespace["flatten"]
